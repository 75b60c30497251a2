using System.Collections.Immutable;
using PacketLife.Core.Conntrack;
using PacketLife.Core.Conntrack.Text;
using PacketLife.Core.Net;
using PacketLife.Core.Topology;
using PacketLife.Core.Tracing.Host;

namespace PacketLife.Core.Tracing.Cluster;

/// <summary>One node of one run: the per-host walker (Core/Tracing/Host) over the node's host, rules and a conntrack
/// table: the node's own when the run is stateful, a scratch one in explain mode so that tracing leaves state alone.</summary>
internal sealed class NodeRuntime
{
    public NodeRuntime(TopologyNode node, ConntrackTable table)
    {
        Node = node;
        Table = table;
        var rules = node.Rules;
        var (active, because) = rules.ConntrackNeed;
        Runtime = new HostRuntime(node.Host, rules.RuleSet, rules.Evaluator, null, table, active, because)
        {
            // cbr0's forwarding database: each pod's address is behind its veth.
            BridgePortOf = (bridge, ip) =>
            {
                if (bridge != "cbr0") return null;
                foreach (var pod in node.Pods)
                    if (pod.Ip == ip) return pod.Veth;
                return null;
            },
        };
        Walker = new HostWalker(Runtime);
        Multipath = node.Host.Tables.Any(t => t.Routes.Any(r => r.IsMultipath));
    }

    /// <summary>Some route has several next hops: a sampled walk draws among them without counting it as a fork (its
    /// probability stays 1), so only an explained walk shows every next hop.</summary>
    public bool Multipath { get; }

    public TopologyNode Node { get; }
    public ConntrackTable Table { get; }
    public Random Random { get; set; } = new(0);
    public int RandomSeed { get; private set; }
    /// <summary>No walk of this run has used <see cref="Random"/> yet: <see cref="Reseed"/> restores it exactly.</summary>
    public bool RandomUntouched { get; set; }

    /// <summary>A run's own random source for this node (NAT ports, sampled branches), from its seed.</summary>
    public void Reseed(int seed)
    {
        RandomSeed = seed;
        Random = new Random(seed);
        RandomUntouched = true;
    }
    /// <summary>See <see cref="ClusterTracer.Shortcuts"/>.</summary>
    public bool Shortcuts { get; init; } = true;
    public HostRuntime Runtime { get; }
    public HostWalker Walker { get; }

    /// <summary>Explained outcomes of a connection's first packet against an empty table: the same for every path of
    /// an explain run that reaches this node with this packet, so they are computed once.</summary>
    public Dictionary<(Packet, string?, string?), IReadOnlyList<HostWalkOutcome>> FreshOutcomes { get; } = new();
}

internal enum WalkEnd { Forwarded, Local, Dropped, Rejected, Uncertain }

internal sealed record WalkResult(WalkEnd End, Packet Packet, string? OutInterface, string? PhysOut, Ip4 NextHop, string Detail,
    ImmutableArray<TraceStep> Steps, bool Masqueraded, string? MasqueradeRule, string? DropRule, ConntrackEntry? Entry);

/// <summary>One node's part of a cluster path: the host walker's outcomes (netfilter hooks in kernel order, conntrack,
/// NAT, routing, br_netfilter on cbr0 with hairpin, rp_filter) become a fork of the cluster path; the chosen outcome
/// is committed to the run's conntrack table so that the reply finds its entry.</summary>
internal static class NodeWalk
{
    /// <param name="firstOfRun">The run's first node walk (where a connection's first packet usually meets the
    /// Service's `statistic` rules).</param>
    public static WalkResult Walk(NodeRuntime rt, Packet p, string? inIf, string? physIn, IBranchChooser chooser, bool firstOfRun = true)
    {
        var untouched = rt.RandomUntouched;
        rt.RandomUntouched = false;
        HostPacketOrigin origin = inIf is null ? new HostPacketOrigin.Local() : new HostPacketOrigin.Wire(inIf, physIn);
        HostWalkOutcome o;
        if (chooser is SampleChooser)
        {
            // Sample mode: the host walker draws at statistic rules from the node's seeded source in one walk.
            o = rt.Walker.Sample(p, origin, rt.Random);
        }
        else if (rt.Table.TryLookup(Conntrack.ConntrackTuple.FromPacket(p), out _, out _))
        {
            // A packet of a known connection: the nat chains do not run, so nothing forks; one walk does it.
            o = rt.Walker.Sample(p, origin, rt.Random);
        }
        else
        {
            IReadOnlyList<HostWalkOutcome> outcomes;
            if (rt.Table.Count == 0)
            {
                var key = (p, inIf, physIn);
                if (!rt.FreshOutcomes.TryGetValue(key, out outcomes!))
                {
                    if (TrySingle(rt, p, origin, inIf, untouched, firstOfRun, recordSteps: true) is { } single) return Map(rt, p, single, share: true);
                    rt.FreshOutcomes[key] = outcomes = rt.Walker.Explain(p, origin, recordSteps: false);
                }
            }
            else if (!rt.Multipath && !Forks(rt, p, inIf))
            {
                // The nat chains give one outcome for this new connection: one sampled walk is the whole answer.
                return Map(rt, p, rt.Walker.Sample(p, origin, rt.Random), share: true);
            }
            else outcomes = rt.Walker.Explain(p, origin, recordSteps: false);
            var pick = outcomes.Count == 1 ? 0 : chooser.Choose(Probabilities(outcomes));
            // Committed against the state it was explained on (an emptied table, reset rule state, or this very table).
            o = rt.Walker.CommitExplained(outcomes[pick], rt.Random);
        }
        return Map(rt, p, o, share: chooser is not SampleChooser);
    }

    /// <summary>The disposition-only walk of a light run (a health probe's steady state): the same choices as
    /// <see cref="Walk"/>, but an explained outcome is not committed (the run never comes back to this node) and an
    /// unforked walk records no steps. Nodes with entries (live conntrack) take the ordinary walk.</summary>
    public static WalkResult WalkLight(NodeRuntime rt, Packet p, string? inIf, string? physIn, IBranchChooser chooser, bool firstOfRun = true)
    {
        if (rt.Table.Count != 0 || chooser is SampleChooser) return Walk(rt, p, inIf, physIn, chooser, firstOfRun);
        var untouched = rt.RandomUntouched;
        rt.RandomUntouched = false;
        HostPacketOrigin origin = inIf is null ? new HostPacketOrigin.Local() : new HostPacketOrigin.Wire(inIf, physIn);
        var key = (p, inIf, physIn);
        if (!rt.FreshOutcomes.TryGetValue(key, out var outcomes))
        {
            if (TrySingle(rt, p, origin, inIf, untouched, firstOfRun, recordSteps: false) is { } single) return MapLight(single);
            rt.FreshOutcomes[key] = outcomes = rt.Walker.Explain(p, origin, recordSteps: false);
        }
        var pick = outcomes.Count == 1 ? 0 : chooser.Choose(Probabilities(outcomes));
        return MapLight(outcomes[pick]);
    }

    /// <summary>A new connection's first packet on a node with an empty table: when it does not fork, one sampled walk
    /// is the whole answer (explain + commit would walk it twice). Tried first where a fork is unlikely (past the run's
    /// first node: a packet to a pod address) and where the nat table's own explain says it does not fork. A walk that
    /// forked after all (probability below 1) is undone exactly: the table was empty, the node's random source untouched
    /// in this run (it is reseeded), and the rules keep no state (<see cref="NodeRules.Stateless"/>); the caller then
    /// explains. Null: explain.</summary>
    static HostWalkOutcome? TrySingle(NodeRuntime rt, Packet p, HostPacketOrigin origin, string? inIf, bool untouched, bool firstOfRun, bool recordSteps)
    {
        if (!rt.Shortcuts || !untouched || rt.Multipath || !rt.Node.Rules.Stateless) return null;
        if (firstOfRun && Forks(rt, p, inIf)) return null;
        var single = rt.Walker.Sample(p, origin, rt.Random, recordSteps);
        if (single.Probability >= 1) return single;
        rt.Table.Flush();
        rt.Reseed(rt.RandomSeed);
        return null;
    }

    static double[] Probabilities(IReadOnlyList<HostWalkOutcome> outcomes)
    {
        var p = new double[outcomes.Count];
        for (int i = 0; i < p.Length; i++) p[i] = outcomes[i].Probability;
        return p;
    }

    /// <summary>The rule that ended the walk: the last DROP/REJECT verdict (a REJECT's answer walks OUTPUT after it),
    /// else the last rule visited.</summary>
    static string? LastDropRule(ImmutableArray<HostStep> steps)
    {
        for (int i = steps.Length - 1; i >= 0; i--)
            if (steps[i].Rule is { Action: Netfilter.Evaluation.VisitAction.Verdict, Rule: { } t }
                && (t.Contains("-j REJECT", StringComparison.Ordinal) || t.Contains("-j DROP", StringComparison.Ordinal)))
                return t;
        for (int i = steps.Length - 1; i >= 0; i--)
            if (steps[i].Rule is { } v) return v.Rule;
        return null;
    }

    /// <summary>The trace step of a rule visit. The evaluator reuses a rule's visit object (see TableEvaluator's memo),
    /// so the step made for it is reused too (per thread, keyed by the visit's identity): the paths of one explain
    /// visit the same few hundred rules over and over.</summary>
    static RuleStep RuleStepOf(Netfilter.Evaluation.RuleVisit v)
    {
        var cache = ruleSteps ??= new(ReferenceEqualityComparer.Instance);
        if (cache.TryGetValue(v, out var step)) return step;
        step = new RuleStep(v.Table, v.Chain, v.Index, v.Rule, ActionNames[(int)v.Action], v.Detail);
        // Bounded: visits that are not reused (branches, drops) would otherwise pile up over a long-lived thread.
        if (cache.Count >= 1 << 16) cache.Clear();
        cache[v] = step;
        return step;
    }

    [ThreadStatic] static Dictionary<Netfilter.Evaluation.RuleVisit, RuleStep>? ruleSteps;

    /// <summary>One object per distinct note, and one string per distinct text (per thread): the paths of an explain
    /// repeat most of their lines (the client's packet, its first conntrack entry, the routes to a few pods), and what
    /// the trace keeps is what every collection copies until the explain ends. A repeated line made again is garbage
    /// at once; only the first copy lives.</summary>
    static NoteStep NoteOf(string line)
    {
        var cache = notes ??= new(StringComparer.Ordinal);
        if (cache.TryGetValue(line, out var note)) return note;
        if (cache.Count >= 1 << 14) cache.Clear();
        return cache[line] = new NoteStep(line);
    }

    internal static string Shared(string text)
    {
        var cache = texts ??= new(StringComparer.Ordinal);
        if (cache.TryGetValue(text, out var shared)) return shared;
        if (cache.Count >= 1 << 14) cache.Clear();
        cache.Add(text);
        return text;
    }

    [ThreadStatic] static Dictionary<string, NoteStep>? notes;
    [ThreadStatic] static HashSet<string>? texts;

    /// <summary><see cref="Netfilter.Evaluation.VisitAction"/>'s names by value (Enum.ToString boxes).</summary>
    static readonly string[] ActionNames = Enum.GetNames<Netfilter.Evaluation.VisitAction>();

    static WalkResult MapLight(HostWalkOutcome o) =>
        new(EndOf(o.Disposition), o.PacketAfter, o.OutInterface, o.OutBridgePort, o.Nexthop ?? o.PacketAfter.Dst, "", [], false, null, null, o.Conntrack);

    static WalkEnd EndOf(HostDisposition d) => d switch
    {
        HostDisposition.Local => WalkEnd.Local,
        HostDisposition.Forward or HostDisposition.Output => WalkEnd.Forwarded,
        HostDisposition.Drop => WalkEnd.Dropped,
        HostDisposition.Reject => WalkEnd.Rejected,
        _ => WalkEnd.Uncertain,
    };

    /// <summary>Whether the nat table forks for this new connection (a `statistic` rule on its way): a quick walk of
    /// that table alone, without recording.</summary>
    static bool Forks(NodeRuntime rt, Packet p, string? inIf)
    {
        var nat = rt.Node.Rules.Evaluator["nat"];
        if (nat is null) return false;
        var host = rt.Node.Host;
        var ctx = new Netfilter.Evaluation.PacketContext
        {
            Packet = p, Hook = inIf is null ? Netfilter.NetfilterHook.Output : Netfilter.NetfilterHook.Prerouting, InInterface = inIf,
            Conntrack = Netfilter.Evaluation.ConntrackView.NewFor(p),
            AddressTypeOf = (ip, limit) => (Netfilter.Evaluation.AddressType)(1 << (int)host.AddressType(ip, limit)),
        };
        return nat.Explain(ctx, recordVisits: false).Count > 1;
    }

    /// <param name="share">Explain mode: texts repeated across paths are shared (see <see cref="NoteOf"/>); a sampled
    /// trace has one path, where looking them up would only cost.</param>
    static WalkResult Map(NodeRuntime rt, Packet p, HostWalkOutcome o, bool share)
    {
        var steps = ImmutableArray.CreateBuilder<TraceStep>();
        string? masqRule = null;
        foreach (var s in o.Steps)
        {
            switch (s.Kind)
            {
                case HostStepKind.Rule when s.Rule is { } v:
                    steps.Add(RuleStepOf(v));
                    if (v.Rule?.Contains("-j MASQUERADE", StringComparison.Ordinal) == true && v.Action == Netfilter.Evaluation.VisitAction.Verdict) masqRule = v.Rule;
                    break;
                case HostStepKind.Nat:
                    steps.Add(share ? new NatStep(s.Hook, Shared(s.Before?.ToString() ?? ""), Shared(s.After?.ToString() ?? ""), null, Shared(s.Text))
                        : new NatStep(s.Hook, s.Before?.ToString() ?? "", s.After?.ToString() ?? "", null, s.Text));
                    break;
                case HostStepKind.Route:
                    steps.Add(new RouteStep(s.Hook, share ? Shared(s.Text) : s.Text, o.OutInterface,
                        o.Nexthop is { } nh ? share ? Shared(nh.ToString()) : nh.ToString() : null, s.Hook));
                    break;
                case HostStepKind.Verdict:
                    break;
                default:
                    steps.Add(share ? NoteOf(s.Line) : new NoteStep(s.Line));
                    break;
            }
        }
        if (o.Conntrack is { } ct)
            steps.Add(new ConntrackStep(ConntrackText.Write(ConntrackLine.FromEntry(ct, rt.Table.Now)), o.ConntrackCreated, "after this packet"));
        var end = EndOf(o.Disposition);
        string? dropRule = null;
        if (end is WalkEnd.Dropped or WalkEnd.Rejected)
            dropRule = o.Where == "bridge" ? "hairpin-off" : LastDropRule(o.Steps);
        bool masq = masqRule is not null && o.PacketAfter.Src != p.Src;
        // The walk's own account is quoted only where the path ends on this node.
        var detail = "";
        if (end is WalkEnd.Dropped or WalkEnd.Rejected or WalkEnd.Uncertain)
        {
            detail = $"{HostWalkOutcome.DispositionName(o.Disposition)} at {o.Where}: {o.Reason}";
            if (o.IsUncertain) detail += " (uncertain: " + string.Join("; ", o.Uncertain) + ")";
        }
        return new WalkResult(end, o.PacketAfter, o.OutInterface, o.OutBridgePort, o.Nexthop ?? o.PacketAfter.Dst, detail, steps.ToImmutable(), masq, masqRule, dropRule, o.Conntrack);
    }
}
