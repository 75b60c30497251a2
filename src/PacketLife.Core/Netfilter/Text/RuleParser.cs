using System.Collections.Immutable;
using PacketLife.Core.Diagnostics;
using PacketLife.Core.Net;
using PacketLife.Core.Netfilter.Evaluation;
using PacketLife.Core.Netfilter.Matches;
using PacketLife.Core.Netfilter.Targets;

namespace PacketLife.Core.Netfilter.Text;

/// <summary>Turns the arguments of one `-A`/`-I` line into a <see cref="Rule"/>, the way iptables' command parser
/// does (iptables(8), xshared.c): built-in options, `-m` modules whose options follow them, options of the
/// protocol's module loaded implicitly after `-p`, `!` before an option (or, deprecated, after it), then `-j`/`-g`.
/// Every problem becomes a diagnostic; a rule with an unknown module, option or target is kept and marked
/// unsupported.</summary>
internal sealed class RuleParser
{
    /// <summary>Stateless parts that repeat across a dump's rules (jump targets, comments) are shared: a kube-proxy
    /// dump has one jump per rule and a few distinct comments per Service, and fewer objects read faster. Stateful
    /// matches (nth, limit, recent) are never shared: their state is keyed by the match object.</summary>
    internal sealed class Shared
    {
        public readonly Dictionary<string, JumpTarget> Jumps = new(StringComparer.Ordinal);
        public readonly Dictionary<string, JumpTarget> Gotos = new(StringComparer.Ordinal);
        // Jump targets are found by the text of the name (the tokenizer leaves chain names as ranges of the text): a
        // jump to a chain seen before costs one lookup and no string.
        public readonly Dictionary<string, JumpTarget>.AlternateLookup<ReadOnlySpan<char>> JumpsByText, GotosByText;
        /// <summary>Built matches by the raw text of their module's arguments (`tcp --dport 80`,
        /// `statistic --mode random --probability 0.5`, `comment --comment "ns/a"`): a module whose text was read before
        /// is taken from here without parsing its options again. Only stateless, immutable matches whose options parsed
        /// without any diagnostic enter (see <see cref="Memoizable"/>); the same text always parses to a match that
        /// prints and evaluates the same, and no match keeps a source location.</summary>
        public readonly Dictionary<string, Match> Modules = new(StringComparer.Ordinal);
        public readonly Dictionary<string, Match>.AlternateLookup<ReadOnlySpan<char>> ModulesByText;
        /// <summary>The last `-m comment --comment TEXT` match made.</summary>
        public CommentMatch? LastComment;
        /// <summary>The last plain jump's chain slot and its table's slots (KUBE-MARK-MASQ jumps recur).</summary>
        public (TableSlots? Slots, ChainSlot? Slot) LastJumpSlot;

        public Shared()
        {
            JumpsByText = Jumps.GetAlternateLookup<ReadOnlySpan<char>>();
            GotosByText = Gotos.GetAlternateLookup<ReadOnlySpan<char>>();
            ModulesByText = Modules.GetAlternateLookup<ReadOnlySpan<char>>();
        }
        // The last jump found: neighbouring rules often repeat it (KUBE-MARK-MASQ jumps recur), and a comparison of
        // references costs less than a dictionary.
        public JumpTarget? LastJump;
        public readonly Dictionary<(IpProtocol?, bool), ProtocolSpec> Protocols = [];
        public ProtocolSpec? LastProtocol;
        public readonly Dictionary<(string, bool), InterfaceSpec> Interfaces = [];
        /// <summary>Port-only tcp/udp matches and random statistic matches (stateless), by the fields their save text
        /// is printed from: equal keys print equal text, and no save text has to be built to find the shared one.</summary>
        public readonly Dictionary<(PortRange?, bool, PortRange?, bool), Match> TcpPorts = [];
        public readonly Dictionary<(PortRange?, bool, PortRange?, bool), Match> UdpPorts = [];
        public readonly Dictionary<(uint, bool), Match> RandomStatistics = [];
    }

    readonly string source;
    int line;
    readonly List<Diagnostic> diags;
    bool errors;
    // Scratch state reused rule after rule (one parser per table): the built rule copies what it keeps.
    readonly List<PendingModule> modules = new(8);
    readonly List<PendingModule> freeModules = new(8);

    RuleParser(string source, int line, List<Diagnostic> diags)
    {
        this.source = source;
        this.line = line;
        this.diags = diags;
    }

    /// <summary>A parser for every rule of one table of one read (reuses its scratch lists and option bags).</summary>
    internal RuleParser(string source, List<Diagnostic> diags, Shared shared, StringPool? pool = null) : this(source, 0, diags)
    {
        this.shared = shared;
        this.pool = pool;
    }

    readonly StringPool? pool;

    /// <summary>The chain slots of the table the next rule is in (set by the caller; null: jumps are shared by name).</summary>
    internal TableSlots? Slots;
    /// <summary>After <see cref="ParseRule"/>: the slot of the chain the rule's `-j`/`-g` names, when found there.</summary>
    internal ChainSlot? JumpSlot { get; private set; }
    /// <summary>After <see cref="ParseRule"/>: the ordinal among <see cref="Slots"/>' declared names of the chain the rule
    /// jumps to, when found there by it (-1: not).</summary>
    internal int JumpOrdinal { get; private set; } = -1;
    /// <summary>Set by the caller before <see cref="ParseRule"/>: a range of the text (start, length; start -1: none)
    /// already looked up in <see cref="Slots"/>, and its ordinal there (-1: not declared). A `-j` token that is exactly
    /// this range takes the answer instead of looking the name up again.</summary>
    internal int JumpHintStart = -1, JumpHintLength, JumpHintOrdinal = -1;
    /// <summary>After <see cref="ParseRule"/>: the rule's jump target when <see cref="JumpOrdinal"/> found it.</summary>
    internal JumpTarget? OrdinalJump { get; private set; }

    /// <summary>Words up to this length (module, protocol, interface, target and option-argument names) are shared
    /// through the pool's front cache; longer ones (chain names, comments) are found by their text or copied.</summary>
    const int PoolMaxLength = 20;

    /// <summary>The token's text as a string: a short word from the pool, a number or long text copied from the line.</summary>
    string Word(Token t)
    {
        if (t.HasString || pool is null) return t.Value;
        var span = t.Span;
        return span.Length == 0 || span.Length > PoolMaxLength || char.IsAsciiDigit(span[0]) ? t.Value : pool.Get(span);
    }

    /// <summary>Parses tokens[start..] of line <paramref name="lineNo"/> (after `-A CHAIN` / `-I CHAIN [N]`).</summary>
    internal Rule ParseRule(string chain, RuleCommand command, int? insertAt, TokenList tokens, int start,
        Counters? counters, (string Source, int Start, int Length) text, int lineNo, SourceLocation at)
    {
        line = lineNo;
        errors = false;
        try { return Run(chain, command, insertAt, tokens, start, counters, text, at); }
        finally
        {
            foreach (var m in modules) freeModules.Add(m);
            modules.Clear();
        }
    }

    // The target's option bag, reused rule after rule like the modules' (a built target keeps none of the bag's objects).
    OptionBag? targetBagSpare;

    OptionBag TargetBag(string name, SourceLocation at)
    {
        if (targetBagSpare is null) return targetBagSpare = new OptionBag(name, at, diags);
        targetBagSpare.Reset(name, at);
        return targetBagSpare;
    }

    PendingModule NewModule(MatchModule? module, string name, SourceLocation at, bool isImplicit, int order)
    {
        if (freeModules.Count == 0) return new PendingModule(module, name, new OptionBag(name, at, diags), isImplicit, order);
        var m = freeModules[^1];
        freeModules.RemoveAt(freeModules.Count - 1);
        m.Reset(module, name, at, isImplicit, order);
        return m;
    }

    SourceLocation At(Token t) => new(source, line, t.Column);

    sealed class PendingModule(MatchModule? module, string name, OptionBag bag, bool isImplicit, int order)
    {
        public MatchModule? Module { get; private set; } = module;
        public string Name { get; private set; } = name;
        public OptionBag Bag { get; } = bag;
        public bool Implicit { get; private set; } = isImplicit;
        public int Order { get; private set; } = order;
        List<string>? raw;
        public List<string> RawArgs => raw ??= [];
        public bool HasRawArgs => raw is { Count: > 0 };
        /// <summary>The match taken from <see cref="Shared.Modules"/> by the text of its options (tokens
        /// [<see cref="SpanFrom"/>, <see cref="SpanTo"/>), <see cref="SpanOptions"/> options), not parsed into
        /// <see cref="Bag"/> unless something later needs the bag (<see cref="Replay"/>).</summary>
        public Match? Prebuilt;
        public int SpanFrom, SpanTo, SpanOptions, KeyStart, KeyEnd;

        public void Reset(MatchModule? module, string name, SourceLocation at, bool isImplicit, int order)
        {
            (Module, Name, Implicit, Order) = (module, name, isImplicit, order);
            Bag.Reset(name, at);
            raw?.Clear();
            Prebuilt = null;
            SpanTo = 0;
        }
    }

    /// <summary>Modules whose matches hold no state and keep nothing of where they were read: one instance may serve
    /// every rule that writes the same options (never nth statistic, limit or recent, whose state is per object or
    /// per name, nor nfacct).</summary>
    static bool Memoizable(Match m) => m switch
    {
        StatisticMatch s => s.Mode == StatisticMode.Random,
        TcpMatch or UdpMatch or SctpMatch or IcmpMatch or MultiportMatch or CommentMatch or MarkMatch or ConnmarkMatch
            or ConntrackMatch or StateMatch or AddrtypeMatch or IprangeMatch or PhysdevMatch or LengthMatch or TtlMatch
            or OwnerMatch or SetMatch => !m.Implicit,
        _ => false,
    };

    /// <summary>The options a `-m` module's own parse would take right after its name (token <paramref name="i"/>):
    /// each option of the module, `!` before an invertible one, with all its arguments, until the first token that is
    /// anything else. Stops early (a shorter span) wherever the parse would report something.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    static (int End, int Options) ModuleSpan(TokenList tk, int i, MatchModule module)
    {
        int j = i + 1, options = 0;
        while (j < tk.Count)
        {
            int k = j;
            bool neg = tk[k].IsBang;
            if (neg && ++k >= tk.Count) break;
            var tok = tk[k];
            if (!tok.HasString || !tok.StartsWith('-') || IsRuleOption(tok.Value) || module.Find(tok.Value) is not { } spec) break;
            if (neg && !spec.Invertible) break;
            if (k + spec.Arity >= tk.Count) break;
            if (spec.Arity > 0 && tk[k + 1].IsBang) break;
            j = k + 1 + spec.Arity;
            options++;
        }
        return (j, options);
    }

    static bool IsRuleOption(string v) => v is "-s" or "--source" or "--src" or "-d" or "--destination" or "--dst" or "-i"
        or "--in-interface" or "-o" or "--out-interface" or "-p" or "--protocol" or "-f" or "--fragment" or "-c"
        or "--set-counters" or "-m" or "--match" or "-j" or "--jump" or "-g" or "--goto";

    /// <summary>Parses a prebuilt module's options into its bag after all (an option after them joins the module, or a
    /// check of the rule needs the bag): the same steps the parse would have taken token by token.</summary>
    void Replay(PendingModule m, TokenList tk)
    {
        m.Prebuilt = null;
        bool neg = false;
        for (int k = m.SpanFrom; k < m.SpanTo; k++)
        {
            var t = tk[k];
            if (t.IsBang) { neg = true; continue; }
            AddOption(m.Bag, m.Module!.Find(t.Value)!, neg, ref k, tk, t);
            neg = false;
        }
    }

    /// <summary>Parses tokens[start..] (after `-A CHAIN` / `-I CHAIN [N]`).</summary>
    Shared? shared;

    public static Rule Parse(string chain, RuleCommand command, int? insertAt, TokenList tokens, int start,
        Counters? counters, (string Source, int Start, int Length) text, string source, int line, List<Diagnostic> diags, SourceLocation at,
        Shared? shared = null)
    {
        var p = new RuleParser(source, line, diags) { shared = shared };
        return p.Run(chain, command, insertAt, tokens, start, counters, text, at);
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    Rule Run(string chain, RuleCommand command, int? insertAt, TokenList tk, int i, Counters? counters, (string Source, int Start, int Length) text, SourceLocation at)
    {
        List<string>? unsupported = null;
        AddressSpec? src = null, dst = null;
        InterfaceSpec? inIf = null, outIf = null;
        ProtocolSpec? proto = null;
        bool? frag = null;
        var modules = this.modules;
        modules.Clear();
        string? targetName = null;
        Token targetToken = default;
        bool isGoto = false;
        TargetModule? targetModule = null;
        OptionBag? targetBag = null;
        List<string>? targetRaw = null;
        bool neg = false;
        Token negTok = default;
        JumpTarget? knownJump = null;
        JumpSlot = null;
        JumpOrdinal = -1;

        for (; i < tk.Count; i++)
        {
            var t = tk[i];
            var v = t.Value;
            if (v == "!")
            {
                if (neg)
                {
                    diags.Add(NetfilterMessages.OptionProblem(At(t), "multiple consecutive ! not allowed"));
                    errors = true;
                }
                neg = true;
                negTok = t;
                continue;
            }
            bool n = neg;
            neg = false;
            switch (v)
            {
                case "-s" or "--source" or "--src" or "-d" or "--destination" or "--dst":
                {
                    bool isSrc = v is "-s" or "--source" or "--src";
                    if (!NextArgIndex(tk, ref i, t, out var intra)) break;
                    if ((isSrc ? src : dst) is not null) { diags.Add(NetfilterMessages.DuplicateOption(At(t), isSrc ? "-s" : "-d")); errors = true; }
                    // The address is parsed from the text (no string of its own: it is seldom repeated).
                    if (!tk[i].Span.Contains(',') && Ip4Prefix.TryParse(tk[i].Span, out var pfx0))
                    {
                        var spec0 = new AddressSpec(pfx0, n || intra);
                        if (isSrc) src = spec0; else dst = spec0;
                        break;
                    }
                    var a = tk[i].Value;
                    if (a.Contains(',')) { diags.Add(NetfilterMessages.OptionProblem(At(tk[i]), $"{(isSrc ? "-s" : "-d")} with several addresses (`{a}`) makes one rule per address in iptables; write them as separate rules", "iptables-save prints one rule per address")); errors = true; break; }
                    if (!Ip4Prefix.TryParse(a, out var pfx)) { diags.Add(NetfilterMessages.BadAddress(At(tk[i]), a)); errors = true; break; }
                    var spec = new AddressSpec(pfx, n || intra);
                    if (isSrc) src = spec; else dst = spec;
                    break;
                }
                case "-i" or "--in-interface" or "-o" or "--out-interface":
                {
                    bool isIn = v is "-i" or "--in-interface";
                    var a = NextArg(tk, ref i, t, out var intra);
                    if (a is null) break;
                    if (a.Length > 15 || a.Length == 0) { diags.Add(NetfilterMessages.BadInterface(At(tk[i]), a)); errors = true; break; }
                    var spec = SharedInterface(a, n || intra);
                    if (isIn) inIf = spec; else outIf = spec;
                    break;
                }
                case "-p" or "--protocol":
                {
                    var a = NextArg(tk, ref i, t, out var intra);
                    if (a is null) break;
                    if (a.Equals("all", StringComparison.OrdinalIgnoreCase) || a == "0") proto = SharedProtocol(null, n || intra, a);
                    else if (ProtocolNames.TryParse(a, out var pr)) proto = SharedProtocol(pr, n || intra, a);
                    else { diags.Add(NetfilterMessages.BadProtocol(At(tk[i]), a)); errors = true; }
                    break;
                }
                case "-f" or "--fragment":
                    frag = !n;
                    break;
                case "-c" or "--set-counters":
                {
                    if (i + 2 >= tk.Count || !ulong.TryParse(tk[i + 1].Value, out var pk) || !ulong.TryParse(tk[i + 2].Value, out var by))
                    {
                        diags.Add(NetfilterMessages.BadCounters(At(t), string.Join(' ', tk.Skip(i + 1).Take(2).Select(x => x.Value))));
                        errors = true;
                        i = Math.Min(i + 2, tk.Count - 1);
                        break;
                    }
                    counters = new Counters(pk, by);
                    i += 2;
                    break;
                }
                case "-m" or "--match":
                {
                    var a = NextArg(tk, ref i, t, out _);
                    if (a is null) break;
                    var module = MatchRegistry.Find(a);
                    if (module is null)
                    {
                        diags.Add(NetfilterMessages.UnknownModule(At(tk[i]), a));
                        (unsupported ??= []).Add($"match module \"{a}\" is not modelled");
                    }
                    var pm = NewModule(module, a, At(tk[i]), false, modules.Count);
                    modules.Add(pm);
                    if (module is not null && targetName is null && shared is not null && tk[i].RawEnd > 0)
                    {
                        // The module's options as written (from its name to its last argument) key the built match.
                        var (end, options) = ModuleSpan(tk, i, module);
                        if (options == 0)
                        {
                            // A module without options of its own (`-m tcp` before `-j DNAT`): keyed by its name alone.
                            (pm.SpanFrom, pm.SpanTo, pm.SpanOptions, pm.KeyStart, pm.KeyEnd) = (i + 1, i + 1, 0, tk[i].Column - 1, tk[i].RawEnd);
                            if (shared.ModulesByText.TryGetValue(text.Source.AsSpan(text.Start + pm.KeyStart, pm.KeyEnd - pm.KeyStart), out var bare))
                                pm.Prebuilt = bare;
                        }
                        else
                        {
                            (pm.SpanFrom, pm.SpanTo, pm.SpanOptions, pm.KeyStart, pm.KeyEnd) = (i + 1, end, options, tk[i].Column - 1, tk[end - 1].RawEnd);
                            if (ReferenceEquals(module, CommentMatch.Spec) && end == i + 3 && tk[i + 2].Span.Length <= CommentMatch.MaxLength)
                            {
                                // `-m comment --comment TEXT`, the option every kube-proxy rule has: the match is the
                                // text, so it is found (or made) by the text alone, which is also the key.
                                // Neighbouring rules often repeat the last one's comment (a KUBE-SEP chain's rules)
                                // and share its match; any other comment stays a slice of the text until asked for
                                // (looking each up among a dump's ~30k comments cost a cache miss or three per rule).
                                var arg = tk[i + 2];
                                if (shared.LastComment is not { } cm || !arg.Span.SequenceEqual(cm.CommentSpan))
                                {
                                    cm = arg.SourceText is { } argText ? new CommentMatch(argText, arg.SourceStart, arg.Span.Length) : new CommentMatch(arg.Value);
                                    shared.LastComment = cm;
                                }
                                pm.Prebuilt = cm;
                                i = end - 1;
                            }
                            else if (shared.ModulesByText.TryGetValue(text.Source.AsSpan(text.Start + pm.KeyStart, pm.KeyEnd - pm.KeyStart), out var hit))
                            {
                                pm.Prebuilt = hit;
                                i = end - 1;
                            }
                        }
                    }
                    break;
                }
                case "-j" or "--jump" or "-g" or "--goto":
                {
                    if (!NextArgIndex(tk, ref i, t, out _)) break;
                    if (targetName is not null) { diags.Add(NetfilterMessages.DuplicateOption(At(t), "-j")); errors = true; }
                    targetToken = tk[i];
                    isGoto = v is "-g" or "--goto";
                    // A chain's name is found by its text in the table's slots (one string and one jump object per chain,
                    // and the table checks find the chain without a lookup); target names are short and come first.
                    var span = tk[i].Span;
                    knownJump = null;
                    int ord = -1;
                    if (!isGoto && Slots is not null && shared!.LastJumpSlot is ({ } ls, { } lj) && ReferenceEquals(ls, Slots) && span.SequenceEqual(lj.Name))
                    {
                        // The same chain as the last plain jump of this table (never a target or verdict name: those
                        // are not recorded here).
                        JumpSlot = lj;
                        knownJump = lj.Jump;
                    }
                    else if (Slots is not null && !tk[i].HasString && (isGoto || span.Length > PoolMaxLength))
                    {
                        // A declared chain is known by its ordinal: its jump object and name come from the table's
                        // arrays, and neither they nor a slot are touched here (each would be a cache miss).
                        ord = tk[i].SourceText is not null && tk[i].SourceStart == JumpHintStart && span.Length == JumpHintLength
                            ? JumpHintOrdinal : Slots.Ordinal(span);
                        if (ord >= 0) knownJump = Slots.JumpAt(ord, isGoto);
                        else
                        {
                            JumpSlot = Slots.Get(span);
                            knownJump = isGoto ? JumpSlot.Goto : JumpSlot.Jump;
                        }
                    }
                    else if (shared is not null && !tk[i].HasString && span.Length > PoolMaxLength)
                        knownJump = (isGoto ? shared.GotosByText : shared.JumpsByText).TryGetValue(span, out var kj) ? kj : null;
                    JumpOrdinal = ord;
                    var a = ord >= 0 ? Slots!.NameAt(ord) : knownJump?.ChainName ?? Word(tk[i]);
                    targetName = a;
                    targetModule = isGoto || knownJump is not null ? null : TargetRegistry.Find(a);
                    targetBag = targetModule is null ? null : TargetBag(a, At(tk[i]));
                    break;
                }
                default:
                {
                    if (!v.StartsWith('-') || v == "-" || v == "--")
                    {
                        // An argument nobody asked for: iptables says "Bad argument `x'".
                        var owner = modules.Count > 0 ? modules[^1] : null;
                        if (targetName is not null && targetModule is null && !isGoto) { (targetRaw ??= []).Add(v); break; }
                        if (owner is { Module: null }) { owner.RawArgs.Add(v); break; }
                        diags.Add(NetfilterMessages.OptionProblem(At(t), $"Bad argument `{v}'"));
                        errors = true;
                        break;
                    }
                    // A target's options come after -j; a match's after its -m (the latest module that knows it).
                    if (targetName is not null && targetModule?.Find(v) is { } topt)
                    {
                        AddOption(targetBag!, topt, n, ref i, tk, t);
                        break;
                    }
                    if (targetName is not null && targetModule is null && !isGoto && VerdictTarget.ByName(targetName) is null)
                    {
                        // options of an unknown target (it is reported once, below)
                        targetRaw ??= [];
                        if (n) targetRaw.Add("!");
                        targetRaw.Add(v);
                        while (i + 1 < tk.Count && !tk[i + 1].StartsWith('-') && !tk[i + 1].IsBang) targetRaw.Add(tk[++i].Value);
                        break;
                    }
                    PendingModule? home = null;
                    OptionSpec? spec = null;
                    for (int k = modules.Count - 1; k >= 0 && home is null; k--)
                    {
                        if (modules[k].Module?.Find(v) is { } s) { home = modules[k]; spec = s; }
                    }
                    if (home is null && modules.Count > 0 && modules[^1].Module is null && targetName is null)
                    {
                        // options of an unknown module: keep them as written
                        var um = modules[^1];
                        if (n) um.RawArgs.Add("!");
                        um.RawArgs.Add(v);
                        while (i + 1 < tk.Count && !tk[i + 1].StartsWith('-') && !tk[i + 1].IsBang) um.RawArgs.Add(tk[++i].Value);
                        break;
                    }
                    if (home is null && proto?.Protocol is { } pp && !proto.Negated && MatchRegistry.ImplicitFor(pp) is { } im && im.Find(v) is { } ispec)
                    {
                        // iptables loads the protocol's match on the first unknown option after -p (xshared.c
                        // command_default); iptables-save then prints the `-m tcp` it inserted.
                        home = NewModule(im, im.Name, At(t), true, modules.Count);
                        modules.Add(home);
                        spec = ispec;
                    }
                    if (home is null)
                    {
                        diags.Add(NetfilterMessages.UnknownOption(At(t), v));
                        (unsupported ??= []).Add($"option \"{v}\" is not modelled");
                        while (i + 1 < tk.Count && !tk[i + 1].StartsWith('-') && !tk[i + 1].IsBang) i++;
                        break;
                    }
                    if (home.Prebuilt is not null) Replay(home, tk);
                    AddOption(home.Bag, spec!, n, ref i, tk, t);
                    break;
                }
            }
        }
        if (neg)
        {
            diags.Add(NetfilterMessages.StrayNegation(At(negTok)));
            errors = true;
        }

        // Build the matches, each from its collected options.
        var matches = modules.Count == 0 ? null : new Match[modules.Count];
        for (int mi = 0; mi < modules.Count; mi++)
        {
            var m = modules[mi];
            Match? built;
            if (m.Module is null)
            {
                built = new UnknownMatch(m.Name, m.HasRawArgs ? [.. m.RawArgs] : []);
            }
            else if (m.Prebuilt is { } pre && ProtocolFits(m.Name, proto))
            {
                built = pre;
            }
            else
            {
                if (m.Prebuilt is not null) Replay(m, tk);
                if (MatchRegistry.RequiredProtocol(m.Name) is { } need && (proto?.Protocol != need || proto.Negated))
                {
                    m.Bag.Problem($"{m.Name} match: only valid for protocol {(int)need}", hint: $"add `-p {m.Name}` before `-m {m.Name}`");
                }
                if (m.Name == "multiport" && (proto?.Protocol is not (IpProtocol.Tcp or IpProtocol.Udp or IpProtocol.Udplite or IpProtocol.Sctp) || proto.Negated))
                {
                    m.Bag.Problem("multiport needs '-p tcp', '-p udp', '-p udplite', '-p sctp' or '-p dccp'");
                }
                built = m.Bag.Failed ? null : m.Module.Build(m.Bag);
                if (built is null || m.Bag.Failed)
                {
                    errors = true;
                    built = new UnknownMatch(m.Name, [.. RawOf(m.Bag)]) { Invalid = true };
                }
                else if (m.Implicit)
                {
                    built = MatchRegistry.WithImplicit(built);
                }
                else if (shared is not null)
                {
                    // Stateless: one instance per distinct save form (never nth or limit, whose state is per object).
                    built = built switch
                    {
                        TcpMatch { HasFlags: false, TcpOption: null } tm => Share(shared.TcpPorts, (tm.SourcePorts, tm.SourceNegated, tm.DestinationPorts, tm.DestinationNegated), built),
                        UdpMatch um => Share(shared.UdpPorts, (um.SourcePorts, um.SourceNegated, um.DestinationPorts, um.DestinationNegated), built),
                        StatisticMatch { Mode: StatisticMode.Random } st => Share(shared.RandomStatistics, (st.Probability31, st.Negated), built),
                        _ => built,
                    };
                }
                if (m.Bag.Unmodelled.Count > 0) (unsupported ??= []).AddRange(m.Bag.Unmodelled);
                else if (m.SpanTo > 0 && m.Bag.Reported == 0 && !m.Bag.Failed && m.Bag.Options.Count == m.SpanOptions && Memoizable(built))
                    shared!.Modules.TryAdd(text.Source.Substring(text.Start + m.KeyStart, m.KeyEnd - m.KeyStart), built);
            }
            if (built!.UnsupportedReason is { } r && !(unsupported?.Contains(r) ?? false)) (unsupported ??= []).Add(r);
            matches![mi] = built;
        }

        Target? target = null;
        OrdinalJump = null;
        if (targetName is not null && JumpOrdinal >= 0 && !isGoto && targetRaw is null)
        {
            // A jump to a declared chain, nothing after it: a name that long is no verdict or target module, and the
            // jump object is used as it is (its type and name are the table's own, not read here).
            target = OrdinalJump = knownJump!;
        }
        else if (targetName is not null)
        {
            if (isGoto) target = knownJump ?? SharedJump(targetName, true);
            else if (VerdictTarget.ByName(targetName) is { } vt)
            {
                target = vt;
            }
            else if (targetModule is not null)
            {
                target = targetBag!.Failed ? null : targetModule.Build(targetBag);
                if (target is null || targetBag.Failed)
                {
                    errors = true;
                    target = new UnknownTarget(targetName, [.. RawOf(targetBag)]) { Invalid = true };
                }
                if (targetBag.Unmodelled.Count > 0) (unsupported ??= []).AddRange(targetBag.Unmodelled);
            }
            else if (TargetRegistry.IsKnownUnmodelled(targetName) || targetRaw is { Count: > 0 })
            {
                diags.Add(NetfilterMessages.UnknownTarget(At(targetToken), targetName));
                target = new UnknownTarget(targetName, targetRaw is null ? [] : [.. targetRaw]);
            }
            else
            {
                // A plain name: a jump to a user chain (checked against the table's chains at COMMIT).
                if (knownJump is null && Slots is not null && targetToken.RawEnd > 0)
                {
                    JumpSlot = Slots.Get(targetToken.Span);
                    knownJump = JumpSlot.Jump;
                    shared!.LastJumpSlot = (Slots, JumpSlot);
                }
                target = knownJump ?? SharedJump(targetName, false);
            }
            if (target.UnsupportedReason is { } r && !(unsupported?.Contains(r) ?? false)) (unsupported ??= []).Add(r);
        }
        if (errors) (unsupported ??= []).Add("the rule has errors (see diagnostics); iptables-restore would refuse it");

        return new Rule
        {
            Chain = chain,
            Command = command,
            InsertPosition = insertAt,
            Source = src,
            Destination = dst,
            InInterface = inIf,
            OutInterface = outIf,
            Protocol = proto,
            Fragment = frag,
            Matches = matches is null ? [] : System.Runtime.InteropServices.ImmutableCollectionsMarshal.AsImmutableArray(matches),
            Target = target,
            Counters = counters,
            TextRange = text,
            Location = at,
            Unsupported = unsupported is null ? [] : [.. unsupported],
            TargetColumn = targetName is null ? 0 : targetToken.Column,
        };
    }

    /// <summary>The rule-level checks of a module that its own options do not decide (the rule's `-p`).</summary>
    static bool ProtocolFits(string module, ProtocolSpec? proto)
    {
        if (MatchRegistry.RequiredProtocol(module) is { } need && (proto?.Protocol != need || proto.Negated)) return false;
        if (module == "multiport" && (proto?.Protocol is not (IpProtocol.Tcp or IpProtocol.Udp or IpProtocol.Udplite or IpProtocol.Sctp) || proto.Negated)) return false;
        return true;
    }

    static Match Share<TKey>(Dictionary<TKey, Match> d, TKey key, Match built) where TKey : notnull
    {
        if (d.TryGetValue(key, out var same)) return same;
        d[key] = built;
        return built;
    }

    ProtocolSpec SharedProtocol(IpProtocol? p, bool negated, string written)
    {
        if (shared is null) return new ProtocolSpec(p, negated, written);
        // Most rules with `-p` repeat the last one's (a comparison instead of hashing the key).
        if (shared.LastProtocol is { } last && last.Protocol == p && last.Negated == negated) return last; // what the dictionary gives
        if (!shared.Protocols.TryGetValue((p, negated), out var s)) shared.Protocols[(p, negated)] = s = new ProtocolSpec(p, negated, written);
        return shared.LastProtocol = s;
    }

    InterfaceSpec SharedInterface(string name, bool negated)
    {
        if (shared is null) return new InterfaceSpec(name, negated);
        if (!shared.Interfaces.TryGetValue((name, negated), out var s)) shared.Interfaces[(name, negated)] = s = new InterfaceSpec(name, negated);
        return s;
    }

    JumpTarget SharedJump(string chain, bool isGoto)
    {
        if (shared is null) return new JumpTarget(chain, isGoto);
        if (!isGoto && shared.LastJump is { } last && ReferenceEquals(last.ChainName, chain)) return last;
        var d = isGoto ? shared.Gotos : shared.Jumps;
        if (!d.TryGetValue(chain, out var j)) d[chain] = j = new JumpTarget(chain, isGoto);
        if (!isGoto) shared.LastJump = j;
        return j;
    }

    string? NextArg(TokenList tk, ref int j, Token opt, out bool intraNeg) =>
        NextArgIndex(tk, ref j, opt, out intraNeg) ? Word(tk[j]) : null;

    /// <summary>Moves <paramref name="j"/> to the option's argument; false (reported) when there is none.</summary>
    bool NextArgIndex(TokenList tk, ref int j, Token opt, out bool intraNeg)
    {
        intraNeg = false;
        if (j + 1 < tk.Count && tk[j + 1].IsBang)
        {
            intraNeg = true;
            diags.Add(NetfilterMessages.IntrapositionedNegation(At(tk[j + 1])));
            errors = true;
            j++;
        }
        if (j + 1 >= tk.Count)
        {
            diags.Add(NetfilterMessages.MissingArgument(At(opt), opt.Value));
            errors = true;
            return false;
        }
        j++;
        return true;
    }

    static IEnumerable<string> RawOf(OptionBag bag)
    {
        foreach (var o in bag.Options)
        {
            if (o.Negated) yield return "!";
            yield return o.Name;
            foreach (var a in o.Args) yield return a;
        }
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    void AddOption(OptionBag bag, OptionSpec spec, bool negated, ref int i, TokenList tk, Token opt)
    {
        var args = new string[spec.Arity];
        bool intra = false;
        for (int k = 0; k < spec.Arity; k++)
        {
            if (k == 0 && i + 1 < tk.Count && tk[i + 1].IsBang && spec.Invertible)
            {
                intra = true;
                bag.Error(NetfilterMessages.IntrapositionedNegation(At(tk[i + 1])));
                i++;
            }
            if (i + 1 >= tk.Count)
            {
                bag.Error(NetfilterMessages.MissingArgument(At(opt), opt.Value));
                return;
            }
            args[k] = Word(tk[++i]);
        }
        if ((negated || intra) && !spec.Invertible)
        {
            bag.Error(NetfilterMessages.CannotInvert(At(opt), bag.Module, spec.Name));
            return;
        }
        if (bag.Has(spec.Name))
        {
            bag.Error(NetfilterMessages.DuplicateOption(At(opt), spec.Name));
            return;
        }
        bag.Options.Add(new ParsedOption(spec.Name, negated || intra, args, At(opt)));
    }
}
