using System.Collections.Immutable;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using PacketLife.Core.Net;
using PacketLife.Core.Netfilter.Matches;
using PacketLife.Core.Netfilter.Targets;

namespace PacketLife.Core.Netfilter.Evaluation;

/// <summary>Walks one table's built-in chain for one hook and one packet, as ip_tables.c ipt_do_table does
/// (netfilter-conntrack.md §2.1-§2.3): a rule matches when its built-in fields and then every match (left to right,
/// short-circuit) match; `-j` pushes a return point, `-g` does not (a RETURN from a goto'd chain resumes after the
/// last `-j` taken, or applies the built-in chain's policy); the end of a user chain returns; ACCEPT ends this table,
/// DROP/REJECT end everything, NAT targets end the nat table; other targets continue.
/// <para>Explain mode enumerates every `statistic --mode random` branch with its exact probability; sample mode
/// follows one branch drawn from an injected <see cref="Random"/>. Stateful matches (nth, recent, limit) change the
/// state passed in only in sample mode; explain mode works on a copy per outcome.</para>
/// <para>Chains with many rules are indexed (<see cref="ChainIndex"/>) by the shapes kube-proxy writes; other rules
/// are always scanned, so the index only skips rules that a plain scan would find not matching before anything
/// stateful, random or uncertain. <see cref="Scanning"/> builds an evaluator without the index (the reference the
/// index is tested against).</para>
/// <para>Layout: every rule of the table is compiled into one array, chain after chain, each chain closed by an end
/// entry, chains placed in the order a walk from the built-in chains first reaches them (so a Service's KUBE-SVC,
/// KUBE-SEP and KUBE-EXT chains sit side by side), and a jump stores the position it lands on: a decision through a
/// 10k-Service dump touches a few adjacent cache lines instead of one object per chain and per rule.</para></summary>
public sealed class TableEvaluator
{
    const int IndexThreshold = 16;
    const int MaxDepth = 64;

    public string Table { get; }
    /// <summary>Every chain's rules in layout order, each chain followed by its end entry.</summary>
    readonly CompiledRule[] rules;
    /// <summary>Per entry of <see cref="rules"/>: what recording, reporting and target execution need.</summary>
    readonly ColdRule[] cold;
    readonly ChainIndex[] indexes;
    /// <summary>The distinct probabilities of inlined `statistic --mode random` matches; entry 0 is unused (none).
    /// kube-proxy writes 1/n for n up to a Service's endpoint count, so this stays small and cached.</summary>
    readonly double[] probabilities;
    /// <summary>Per hook: the built-in chain's first position, index (-1 when scanned), end entry; Start -1 when
    /// the table has no chain for the hook.</summary>
    readonly Entry[] entryByHook;

    readonly record struct Entry(int Start, short Index, int End, Chain? Chain);

    /// <summary>Entries read ahead where an index sends a packet: a Service's KUBE-EXT, KUBE-SVC and 3 KUBE-SEP chains
    /// with their end entries (the layout puts them together) fill about 16.</summary>
    const int TouchEntries = 16;
    int touchSink;

    /// <summary>Loads the entries after <paramref name="start"/>, all at once, before
    /// the walk needs them one after the other: their cache misses then overlap instead of following each other (a
    /// 10k-Service dump does not fit in the caches). Reads only; the result is kept in a field so that the loads are
    /// not removed.</summary>
    void Touch(int start)
    {
        var rs = rules;
        int end = Math.Min(start + TouchEntries, rs.Length);
        int acc = 0;
        for (int k = start; k < end; k++)
        {
            ref var e = ref rs[k];
            acc ^= e.JumpStart;
        }
        touchSink = acc;
    }

    /// <summary>How many chains are indexed (0 for <see cref="Scanning"/>): lets tests check the index was in play.</summary>
    internal int IndexedChains => indexes.Length;

    /// <summary>Where the rule at <paramref name="pos"/> jumps when every packet with its index key matches it: its
    /// only tests are the key's (protocol, destination /32 or none, one destination port), its target is `-j` to an
    /// existing chain that is scanned. -1 otherwise.</summary>
    int CertainJump(int pos)
    {
        ref var cr = ref rules[pos];
        bool onlyKey = cr.HasPorts && !cr.HasSport && cr.HasDport && !cr.DportNeg && cr.DportMin == cr.DportMax
            && !cr.HasSrc && !cr.HasIfaceOrFrag && cr.Matches is null && cr.Random == 0
            && (!cr.HasProto || (!cr.ProtoNeg && (cr.ProtoAll || cr.Proto == cr.PortProto)))
            && (!cr.HasDst || (!cr.DstNeg && (cr.DstLen == 0 || cr.DstLen == 32)));
        return onlyKey && cr.IsJump && !cr.IsGoto && !cr.MissingChain && cr.JumpIndex < 0 ? cr.JumpStart : -1;
    }

    /// <summary>An evaluator that indexes long chains (the default).</summary>
    public TableEvaluator(Table table) : this(table, useIndex: true) { }

    /// <summary>An evaluator that tests every rule in order, as the kernel does: slower on long chains, and the
    /// reference that the index's answers (verdict, rule path, branches, uncertainty) are compared with.</summary>
    public static TableEvaluator Scanning(Table table) => new(table, useIndex: false);

    TableEvaluator(Table table, bool useIndex)
    {
        Table = table.Name;
        var byName = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < table.Chains.Length; i++) byName[table.Chains[i].Name] = i; // the last of a repeated name wins, as before

        // Place chains in reverse post-order of a depth-first walk of the jumps (a chain before the chains it jumps
        // to), visiting a chain's targets from its last rule to its first so that siblings keep rule order: a
        // Service's KUBE-EXT, KUBE-SVC and KUBE-SEP chains end up side by side, in the order a packet to its LB IP or
        // NodePort walks them, and a packet to its cluster IP enters the same run at KUBE-SVC. The walks start at
        // the built-in chains (so that they, not a sorted chain list, decide what sits together), then at chains no
        // built-in chain reaches; the stack is explicit (chains may nest deeply, or loop).
        var post = new List<int>(table.Chains.Length);
        var seen = new bool[table.Chains.Length];
        var path = new Stack<(int Chain, int Rule)>();
        void Visit(int root)
        {
            if (seen[root]) return;
            seen[root] = true;
            path.Push((root, table.Chains[root].Rules.Length - 1));
            while (path.Count > 0)
            {
                var (c, k) = path.Pop();
                var rs = table.Chains[c].Rules;
                while (k >= 0 && !(rs[k].Target is JumpTarget j && byName.TryGetValue(j.ChainName, out var t0) && !seen[t0])) k--;
                if (k < 0) { post.Add(c); continue; }
                int t = byName[((JumpTarget)rs[k].Target!).ChainName];
                path.Push((c, k - 1));
                seen[t] = true;
                path.Push((t, table.Chains[t].Rules.Length - 1));
            }
        }
        for (int i = 0; i < table.Chains.Length; i++) if (table.Chains[i].IsBuiltin) Visit(i);
        for (int i = 0; i < table.Chains.Length; i++) Visit(i);
        post.Reverse();
        var order = post;

        int total = 0;
        foreach (var c in table.Chains) total += c.Rules.Length + 1;
        rules = new CompiledRule[total];
        cold = new ColdRule[total];
        memo = new RuleVisit?[total];
        var start = new int[table.Chains.Length];
        var indexOf = new short[table.Chains.Length];
        short indexed = 0;
        int pos = 0;
        var probs = new List<double> { double.NaN };
        var probNumbers = new Dictionary<double, ushort>();
        ushort Probability(double p)
        {
            if (probNumbers.TryGetValue(p, out var k)) return k;
            if (probs.Count > ushort.MaxValue) return 0;
            probs.Add(p);
            return probNumbers[p] = (ushort)(probs.Count - 1);
        }
        var texts = new string[total];
        foreach (int c in order)
        {
            var chain = table.Chains[c];
            start[c] = pos;
            indexOf[c] = -1;
            if (useIndex && chain.Rules.Length >= IndexThreshold && indexed < short.MaxValue && chain.Rules.Any(r => ChainIndex.TryKey(r, out _, out _)))
                indexOf[c] = indexed++;
            for (int i = 0; i < chain.Rules.Length; i++, pos++)
            {
                var r = chain.Rules[i];
                texts[pos] = r.Text ?? r.Canonical;
                rules[pos] = CompiledRule.From(r, texts[pos], Probability);
            }
            rules[pos] = CompiledRule.End();
            pos++;
        }
        // The cold entries in a pass of their own, so that they lie side by side in memory in layout order (a recorded
        // walk reads one per visit) instead of between the texts and match lists made above.
        pos = 0;
        foreach (int c in order)
        {
            var chain = table.Chains[c];
            for (int i = 0; i < chain.Rules.Length; i++, pos++)
            {
                var r = chain.Rules[i];
                cold[pos] = new ColdRule { Rule = r, Index = i + 1, ChainName = chain.Name, Text = texts[pos], Target = r.Target, TargetName = r.Target?.Name, In = r.InInterface, Out = r.OutInterface, Fragment = r.Fragment };
            }
            cold[pos++] = new ColdRule { Index = chain.Rules.Length + 1, ChainName = chain.Name };
        }
        // Resolve jumps now that every chain has its position.
        for (int p = 0; p < total; p++)
        {
            ref var cr = ref rules[p];
            if (!cr.IsJump) continue;
            if (byName.TryGetValue(((JumpTarget)cold[p].Target!).ChainName, out var t)) { cr.JumpStart = start[t]; cr.JumpIndex = indexOf[t]; }
            else cr.MissingChain = true;
        }
        probabilities = [.. probs];
        indexes = new ChainIndex[indexed];
        foreach (int c in order)
            if (indexOf[c] >= 0) indexes[indexOf[c]] = ChainIndex.Build(table.Chains[c].Rules, start[c], CertainJump)!;
        entryByHook = new Entry[5];
        foreach (NetfilterHook h in Enum.GetValues<NetfilterHook>())
        {
            entryByHook[(int)h] = new Entry(-1, -1, -1, null);
            if (byName.TryGetValue(NetfilterTables.ChainOf(h), out var k) && table.Chains[k].IsBuiltin)
                entryByHook[(int)h] = new Entry(start[k], indexOf[k], start[k] + table.Chains[k].Rules.Length, table.Chains[k]);
        }
        branchesAtHook = new bool[5];
        foreach (NetfilterHook h in Enum.GetValues<NetfilterHook>())
            if (entryByHook[(int)h].Start >= 0) branchesAtHook[(int)h] = BranchReachable(entryByHook[(int)h].Start);
    }

    /// <summary>Per hook: whether a walk from the hook's built-in chain can reach a rule that forks (a `statistic
    /// --mode random` match, inlined or not). When none can, explain mode has exactly one outcome, the one a plain walk
    /// gives.</summary>
    readonly bool[] branchesAtHook;

    /// <summary>When the built-in chain of <paramref name="hook"/> has no rules and the policy ACCEPT (a mangle table
    /// kube-proxy never writes to), every walk there is the same: ACCEPT by the policy, the packet unchanged, nothing
    /// requested. Gives that walk's one visit, so a caller can record it without walking.</summary>
    public bool IsEmptyAccept(NetfilterHook hook, out RuleVisit policyVisit)
    {
        var entry = entryByHook[(int)hook];
        if (entry.Start >= 0 && entry.Start == entry.End && (entry.Chain!.Policy ?? "ACCEPT") == "ACCEPT")
        {
            policyVisit = policyVisits[(int)hook] ??= new RuleVisit(Table, entry.Chain.Name, 1, null, VisitAction.Policy, entry.Chain.Policy ?? "ACCEPT");
            return true;
        }
        policyVisit = null!;
        return false;
    }

    /// <summary>Whether a walk of this table at <paramref name="hook"/> can fork at a random branch (see
    /// <see cref="Explain(PacketContext, bool)"/>); false also when the table has no chain for the hook.</summary>
    public bool CanBranch(NetfilterHook hook) => branchesAtHook[(int)hook];

    bool BranchReachable(int entry)
    {
        // Every chain reachable by jumps and gotos from the entry, each scanned once (chains may loop).
        var seen = new HashSet<int> { entry };
        var todo = new Stack<int>();
        todo.Push(entry);
        while (todo.Count > 0)
        {
            for (int pos = todo.Pop(); !rules[pos].IsEnd; pos++)
            {
                ref var cr = ref rules[pos];
                if (cr.Random != 0) return true;
                if (cr.Matches is { } ms)
                    foreach (var m in ms)
                        if (m is StatisticMatch) return true;
                if (cr.IsJump && !cr.MissingChain && seen.Add(cr.JumpStart)) todo.Push(cr.JumpStart);
            }
        }
        return false;
    }

    /// <summary>Explain mode: every outcome with its exact probability (they sum to 1).</summary>
    public IReadOnlyList<EvaluationOutcome> Explain(PacketContext ctx) => Explain(ctx, recordVisits: true);

    /// <summary>Explain mode; without <paramref name="recordVisits"/> the outcomes carry no <see cref="EvaluationOutcome.Visits"/>
    /// (a caller that only picks a branch and then replays it, recording, needs none).</summary>
    public IReadOnlyList<EvaluationOutcome> Explain(PacketContext ctx, bool recordVisits)
    {
        // The first walk usually takes no random branch (a packet that meets no `statistic` rule): one outcome, and no
        // enumeration to set up.
        var oracle0 = new ReplayChoices([]);
        var first = Walk(ctx with { State = ctx.State.Clone() }, oracle0, recordVisits);
        if (oracle0.Taken.Count == 0) return [first];
        var outcomes = new List<EvaluationOutcome> { first with { Branches = [.. oracle0.Taken] } };
        var pending = new Stack<bool[]>();
        PushAlternatives(pending, oracle0.Taken, 0);
        while (pending.Count > 0)
        {
            var prefix = pending.Pop();
            var oracle = new ReplayChoices(prefix);
            var outcome = Walk(ctx with { State = ctx.State.Clone() }, oracle, recordVisits);
            outcomes.Add(oracle.Taken.Count == 0 ? outcome : outcome with { Branches = [.. oracle.Taken] });
            PushAlternatives(pending, oracle.Taken, prefix.Length);
        }
        WeightedOrder.SortMostLikelyFirst(outcomes); // then by walk order
        return outcomes;
    }

    static void PushAlternatives(Stack<bool[]> pending, List<bool> taken, int from)
    {
        for (int j = taken.Count - 1; j >= from; j--)
        {
            var alt = new bool[j + 1];
            for (int k = 0; k < j; k++) alt[k] = taken[k];
            alt[j] = !taken[j];
            pending.Push(alt);
        }
    }

    /// <summary>Sample mode: one outcome, random branches drawn from <paramref name="random"/>.</summary>
    public EvaluationOutcome Sample(PacketContext ctx, Random random, bool recordVisits = true) =>
        Walk(ctx, new RandomChoices(random), recordVisits);

    /// <summary>Walks the branch an explain outcome took (<see cref="EvaluationOutcome.Branches"/>) against the
    /// context's own state, which it changes as the kernel would (nth counters, recent lists, limit buckets): how
    /// an explained outcome is committed.</summary>
    public EvaluationOutcome Replay(PacketContext ctx, ImmutableArray<bool> branches, bool recordVisits = true) =>
        Walk(ctx, new ReplayChoices(branches.IsDefault ? [] : [.. branches]), recordVisits);

    interface IChoices
    {
        bool Choose(double p);
    }

    sealed class ReplayChoices(bool[] prefix) : IChoices
    {
        public List<bool> Taken { get; } = [];
        public bool Choose(double p)
        {
            bool c = Taken.Count < prefix.Length ? prefix[Taken.Count] : true;
            Taken.Add(c);
            return c;
        }
    }

    // A struct so that sample mode allocates nothing for its choices and the call is not virtual.
    readonly struct RandomChoices(Random random) : IChoices
    {
        public bool Choose(double p) => random.NextDouble() < p;
    }

    /// <summary>A return point: where to resume and the index of the chain resumed in.</summary>
    readonly record struct Frame(int Pos, short Index);

    /// <summary>The return stack, on the walk's own stack frame (no allocation per packet).</summary>
    [InlineArray(MaxDepth)]
    struct FrameStack
    {
        Frame first;
    }

    EvaluationOutcome Walk<TChoices>(PacketContext input, TChoices choices, bool record) where TChoices : IChoices
    {
        var entry = entryByHook[(int)input.Hook];
        if (entry.Start < 0) return new EvaluationOutcome(1, TableVerdict.Accept, input.Packet, [], [], []);
        // The thread's spare context, taken for this walk and given back by Finish (a walk that throws leaves it
        // taken; a walk inside a walk, if there ever were one, would make its own).
        var ctx = spareContext ?? new EvalContext(input, Table);
        spareContext = null;
        ctx.Reset(input, Table);
        ImmutableArray<RuleVisit>.Builder? visits = null;
        if (record)
        {
            visits = scratchVisits ??= ImmutableArray.CreateBuilder<RuleVisit>(64);
            visits.Clear();
        }
        var uncertain = ImmutableArray<string>.Empty;
        double probability = 1;
        var packet = input.Packet;
        var rules = this.rules;
        var cold = this.cold;
        FrameStack stack = default;
        int depth = 0;
        short ix = entry.Index;
        int pos = entry.Start;
        while (true)
        {
            if (ix >= 0)
            {
                pos = indexes[ix].Next(pos, packet, out int jump);
                if (jump >= 0 && depth < MaxDepth)
                {
                    // The index proves this rule matches and jumps (ChainIndex.Next): the same step as below, without
                    // reading the rule (in a 10k-Service KUBE-SERVICES, a cache miss per packet).
                    if (visits is not null)
                    {
                        var jc = cold[pos];
                        visits.Add(memo[pos] is { Action: VisitAction.Jump } mv ? mv
                            : memo[pos] = new RuleVisit(Table, jc.ChainName, jc.Index, jc.Text, VisitAction.Jump, jc.TargetName));
                    }
                    stack[depth++] = new Frame(pos + 1, ix);
                    (pos, ix) = (jump, -1);
                    Touch(jump);
                    continue;
                }
            }
            ref var cr = ref rules[pos];
            if (cr.IsEnd)
            {
                // End of chain: a user chain returns (return:N), a built-in chain applies its policy (policy:N).
                if (depth > 0)
                {
                    visits?.Add(memo[pos] ??= new RuleVisit(Table, cold[pos].ChainName, cold[pos].Index, null, VisitAction.Return));
                    var f = stack[--depth];
                    (pos, ix) = (f.Pos, f.Index);
                    continue;
                }
                if (pos != entry.End) visits?.Add(memo[pos] ??= new RuleVisit(Table, cold[pos].ChainName, cold[pos].Index, null, VisitAction.Return));
                return Policy();
            }
            int here = pos++;
            var m = Test(ref cr, here, ctx, packet, choices, ref probability, visits, out var reason);
            if (m == MatchOutcome.NoMatch) continue;
            // The cold entry (names, text, target object) is read only where it is used: on a 10k-Service dump each
            // read is a likely cache miss, and a jump or a NAT target in sample mode needs none of it.
            ColdRule c;
            if (m == MatchOutcome.Uncertain)
            {
                c = cold[here];
                visits?.Add(new RuleVisit(Table, c.ChainName, c.Index, c.Text, VisitAction.Uncertain, reason));
                uncertain = uncertain.Add($"{Table}:{c.ChainName}:{c.Index}: {reason}");
                return Finish(TableVerdict.Uncertain);
            }
            if (!cr.HasTarget)
            {
                visits?.Add(Memo(here, VisitAction.Matched, null));
                continue;
            }
            if (cr.IsJump)
            {
                if (cr.MissingChain)
                {
                    c = cold[here];
                    var missing = c.TargetName!;
                    visits?.Add(new RuleVisit(Table, c.ChainName, c.Index, c.Text, VisitAction.Uncertain, "jump to undefined chain " + missing));
                    uncertain = uncertain.Add($"{Table}:{c.ChainName}:{c.Index}: jump to undefined chain {missing}");
                    return Finish(TableVerdict.Uncertain);
                }
                visits?.Add(Memo(here, cr.IsGoto ? VisitAction.Goto : VisitAction.Jump, cold[here].TargetName));
                if (!cr.IsGoto)
                {
                    if (depth >= MaxDepth)
                    {
                        c = cold[here];
                        uncertain = uncertain.Add($"{Table}:{c.ChainName}:{c.Index}: chain nesting deeper than {MaxDepth} (loop?)");
                        return Finish(TableVerdict.Uncertain);
                    }
                    stack[depth++] = new Frame(pos, ix);
                }
                (pos, ix) = (cr.JumpStart, cr.JumpIndex);
                continue;
            }
            if (cr.IsNat)
            {
                var nat = cr.NatRequest();
                // NAT targets only request a binding and end the nat table (their Execute does the same).
                ctx.AddRequest(nat);
                // The detail is the rule's own (target and range): the same visit every time.
                if (visits is not null)
                {
                    c = cold[here];
                    visits.Add(memo[here] is { Action: VisitAction.Verdict } nv ? nv
                        : memo[here] = new RuleVisit(Table, c.ChainName, c.Index, c.Text, VisitAction.Verdict, c.TargetName + (nat.Addresses is null && nat.Ports is null ? "" : " " + NatText(nat))));
                }
                return Finish(TableVerdict.Accept);
            }
            c = cold[here];
            var target = c.Target!;
            ctx.CurrentRule = c.Rule;
            var res = target.Execute(ctx, c.Rule!);
            switch (res.Action)
            {
                case TargetAction.Continue:
                    visits?.Add(Memo(here, VisitAction.Matched, target.Name));
                    if (ctx.Mark != packet.Mark) packet = packet with { Mark = ctx.Mark };
                    continue;
                case TargetAction.Accept:
                    visits?.Add(Memo(here, VisitAction.Verdict, "ACCEPT"));
                    return Finish(TableVerdict.Accept);
                case TargetAction.Drop:
                {
                    var final = new RuleVisit(Table, c.ChainName, c.Index, c.Text, VisitAction.Verdict, "DROP");
                    visits?.Add(final);
                    return Finish(TableVerdict.Drop) with { Final = final };
                }
                case TargetAction.Reject:
                {
                    var final = new RuleVisit(Table, c.ChainName, c.Index, c.Text, VisitAction.Verdict, "REJECT " + res.Detail);
                    visits?.Add(final);
                    return Finish(new TableVerdict(VerdictKind.Reject, res.Detail)) with { Final = final };
                }
                case TargetAction.Nat:
                    visits?.Add(new RuleVisit(Table, c.ChainName, c.Index, c.Text, VisitAction.Verdict, res.Detail));
                    return Finish(TableVerdict.Accept);
                case TargetAction.Return:
                    visits?.Add(Memo(here, VisitAction.Return, null));
                    if (depth == 0) return Policy();
                    var fr = stack[--depth];
                    (pos, ix) = (fr.Pos, fr.Index);
                    continue;
                default:
                    visits?.Add(new RuleVisit(Table, c.ChainName, c.Index, c.Text, VisitAction.Uncertain, res.Detail));
                    uncertain = uncertain.Add($"{Table}:{c.ChainName}:{c.Index}: {res.Detail}");
                    return Finish(TableVerdict.Uncertain);
            }
        }

        EvaluationOutcome Policy()
        {
            var policy = entry.Chain!.Policy ?? "ACCEPT";
            visits?.Add(policyVisits[(int)input.Hook] ??= new RuleVisit(Table, entry.Chain.Name, entry.Chain.Rules.Length + 1, null, VisitAction.Policy, policy));
            return Finish(policy == "DROP" ? TableVerdict.Drop : TableVerdict.Accept);
        }

        EvaluationOutcome Finish(TableVerdict verdict)
        {
            if (ctx.Mark != packet.Mark) packet = packet with { Mark = ctx.Mark };
            var requests = !ctx.HasRequests && !ctx.CtMarkChanged ? ImmutableArray<EvalRequest>.Empty : BuildRequests(ctx, input);
            ctx.Reset(input, Table); // only the walk's input stays reachable from the spare
            spareContext = ctx;
            return new EvaluationOutcome(probability, verdict, packet, requests, visits?.ToImmutable() ?? [], uncertain);
        }
    }

    static string NatText(NatRequest n) => new NatRange(n.Addresses, n.Ports).ToString();

    /// <summary>Recorded walks' visits, reused per position: a rule's visit says the same every time it is made in
    /// the same way (its action with a detail fixed by the rule: the jump's chain, the target's name, ACCEPT), and a
    /// `trace --all` on a large cluster records the same few hundred visits tens of thousands of times. Written
    /// without locks by any thread (a reference write is atomic; two threads at worst make equal visits).</summary>
    readonly RuleVisit?[] memo;
    readonly RuleVisit?[] policyVisits = new RuleVisit?[5];

    /// <summary>The visit of the rule at <paramref name="pos"/> with this action and a detail that is a constant of the
    /// rule (compared by reference: the target's or chain's own name, or a literal).</summary>
    RuleVisit Memo(int pos, VisitAction action, string? detail)
    {
        if (memo[pos] is { } v && v.Action == action && ReferenceEquals(v.Detail, detail)) return v;
        var c = cold[pos];
        return memo[pos] = new RuleVisit(Table, c.ChainName, c.Index, c.Text, action, detail);
    }

    /// <summary>One walk context per thread, reused walk after walk (see <see cref="EvalContext.Reset"/>).</summary>
    [ThreadStatic] static EvalContext? spareContext;

    /// <summary>One builder per thread for a recorded walk's visits (walks do not nest); the outcome gets a copy.</summary>
    [ThreadStatic] static ImmutableArray<RuleVisit>.Builder? scratchVisits;

    static ImmutableArray<EvalRequest> BuildRequests(EvalContext ctx, PacketContext input)
    {
        int n = ctx.RequestCount;
        var a = new EvalRequest[n + (ctx.CtMarkChanged ? 1 : 0)];
        if (n > 0) ctx.CopyRequests(a);
        if (ctx.CtMarkChanged) a[n] = new ConnmarkRequest(input.Conntrack?.Mark ?? 0, ctx.CtMark, ctx.CtMarkRule ?? "");
        return ImmutableCollectionsMarshal.AsImmutableArray(a);
    }

    MatchOutcome Test<TChoices>(ref CompiledRule cr, int pos, EvalContext ctx, Packet p, TChoices choices, ref double probability,
        ImmutableArray<RuleVisit>.Builder? visits, out string? reason) where TChoices : IChoices
    {
        reason = null;
        // ip_tables.c ip_packet_match: -s -d -i -o -p -f, each with its inversion.
        if (cr.HasDst && CompiledRule.InPrefix(p.Dst.Value, cr.DstNet, cr.DstLen) == cr.DstNeg) return MatchOutcome.NoMatch;
        if (cr.HasSrc && CompiledRule.InPrefix(p.Src.Value, cr.SrcNet, cr.SrcLen) == cr.SrcNeg) return MatchOutcome.NoMatch;
        if (cr.HasProto && (cr.ProtoAll || cr.Proto == p.Protocol) == cr.ProtoNeg) return MatchOutcome.NoMatch;
        if (cr.HasIfaceOrFrag)
        {
            var c = cold[pos];
            if (c.In is { } ii && !ii.Test(ctx.Input.InInterface)) return MatchOutcome.NoMatch;
            if (c.Out is { } oi && !oi.Test(ctx.Input.OutInterface)) return MatchOutcome.NoMatch;
            if (c.Fragment is { } f && (p.FragmentOffset != 0) != f) return MatchOutcome.NoMatch;
        }
        if (cr.HasPorts)
        {
            if (p.FragmentOffset != 0 || p.Protocol != cr.PortProto) return MatchOutcome.NoMatch;
            if (cr.HasSport && (p.SrcPort >= cr.SportMin && p.SrcPort <= cr.SportMax) == cr.SportNeg) return MatchOutcome.NoMatch;
            if (cr.HasDport && (p.DstPort >= cr.DportMin && p.DstPort <= cr.DportMax) == cr.DportNeg) return MatchOutcome.NoMatch;
        }
        if (cr.Matches is not null)
        {
            ctx.CurrentRule = cold[pos].Rule;
            var mo = TestMatches(ref cr, pos, ctx, choices, ref probability, visits, out reason);
            if (mo != MatchOutcome.Match) return mo;
        }
        if (cr.Random == 0) return MatchOutcome.Match;
        return Branch(pos, probabilities[cr.Random], "statistic", choices, ref probability, visits);
    }

    MatchOutcome Branch<TChoices>(int pos, double p, string module, TChoices choices, ref double probability, ImmutableArray<RuleVisit>.Builder? visits) where TChoices : IChoices
    {
        if (p >= 1) return MatchOutcome.Match;
        if (p <= 0) return MatchOutcome.NoMatch;
        bool taken = choices.Choose(p);
        probability *= taken ? p : 1 - p;
        visits?.Add(new RuleVisit(Table, cold[pos].ChainName, cold[pos].Index, cold[pos].Text, VisitAction.Branch,
            $"{module} {(taken ? "matched" : "did not match")} (p={(taken ? p : 1 - p).ToString("0.###########", System.Globalization.CultureInfo.InvariantCulture)})"));
        return taken ? MatchOutcome.Match : MatchOutcome.NoMatch;
    }

    MatchOutcome TestMatches<TChoices>(ref CompiledRule cr, int pos, EvalContext ctx, TChoices choices, ref double probability,
        ImmutableArray<RuleVisit>.Builder? visits, out string? reason) where TChoices : IChoices
    {
        reason = null;
        foreach (var m in cr.Matches!)
        {
            var res = m.Evaluate(ctx);
            switch (res.Outcome)
            {
                case MatchOutcome.Match:
                    continue;
                case MatchOutcome.NoMatch:
                    return MatchOutcome.NoMatch;
                case MatchOutcome.Branch:
                    if (Branch(pos, res.Probability, m.Module, choices, ref probability, visits) == MatchOutcome.NoMatch) return MatchOutcome.NoMatch;
                    continue;
                default:
                    reason = res.Reason;
                    return MatchOutcome.Uncertain;
            }
        }
        return MatchOutcome.Match;
    }
}

/// <summary>Evaluators for every table of a rule set (built once, reused for many packets).</summary>
public sealed class RuleSetEvaluator
{
    readonly Dictionary<string, TableEvaluator> tables = new(StringComparer.Ordinal);

    public RuleSetEvaluator(RuleSet ruleSet)
    {
        foreach (var t in ruleSet.Tables) tables[t.Name] = new TableEvaluator(t);
    }

    public TableEvaluator? this[string table] => tables.GetValueOrDefault(table);

    /// <summary>Explain one table at the context's hook; a table the rule set lacks accepts (no rules, no visits).</summary>
    public IReadOnlyList<EvaluationOutcome> Explain(string table, PacketContext ctx) =>
        tables.TryGetValue(table, out var t) ? t.Explain(ctx) : [new EvaluationOutcome(1, TableVerdict.Accept, ctx.Packet, [], [], [])];

    public EvaluationOutcome Sample(string table, PacketContext ctx, Random random) =>
        tables.TryGetValue(table, out var t) ? t.Sample(ctx, random) : new EvaluationOutcome(1, TableVerdict.Accept, ctx.Packet, [], [], []);
}
