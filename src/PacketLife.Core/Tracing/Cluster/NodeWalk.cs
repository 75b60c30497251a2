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
    public NodeRuntime(TopologyNode node, ConntrackTable table, Random random)
    {
        Node = node;
        Table = table;
        Random = random;
        var rules = node.Rules;
        Runtime = new HostRuntime(node.Host, rules.RuleSet, rules.Evaluator, null, table)
        {
            // cbr0's forwarding database: each pod's address is behind its veth.
            BridgePortOf = (bridge, ip) => bridge == "cbr0" ? node.Pods.FirstOrDefault(p => p.Ip == ip)?.Veth : null,
        };
        Walker = new HostWalker(Runtime);
    }

    public TopologyNode Node { get; }
    public ConntrackTable Table { get; }
    public Random Random { get; }
    public HostRuntime Runtime { get; }
    public HostWalker Walker { get; }
}

internal enum WalkEnd { Forwarded, Local, Dropped, Rejected, Uncertain }

internal sealed record WalkResult(WalkEnd End, Packet Packet, string? OutInterface, string? PhysOut, Ip4 NextHop, string Detail,
    ImmutableArray<TraceStep> Steps, bool Masqueraded, string? MasqueradeRule, string? DropRule, ConntrackEntry? Entry);

/// <summary>One node's part of a cluster path: the host walker's outcomes (netfilter hooks in kernel order, conntrack,
/// NAT, routing, br_netfilter on cbr0 with hairpin, rp_filter) become a fork of the cluster path; the chosen outcome
/// is committed to the run's conntrack table so that the reply finds its entry.</summary>
internal static class NodeWalk
{
    public static WalkResult Walk(NodeRuntime rt, Packet p, string? inIf, string? physIn, IBranchChooser chooser)
    {
        HostPacketOrigin origin = inIf is null ? new HostPacketOrigin.Local() : new HostPacketOrigin.Wire(inIf, physIn);
        var outcomes = rt.Walker.Explain(p, origin);
        var pick = outcomes.Count == 1 ? 0 : chooser.Choose(outcomes.Select(o => o.Probability).ToList());
        var o = rt.Walker.Commit(outcomes[pick], rt.Random);
        var steps = ImmutableArray.CreateBuilder<TraceStep>();
        string? masqRule = null;
        foreach (var s in o.Steps)
        {
            switch (s.Kind)
            {
                case HostStepKind.Rule when s.Rule is { } v:
                    steps.Add(new RuleStep(v.Table, v.Chain, v.Index, v.Rule, v.Action.ToString(), v.Detail));
                    if (v.Rule?.Contains("-j MASQUERADE", StringComparison.Ordinal) == true && v.Action == Netfilter.Evaluation.VisitAction.Verdict) masqRule = v.Rule;
                    break;
                case HostStepKind.Nat:
                    steps.Add(new NatStep(s.Hook, s.Before?.ToString() ?? "", s.After?.ToString() ?? "", null, s.Text));
                    break;
                case HostStepKind.Route:
                    steps.Add(new RouteStep(s.Hook, s.Text, o.OutInterface, o.Nexthop?.ToString(), s.Hook));
                    break;
                case HostStepKind.Verdict:
                    break;
                default:
                    steps.Add(new NoteStep($"{s.Hook}: {s.Text}"));
                    break;
            }
        }
        if (o.Conntrack is { } ct)
            steps.Add(new ConntrackStep(ConntrackText.Write(ConntrackLine.FromEntry(ct, rt.Table.Now)), o.ConntrackCreated, "after this packet"));
        var end = o.Disposition switch
        {
            HostDisposition.Local => WalkEnd.Local,
            HostDisposition.Forward or HostDisposition.Output => WalkEnd.Forwarded,
            HostDisposition.Drop => WalkEnd.Dropped,
            HostDisposition.Reject => WalkEnd.Rejected,
            _ => WalkEnd.Uncertain,
        };
        // The rule that ended the walk: the last DROP/REJECT verdict (a REJECT's answer walks OUTPUT after it).
        var lastRule = o.RuleVisits.LastOrDefault(v => v.Action == Netfilter.Evaluation.VisitAction.Verdict
            && v.Rule is { } t && (t.Contains("-j REJECT", StringComparison.Ordinal) || t.Contains("-j DROP", StringComparison.Ordinal)))?.Rule
            ?? o.RuleVisits.LastOrDefault()?.Rule;
        bool masq = masqRule is not null && o.PacketAfter.Src != p.Src;
        var detail = $"{HostWalkOutcome.DispositionName(o.Disposition)} at {o.Where}: {o.Reason}";
        if (o.IsUncertain) detail += " (uncertain: " + string.Join("; ", o.Uncertain) + ")";
        string? dropRule = end is WalkEnd.Dropped or WalkEnd.Rejected ? (o.Where == "bridge" ? "hairpin-off" : lastRule) : null;
        return new WalkResult(end, o.PacketAfter, o.OutInterface, o.OutBridgePort, o.Nexthop ?? o.PacketAfter.Dst, detail, steps.ToImmutable(), masq, masqRule, dropRule, o.Conntrack);
    }
}
