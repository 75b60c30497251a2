using PacketLife.Core.Diagnostics;
using PacketLife.Core.Netfilter.Matches;
using PacketLife.Core.Netfilter.Targets;

namespace PacketLife.Core.Netfilter;

/// <summary>Checks a committed table the way iptables-restore and the kernel's checkentry functions would:
/// jumps to undefined chains, DROP in nat, `-i`/`-o` in built-in chains that cannot have them (iptables(8)), and
/// targets/matches used from hooks or tables the kernel refuses (facts §2.5; kernel reports "Invalid argument").</summary>
internal static class TableChecks
{
    /// <summary>Checks a table built in code or read by an older path: the facts are taken from its rules here.</summary>
    public static void Check(Table table, List<Diagnostic> diags)
    {
        var facts = new ArraySegment<RuleFacts>[table.Chains.Length];
        for (int k = 0; k < facts.Length; k++)
        {
            var rules = table.Chains[k].Rules;
            var l = new RuleFacts[rules.Length];
            for (int i = 0; i < l.Length; i++) l[i] = RuleFacts.Of(rules[i]);
            facts[k] = l;
        }
        Check(table, facts, diags);
    }

    /// <summary>The checks over <paramref name="facts"/>: per chain of <paramref name="table"/> (same order, same
    /// length), the facts of each of its rules in order. The reader takes them while each rule is still in the cache
    /// after parsing it; walking 200k freshly built rules again (rule, target, match array, matches: a cache miss
    /// each) took a quarter of a large read. A rule is only touched again when it may have something to report.</summary>
    public static void Check(Table table, ArraySegment<RuleFacts>[] facts, List<Diagnostic> diags) => Check(table, facts, null, diags);

    /// <param name="chainIndex">The index in <paramref name="table"/>'s chains of the chain with a name, or -1 (the
    /// reader answers from the table it built, instead of a second dictionary of every chain). Must answer from
    /// several threads at once when <paramref name="threads"/> is above 1.</param>
    /// <param name="threads">Threads for the per-rule pass over a large table (1: the calling thread only).</param>
    /// <param name="ordinalIndex">The index in <paramref name="table"/>'s chains of the chain of each declared name of
    /// the reader's slots, by ordinal (-1: none), for facts with a <see cref="RuleFacts.JumpOrdinal"/>.</param>
    /// <param name="builtin">Which of the table's chains are built-in (null: asked of the chains).</param>
    /// <param name="beforePart">Run on chains [from, to) just before the per-rule pass over them, on the same thread
    /// (the reader builds those chains there: <paramref name="table"/>'s chains at other indices may not exist yet, so
    /// <paramref name="builtin"/> must then be given).</param>
    // Once per table, with loops over every chain and rule: fully optimised from the first call.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static void Check(Table table, ArraySegment<RuleFacts>[] facts, Func<string, int>? chainIndex, List<Diagnostic> diags, int threads = 1, int[]? ordinalIndex = null,
        bool[]? builtin = null, Action<int, int>? beforePart = null)
    {
        if (chainIndex is null)
        {
            var index = new Dictionary<string, int>(table.Chains.Length, StringComparer.Ordinal);
            for (int k = 0; k < table.Chains.Length; k++) index[table.Chains[k].Name] = k;
            chainIndex = name => index.TryGetValue(name, out var x) ? x : -1;
        }
        int n = table.Chains.Length;
        if (builtin is null)
        {
            builtin = new bool[n];
            for (int k = 0; k < n; k++) builtin[k] = table.Chains[k].IsBuiltin;
        }
        // Each chain's callees (distinct, in first-jump order) as a slice of one array of edges, and what the hook pass
        // below needs to know of its rules without reading them again.
        var state = new PassState(n);
        bool anyHookChecks;
        if (threads > 1 && n >= ParallelMinChains)
        {
            // Chains in consecutive parts, each with its own diagnostics, appended in part order afterwards: the same
            // diagnostics in the same order as one pass.
            // Few parts: each has a stamp array as long as the table's chains.
            int parts = Math.Min(threads * 2, n / (ParallelMinChains / 4));
            int per = (n + parts - 1) / parts;
            var partDiags = new List<Diagnostic>[parts];
            var partEdges = new List<int>[parts];
            var any = new bool[parts];
            Parallel.For(0, parts, new ParallelOptions { MaxDegreeOfParallelism = threads }, p =>
            {
                partDiags[p] = [];
                partEdges[p] = [];
                beforePart?.Invoke(p * per, Math.Min(n, (p + 1) * per));
                any[p] = RulePass(table, facts, chainIndex, ordinalIndex, builtin, state, partEdges[p], p * per, Math.Min(n, (p + 1) * per), partDiags[p]);
            });
            foreach (var d in partDiags) diags.AddRange(d);
            state.Join(partEdges, per);
            anyHookChecks = any.Contains(true);
        }
        else
        {
            beforePart?.Invoke(0, n);
            var edges = new List<int>();
            anyHookChecks = RulePass(table, facts, chainIndex, ordinalIndex, builtin, state, edges, 0, n, diags);
            state.Join([edges], n);
        }
        if (!anyHookChecks) return;

        // Which hooks reach each chain (a rule in a user chain must be valid from every caller's hook): a bitmask per
        // chain, filled by a walk over chain indices from each built-in chain.
        // One walk for all hooks: a chain is visited again only when it gains a hook (a walk per built-in chain visited
        // every Service chain once per hook).
        var mask = new int[table.Chains.Length];
        var queue = new Queue<int>();
        for (int k = 0; k < table.Chains.Length; k++)
        {
            var c = table.Chains[k];
            if (!c.IsBuiltin || NetfilterTables.HookOf(c.Name) is not { } h) continue;
            mask[k] |= 1 << (int)h;
            queue.Enqueue(k);
        }
        var edgesAll = state.Edges;
        while (queue.Count > 0)
        {
            int x = queue.Dequeue();
            int m = mask[x];
            for (int e = state.EdgeStart[x], end = e + state.EdgeCount[x]; e < end; e++)
            {
                int y = edgesAll[e];
                if ((mask[y] | m) != mask[y]) { mask[y] |= m; queue.Enqueue(y); }
            }
        }
        var hookSets = new Dictionary<int, NetfilterHook[]>();
        NetfilterHook[] HooksOf(int m)
        {
            if (!hookSets.TryGetValue(m, out var a))
                hookSets[m] = a = [.. Enum.GetValues<NetfilterHook>().Where(h => (m & (1 << (int)h)) != 0)];
            return a;
        }
        int tableBit = RuleFacts.TableBit(table.Name);
        for (int k = 0; k < table.Chains.Length; k++)
        {
            int m = mask[k];
            // A chain whose restricted targets all allow this table and every hook that reaches it, and that has no
            // match checking hooks, has nothing to report: its rules are not read again (a kube-proxy dump's KUBE-SEP
            // chains, reached from PREROUTING and OUTPUT, where their DNAT may be).
            if (!state.MatchChecks[k] && (state.AllowedTables[k] & tableBit) != 0 && (m & ~state.AllowedHooks[k]) == 0) continue;
            NetfilterHook[]? hs = null;
            foreach (ref readonly var f in facts[k].AsSpan())
            {
                // Only rules whose target or a match is restricted to some tables or hooks can fail here, and a
                // restricted target only when this table or a hook that reaches the chain is not among the ones it
                // allows (masks taken when the rule was read: a kube-proxy dump's DNAT rules are all allowed, and
                // deciding that from the facts touches none of the 30k rules again).
                if (!f.Has(RuleFacts.Kind.HookChecks)) continue;
                bool targetFails = f.Has(RuleFacts.Kind.RestrictedTarget) && ((f.AllowedTables & tableBit) == 0 || (m & ~f.AllowedHooks) != 0);
                if (!targetFails && !(f.Has(RuleFacts.Kind.MatchChecksHooks) && m != 0)) continue;
                hs ??= HooksOf(m);
                var rule = f.Rule;
                if (targetFails && rule.Target is { } t)
                {
                    var at = TargetAt(rule);
                    if (t.AllowedTables is { } tables && !tables.Contains(table.Name))
                        diags.Add(NetfilterMessages.HookRestriction(at, $"{t.Name} target: only valid in {string.Join("/", tables)} table, not {table.Name}", "iptables-restore fails with \"Invalid argument\""));
                    else if (t.AllowedHooks is { } allowed && hs.Length > 0 && !AllAllowed(hs, allowed) && hs.Where(h => !allowed.Contains(h)).ToList() is { Count: > 0 } bad)
                        diags.Add(NetfilterMessages.HookRestriction(at,
                            $"{t.Name} target: used from hooks {string.Join("/", bad.Select(NetfilterTables.ChainOf))}, but only usable from {string.Join("/", allowed.Select(NetfilterTables.ChainOf))}",
                            "iptables-restore fails with \"Invalid argument\""));
                }
                if (hs.Length > 0 && f.Has(RuleFacts.Kind.MatchChecksHooks))
                    foreach (var mt in rule.Matches)
                        if (mt.CheckHooks(hs) is { } msg)
                            diags.Add(NetfilterMessages.HookRestriction(rule.Location, msg, "iptables-restore fails with \"Invalid argument\""));
            }
        }
    }

    /// <summary>Below this many chains the per-rule pass stays on the calling thread.</summary>
    internal const int ParallelMinChains = 4096;

    static SourceLocation TargetAt(Rule rule) => rule.TargetColumn > 0 ? rule.Location with { Column = rule.TargetColumn } : rule.Location;

    /// <summary>Jumps (undefined chain, built-in chain as target), DROP in nat and `-i`/`-o` where the hook cannot
    /// have them, for chains [<paramref name="from"/>, <paramref name="to"/>); fills their callee lists. True when a
    /// rule there needs the hook check.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    static bool RulePass(Table table, ArraySegment<RuleFacts>[] facts, Func<string, int> chainIndex, int[]? ordinalIndex, bool[] builtin, PassState state, List<int> edges, int from, int to, List<Diagnostic> diags)
    {
        // The last jump target resolved is remembered: rules that jump to the same chain share one JumpTarget object
        // (the reader's cache) and often come together. A kube-proxy dump jumps to most chains from one rule only, so
        // a cache of every target would cost more than the lookups it saves.
        JumpTarget? lastJump = null;
        int lastResolved = -1;
        // Callees seen in the current chain: a stamp per chain index (the chain's own number + 1) instead of a set
        // cleared per chain (a set grown by one chain with thousands of jumps, KUBE-SERVICES, cleared its whole bucket
        // array for every later chain).
        var seenIn = new int[table.Chains.Length];
        bool nat = table.Name == "nat";
        bool anyHookChecks = false;
        for (int k = from; k < to; k++)
        {
            var chain = table.Chains[k];
            state.EdgeStart[k] = edges.Count;
            byte allowedTables = 0xFF, allowedHooks = 0xFF;
            bool matchChecks = false;
            bool outOnly = chain.IsBuiltin && chain.Name is "OUTPUT" or "POSTROUTING";
            bool inOnly = chain.IsBuiltin && chain.Name is "PREROUTING" or "INPUT";
            foreach (ref readonly var f in facts[k].AsSpan())
            {
                if (f.Jump is { } j)
                {
                    if (!ReferenceEquals(j, lastJump))
                    {
                        // A rule the reader prepared knows its jump's slot: the chain there now is the one the name means.
                        lastResolved = f.JumpOrdinal >= 0 && ordinalIndex is not null ? ordinalIndex[f.JumpOrdinal]
                            : f.JumpSlot is { } js ? js.Index : chainIndex(j.ChainName);
                        lastJump = j;
                    }
                    int t = lastResolved;
                    if (t < 0) diags.Add(NetfilterMessages.UndefinedChain(TargetAt(f.Rule), j.ChainName, table.Name));
                    else if (builtin[t]) diags.Add(NetfilterMessages.BuiltinAsTarget(TargetAt(f.Rule), j.ChainName));
                    else if (seenIn[t] != k + 1) { seenIn[t] = k + 1; edges.Add(t); } // callees, for the hook walk (distinct, in first-jump order)
                }
                else if (f.Has(RuleFacts.Kind.DropVerdict) && nat)
                    diags.Add(NetfilterMessages.DropInNat(TargetAt(f.Rule)));
                if (outOnly && f.Has(RuleFacts.Kind.InInterface))
                    diags.Add(NetfilterMessages.HookRestriction(f.Rule.Location, $"Can't use -i with {chain.Name}", "-i is only known before routing; use a user chain or -o"));
                if (inOnly && f.Has(RuleFacts.Kind.OutInterface))
                    diags.Add(NetfilterMessages.HookRestriction(f.Rule.Location, $"Can't use -o with {chain.Name}", "the output interface is not known before routing"));
                anyHookChecks |= f.Has(RuleFacts.Kind.HookChecks);
                if (f.Has(RuleFacts.Kind.RestrictedTarget)) { allowedTables &= f.AllowedTables; allowedHooks &= f.AllowedHooks; }
                matchChecks |= f.Has(RuleFacts.Kind.MatchChecksHooks);
            }
            state.EdgeCount[k] = edges.Count - state.EdgeStart[k];
            (state.AllowedTables[k], state.AllowedHooks[k], state.MatchChecks[k]) = (allowedTables, allowedHooks, matchChecks);
        }
        return anyHookChecks;
    }

    /// <summary>What the per-rule pass leaves for the hook pass, per chain: its callees (a slice of <see cref="Edges"/>),
    /// the tables and hooks all its restricted targets allow (all bits: none restricted), and whether a match of it
    /// checks hooks.</summary>
    sealed class PassState(int n)
    {
        public readonly int[] EdgeStart = new int[n], EdgeCount = new int[n];
        public readonly byte[] AllowedTables = new byte[n], AllowedHooks = new byte[n];
        public readonly bool[] MatchChecks = new bool[n];
        public int[] Edges = [];

        /// <summary>The parts' edge lists (part p: chains from p * <paramref name="per"/>) as one array, the starts moved
        /// by each part's place in it.</summary>
        public void Join(List<int>[] parts, int per)
        {
            Edges = new int[parts.Sum(p => p.Count)];
            int at = 0;
            for (int p = 0; p < parts.Length; p++)
            {
                parts[p].CopyTo(Edges, at);
                if (at > 0)
                    for (int k = p * per, end = Math.Min(EdgeStart.Length, (p + 1) * per); k < end; k++) EdgeStart[k] += at;
                at += parts[p].Count;
            }
        }
    }

    static bool AllAllowed(NetfilterHook[] hooks, IReadOnlyList<NetfilterHook> allowed)
    {
        foreach (var h in hooks)
        {
            bool ok = false;
            for (int i = 0; i < allowed.Count && !ok; i++) ok = allowed[i] == h;
            if (!ok) return false;
        }
        return true;
    }
}

/// <summary>What <see cref="TableChecks"/> needs of one rule, taken once (by the reader right after building it):
/// its jump target, whether it is a DROP, has `-i`/`-o`, and whether its target or one of its matches is restricted
/// to some tables or hooks (with the target's allowed tables and hooks as masks).</summary>
internal readonly struct RuleFacts
{
    [Flags]
    public enum Kind : byte
    {
        None = 0,
        DropVerdict = 1,
        InInterface = 2,
        OutInterface = 4,
        /// <summary>The target has AllowedTables/AllowedHooks (<see cref="AllowedTables"/>, <see cref="AllowedHooks"/>).</summary>
        RestrictedTarget = 8,
        /// <summary>A match overrides <see cref="Match.CheckHooks"/>.</summary>
        MatchChecksHooks = 16,
        HookChecks = RestrictedTarget | MatchChecksHooks,
    }

    public readonly Rule Rule;
    /// <summary>The `-j CHAIN`/`-g CHAIN` target, else null.</summary>
    public readonly JumpTarget? Jump;
    /// <summary>The jump's chain in the reader's slots of this rule's table (null: found by name).</summary>
    public readonly Text.ChainSlot? JumpSlot;
    /// <summary>The jump's chain among the declared names of the reader's slots of this rule's table (-1: none; then
    /// <see cref="JumpSlot"/> or the name finds it).</summary>
    public readonly int JumpOrdinal;
    readonly Kind kinds;
    /// <summary>A restricted target's tables (bit i: <see cref="NetfilterTables.Names"/>[i]) and hooks (bit h:
    /// <see cref="NetfilterHook"/> h); all bits where it allows any.</summary>
    public readonly byte AllowedTables, AllowedHooks;

    RuleFacts(Rule rule, JumpTarget? jump, Kind kinds, Text.ChainSlot? jumpSlot, byte tables, byte hooks, int jumpOrdinal = -1) =>
        (Rule, Jump, this.kinds, JumpSlot, AllowedTables, AllowedHooks, JumpOrdinal) = (rule, jump, kinds, jumpSlot, tables, hooks, jumpOrdinal);

    /// <summary>The facts of a rule whose target is <paramref name="jump"/>, a `-j` to the declared chain with this
    /// ordinal (the reader knows that much without reading the jump object, a likely cache miss).</summary>
    public static RuleFacts OfJump(Rule rule, JumpTarget jump, int ordinal)
    {
        var k = Kind.None;
        if (rule.InInterface is not null) k |= Kind.InInterface;
        if (rule.OutInterface is not null) k |= Kind.OutInterface;
        foreach (var m in rule.Matches)
            if (m.ChecksHooks) { k |= Kind.MatchChecksHooks; break; }
        return new RuleFacts(rule, jump, k, null, 0xFF, 0xFF, ordinal);
    }

    public bool Has(Kind k) => (kinds & k) != 0;

    /// <summary>The bit of a table in <see cref="AllowedTables"/> (0 for a table iptables does not have).</summary>
    public static int TableBit(string table) => NetfilterTables.Names.IndexOf(table) is var i and >= 0 ? 1 << i : 0;

    public static RuleFacts Of(Rule rule, Text.ChainSlot? jumpSlot = null)
    {
        var k = Kind.None;
        JumpTarget? jump = null;
        byte tables = 0xFF, hooks = 0xFF;
        switch (rule.Target)
        {
            case JumpTarget j:
                jump = j;
                break;
            case VerdictTarget v when v == VerdictTarget.Drop:
                k |= Kind.DropVerdict;
                break;
            case { } t when t.AllowedTables is not null || t.AllowedHooks is not null:
                k |= Kind.RestrictedTarget;
                // Indexed loops: a foreach over these interfaces allocated an enumerator per restricted rule.
                if (t.AllowedTables is { } at)
                {
                    tables = 0;
                    for (int i = 0; i < at.Count; i++) tables |= (byte)TableBit(at[i]);
                }
                if (t.AllowedHooks is { } ah)
                {
                    hooks = 0;
                    for (int i = 0; i < ah.Count; i++) hooks |= (byte)(1 << (int)ah[i]);
                }
                break;
        }
        if (rule.InInterface is not null) k |= Kind.InInterface;
        if (rule.OutInterface is not null) k |= Kind.OutInterface;
        foreach (var m in rule.Matches)
            if (m.ChecksHooks) { k |= Kind.MatchChecksHooks; break; }
        return new RuleFacts(rule, jump, k, jump is not null && jumpSlot is not null && ReferenceEquals(jumpSlot.Name, jump.ChainName) ? jumpSlot : null, tables, hooks);
    }
}
