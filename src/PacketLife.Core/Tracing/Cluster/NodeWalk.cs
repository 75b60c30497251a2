using System.Collections.Immutable;
using PacketLife.Core.Conntrack;
using PacketLife.Core.Conntrack.Nat;
using PacketLife.Core.Conntrack.Text;
using PacketLife.Core.Net;
using PacketLife.Core.Netfilter;
using PacketLife.Core.Netfilter.Evaluation;
using PacketLife.Core.Routing;
using PacketLife.Core.Topology;
using CtTuple = PacketLife.Core.Conntrack.ConntrackTuple;
using EvTuple = PacketLife.Core.Netfilter.Evaluation.ConntrackTuple;
using CtState = PacketLife.Core.Netfilter.Evaluation.CtState;

namespace PacketLife.Core.Tracing.Cluster;

/// <summary>The conntrack table, tracker and NAT core of one node for one run (the node's own table when the run
/// is stateful, a scratch one in explain mode so that tracing leaves the state alone).</summary>
internal sealed class NodeRuntime(TopologyNode node, ConntrackTable table, Random random)
{
    public TopologyNode Node { get; } = node;
    public ConntrackTable Table { get; } = table;
    public ConntrackTracker Tracker { get; } = new(table);
    public NatEngine Nat { get; } = new(table, random);
}

internal enum WalkEnd { Forwarded, Local, Dropped, Rejected, Uncertain }

internal sealed record WalkResult(WalkEnd End, Packet Packet, string? OutInterface, string? PhysOut, Ip4 NextHop, string Detail,
    ImmutableArray<TraceStep> Steps, bool Masqueraded, string? MasqueradeRule, string? DropRule, ConntrackEntry? Entry);

/// <summary>One node's packet path (netfilter-conntrack.md §1: the hooks in kernel order, conntrack at -200 in
/// PREROUTING/OUTPUT, NAT only for a connection's first packet, confirm at the end of POSTROUTING/INPUT):
/// raw → conntrack → mangle → nat PREROUTING → routing → (INPUT: mangle, filter, nat) or (FORWARD: mangle, filter →
/// POSTROUTING: mangle, nat). The rules are the node's parsed kube-proxy text; routes, addresses and
/// `inet_select_addr` come from the node's <see cref="Host"/>. Not modelled here: rp_filter (AKS nodes run loose
/// mode, which every path of this topology passes), the security table, IPv6.</summary>
internal static class NodeWalk
{
    public static WalkResult Walk(NodeRuntime rt, Packet p, string? inIf, string? physIn, IBranchChooser chooser)
    {
        var node = rt.Node;
        var host = node.Host;
        var steps = ImmutableArray.CreateBuilder<TraceStep>();
        bool local = inIf is null;
        var ct = rt.Tracker.Track(p);
        var entry = ct.Entry;
        bool isNew = ct.Verdict == ConntrackVerdict.Tracked && entry is not null && ct.IsNewEntry;
        if (ct.Verdict == ConntrackVerdict.Tracked && entry is not null && !ct.IsNewEntry)
            steps.Add(new ConntrackStep(Line(rt, entry), false, ct.Direction == ConntrackDirection.Reply ? "reply" : "original"));
        else if (ct.Verdict == ConntrackVerdict.Invalid)
            steps.Add(new NoteStep("conntrack: INVALID (" + ct.Reason + ")"));

        string? masqRule = null;
        bool masq = false;
        string? dropRule = null;
        // Existing connection: conntrack rewrites the destination part here, the source part in POSTROUTING.
        var pre = local ? NetfilterHook.Output : NetfilterHook.Prerouting;
        RouteResult? route = null;
        if (local)
        {
            route = host.Lookup(p.Dst, default, p.Mark);
            if (route is null) return End(WalkEnd.Dropped, p, "no route to " + p.Dst + " (ENETUNREACH)");
        }
        foreach (var table in new[] { "raw", "mangle", "nat" })
        {
            if (table == "nat" && !isNew) continue;
            var outIf = local ? route!.OutInterface : null;
            var r = RunTable(rt, table, pre, ref p, inIf, outIf, physIn, null, ct, chooser, steps);
            if (r is not null) return r with { Steps = steps.ToImmutable() };
            if (table == "nat" && isNew)
                ApplyNat(rt, entry!, NatManipType.Dst, lastNat, ref p, host, null, steps, ref masq);
        }
        if (!isNew && entry is not null) p = Translate(p, entry, ct.Direction, dst: true, steps);

        // Routing decision (ip_route_input / reroute after DNAT in OUTPUT).
        route = local ? host.Lookup(p.Dst, default, p.Mark) : host.Lookup(p.Dst, p.Src, p.Mark, inIf);
        if (route is null)
        {
            steps.Add(new RouteStep("main", "(none)", null, null, "no route to " + p.Dst));
            return End(WalkEnd.Dropped, p, "no route to " + p.Dst, steps);
        }
        steps.Add(new RouteStep(RouteTables.Name(route.Route.Table), route.Route.ToString(), route.Type == RouteType.Local ? "lo (local delivery)" : route.OutInterface,
            route.Gateway?.ToString(), route.Type == RouteType.Local ? p.Dst + " is an address of this node" : "longest prefix match for " + p.Dst));
        if (local && p.Src == Ip4.Any && host.SelectSource(route, p.Dst) is { } src) p = p with { Src = src };

        if (route.Type == RouteType.Local && !local)
        {
            foreach (var table in new[] { "mangle", "filter", "nat" })
            {
                if (table == "nat" && !isNew) continue;
                var r = RunTable(rt, table, NetfilterHook.Input, ref p, inIf, null, physIn, null, ct, chooser, steps);
                if (r is not null) return r with { Steps = steps.ToImmutable() };
                if (table == "nat" && isNew) ApplyNat(rt, entry!, NatManipType.Src, lastNat, ref p, host, null, steps, ref masq);
            }
            Confirm(rt, ct, steps);
            return new WalkResult(WalkEnd.Local, p, null, null, p.Dst, "delivered to a socket on " + node.Name, steps.ToImmutable(), masq, masqRule, null, entry);
        }
        if (route.Type != RouteType.Unicast && route.Type != RouteType.Local)
            return End(WalkEnd.Dropped, p, $"route type {RouteTypes.Name(route.Type)}", steps);

        var outIface = route.OutInterface ?? "eth0";
        string? physOut = null;
        if (outIface == "cbr0")
        {
            var pod = node.Pods.FirstOrDefault(x => x.Ip == p.Dst);
            if (pod is null)
                return End(WalkEnd.Dropped, p, $"no pod has {p.Dst} on {node.Name}'s cbr0: ARP gets no answer", steps);
            physOut = pod.Veth;
            if (physIn == physOut && host.FindInterface(physOut) is { Hairpin: false })
            {
                steps.Add(new NoteStep(Diagnostics.TraceMessages.HairpinOffText(physOut)));
                return End(WalkEnd.Dropped, p, "bridge port " + physOut + " is not in hairpin mode", steps) with { DropRule = "hairpin-off" };
            }
            if (inIf == "cbr0") steps.Add(new NoteStep($"bridged on cbr0 from {physIn} to {physOut} (br_netfilter runs the IP hooks)"));
        }
        if (!local)
        {
            if (!host.IpForward) return End(WalkEnd.Dropped, p, "ip_forward is off", steps);
            foreach (var table in new[] { "mangle", "filter" })
            {
                var r = RunTable(rt, table, NetfilterHook.Forward, ref p, inIf, outIface, physIn, physOut, ct, chooser, steps);
                if (r is not null) return r with { Steps = steps.ToImmutable() };
            }
        }
        else
        {
            var r = RunTable(rt, "filter", NetfilterHook.Output, ref p, null, outIface, null, physOut, ct, chooser, steps);
            if (r is not null) return r with { Steps = steps.ToImmutable() };
        }
        foreach (var table in new[] { "mangle", "nat" })
        {
            if (table == "nat" && !isNew) continue;
            var r = RunTable(rt, table, NetfilterHook.Postrouting, ref p, local ? null : inIf, outIface, physIn, physOut, ct, chooser, steps);
            if (r is not null) return r with { Steps = steps.ToImmutable() };
            if (table == "nat" && isNew)
            {
                var req = lastNat;
                if (req is { Kind: NatKind.Masquerade or NatKind.Snat }) { masq = true; masqRule = req.Rule; }
                ApplyNat(rt, entry!, NatManipType.Src, req, ref p, host, (outIface, route.NextHopFor(p.Dst)), steps, ref masq);
            }
        }
        if (!isNew && entry is not null) p = Translate(p, entry, ct.Direction, dst: false, steps);
        Confirm(rt, ct, steps);
        return new WalkResult(WalkEnd.Forwarded, p, outIface, physOut, route.NextHopFor(p.Dst), "forwarded out " + outIface, steps.ToImmutable(), masq, masqRule, dropRule, entry);
    }

    [ThreadStatic] static NatRequest? lastNat;

    static WalkResult End(WalkEnd end, Packet p, string detail, ImmutableArray<TraceStep>.Builder? steps = null, string? rule = null) =>
        new(end, p, null, null, default, detail, steps?.ToImmutable() ?? [], false, null, rule, null);

    static void Confirm(NodeRuntime rt, ConntrackResult ct, ImmutableArray<TraceStep>.Builder steps)
    {
        if (ct.Entry is null || !ct.IsNewEntry) return;
        if (rt.Tracker.Confirm(ct)) steps.Add(new ConntrackStep(Line(rt, ct.Entry), true, "original"));
        else steps.Add(new NoteStep("conntrack: reply tuple clashes with a live entry: the kernel drops the packet at confirm"));
    }

    internal static string Line(NodeRuntime rt, ConntrackEntry e) => ConntrackText.Write(ConntrackLine.FromEntry(e, rt.Table.Now));

    /// <summary>The translation conntrack applies to a packet of a known connection: the destination part at
    /// PREROUTING/OUTPUT, the source part at POSTROUTING/INPUT (nf_nat_packet).</summary>
    static Packet Translate(Packet p, ConntrackEntry e, ConntrackDirection dir, bool dst, ImmutableArray<TraceStep>.Builder steps)
    {
        var target = dir == ConntrackDirection.Original ? e.Reply.Invert() : e.Original.Invert();
        var q = dst ? p with { Dst = target.Dst, DstPort = target.DstPort } : p with { Src = target.Src, SrcPort = target.SrcPort };
        if (q != p)
            steps.Add(new NatStep(dst ? (dir == ConntrackDirection.Reply ? "un-SNAT" : "DNAT") : (dir == ConntrackDirection.Reply ? "un-DNAT" : "SNAT"),
                p.ToString(), q.ToString(), null, "conntrack applies the connection's binding to this " + (dir == ConntrackDirection.Reply ? "reply" : "packet")));
        return q;
    }

    static void ApplyNat(NodeRuntime rt, ConntrackEntry entry, NatManipType manip, NatRequest? req, ref Packet p, Host host,
        (string OutIf, Ip4 NextHop)? outInfo, ImmutableArray<TraceStep>.Builder steps, ref bool masq)
    {
        NatOutcome o;
        var kindOk = req is not null && (manip == NatManipType.Dst ? req.Kind is NatKind.Dnat or NatKind.Redirect : req.Kind is NatKind.Snat or NatKind.Masquerade);
        if (!kindOk) o = rt.Nat.NullBinding(entry, manip);
        else
        {
            var flags = NatRangeFlags.None;
            if ((req!.Flags & NatFlags.Random) != 0) flags |= NatRangeFlags.ProtoRandom;
            if ((req.Flags & NatFlags.RandomFully) != 0) flags |= NatRangeFlags.ProtoRandomFully;
            if ((req.Flags & NatFlags.Persistent) != 0) flags |= NatRangeFlags.Persistent;
            var range = NatRange.To(req.Addresses, req.Ports?.Min, req.Ports?.Max, flags);
            o = req.Kind switch
            {
                NatKind.Masquerade => rt.Nat.Masquerade(entry, range, host, host.FindInterface(outInfo!.Value.OutIf)!, outInfo.Value.NextHop),
                NatKind.Redirect => rt.Nat.Redirect(entry, range, NatHook.Prerouting, host, null),
                _ => rt.Nat.SetupInfo(entry, range, manip),
            };
        }
        var before = p;
        var t = entry.Reply.Invert();
        p = manip == NatManipType.Dst ? p with { Dst = t.Dst, DstPort = t.DstPort } : p with { Src = t.Src, SrcPort = t.SrcPort };
        if (p != before)
        {
            var why = req?.Kind switch
            {
                NatKind.Masquerade => $"MASQUERADE picks inet_select_addr({outInfo!.Value.OutIf}, {outInfo.Value.NextHop}, global) = {p.Src}; port: {o.Port}",
                NatKind.Dnat => "DNAT to the endpoint kube-proxy chose",
                NatKind.Snat => "SNAT",
                _ => o.Reason ?? "null binding moved the port (implicit source NAT: the tuple was taken)",
            };
            steps.Add(new NatStep(kindOk ? req!.Kind.ToString().ToUpperInvariant() : "null binding", before.ToString(), p.ToString(), kindOk ? req!.Rule : null, why));
        }
    }

    /// <summary>Runs one table at one hook; returns a result when the packet's walk ends here (DROP, REJECT, uncertain).</summary>
    static WalkResult? RunTable(NodeRuntime rt, string table, NetfilterHook hook, ref Packet p, string? inIf, string? outIf, string? physIn, string? physOut,
        ConntrackResult ct, IBranchChooser chooser, ImmutableArray<TraceStep>.Builder steps)
    {
        if (table == "nat") lastNat = null;
        var ev = rt.Node.Rules.Evaluator[table];
        if (ev is null) return null;
        var host = rt.Node.Host;
        var ctx = new PacketContext
        {
            Packet = p, Hook = hook, InInterface = inIf, OutInterface = outIf,
            Bridged = physIn is not null && physOut is not null, PhysIn = physIn, PhysOut = physOut,
            Conntrack = View(ct, rt.Table.Now),
            AddressTypeOf = (ip, limit) => (AddressType)(1 << (int)host.AddressType(ip, limit)),
        };
        var outcomes = ev.Explain(ctx);
        EvaluationOutcome o;
        if (outcomes.Count == 1) o = outcomes[0];
        else o = outcomes[chooser.Choose(outcomes.Select(x => x.Probability).ToList())];
        foreach (var v in o.Visits)
            steps.Add(new RuleStep(v.Table, v.Chain, v.Index, v.Rule, v.Action.ToString(), v.Detail));
        p = p with { Mark = o.Packet.Mark };
        if (table == "nat") lastNat = o.Nat;
        var lastRule = o.Visits.Length > 0 ? o.Visits[^1].Rule : null;
        return o.Verdict.Kind switch
        {
            VerdictKind.Drop => End(WalkEnd.Dropped, p, $"dropped by {table} {NetfilterTables.ChainOf(hook)}" + (lastRule is null ? " policy" : ""), null, lastRule),
            VerdictKind.Reject => End(WalkEnd.Rejected, p, "rejected (" + o.Verdict.RejectWith + ")", null, lastRule),
            VerdictKind.Uncertain => End(WalkEnd.Uncertain, p, "uncertain: " + string.Join("; ", o.Uncertain), null, lastRule),
            _ => null,
        };
    }

    static ConntrackView? View(ConntrackResult ct, DateTimeOffset now)
    {
        if (ct.Verdict == ConntrackVerdict.Invalid) return new ConntrackView(CtState.Invalid, CtStatus.None, default, default);
        if (ct.Verdict == ConntrackVerdict.Untracked || ct.Entry is not { } e) return new ConntrackView(CtState.Untracked, CtStatus.None, default, default);
        var state = ct.Info switch
        {
            CtInfo.New => CtState.New,
            CtInfo.Related or CtInfo.RelatedReply => CtState.Related,
            _ => CtState.Established,
        };
        if (e.Has(ConntrackStatus.SrcNat)) state |= CtState.Snat;
        if (e.Has(ConntrackStatus.DstNat)) state |= CtState.Dnat;
        var status = CtStatus.None;
        if (e.Has(ConntrackStatus.SeenReply)) status |= CtStatus.SeenReply;
        if (e.Has(ConntrackStatus.Assured)) status |= CtStatus.Assured;
        if (e.Has(ConntrackStatus.Confirmed)) status |= CtStatus.Confirmed;
        return new ConntrackView(state, status, Ev(e.Original), Ev(e.Reply), e.Mark,
            ct.Direction == ConntrackDirection.Reply ? CtDirection.Reply : CtDirection.Original, (uint)e.RemainingSeconds(now));
    }

    static EvTuple Ev(CtTuple t) => new(t.Protocol, t.Src, t.SrcPort, t.Dst, t.DstPort);
}
