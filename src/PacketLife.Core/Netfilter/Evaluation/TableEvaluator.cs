using System.Collections.Immutable;
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
/// <para>Chains with many rules are indexed by (protocol, destination /32, destination port) for the rule shapes
/// kube-proxy writes (`-d IP/32 -p P -m comment -m P --dport N`); other rules are always scanned, so the index only
/// skips rules that cannot match.</para></summary>
public sealed class TableEvaluator
{
    const int IndexThreshold = 16;
    const int MaxDepth = 64;

    public string Table { get; }
    readonly CompiledChain[] chains;
    /// <summary>Per chain, what the walk touches first: the rules array and the index (null when scanned), in one
    /// array so that entering a chain costs one load before its rules.</summary>
    readonly Slot[] slots;

    readonly record struct Slot(CompiledRule[] Rules, CompiledChain? Indexed);
    readonly Dictionary<string, int> chainIndex;
    readonly int[] startByHook = [-1, -1, -1, -1, -1];

    public TableEvaluator(Table table)
    {
        Table = table.Name;
        chainIndex = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < table.Chains.Length; i++) chainIndex[table.Chains[i].Name] = i;
        chains = new CompiledChain[table.Chains.Length];
        for (int i = 0; i < chains.Length; i++) chains[i] = new CompiledChain(table.Chains[i], table.Name, chainIndex);
        slots = [.. chains.Select(c => new Slot(c.Rules, c.Scan is null ? null : c))];
        foreach (NetfilterHook h in Enum.GetValues<NetfilterHook>())
            if (chainIndex.TryGetValue(NetfilterTables.ChainOf(h), out var k) && table.Chains[k].IsBuiltin) startByHook[(int)h] = k;
    }

    /// <summary>A rule flattened for the hot path: the built-in fields inline (no pointer chasing before the first
    /// test), matches that always match (comment, nfacct) left out, the jump resolved to a chain index.</summary>
    /// <summary>What the walk needs only when it records or executes: kept out of the hot struct.</summary>
    sealed class ColdRule
    {
        public required Rule Rule;
        public required int Index; // 1-based
        public required string Text;
        public Target? Target;
        public InterfaceSpec? In, Out;
        public bool? Fragment;
    }

    struct CompiledRule
    {
        // Kept small (about one cache line) because a 10k-Service dump is walked with cold caches.
        int F;
        public bool HasPorts { readonly get => (F & 1) != 0; set => F = value ? F | 1 : F & ~1; }
        public bool SportNeg { readonly get => (F & 2) != 0; set => F = value ? F | 2 : F & ~2; }
        public bool DportNeg { readonly get => (F & 4) != 0; set => F = value ? F | 4 : F & ~4; }
        public bool HasSport { readonly get => (F & 8) != 0; set => F = value ? F | 8 : F & ~8; }
        public bool HasDport { readonly get => (F & 16) != 0; set => F = value ? F | 16 : F & ~16; }
        public bool IsJump { readonly get => (F & 32) != 0; set => F = value ? F | 32 : F & ~32; }
        public bool IsGoto { readonly get => (F & 64) != 0; set => F = value ? F | 64 : F & ~64; }
        public bool MissingChain { readonly get => (F & 128) != 0; set => F = value ? F | 128 : F & ~128; }
        public bool HasSrc { readonly get => (F & 256) != 0; set => F = value ? F | 256 : F & ~256; }
        public bool SrcNeg { readonly get => (F & 512) != 0; set => F = value ? F | 512 : F & ~512; }
        public bool HasDst { readonly get => (F & 1024) != 0; set => F = value ? F | 1024 : F & ~1024; }
        public bool DstNeg { readonly get => (F & 2048) != 0; set => F = value ? F | 2048 : F & ~2048; }
        public bool HasProto { readonly get => (F & 4096) != 0; set => F = value ? F | 4096 : F & ~4096; }
        public bool ProtoNeg { readonly get => (F & 8192) != 0; set => F = value ? F | 8192 : F & ~8192; }
        public bool ProtoAll { readonly get => (F & 16384) != 0; set => F = value ? F | 16384 : F & ~16384; }
        public bool HasIfaceOrFrag { readonly get => (F & 32768) != 0; set => F = value ? F | 32768 : F & ~32768; }
        public bool HasTarget { readonly get => (F & 65536) != 0; set => F = value ? F | 65536 : F & ~65536; }
        public ColdRule Cold;
        /// <summary>Matches evaluated through their objects; null when all were inlined or always match.</summary>
        public Match[]? Matches;
        /// <summary>For NAT targets: the request, built once (it only depends on the rule).</summary>
        public NatRequest? Nat;
        /// <summary>An inlined `statistic --mode random` (the last match of kube-proxy's KUBE-SVC rules): the
        /// probability of matching, NaN when there is none.</summary>
        public double Random;
        public int JumpTo;
        public uint SrcMask, SrcNet, DstMask, DstNet;
        // A tcp/udp match with only port tests, inlined (xt_tcpudp.c: non-first fragments never match).
        public ushort SportMin, SportMax, DportMin, DportMax;
        public IpProtocol PortProto;
        public IpProtocol Proto; // when HasProto and not "all"

        void Inline(IpProtocol proto, PortRange? sp, bool sn, PortRange? dp, bool dn)
        {
            HasPorts = true;
            PortProto = proto;
            if (sp is { } a) { HasSport = true; SportMin = a.Min; SportMax = a.Max; SportNeg = sn; }
            if (dp is { } b) { HasDport = true; DportMin = b.Min; DportMax = b.Max; DportNeg = dn; }
        }

        public static CompiledRule From(Rule r, int index, Dictionary<string, int> chains)
        {
            var cr = new CompiledRule
            {
                Cold = new ColdRule { Rule = r, Index = index, Text = r.Text ?? r.Canonical, Target = r.Target, In = r.InInterface, Out = r.OutInterface, Fragment = r.Fragment },
                JumpTo = -1,
                HasIfaceOrFrag = r.InInterface is not null || r.OutInterface is not null || r.Fragment is not null,
                HasTarget = r.Target is not null,
            };
            var rest = new List<Match>(r.Matches.Length);
            foreach (var m in r.Matches)
            {
                if (m is CommentMatch or NfacctMatch) continue;
                // Only the first port match of a rule is inlined; it keeps its place because comment/nfacct (always
                // true, stateless) are the only matches that may precede it in the inlined form.
                if (!cr.HasPorts && rest.Count == 0 && m is TcpMatch { HasFlags: false, TcpOption: null } t)
                {
                    cr.Inline(IpProtocol.Tcp, t.SourcePorts, t.SourceNegated, t.DestinationPorts, t.DestinationNegated);
                    continue;
                }
                if (!cr.HasPorts && rest.Count == 0 && m is UdpMatch u)
                {
                    cr.Inline(IpProtocol.Udp, u.SourcePorts, u.SourceNegated, u.DestinationPorts, u.DestinationNegated);
                    continue;
                }
                rest.Add(m);
            }
            cr.Random = double.NaN;
            if (rest.Count > 0 && rest[^1] is StatisticMatch { Mode: StatisticMode.Random } st)
            {
                cr.Random = st.Negated ? 1 - st.Probability : st.Probability;
                rest.RemoveAt(rest.Count - 1);
            }
            cr.Matches = rest.Count == 0 ? null : [.. rest];
            cr.Nat = r.Target switch
            {
                DnatTarget dn => new NatRequest(NatKind.Dnat, dn.Range.Addresses, dn.Range.Ports, dn.Flags, cr.Cold.Text),
                SnatTarget sn => new NatRequest(NatKind.Snat, sn.Range.Addresses, sn.Range.Ports, sn.Flags, cr.Cold.Text),
                MasqueradeTarget m => new NatRequest(NatKind.Masquerade, null, m.Ports, m.Flags, cr.Cold.Text),
                RedirectTarget rd => new NatRequest(NatKind.Redirect, null, rd.Ports, rd.Flags, cr.Cold.Text),
                _ => null,
            };
            if (r.Source is { } s) { cr.HasSrc = true; cr.SrcNeg = s.Negated; cr.SrcMask = s.Prefix.Mask; cr.SrcNet = s.Prefix.Address.Value & s.Prefix.Mask; }
            if (r.Destination is { } d) { cr.HasDst = true; cr.DstNeg = d.Negated; cr.DstMask = d.Prefix.Mask; cr.DstNet = d.Prefix.Address.Value & d.Prefix.Mask; }
            if (r.Protocol is { } p) { cr.HasProto = true; cr.ProtoNeg = p.Negated; cr.ProtoAll = p.Protocol is null; cr.Proto = p.Protocol ?? 0; }
            if (r.Target is JumpTarget j)
            {
                cr.IsJump = true;
                cr.IsGoto = j.IsGoto;
                if (chains.TryGetValue(j.ChainName, out var k)) cr.JumpTo = k; else cr.MissingChain = true;
            }
            return cr;
        }
    }

    /// <summary>An open-addressing map from packed keys (never 0: the protocol is set) to bucket values, key and value
    /// side by side so that a lookup usually costs one cache line.</summary>
    sealed class KeyTable
    {
        readonly (ulong Key, int Value)[] slots;
        readonly int mask;
        public int Count { get; }

        public KeyTable(List<(ulong Key, int Value)> items)
        {
            Count = items.Count;
            int cap = 4;
            while (cap < items.Count * 2) cap <<= 1;
            slots = new (ulong, int)[cap];
            mask = cap - 1;
            foreach (var (k, v) in items)
            {
                int i = Slot(k);
                while (slots[i].Key != 0) i = (i + 1) & mask;
                slots[i] = (k, v);
            }
        }

        int Slot(ulong k) => (int)((k * 0x9E3779B97F4A7C15UL) >> 40) & mask;

        public bool TryGetValue(ulong key, out int value)
        {
            int i = Slot(key);
            while (true)
            {
                ref var e = ref slots[i];
                if (e.Key == key) { value = e.Value; return true; }
                if (e.Key == 0) { value = 0; return false; }
                i = (i + 1) & mask;
            }
        }
    }

    /// <summary>(protocol, destination, port) packed in one integer: a cheap hash and a small table entry.</summary>
    static ulong IndexKey(IpProtocol protocol, uint dst, ushort port) => (ulong)protocol << 48 | (ulong)dst << 16 | port;

    sealed class CompiledChain
    {
        public readonly Chain Chain;
        public readonly CompiledRule[] Rules;
        public readonly string Name;
        public readonly bool Builtin;
        // Index (null when scanned): rules that are always evaluated, and buckets for indexable shapes.
        public readonly int[]? Scan;
        // Bucket value: the rule index when one rule has the key (the common case), else ~k for Overflow[k].
        public readonly KeyTable? ByDst;
        public readonly KeyTable? AnyDst;
        readonly List<int[]> Overflow = [];

        public CompiledChain(Chain chain, string table, Dictionary<string, int> chains)
        {
            Chain = chain;
            Name = chain.Name;
            Builtin = chain.IsBuiltin;
            Rules = new CompiledRule[chain.Rules.Length];
            for (int i = 0; i < Rules.Length; i++) Rules[i] = CompiledRule.From(chain.Rules[i], i + 1, chains);
            if (Rules.Length < IndexThreshold) return;
            var scan = new List<int>();
            var byDst = new Dictionary<ulong, List<int>>();
            var anyDst = new Dictionary<ulong, List<int>>();
            for (int i = 0; i < Rules.Length; i++)
            {
                if (TryKey(Rules[i].Cold.Rule, out var key, out bool exactDst))
                {
                    var d = exactDst ? byDst : anyDst;
                    if (!d.TryGetValue(key, out var l)) d[key] = l = [];
                    l.Add(i);
                }
                else scan.Add(i);
            }
            Scan = [.. scan];
            ByDst = new KeyTable(byDst.Select(kv => (kv.Key, Bucket(kv.Value))).ToList());
            AnyDst = new KeyTable(anyDst.Select(kv => (kv.Key, Bucket(kv.Value))).ToList());
        }

        /// <summary>A rule can be indexed when it can only match packets of one (protocol, destination, port): no
        /// source, interfaces, fragment test or negation, and only comment/nfacct besides one port match with a single
        /// destination port.</summary>
        static bool TryKey(Rule r, out ulong key, out bool exactDst)
        {
            key = default;
            exactDst = false;
            if (r.Source is not null || r.InInterface is not null || r.OutInterface is not null || r.Fragment is not null || r.IsUnsupported) return false;
            if (r.Protocol is not { Protocol: { } proto, Negated: false }) return false;
            uint dst = 0;
            if (r.Destination is { } d)
            {
                if (d.Negated) return false;
                if (d.Prefix.Length == 32) { exactDst = true; dst = d.Prefix.Address.Value; }
                else if (d.Prefix.Length != 0) return false;
            }
            ushort? port = null;
            foreach (var m in r.Matches)
            {
                switch (m)
                {
                    case CommentMatch or NfacctMatch:
                        continue;
                    case TcpMatch t when proto == IpProtocol.Tcp && t.SourcePorts is null && !t.HasFlags && t.TcpOption is null
                                         && t.DestinationPorts is { IsSingle: true } dp && !t.DestinationNegated && port is null:
                        port = dp.Min;
                        continue;
                    case UdpMatch u when proto == IpProtocol.Udp && u.SourcePorts is null && u.DestinationPorts is { IsSingle: true } dp2 && !u.DestinationNegated && port is null:
                        port = dp2.Min;
                        continue;
                    case SctpMatch s when proto == IpProtocol.Sctp && s.SourcePorts is null && s.ChunkTypes is null && s.DestinationPorts is { IsSingle: true } dp3 && !s.DestinationNegated && port is null:
                        port = dp3.Min;
                        continue;
                    default:
                        return false;
                }
            }
            if (port is null) return false;
            key = IndexKey(proto, dst, port.Value);
            return true;
        }

        int Bucket(List<int> rules)
        {
            if (rules.Count == 1) return rules[0];
            Overflow.Add([.. rules]);
            return ~(Overflow.Count - 1);
        }

        int NextInBucket(int bucket, int from) => bucket >= 0 ? (bucket >= from ? bucket : Rules.Length) : NextIn(Overflow[~bucket], from);

        /// <summary>The first rule at or after <paramref name="from"/> that could match the packet.</summary>
        public int Next(int from, Packet p)
        {
            if (Scan is null) return from < Rules.Length ? from : Rules.Length;
            int best = NextIn(Scan, from);
            if (p.FragmentOffset == 0)
            {
                if (ByDst!.Count > 0 && ByDst.TryGetValue(IndexKey(p.Protocol, p.Dst.Value, p.DstPort), out var a)) best = Math.Min(best, NextInBucket(a, from));
                if (AnyDst!.Count > 0 && AnyDst.TryGetValue(IndexKey(p.Protocol, 0, p.DstPort), out var b)) best = Math.Min(best, NextInBucket(b, from));
            }
            return best;
        }

        int NextIn(int[] sorted, int from)
        {
            int lo = 0, hi = sorted.Length;
            while (lo < hi)
            {
                int mid = (lo + hi) >> 1;
                if (sorted[mid] < from) lo = mid + 1; else hi = mid;
            }
            return lo < sorted.Length ? sorted[lo] : Rules.Length;
        }
    }

    /// <summary>Explain mode: every outcome with its exact probability (they sum to 1).</summary>
    public IReadOnlyList<EvaluationOutcome> Explain(PacketContext ctx)
    {
        var outcomes = new List<EvaluationOutcome>();
        var pending = new Stack<bool[]>();
        pending.Push([]);
        while (pending.Count > 0)
        {
            var prefix = pending.Pop();
            var oracle = new ReplayChoices(prefix);
            var outcome = Walk(ctx with { State = ctx.State.Clone() }, oracle, record: true);
            outcomes.Add(oracle.Taken.Count == 0 ? outcome : outcome with { Branches = [.. oracle.Taken] });
            for (int j = oracle.Taken.Count - 1; j >= prefix.Length; j--)
            {
                var alt = new bool[j + 1];
                for (int k = 0; k < j; k++) alt[k] = oracle.Taken[k];
                alt[j] = !oracle.Taken[j];
                pending.Push(alt);
            }
        }
        // Stable order: most likely first, then by walk order.
        return [.. outcomes.Select((o, i) => (o, i)).OrderByDescending(x => x.o.Probability).ThenBy(x => x.i).Select(x => x.o)];
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

    sealed class RandomChoices(Random random) : IChoices
    {
        public bool Choose(double p) => random.NextDouble() < p;
    }

    readonly record struct Frame(int Chain, int Next);

    EvaluationOutcome Walk(PacketContext input, IChoices choices, bool record)
    {
        var ctx = new EvalContext(input, Table);
        var visits = record ? ImmutableArray.CreateBuilder<RuleVisit>() : null;
        var uncertain = ImmutableArray<string>.Empty;
        double probability = 1;
        var packet = input.Packet;
        int start = startByHook[(int)input.Hook];
        if (start < 0) return Finish(TableVerdict.Accept);

        var stack = new Stack<Frame>();
        int ci = start, i = 0;
        var builtin = chains[start];
        while (true)
        {
            var slot = slots[ci];
            var rules = slot.Rules;
            int next = slot.Indexed is null ? i : slot.Indexed.Next(i, packet);
            if (next >= rules.Length)
            {
                // End of chain: a user chain returns (return:N), a built-in chain applies its policy (policy:N).
                if (stack.Count > 0)
                {
                    visits?.Add(new RuleVisit(Table, chains[ci].Name, rules.Length + 1, null, VisitAction.Return));
                    var f = stack.Pop();
                    ci = f.Chain;
                    i = f.Next;
                    continue;
                }
                if (ci != start) visits?.Add(new RuleVisit(Table, chains[ci].Name, rules.Length + 1, null, VisitAction.Return));
                return Policy();
            }
            ref var cr = ref rules[next];
            var chain = visits is null ? null! : chains[ci];
            i = next + 1;
            var m = Test(ref cr, ctx, packet, choices, ref probability, visits, ci, out var reason);
            if (m == MatchOutcome.Uncertain)
            {
                visits?.Add(new RuleVisit(Table, chain.Name, cr.Cold.Index, cr.Cold.Text, VisitAction.Uncertain, reason));
                uncertain = uncertain.Add($"{Table}:{chains[ci].Name}:{cr.Cold.Index}: {reason}");
                return Finish(TableVerdict.Uncertain);
            }
            if (m == MatchOutcome.NoMatch) continue;
            if (!cr.HasTarget)
            {
                visits?.Add(new RuleVisit(Table, chain.Name, cr.Cold.Index, cr.Cold.Text, VisitAction.Matched));
                continue;
            }
            if (cr.IsJump)
            {
                if (cr.MissingChain)
                {
                    visits?.Add(new RuleVisit(Table, chain.Name, cr.Cold.Index, cr.Cold.Text, VisitAction.Uncertain, "jump to undefined chain " + ((JumpTarget)cr.Cold.Target!).ChainName));
                    uncertain = uncertain.Add($"{Table}:{chains[ci].Name}:{cr.Cold.Index}: jump to undefined chain {((JumpTarget)cr.Cold.Target!).ChainName}");
                    return Finish(TableVerdict.Uncertain);
                }
                visits?.Add(new RuleVisit(Table, chain.Name, cr.Cold.Index, cr.Cold.Text, cr.IsGoto ? VisitAction.Goto : VisitAction.Jump, ((JumpTarget)cr.Cold.Target!).ChainName));
                if (!cr.IsGoto)
                {
                    if (stack.Count >= MaxDepth)
                    {
                        uncertain = uncertain.Add($"{Table}:{chains[ci].Name}:{cr.Cold.Index}: chain nesting deeper than {MaxDepth} (loop?)");
                        return Finish(TableVerdict.Uncertain);
                    }
                    stack.Push(new Frame(ci, i));
                }
                ci = cr.JumpTo;
                i = 0;
                continue;
            }
            if (cr.Nat is { } nat)
            {
                // NAT targets only request a binding and end the nat table (their Execute does the same).
                ctx.Requests.Add(nat);
                visits?.Add(new RuleVisit(Table, chain.Name, cr.Cold.Index, cr.Cold.Text, VisitAction.Verdict, cr.Cold.Target!.Name + (nat.Addresses is null && nat.Ports is null ? "" : " " + NatText(nat))));
                return Finish(TableVerdict.Accept);
            }
            var target = cr.Cold.Target!;
            ctx.CurrentRule = cr.Cold.Rule;
            var res = target.Execute(ctx, cr.Cold.Rule);
            switch (res.Action)
            {
                case TargetAction.Continue:
                    visits?.Add(new RuleVisit(Table, chain.Name, cr.Cold.Index, cr.Cold.Text, VisitAction.Matched, target.Name));
                    if (ctx.Mark != packet.Mark) packet = packet with { Mark = ctx.Mark };
                    continue;
                case TargetAction.Accept:
                    visits?.Add(new RuleVisit(Table, chain.Name, cr.Cold.Index, cr.Cold.Text, VisitAction.Verdict, "ACCEPT"));
                    return Finish(TableVerdict.Accept);
                case TargetAction.Drop:
                    visits?.Add(new RuleVisit(Table, chain.Name, cr.Cold.Index, cr.Cold.Text, VisitAction.Verdict, "DROP"));
                    return Finish(TableVerdict.Drop);
                case TargetAction.Reject:
                    visits?.Add(new RuleVisit(Table, chain.Name, cr.Cold.Index, cr.Cold.Text, VisitAction.Verdict, "REJECT " + res.Detail));
                    return Finish(new TableVerdict(VerdictKind.Reject, res.Detail));
                case TargetAction.Nat:
                    visits?.Add(new RuleVisit(Table, chain.Name, cr.Cold.Index, cr.Cold.Text, VisitAction.Verdict, res.Detail));
                    return Finish(TableVerdict.Accept);
                case TargetAction.Return:
                    visits?.Add(new RuleVisit(Table, chain.Name, cr.Cold.Index, cr.Cold.Text, VisitAction.Return));
                    if (stack.Count == 0) return Policy();
                    var fr = stack.Pop();
                    ci = fr.Chain;
                    i = fr.Next;
                    continue;
                default:
                    visits?.Add(new RuleVisit(Table, chain.Name, cr.Cold.Index, cr.Cold.Text, VisitAction.Uncertain, res.Detail));
                    uncertain = uncertain.Add($"{Table}:{chains[ci].Name}:{cr.Cold.Index}: {res.Detail}");
                    return Finish(TableVerdict.Uncertain);
            }
        }

        EvaluationOutcome Policy()
        {
            var policy = builtin.Chain.Policy ?? "ACCEPT";
            visits?.Add(new RuleVisit(Table, builtin.Name, builtin.Rules.Length + 1, null, VisitAction.Policy, policy));
            return Finish(policy == "DROP" ? TableVerdict.Drop : TableVerdict.Accept);
        }

        EvaluationOutcome Finish(TableVerdict verdict)
        {
            if (ctx.Mark != packet.Mark) packet = packet with { Mark = ctx.Mark };
            var requests = ctx.Requests.Count == 0 && !ctx.CtMarkChanged ? ImmutableArray<EvalRequest>.Empty : BuildRequests(ctx, input);
            return new EvaluationOutcome(probability, verdict, packet, requests, visits?.ToImmutable() ?? [], uncertain);
        }
    }

    static string NatText(NatRequest n) => new NatRange(n.Addresses, n.Ports).ToString();

    static ImmutableArray<EvalRequest> BuildRequests(EvalContext ctx, PacketContext input)
    {
        var b = ImmutableArray.CreateBuilder<EvalRequest>(ctx.Requests.Count + 1);
        b.AddRange(ctx.Requests);
        if (ctx.CtMarkChanged) b.Add(new ConnmarkRequest(input.Conntrack?.Mark ?? 0, ctx.CtMark, ctx.CtMarkRule ?? ""));
        return b.ToImmutable();
    }

    MatchOutcome Test(ref CompiledRule cr, EvalContext ctx, Packet p, IChoices choices, ref double probability,
        ImmutableArray<RuleVisit>.Builder? visits, int ci, out string? reason)
    {
        reason = null;
        // ip_tables.c ip_packet_match: -s -d -i -o -p -f, each with its inversion.
        if (cr.HasDst && ((p.Dst.Value & cr.DstMask) == cr.DstNet) == cr.DstNeg) return MatchOutcome.NoMatch;
        if (cr.HasSrc && ((p.Src.Value & cr.SrcMask) == cr.SrcNet) == cr.SrcNeg) return MatchOutcome.NoMatch;
        if (cr.HasProto && (cr.ProtoAll || cr.Proto == p.Protocol) == cr.ProtoNeg) return MatchOutcome.NoMatch;
        if (cr.HasIfaceOrFrag)
        {
            var c = cr.Cold;
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
        if (cr.Matches is not null && (ctx.CurrentRule = cr.Cold.Rule) is not null && TestMatches(ref cr, ctx, choices, ref probability, visits, ci, out reason) is var mo && mo != MatchOutcome.Match) return mo;
        if (double.IsNaN(cr.Random)) return MatchOutcome.Match;
        return Branch(ref cr, cr.Random, "statistic", choices, ref probability, visits, ci);
    }

    MatchOutcome Branch(ref CompiledRule cr, double p, string module, IChoices choices, ref double probability, ImmutableArray<RuleVisit>.Builder? visits, int ci)
    {
        if (p >= 1) return MatchOutcome.Match;
        if (p <= 0) return MatchOutcome.NoMatch;
        bool taken = choices.Choose(p);
        probability *= taken ? p : 1 - p;
        visits?.Add(new RuleVisit(Table, chains[ci].Name, cr.Cold.Index, cr.Cold.Text, VisitAction.Branch,
            $"{module} {(taken ? "matched" : "did not match")} (p={(taken ? p : 1 - p).ToString("0.###########", System.Globalization.CultureInfo.InvariantCulture)})"));
        return taken ? MatchOutcome.Match : MatchOutcome.NoMatch;
    }

    MatchOutcome TestMatches(ref CompiledRule cr, EvalContext ctx, IChoices choices, ref double probability,
        ImmutableArray<RuleVisit>.Builder? visits, int ci, out string? reason)
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
                    if (Branch(ref cr, res.Probability, m.Module, choices, ref probability, visits, ci) == MatchOutcome.NoMatch) return MatchOutcome.NoMatch;
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
