using System.Buffers;
using System.Globalization;

namespace PacketLife.Core.KubeProxy;

/// <summary>One line of a restore payload as the node view applies it (`iptables-restore --noflush`).</summary>
internal enum PayloadOpKind : byte { Table, Chain, Rule, Delete, Commit }

/// <param name="Name">The table (Table), the chain (Chain, Rule, Delete).</param>
/// <param name="Save">For a Rule: the rule as iptables-save prints it.</param>
internal readonly record struct PayloadOp(PayloadOpKind Kind, string Name, ReadOnlyMemory<char> Save);

/// <summary>The payload of a sync, line by line as <see cref="NodeIptablesView"/> applies it, with every rule already in
/// save form: the sync writes both forms as it goes, so the view need not split and re-tokenize 100k lines. Valid only
/// for the exact <see cref="Payload"/> string it was made with (a result copied `with` another payload falls back to
/// reading the text).</summary>
internal sealed class PayloadSaveForms(string payload, ValueList<PayloadOp> filterChains, ValueList<PayloadOp> filterRules,
    ValueList<PayloadOp> natChains, ValueList<PayloadOp> natRules)
{
    public string Payload { get; } = payload;

    /// <summary>The lines in payload order: `*filter`, its chains, its rules, `COMMIT`, then the same for nat.</summary>
    public IEnumerable<PayloadOp> Ops
    {
        get
        {
            yield return new(PayloadOpKind.Table, "filter", default);
            for (int i = 0; i < filterChains.Count; i++) yield return filterChains[i];
            for (int i = 0; i < filterRules.Count; i++) yield return filterRules[i];
            yield return new(PayloadOpKind.Commit, "", default);
            yield return new(PayloadOpKind.Table, "nat", default);
            for (int i = 0; i < natChains.Count; i++) yield return natChains[i];
            for (int i = 0; i < natRules.Count; i++) yield return natRules[i];
            yield return new(PayloadOpKind.Commit, "", default);
        }
    }

    /// <summary>The four op lists in payload order, for a loop without an enumerator.</summary>
    public (string Table, ValueList<PayloadOp> Chains, ValueList<PayloadOp> Rules)[] Tables { get; } =
        [("filter", filterChains, filterRules), ("nat", natChains, natRules)];
}

/// <summary>The four line buffers of syncProxyRules (filter chains, filter rules, nat chains, nat rules), joined into one
/// payload at the end; and, beside each rule, its iptables-save form (facts §7). Rules are written either as text
/// (<see cref="NatRule"/>, <see cref="FilterRule"/>; the save form then comes from <see cref="SaveRuleFormatter"/>) or
/// piece by piece (<see cref="Rule"/> … <see cref="End"/>): each piece goes to the restore text in kube-proxy's order and
/// to its place in the save form (generic -s/-d/-i/-p first, then the matches, then the target), as
/// <see cref="SaveRuleFormatter"/> would have placed it; a property test holds the two to the same output.</summary>
internal sealed class RuleWriter
{
    readonly SaveBuffer filterChains, filterRules, natChains, natRules, save, matches = new(256);
    readonly ValueList<PayloadOp> filterChainOps = new(16), filterRuleOps, natChainOps, natRuleOps;
    readonly SaveRuleFormatter.Scratch scratch = new();
    readonly IpFamily family;
    // Save forms are kept only while every user-controlled text written is one the restore tokenizer reads back as
    // written (no blanks, quotes, backslashes or line breaks); otherwise the view reads the payload text itself.
    bool saveValid = true;

    /// <param name="largeCluster">No comments on the per-endpoint rules: shorter lines.</param>
    public RuleWriter(IpFamily family, int ports, int endpoints, bool largeCluster)
    {
        this.family = family;
        // Sized from the lines of a ClusterIP+NodePort service port (~300 chars of nat rules) and an endpoint (~250 chars
        // in large-cluster mode, ~400 with comments), so that the buffers rarely grow; measured on bench trace-all-profile.
        int natEstimate = 4096 + ports * 350 + endpoints * (largeCluster ? 260 : 420);
        filterChains = new SaveBuffer(512);
        filterRules = new SaveBuffer(1024 + ports * 16);
        natChains = new SaveBuffer(512 + ports * 80 + endpoints * 36);
        natRules = new SaveBuffer(natEstimate);
        save = new SaveBuffer(natEstimate + natEstimate / 16);
        filterRuleOps = new ValueList<PayloadOp>(64);
        natChainOps = new ValueList<PayloadOp>(64 + ports * 2 + endpoints);
        natRuleOps = new ValueList<PayloadOp>(64 + ports * 4 + endpoints * 3);
    }

    public int RuleCount { get; private set; }

    public void FilterChain(string c) { Chain(filterChains, c); filterChainOps.Add(new(PayloadOpKind.Chain, c, default)); }
    public void NatChain(string c) { Chain(natChains, c); natChainOps.Add(new(PayloadOpKind.Chain, c, default)); }

    static void Chain(SaveBuffer b, string c)
    {
        b.Append(':');
        b.Append(c);
        b.Append(" - [0:0]\n");
    }

    public void FilterRule(string r) => TextRule(filterRules, filterRuleOps, r);
    public void NatRule(string r) => TextRule(natRules, natRuleOps, r);

    public void NatDelete(string chain)
    {
        natRules.Append("-X ");
        natRules.Append(chain);
        natRules.Append('\n');
        natRuleOps.Add(new(PayloadOpKind.Delete, chain, default));
    }

    /// <summary>A rule written as restore text (`-A CHAIN ...`); its save form is the formatter's.</summary>
    void TextRule(SaveBuffer rules, ValueList<PayloadOp> ops, string r)
    {
        rules.Append(r);
        rules.Append('\n');
        RuleCount++;
        if (!saveValid) return;
        int sp = r.IndexOf(' ', 3);
        string chain = sp < 0 ? r[3..] : r[3..sp];
        int start = save.Length;
        SaveRuleFormatter.FormatInto(r, family, save, scratch);
        ops.Add(new(PayloadOpKind.Rule, chain, save.Slice(start)));
    }

    /// <summary>Stops keeping save forms when <paramref name="text"/>, written by a user, could read back differently.</summary>
    public void Check(string text)
    {
        if (text.AsSpan().IndexOfAny(Unsafe) >= 0) saveValid = false;
    }

    static readonly SearchValues<char> Unsafe = SearchValues.Create(" \t\"\\\n\r");

    // ---- the rule being written piece by piece ----
    SaveBuffer rules = null!;
    ValueList<PayloadOp> ops = null!;
    string chain = "";
    string? target;
    bool reject;
    readonly string?[] generic = new string?[5];
    readonly bool[] genericNeg = new bool[5];
    int saveStart;
    static readonly string[] GenericNames = ["-s", "-d", "-i", "-o", "-p"];

    public RuleWriter Rule(bool nat, string chain)
    {
        (rules, ops) = nat ? (natRules, natRuleOps) : (filterRules, filterRuleOps);
        this.chain = chain;
        target = null;
        reject = false;
        Array.Clear(generic);
        matches.Truncate(0);
        rules.Append("-A ");
        rules.Append(chain);
        return this;
    }

    /// <summary>`-m comment --comment` with the text a+b+c, quoted in the restore text when kube-proxy quotes it.</summary>
    public RuleWriter Comment(string a, string b = "", string c = "", bool quoted = true)
    {
        rules.Append(quoted ? " -m comment --comment \"" : " -m comment --comment ");
        rules.Append(a);
        rules.Append(b);
        rules.Append(c);
        if (quoted) rules.Append('"');
        matches.Append(" -m comment --comment ");
        // xtables_save_string: bare only when non-empty and all of [A-Za-z0-9_-]
        if (a.Length + b.Length + c.Length > 0 && Bare(a) && Bare(b) && Bare(c))
        {
            matches.Append(a);
            matches.Append(b);
            matches.Append(c);
        }
        else
        {
            matches.Append('"');
            Escaped(a);
            Escaped(b);
            Escaped(c);
            matches.Append('"');
        }
        return this;
    }

    static bool Bare(string s)
    {
        foreach (var ch in s)
            if (!(char.IsAsciiLetterOrDigit(ch) || ch is '_' or '-')) return false;
        return true;
    }

    void Escaped(string s)
    {
        foreach (var ch in s)
        {
            if (ch is '"' or '\\' or '\'') matches.Append('\\');
            matches.Append(ch);
        }
    }

    /// <summary>`-m P -p P`, as kube-proxy writes the protocol: the module stays among the matches, `-p` moves first.</summary>
    public RuleWriter Proto(string p)
    {
        rules.Append(" -m ");
        rules.Append(p);
        rules.Append(" -p ");
        rules.Append(p);
        matches.Append(" -m ");
        matches.Append(p);
        generic[4] = p;
        genericNeg[4] = false;
        return this;
    }

    public RuleWriter Match(string module)
    {
        rules.Append(" -m ");
        rules.Append(module);
        matches.Append(" -m ");
        matches.Append(module);
        return this;
    }

    /// <summary>An option of the current match whose save form is its written form (`--dport 80`, `--dst-type LOCAL`).</summary>
    public RuleWriter Opt(string name, string value)
    {
        rules.Append(' ');
        rules.Append(name);
        rules.Append(' ');
        rules.Append(value);
        matches.Append(' ');
        matches.Append(name);
        matches.Append(' ');
        matches.Append(value);
        return this;
    }

    /// <summary>`--probability` as written (%0.10f) and as saved (libxt_statistic's %.11f of the kernel's value).</summary>
    public RuleWriter Probability(string written, string saved)
    {
        rules.Append(" --probability ");
        rules.Append(written);
        matches.Append(" --probability ");
        matches.Append(saved);
        return this;
    }

    public RuleWriter Src(string v, bool negated = false) => Generic(0, v, negated);
    public RuleWriter Dst(string v, bool negated = false) => Generic(1, v, negated);

    /// <summary>The local-traffic detector's match (`-s CIDR`, `-i BRIDGE`, `-i PREFIX+`), negated for "not local".</summary>
    public RuleWriter Detector(LocalDetector d, bool negated) => Generic(d.Option == "-s" ? 0 : 2, d.Value, negated);

    RuleWriter Generic(int slot, string v, bool negated)
    {
        rules.Append(negated ? " ! " : " ");
        rules.Append(GenericNames[slot]);
        rules.Append(' ');
        rules.Append(v);
        generic[slot] = v;
        genericNeg[slot] = negated;
        return this;
    }

    public RuleWriter Jump(string t)
    {
        rules.Append(" -j ");
        rules.Append(t);
        target = t;
        reject = t == "REJECT";
        Head();
        return this;
    }

    /// <summary>An option of the target whose save form is its written form (`--to-destination IP:PORT`).</summary>
    public RuleWriter TargetOpt(string name, string value)
    {
        rules.Append(' ');
        rules.Append(name);
        rules.Append(' ');
        rules.Append(value);
        save.Append(' ');
        save.Append(name);
        save.Append(' ');
        save.Append(value);
        return this;
    }

    /// <summary>The save form up to the target: `-A CHAIN`, the generic options in iptables' order, the matches.</summary>
    void Head()
    {
        saveStart = save.Length;
        save.Append("-A ");
        save.Append(chain);
        for (int g = 0; g < 5; g++)
        {
            if (generic[g] is not { } v) continue;
            save.Append(genericNeg[g] ? " ! " : " ");
            save.Append(GenericNames[g]);
            save.Append(' ');
            if (g <= 1) SaveRuleFormatter.AppendAddress(save, v, family);
            else save.Append(v);
        }
        save.Append(matches.AsSpan());
        if (target is not null)
        {
            save.Append(" -j ");
            save.Append(target);
        }
    }

    public void End()
    {
        if (target is null) Head();
        // libxt_REJECT prints its default reply type (facts §7).
        if (reject) save.Append(family == IpFamily.IPv6 ? " --reject-with icmp6-port-unreachable" : " --reject-with icmp-port-unreachable");
        rules.Append('\n');
        RuleCount++;
        if (saveValid) ops.Add(new(PayloadOpKind.Rule, chain, save.Slice(saveStart)));
    }

    /// <summary>`*filter`, its chains and rules, `COMMIT`, then the same for nat; and the save forms in that order.</summary>
    public (string Payload, PayloadSaveForms? Save) Payload()
    {
        const string filterHead = "*filter\n", natHead = "*nat\n", commit = "COMMIT\n";
        int length = filterHead.Length + filterChains.Length + filterRules.Length + commit.Length
            + natHead.Length + natChains.Length + natRules.Length + commit.Length;
        var payload = string.Create(length, this, static (span, w) =>
        {
            int at = 0;
            void Put(Span<char> dest, ref int at, ReadOnlySpan<char> s)
            {
                s.CopyTo(dest[at..]);
                at += s.Length;
            }
            Put(span, ref at, filterHead);
            Put(span, ref at, w.filterChains.AsSpan());
            Put(span, ref at, w.filterRules.AsSpan());
            Put(span, ref at, commit);
            Put(span, ref at, natHead);
            Put(span, ref at, w.natChains.AsSpan());
            Put(span, ref at, w.natRules.AsSpan());
            Put(span, ref at, commit);
        });
        if (!saveValid) return (payload, null);
        return (payload, new PayloadSaveForms(payload, filterChainOps, filterRuleOps, natChainOps, natRuleOps));
    }

    /// <summary>1/n as kube-proxy writes it (%0.10f) and as iptables-save prints it back, computed once per n.</summary>
    public static (string Written, string Saved) ProbabilityOf(int n)
    {
        var cache = probabilities;
        if (n < cache.Length && cache[n] is { } known) return (known.Written, known.Saved);
        string written = (1.0 / n).ToString("F10", CultureInfo.InvariantCulture);
        var text = new ProbabilityText(written, SaveRuleFormatter.SavedProbability(written));
        if (n < cache.Length) cache[n] = text; // a reference write: a racing reader sees null or the whole pair
        return (text.Written, text.Saved);
    }

    sealed record ProbabilityText(string Written, string Saved);

    static readonly ProbabilityText?[] probabilities = new ProbabilityText?[4096];
}
