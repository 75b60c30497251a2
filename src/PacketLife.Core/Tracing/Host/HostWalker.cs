using System.Collections.Immutable;
using System.Runtime.CompilerServices;
using PacketLife.Core.Conntrack;
using PacketLife.Core.Conntrack.Nat;
using PacketLife.Core.Net;
using PacketLife.Core.Netfilter;
using PacketLife.Core.Netfilter.Evaluation;
using PacketLife.Core.Routing;
using CtView = PacketLife.Core.Netfilter.Evaluation.ConntrackView;

namespace PacketLife.Core.Tracing.Host;

/// <summary>Walks one packet through one host the way the kernel does (netfilter-conntrack.md §1): the hooks and
/// their tables in priority order, conntrack lookup/confirm (only when the namespace has a conntrack-dependent rule),
/// NAT on the first packet only with reverse NAT of replies, the input routing decision with rp_filter, martians and
/// ip_forward, the TTL on forward, the OUTPUT path with its re-routes, REJECT's answer, and frames bridged with
/// br_netfilter (§6.1–6.3).
/// <para><see cref="Explain"/> enumerates every random branch (statistic rules, ECMP next hops) with its exact
/// probability on a private copy of the runtime; <see cref="Sample"/> follows one branch drawn from the injected
/// <see cref="Random"/> and changes the runtime; <see cref="Commit"/> applies an explained outcome.</para></summary>
public sealed class HostWalker
{
    /// <summary>Explain gives up enumerating beyond this many outcomes (and says so in every outcome's uncertain list).</summary>
    public const int MaxOutcomes = 4096;

    public HostWalker(HostRuntime runtime) => Runtime = runtime;

    public HostRuntime Runtime { get; }

    /// <summary>Every outcome with its exact probability (they sum to 1), most likely first; the runtime is not changed.
    /// Random NAT ports are sampled once from a fixed seed and reported as <see cref="HostWalkOutcome.RandomPorts"/>
    /// (any free port of the window is possible).</summary>
    public IReadOnlyList<HostWalkOutcome> Explain(Packet packet, HostPacketOrigin origin) => Explain(packet, origin, recordSteps: true);

    /// <summary><see cref="Explain(Packet, HostPacketOrigin)"/>; without <paramref name="recordSteps"/> the outcomes carry
    /// no <see cref="HostWalkOutcome.Steps"/> (everything else is the same): for a caller that picks one outcome by its
    /// probability and commits it, which walks it again, recording.</summary>
    public IReadOnlyList<HostWalkOutcome> Explain(Packet packet, HostPacketOrigin origin, bool recordSteps)
    {
        var request = new HostWalkRequest(packet, origin);
        var outcomes = new List<HostWalkOutcome>();
        var pending = new Stack<int[]>();
        pending.Push([]);
        bool truncated = false;
        var memo = new TableMemo();
        ConntrackTable? copy = null;
        while (pending.Count > 0)
        {
            if (outcomes.Count >= MaxOutcomes) { truncated = true; break; }
            var prefix = pending.Pop();
            var chooser = new Chooser(prefix) { Memo = memo };
            var runtime = Runtime.CloneForExplain(copy);
            copy = runtime.Conntrack;
            var run = new Run(runtime, chooser, null, new Random(0), record: recordSteps) { Request = request, Explaining = true };
            outcomes.Add(run.Start(packet, origin));
            for (int j = chooser.Taken.Count - 1; j >= prefix.Length; j--)
            {
                for (int alt = 1; alt < chooser.Counts[j]; alt++)
                {
                    var next = new int[j + 1];
                    for (int k = 0; k < j; k++) next[k] = chooser.Taken[k];
                    next[j] = alt;
                    pending.Push(next);
                }
            }
        }
        if (truncated)
            for (int i = 0; i < outcomes.Count; i++)
                outcomes[i] = outcomes[i] with { Uncertain = outcomes[i].Uncertain.Add($"more than {MaxOutcomes} outcomes: the list is cut") };
        WeightedOrder.SortMostLikelyFirst(outcomes); // then in enumeration order
        return outcomes;
    }

    /// <summary>One outcome, every random branch drawn from <paramref name="random"/>; the runtime (conntrack table,
    /// rule state) is changed as the kernel would change it.</summary>
    public HostWalkOutcome Sample(Packet packet, HostPacketOrigin origin, Random random, bool recordSteps = true)
    {
        var run = new Run(Runtime, null, random, random, recordSteps) { Request = new HostWalkRequest(packet, origin), Committing = true };
        return run.Start(packet, origin);
    }

    /// <summary>Applies an outcome of <see cref="Explain"/> to the runtime: the same branches are walked again against
    /// the live state (which should not have changed since), creating the conntrack entry and rule-state changes. A
    /// random NAT port is drawn again from <paramref name="random"/>. Returns the committed outcome.</summary>
    public HostWalkOutcome Commit(HostWalkOutcome outcome, Random random)
    {
        if (outcome.Committed) throw new InvalidOperationException("this outcome is already committed");
        var req = outcome.Request ?? throw new InvalidOperationException("this outcome did not come from Explain");
        var chooser = new Chooser([.. outcome.Choices]);
        var run = new Run(Runtime, chooser, null, random, record: true) { Request = req, Committing = true, CommittedChoices = outcome.Choices };
        return run.Start(req.Packet, req.Origin);
    }

    /// <summary><see cref="Commit"/> for a caller that commits an outcome right after explaining it, against the same
    /// state (or an identical one: an emptied table and reset rule state): the tables are not explained again, each
    /// walks the branches it took in the explained walk. The result is <see cref="Commit"/>'s.</summary>
    internal HostWalkOutcome CommitExplained(HostWalkOutcome outcome, Random random)
    {
        if (outcome.Committed) throw new InvalidOperationException("this outcome is already committed");
        var req = outcome.Request ?? throw new InvalidOperationException("this outcome did not come from Explain");
        var chooser = new Chooser([.. outcome.Choices]) { Replay = outcome.TableChoices };
        var run = new Run(Runtime, chooser, null, random, record: true) { Request = req, Committing = true, CommittedChoices = outcome.Choices };
        return run.Start(req.Packet, req.Origin);
    }

    /// <summary>Forced choices (explain enumeration, commit): the prefix, then the first alternative; records the
    /// number of alternatives at each point, and what each table walk that could fork did (in call order).</summary>
    sealed class Chooser(int[] prefix)
    {
        public List<int> Taken { get; } = [];
        public List<int> Counts { get; } = [];

        /// <summary>Per table walk that could fork, in call order: whether it forked (took a choice) and the branches
        /// it walked.</summary>
        public List<TableChoice> Tables { get; } = [];

        /// <summary>Table walks that could fork so far in this walk (nested answer walks included).</summary>
        public int TableCalls;

        /// <summary>Set for <see cref="CommitExplained"/>: the explained walk's <see cref="Tables"/>, walked again.</summary>
        public ImmutableArray<TableChoice> Replay { get; init; }

        /// <summary>The explain in progress's table outcomes, shared by its walks.</summary>
        public TableMemo? Memo { get; init; }

        public int Choose(int count)
        {
            int c = Taken.Count < prefix.Length ? prefix[Taken.Count] : 0;
            if (c >= count) c = count - 1;
            Taken.Add(c);
            Counts.Add(count);
            return c;
        }

        /// <summary>Replaying: the choice the explained walk took here.</summary>
        public void Follow()
        {
            Taken.Add(Taken.Count < prefix.Length ? prefix[Taken.Count] : 0);
            Counts.Add(1);
        }
    }

    /// <summary>What one table walk that could fork did in an explained walk.</summary>
    internal readonly record struct TableChoice(bool Forked, ImmutableArray<bool> Branches);

    /// <summary>The outcomes of the tables explained during one <see cref="Explain(Packet, HostPacketOrigin, bool)"/>,
    /// by the choices taken before the table and its place among the walk's table walks: the walks of one explain start
    /// from identical copies of the runtime and are deterministic, so walks that agree on the choices so far meet the
    /// same table with the same packet and state (each alternative would otherwise explain the fork again).</summary>
    sealed class TableMemo
    {
        readonly List<(int[] Taken, int Call, IReadOnlyList<EvaluationOutcome> All)> entries = [];

        public IReadOnlyList<EvaluationOutcome>? Find(List<int> taken, int call)
        {
            foreach (var (t, c, all) in entries)
                if (c == call && t.AsSpan().SequenceEqual(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(taken))) return all;
            return null;
        }

        public void Add(List<int> taken, int call, IReadOnlyList<EvaluationOutcome> all) => entries.Add(([.. taken], call, all));
    }

    /// <summary>A step's text, formatted only when the walk records steps: a walk whose steps nobody reads (explain
    /// before commit, a health probe's light run) would otherwise write every conntrack entry and route it meets.</summary>
    [InterpolatedStringHandler]
    ref struct StepText
    {
        DefaultInterpolatedStringHandler inner;

        public StepText(int literalLength, int formattedCount, Run run, HostStepKind kind, string hook, out bool shouldAppend)
        {
            shouldAppend = run.Recording;
            inner = shouldAppend ? new DefaultInterpolatedStringHandler(literalLength + hook.Length + 2, formattedCount) : default;
            // NAT and route steps keep their own fields in a cluster trace; the others become `hook: text` notes.
            WithHook = shouldAppend && kind is not (HostStepKind.Nat or HostStepKind.Route or HostStepKind.Rule or HostStepKind.Verdict);
            if (WithHook)
            {
                inner.AppendLiteral(hook);
                inner.AppendLiteral(": ");
            }
        }

        public bool WithHook { get; }

        public void AppendLiteral(string value) => inner.AppendLiteral(value);
        public void AppendFormatted<T>(T value) => inner.AppendFormatted(value);
        public void AppendFormatted<T>(T value, string? format) => inner.AppendFormatted(value, format);
        public void AppendFormatted(string? value) => inner.AppendFormatted(value);
        public string ToStringAndClear() => inner.ToStringAndClear();
    }

    /// <summary>The end of a walk (or of a part of it).</summary>
    sealed class Stop(HostDisposition disposition, string where, string reason) : Exception
    {
        public HostDisposition Disposition { get; } = disposition;
        public string Where { get; } = where;
        public string Reason { get; } = reason;
        public Packet? Reply { get; init; }
        public Packet? Quotes { get; init; }
        public HostWalkOutcome? ReplyWalk { get; init; }
    }

    /// <summary>One walk. Exceptions are not used for control flow on the hot path: <see cref="Stop"/> is thrown only
    /// when the packet's fate is decided early (a drop), which ends the walk anyway.</summary>
    sealed class Run
    {
        readonly HostRuntime rt;
        readonly Routing.Host host;
        readonly Chooser? chooser;
        readonly Random? sampleRandom;
        readonly Random natRandom;
        readonly bool record;
        readonly List<HostStep>? steps;
        readonly int depth;
        ConntrackTracker? tracker;
        NatEngine? nat;
        double probability = 1;
        ImmutableArray<string> uncertain = [];
        List<RandomPortChoice>? ports;

        // Per-packet state.
        Packet before = null!;
        Packet p = null!;
        ConntrackResult? ct;
        Packet? q;
        bool ctCreated;
        ushort zone;
        string? inIface;
        string? physIn;
        SocketOwner? owner;
        bool localOut;
        bool icmpStack;

        public Run(HostRuntime rt, Chooser? chooser, Random? sampleRandom, Random natRandom, bool record, int depth = 0)
        {
            this.rt = rt;
            host = rt.Host;
            this.chooser = chooser;
            this.sampleRandom = sampleRandom;
            this.natRandom = natRandom;
            this.record = record;
            steps = record ? [] : null;
            this.depth = depth;
        }

        ConntrackTracker Tracker => tracker ??= new ConntrackTracker(rt.Conntrack);
        NatEngine Nat => nat ??= new NatEngine(rt.Conntrack, natRandom);

        public HostWalkOutcome Start(Packet packet, HostPacketOrigin origin, ConntrackResult? attached = null, Packet? quoted = null)
        {
            before = packet;
            p = packet;
            q = quoted ?? origin.IcmpQuoted;
            try
            {
                return origin switch
                {
                    HostPacketOrigin.Wire w => FromWire(w.Interface, w.BridgePort, w.IcmpQuoted),
                    HostPacketOrigin.Local l when (icmpStack = l.IcmpStack) || true => FromLocal(l.Owner, attached, quoted ?? l.IcmpQuoted),
                    _ => throw new ArgumentOutOfRangeException(nameof(origin)),
                };
            }
            catch (Stop s)
            {
                return Finish(s.Disposition, s.Where, s.Reason, reply: s.Reply, replyQuotes: s.Quotes, replyWalk: s.ReplyWalk);
            }
        }

        // ---- the received path (§1.2 A and B, §6.1) ----

        HostWalkOutcome FromWire(string iface, string? bridgePort, Packet? wireQuoted)
        {
            var dev = host.FindInterface(iface);
            if (dev is null) Uncertain("routing", $"interface {iface} is not in the host description");
            else if (!dev.Up) throw new Stop(HostDisposition.Drop, "link", $"interface {iface} is down");
            inIface = iface;
            if (bridgePort is not null)
            {
                var port = host.FindInterface(bridgePort);
                if (port is null) Uncertain("bridge", $"bridge port {bridgePort} is not in the host description");
                else if (port.Master != iface) Uncertain("bridge", $"{bridgePort} is not a port of {iface}");
                if (!host.BridgeNfCallIptables)
                {
                    // br_netfilter off: bridged frames never meet iptables (§6.1); frames for the host's own MAC are routed.
                    if (IsL2Peer(iface, p.Dst)) return Bridge(iface, bridgePort, nfCall: false);
                    Step(HostStepKind.Check, "bridge", $"net.bridge.bridge-nf-call-iptables=0: the frame for the host's MAC enters IP on {iface} without bridge hooks");
                }
                else physIn = bridgePort;
            }
            return Received(bridgeOf: physIn is null ? null : iface, loopback: false, attached: null, quoted: wireQuoted);
        }

        /// <summary>raw → conntrack → mangle → nat PREROUTING, then the routing decision.</summary>
        HostWalkOutcome Received(string? bridgeOf, bool loopback, ConntrackResult? attached, Packet? quoted = null)
        {
            var origDst = p.Dst;
            RawThenConntrack(NetfilterHook.Prerouting, inIface, null, attached, quoted);
            Chain("mangle", NetfilterHook.Prerouting, inIface, null);
            NatHook(NetfilterHook.Prerouting, NatManipType.Dst, inIface, null, null);

            if (loopback)
            {
                // A looped-back packet keeps the route it was sent with: no input routing (ip_rcv_finish sees a valid dst).
                return Input();
            }
            if (bridgeOf is not null)
            {
                bool dnat = p.Dst != origDst;
                if (!dnat && IsL2Peer(bridgeOf, origDst)) return Bridge(bridgeOf, physIn!, nfCall: true);
                if (dnat)
                {
                    // br_nf_pre_routing_finish: the destination changed, so the bridge asks IP routing; a route back out of
                    // the bridge itself keeps the frame bridged ("bridged_dnat"), which still needs ip_forward (§1.9, §6.3).
                    var r = RouteInput();
                    if (r.Type != RouteType.Local && r.OutInterface == bridgeOf)
                        return Bridge(bridgeOf, physIn!, nfCall: true);
                    return Routed(r);
                }
            }
            return Routed(RouteInput());
        }

        /// <summary>Whether a frame for <paramref name="dst"/> on bridge <paramref name="bridge"/> is addressed to a peer
        /// on the same segment (bridged at L2) rather than to the host's own MAC (routed): the host's route to it leaves
        /// through the bridge and it is not a local address.</summary>
        bool IsL2Peer(string bridge, Ip4 dst)
        {
            if (host.IsLocalAddress(dst)) return false;
            var r = host.Lookup(dst);
            return r is not null && r.Type == RouteType.Unicast && r.OutInterface == bridge && r.Gateway is null;
        }

        /// <summary>Input routing (ip_route_input_slow): martians, the FIB lookup, rp_filter (fib_validate_source).</summary>
        RouteResult RouteInput()
        {
            var iface = inIface!;
            var dev = host.FindInterface(iface);
            bool localnet = host.RouteLocalnetAll || (dev?.RouteLocalnet ?? false);
            if (p.Src.Value == 0xFFFFFFFF || (p.Src.Value >> 28) == 0xE || (p.Src.Value >> 24) == 0)
                Drop("routing", $"martian source {p.Src} (broadcast, multicast or zero-net source)");
            if (p.Src.IsLoopback && !localnet)
                Drop("routing", $"martian source {p.Src} from {iface} (route_localnet=0)");
            if (p.Dst.IsLoopback && !localnet)
                Drop("routing", $"martian destination {p.Dst} arriving on {iface}: DNAT to 127.0.0.0/8 needs net.ipv4.conf.{iface}.route_localnet=1 (§1.10)");
            var route = Lookup(p.Dst, p.Src, p.Mark, iface);
            if (route is null)
            {
                if (!host.IpForward)
                    Drop("routing", $"no route to {p.Dst} and ip_forward=0: dropped silently (IpInAddrErrors)");
                SendError(3, 0, "routing", $"no route to {p.Dst}: ICMP net unreachable (ip_error)");
            }
            var rp = host.CheckReversePath(p.Src, iface, p.Mark);
            if (!rp.Accepted) Drop("rp_filter", rp.Reason);
            Step(HostStepKind.Route, "routing", $"input route to {p.Dst}: {RouteText(route!)} ({RouteTypes.Name(route!.Type)})");
            return route!;
        }

        HostWalkOutcome Routed(RouteResult route)
        {
            switch (route.Type)
            {
                case RouteType.Local or RouteType.Broadcast:
                    return Input();
                case RouteType.Unicast:
                    break;
                case RouteType.Blackhole:
                    Drop("routing", $"blackhole route to {p.Dst}");
                    break;
                case RouteType.Unreachable:
                    if (!host.IpForward) Drop("routing", $"unreachable route to {p.Dst} and ip_forward=0");
                    SendError(3, 1, "routing", $"unreachable route to {p.Dst}: ICMP host unreachable");
                    break;
                case RouteType.Prohibit:
                    if (!host.IpForward) Drop("routing", $"prohibit route to {p.Dst} and ip_forward=0");
                    SendError(3, 13, "routing", $"prohibit route to {p.Dst}: ICMP administratively prohibited");
                    break;
                default:
                    Uncertain("routing", $"route type {RouteTypes.Name(route.Type)} is not modelled");
                    break;
            }
            if (!host.IpForward)
                Drop("routing", $"{p.Dst} is not local and net.ipv4.ip_forward=0: dropped silently, no ICMP (§1.9)");
            var outIface = route.OutInterface;
            var nexthop = route.NextHopFor(p.Dst);
            // ip_forward.c: the TTL is checked and decremented after routing, before FORWARD (§1.7).
            if (p.Ttl <= 1)
            {
                Step(HostStepKind.Ttl, "FORWARD", $"ttl={p.Ttl}: time exceeded");
                SendError(11, 0, "ip_forward", $"TTL {p.Ttl} expired in transit: ICMP time exceeded");
            }
            var old = p;
            p = p with { Ttl = (byte)(p.Ttl - 1) };
            Step(HostStepKind.Ttl, "FORWARD", $"ttl {old.Ttl} -> {p.Ttl}", before: old, after: p);
            Forward(inIface, outIface, null);
            PostRouting(outIface, nexthop, null);
            return Finish(HostDisposition.Forward, "POSTROUTING", $"forwarded out {outIface} via {nexthop}", outIface, nexthop);
        }

        void Forward(string? inDev, string? outDev, string? physOut)
        {
            Chain("mangle", NetfilterHook.Forward, inDev, outDev, physOut);
            Chain("filter", NetfilterHook.Forward, inDev, outDev, physOut);
            Chain("security", NetfilterHook.Forward, inDev, outDev, physOut);
        }

        /// <summary>A frame bridged between two ports of <paramref name="bridge"/> (§6.1–6.3): FORWARD with IN=OUT=bridge
        /// and the ports in physdev, no TTL decrement, POSTROUTING with no IN; the bridge never sends a frame back out
        /// of its ingress port unless that port is in hairpin mode.</summary>
        HostWalkOutcome Bridge(string bridge, string inPort, bool nfCall)
        {
            var outPort = rt.BridgePortOf?.Invoke(bridge, p.Dst);
            if (outPort is null)
            {
                Uncertain("bridge", $"which port of {bridge} leads to {p.Dst} is not known (no bridge FDB given)");
                return Finish(HostDisposition.Uncertain, "bridge", $"bridged on {bridge}, out port unknown", bridge, bridged: true);
            }
            if (outPort == inPort && !(host.FindInterface(inPort)?.Hairpin ?? false))
                Drop("bridge", $"{bridge} would send the frame back out of its ingress port {inPort}, which has hairpin off (§6.3)");
            if (nfCall)
            {
                Step(HostStepKind.Route, "bridge", $"bridged on {bridge}: {inPort} -> {outPort}");
                Forward(bridge, bridge, outPort);
                PostRouting(bridge, p.Dst, outPort, bridged: true);
            }
            else Step(HostStepKind.Route, "bridge", $"bridged on {bridge} without iptables: {inPort} -> {outPort}");
            return Finish(HostDisposition.Forward, "bridge", $"bridged out {bridge} port {outPort}", bridge, p.Dst, outPort, bridged: true);
        }

        /// <summary>mangle/filter/security/nat INPUT, confirm, deliver (§1.2 A).</summary>
        HostWalkOutcome Input()
        {
            Chain("mangle", NetfilterHook.Input, inIface, null);
            Chain("filter", NetfilterHook.Input, inIface, null);
            Chain("security", NetfilterHook.Input, inIface, null);
            NatHook(NetfilterHook.Input, NatManipType.Src, inIface, null, null);
            Confirm("INPUT");
            return Finish(HostDisposition.Local, "INPUT", $"delivered to a local socket ({p.Dst})");
        }

        // ---- the locally generated path (§1.2 C) ----

        HostWalkOutcome FromLocal(SocketOwner? socketOwner, ConntrackResult? attached, Packet? quoted)
        {
            owner = socketOwner;
            localOut = true;
            var route = Lookup(p.Dst, p.Src == Ip4.Any ? default : p.Src, p.Mark, null);
            if (route is null)
                Drop("routing", $"no route to {p.Dst}: connect/sendto fails with ENETUNREACH and no OUTPUT rule runs (§1.6)");
            switch (route!.Type)
            {
                case RouteType.Unicast or RouteType.Local or RouteType.Broadcast: break;
                case RouteType.Blackhole: Drop("routing", $"blackhole route to {p.Dst}: EINVAL"); break;
                case RouteType.Unreachable: Drop("routing", $"unreachable route to {p.Dst}: EHOSTUNREACH"); break;
                case RouteType.Prohibit: Drop("routing", $"prohibit route to {p.Dst}: EACCES"); break;
                default: Uncertain("routing", $"route type {RouteTypes.Name(route.Type)} is not modelled"); break;
            }
            if (p.Src == Ip4.Any)
            {
                var src = host.SelectSource(route, p.Dst);
                if (src is null) Drop("routing", $"no source address for {p.Dst}: EADDRNOTAVAIL");
                p = p with { Src = src!.Value };
            }
            string outIface = route.Type == RouteType.Local ? "lo" : route.OutInterface ?? "lo";
            Step(HostStepKind.Route, "routing", $"output route to {p.Dst}: {RouteText(route)} (out {outIface})");

            if (attached is null && icmpStack && rt.ConntrackActive && q is not null && p.Protocol == IpProtocol.Icmp && ConntrackTracker.IsIcmpError(p.IcmpType))
            {
                var rel = Tracker.TrackIcmpError(p, q, zone);
                if (rel.Verdict == ConntrackVerdict.Tracked) attached = rel;
            }
            if (attached is not null && rt.ConntrackActive) ct = attached;
            RawThenConntrack(NetfilterHook.Output, null, outIface, attached, quoted);

            // mangle OUTPUT: a change of mark, source or destination re-routes (iptable_mangle.c ipt_mangle_out).
            var beforeMangle = p;
            Chain("mangle", NetfilterHook.Output, null, outIface);
            var finalRoute = route;
            if (p.Mark != beforeMangle.Mark || p.Src != beforeMangle.Src || p.Dst != beforeMangle.Dst)
                finalRoute = Reroute("mangle OUTPUT changed the packet");
            var beforeNat = p;
            NatHook(NetfilterHook.Output, NatManipType.Dst, null, outIface, null);
            if (p.Dst != beforeNat.Dst) finalRoute = Reroute("nat OUTPUT changed the destination");
            // OUT in every OUTPUT chain is the device of the first route: the hook state is fixed (§1.6).
            Chain("filter", NetfilterHook.Output, null, outIface);
            Chain("security", NetfilterHook.Output, null, outIface);

            bool local = finalRoute.Type == RouteType.Local;
            string finalOut = finalRoute.Type == RouteType.Local ? "lo" : finalRoute.OutInterface ?? outIface;
            var nexthop = finalRoute.NextHopFor(p.Dst);
            PostRouting(finalOut, nexthop, null);
            if (local)
            {
                // Loopback: the packet comes back in on lo with the same (now confirmed) entry attached; its nat
                // bindings are done, so nat PREROUTING/INPUT are skipped (§1.2, "Loopback traffic").
                Step(HostStepKind.Route, "routing", "looped back in on lo");
                inIface = "lo";
                localOut = false;
                return Received(null, loopback: true, attached: ct);
            }
            return Finish(HostDisposition.Output, "POSTROUTING", $"sent out {finalOut} via {nexthop}", finalOut, nexthop);
        }

        RouteResult Reroute(string why)
        {
            var r = Lookup(p.Dst, p.Src, p.Mark, null);
            if (r is null) Drop("routing", $"re-route after {why}: no route to {p.Dst} (EHOSTUNREACH)");
            Step(HostStepKind.Route, "routing", $"re-route ({why}): {RouteText(r!)}");
            return r!;
        }

        // ---- POSTROUTING and confirm ----

        void PostRouting(string? outIface, Ip4 nexthop, string? physOut, bool bridged = false)
        {
            // Bridged frames have no IN in POSTROUTING (§6.2); routed ones neither (iptables shows IN= empty).
            Chain("mangle", NetfilterHook.Postrouting, null, outIface, physOut);
            NatHook(NetfilterHook.Postrouting, NatManipType.Src, null, outIface, physOut, nexthop);
            Confirm("POSTROUTING");
        }

        void Confirm(string hook)
        {
            if (ct is null || !ct.IsNewEntry || ct.Entry is null) return;
            if (ct.Entry.Has(ConntrackStatus.Confirmed)) return;
            // Only an original-direction packet confirms (__nf_conntrack_confirm).
            if (ct.Direction != ConntrackDirection.Original) return;
            if (!Tracker.Confirm(ct))
                Drop("conntrack", $"confirm at {hook}: the reply tuple {ct.Entry.Reply} clashes with an existing entry (insert_failed)");
            ctCreated = true;
            Step(HostStepKind.Confirm, hook, $"conntrack entry confirmed: {ct.Entry}");
        }

        // ---- conntrack ----

        /// <summary>The raw table of the hook (PREROUTING or OUTPUT), then conntrack's lookup, which runs after it
        /// (NF_IP_PRI_RAW &lt; NF_IP_PRI_CONNTRACK): `NOTRACK`/`CT --notrack` and `CT --zone` there decide it.</summary>
        void RawThenConntrack(NetfilterHook hook, string? inDev, string? outDev, ConntrackResult? attached, Packet? quoted)
        {
            if (rt.Evaluator["raw"] is null)
            {
                // No raw table: it accepts, requests nothing (no NOTRACK, no zone).
                ConntrackIn(attached, false, quoted);
                return;
            }
            var raw = Table("raw", Ctx(hook, inDev, outDev));
            bool notrack = false;
            foreach (var r in raw.Requests)
            {
                if (r is NoTrackRequest) notrack = true;
                else if (r is CtZoneRequest z) zone = z.Zone;
            }
            EndIfNotAccepted(raw, "raw", hook == NetfilterHook.Prerouting ? "PREROUTING" : "OUTPUT");
            ConntrackIn(attached, notrack, quoted);
        }

        void ConntrackIn(ConntrackResult? attached, bool notrack, Packet? quoted)
        {
            if (!rt.ConntrackActive)
            {
                ct = null;
                return;
            }
            if (attached is not null)
            {
                ct = attached;
                Step(HostStepKind.Conntrack, Hook(), $"conntrack already attached ({attached.Info}): {attached.Entry}");
                return;
            }
            if (notrack)
            {
                ct = ConntrackResult.Untracked;
                Step(HostStepKind.Conntrack, Hook(), "untracked (NOTRACK / CT --notrack): no entry, no NAT");
                return;
            }
            var res = p.Protocol == IpProtocol.Icmp && ConntrackTracker.IsIcmpError(p.IcmpType) && quoted is not null
                ? Tracker.TrackIcmpError(p, quoted, zone)
                : Tracker.Track(p, zone);
            if (res.Verdict == ConntrackVerdict.Invalid)
            {
                ct = null;
                Step(HostStepKind.Conntrack, Hook(), $"INVALID: {res.Reason}");
                return;
            }
            ct = res;
            if (res.IsNewEntry) Step(HostStepKind.Conntrack, Hook(), $"new entry: {res.Entry}");
            else Step(HostStepKind.Conntrack, Hook(), $"{res.Reason} ({res.Direction}, {res.Info}): {res.Entry}");
        }

        string Hook() => localOut ? "OUTPUT" : "PREROUTING";

        // A walk is one instant: the clock is read once, when a rule first needs an entry's remaining timeout (the
        // clock behind a live table is the system's, a syscall each time).
        DateTimeOffset? now;

        DateTimeOffset Now => now ??= rt.Conntrack.Now;

        static CtView? View(ConntrackResult? r, Packet p, Run run)
        {
            if (r is null || r.Verdict == ConntrackVerdict.Invalid) return null;
            if (r.Verdict == ConntrackVerdict.Untracked)
            {
                var v = CtView.NewFor(p);
                return v with { State = Netfilter.Evaluation.CtState.Untracked };
            }
            var e = r.Entry!;
            var st = (Netfilter.Evaluation.CtState)(byte)CtStates.Of(r);
            var status = CtStatus.None;
            if (e.Has(ConntrackStatus.Expected)) status |= CtStatus.Expected;
            if (e.Has(ConntrackStatus.SeenReply)) status |= CtStatus.SeenReply;
            if (e.Has(ConntrackStatus.Assured)) status |= CtStatus.Assured;
            if (e.Has(ConntrackStatus.Confirmed)) status |= CtStatus.Confirmed;
            long left = e.RemainingSeconds(run.Now);
            return new CtView(st, status, e.Original, e.Reply, e.Mark,
                r.Direction == ConntrackDirection.Reply ? CtDirection.Reply : CtDirection.Original,
                (uint)Math.Max(0, left));
        }

        // ---- NAT (§1.4, §1.5, §4) ----

        /// <summary>The nat hook of one manip type: the nat chain for a connection without a binding of that type (the
        /// first packet), a null binding when no rule bound it, then the packet rewrite for either direction.</summary>
        void NatHook(NetfilterHook hook, NatManipType manip, string? inDev, string? outDev, string? physOut, Ip4 nexthop = default)
        {
            if (ct is null || ct.Verdict != ConntrackVerdict.Tracked || ct.Entry is null) return;
            var e = ct.Entry;
            string chain = NetfilterTables.ChainOf(hook);
            // nf_nat_inet_fn: a RELATED ICMP (an error about the connection) is only translated, never given to the
            // nat chains; any other packet of a connection without a binding of this type goes through them.
            bool relatedIcmp = ct.Info is CtInfo.Related or CtInfo.RelatedReply && p.Protocol == IpProtocol.Icmp;
            if (!relatedIcmp && !NatEngine.IsBound(e, manip))
            {
                var o = Table("nat", Ctx(hook, inDev, outDev, physOut));
                EndIfNotAccepted(o, "nat", chain);
                NatOutcome res;
                if (o.Nat is { } req)
                {
                    var range = Range(req);
                    res = req.Kind switch
                    {
                        NatKind.Masquerade => Masquerade(e, range, outDev, nexthop),
                        NatKind.Redirect => Nat.Redirect(e, range, hook == NetfilterHook.Output ? Conntrack.Nat.NatHook.Output : Conntrack.Nat.NatHook.Prerouting, host, inDev),
                        _ => Nat.SetupInfo(e, range, manip),
                    };
                    Step(HostStepKind.Nat, chain, $"{req.Kind.ToString().ToUpperInvariant()} binding: {res.Before} -> {res.After} (address {res.AddressRule}, {res.Port})");
                }
                else
                {
                    res = Nat.NullBinding(e, manip);
                    if (res.Changed) Step(HostStepKind.Nat, chain, $"null binding moved the source port: {res.Before} -> {res.After} (implicit source NAT, §5.8)");
                }
                if (res.Dropped) Drop("nat:" + chain, res.Reason ?? "NAT target dropped the packet");
                if (res.Clash) Drop("nat:" + chain, $"no free tuple for {res.After}: dropped at confirm");
                if (res.Port.IsRandom)
                    (ports ??= []).Add(new RandomPortChoice(manip, res.Port.WindowMin, res.Port.WindowMax, res.Port.Port));
            }
            else if (manip == NatManipType.Src && hook == NetfilterHook.Postrouting && outDev is not null
                     && !Nat.CheckMasqueradeOut(e, ct.Direction, outDev))
            {
                Drop("nat:POSTROUTING", $"masqueraded connection now leaves through {outDev}, not {e.MasqueradeInterface}: entry killed (nf_nat_oif_changed)");
            }
            var old = p;
            if (q is not null && p.Protocol == IpProtocol.Icmp && ConntrackTracker.IsIcmpError(p.IcmpType)
                && ct.Info is CtInfo.Related or CtInfo.RelatedReply)
                // nf_nat_icmp_reply_translation: the quoted header is translated too, so the sender sees its own packet.
                (p, q) = NatRewrite.ApplyToIcmpError(p, q, e, ct.Direction, manip);
            else
                p = NatRewrite.Apply(p, e, ct.Direction, manip);
            if (p != old) Step(HostStepKind.Nat, chain, $"{(manip == NatManipType.Dst ? "destination" : "source")} rewritten", before: old, after: p);
        }

        NatOutcome Masquerade(ConntrackEntry e, NatRange range, string? outDev, Ip4 nexthop)
        {
            var dev = outDev is null ? null : host.FindInterface(outDev);
            if (dev is null)
            {
                Uncertain("nat:POSTROUTING", $"MASQUERADE out of {outDev ?? "(none)"}: interface not in the host description");
                throw new Stop(HostDisposition.Uncertain, "nat:POSTROUTING", "MASQUERADE without a known out interface");
            }
            return Nat.Masquerade(e, range, host, dev, nexthop);
        }

        static NatRange Range(NatRequest req)
        {
            var flags = NatRangeFlags.None;
            if ((req.Flags & NatFlags.Random) != 0) flags |= NatRangeFlags.ProtoRandom;
            if ((req.Flags & NatFlags.RandomFully) != 0) flags |= NatRangeFlags.ProtoRandomFully;
            if ((req.Flags & NatFlags.Persistent) != 0) flags |= NatRangeFlags.Persistent;
            return NatRange.To(req.Addresses, req.Ports?.Min, req.Ports?.Max, flags);
        }

        // ---- tables ----

        PacketContext Ctx(NetfilterHook hook, string? inDev, string? outDev, string? physOut = null) => new()
        {
            Packet = p,
            Hook = hook,
            InInterface = inDev,
            OutInterface = outDev,
            Bridged = physIn is not null || physOut is not null,
            PhysIn = physIn,
            PhysOut = physOut,
            Conntrack = View(ct, p, this),
            AddressTypeOf = addressTypeOf ??= AddressTypeOf,
            Owner = hook is NetfilterHook.Output or NetfilterHook.Postrouting ? owner : null,
            State = rt.State,
        };

        Func<Ip4, string?, AddressType>? addressTypeOf;

        AddressType AddressTypeOf(Ip4 ip, string? limit) => (AddressType)(1 << (int)host.AddressType(ip, limit));

        /// <summary>One table at one hook; the packet's mark follows the outcome; DROP/REJECT/uncertain end the walk.</summary>
        void Chain(string table, NetfilterHook hook, string? inDev, string? outDev, string? physOut = null)
        {
            // A table the ruleset lacks (or that has no chain at this hook) accepts: no context to build.
            var ev = rt.Evaluator[table];
            if (ev is null) return;
            // An empty built-in chain with policy ACCEPT: its one visit, without a walk (and a context) per packet.
            if (ev.IsEmptyAccept(hook, out var policy))
            {
                steps?.Add(new HostStep(HostStepKind.Rule, NetfilterTables.ChainOf(hook), policy));
                return;
            }
            var o = Table(table, Ctx(hook, inDev, outDev, physOut));
            EndIfNotAccepted(o, table, NetfilterTables.ChainOf(hook));
        }

        EvaluationOutcome Table(string table, PacketContext ctx)
        {
            var ev = rt.Evaluator[table];
            if (ev is null) return new EvaluationOutcome(1, TableVerdict.Accept, ctx.Packet, [], [], []);
            EvaluationOutcome o;
            if (sampleRandom is not null) o = ev.Sample(ctx, sampleRandom, record);
            else if (!ev.CanBranch(ctx.Hook))
            {
                // No rule on the way forks: the one outcome explain would give, walked once against this walk's state
                // (which is what replaying it does).
                o = ev.Replay(ctx, [], record);
            }
            else
            {
                var ch = chooser!;
                int call = ch.TableCalls++;
                if (!ch.Replay.IsDefault && call < ch.Replay.Length)
                {
                    // Committing an explained walk: this table's branches as that walk took them.
                    var done = ch.Replay[call];
                    if (done.Forked) ch.Follow();
                    o = ev.Replay(ctx, done.Branches, record);
                }
                else
                {
                    // Only the branches' probabilities are needed here: the chosen one is walked again below, recording.
                    var all = ch.Memo?.Find(ch.Taken, call);
                    if (all is null)
                    {
                        all = ev.Explain(ctx, recordVisits: false);
                        ch.Memo?.Add(ch.Taken, call, all);
                    }
                    int i = all.Count == 1 ? 0 : ch.Choose(all.Count);
                    ch.Tables.Add(new TableChoice(all.Count > 1, all[i].Branches));
                    // Replay the chosen branch against this walk's state so nth/recent/limit state moves as in the kernel.
                    o = ev.Replay(ctx, all[i].Branches, record);
                }
            }
            probability *= o.Probability;
            if (steps is not null)
            {
                var hookName = NetfilterTables.ChainOf(ctx.Hook);
                foreach (var v in o.Visits) steps.Add(new HostStep(HostStepKind.Rule, hookName, v));
            }
            if (o.Packet.Mark != p.Mark)
            {
                Step(HostStepKind.Mark, table + ":" + NetfilterTables.ChainOf(ctx.Hook), $"mark 0x{p.Mark:x} -> 0x{o.Packet.Mark:x}", before: p, after: p with { Mark = o.Packet.Mark });
                p = p with { Mark = o.Packet.Mark };
            }
            foreach (var r in o.Requests)
            {
                if (r is ConnmarkRequest cm && ct?.Entry is { } e)
                {
                    e.Mark = cm.NewMark;
                    Step(HostStepKind.Mark, table + ":" + NetfilterTables.ChainOf(ctx.Hook), $"connmark 0x{cm.OldMark:x} -> 0x{cm.NewMark:x}");
                }
                else if (r is LogRequest or TraceRequest or HeaderRewriteRequest or ConnmarkRequest or NatRequest or NoTrackRequest or CtZoneRequest) { }
            }
            if (!o.Uncertain.IsDefaultOrEmpty) uncertain = uncertain.AddRange(o.Uncertain);
            return o;
        }

        void EndIfNotAccepted(EvaluationOutcome o, string table, string chain)
        {
            switch (o.Verdict.Kind)
            {
                case VerdictKind.Accept:
                    return;
                case VerdictKind.Drop:
                    Drop($"{table}:{chain}", LastRuleText(o) is { } t ? $"DROP by {t}" : $"{table} {chain} policy DROP");
                    return;
                case VerdictKind.Reject:
                    Reject($"{table}:{chain}", o.Verdict.RejectWith ?? "icmp-port-unreachable", LastRuleText(o));
                    return;
                default:
                    throw new Stop(HostDisposition.Uncertain, $"{table}:{chain}", "an unsupported rule was reached");
            }
        }

        // The last visit of a DROP/REJECT is the rule's verdict, or the policy (no rule); unrecorded walks keep the former.
        static string? LastRuleText(EvaluationOutcome o) =>
            (o.Visits.IsDefaultOrEmpty ? o.Final : o.Visits[^1]) is { Rule: not null } v ? $"{v.Table}:{v.Chain}:{v.Index} {v.Rule}" : null;

        // ---- REJECT and ICMP errors (§2.4) ----

        void Reject(string where, string with, string? rule)
        {
            var reason = $"REJECT --reject-with {with}" + (rule is null ? "" : $" by {rule}");
            if (with == "tcp-reset")
            {
                // nf_send_reset: from the rejected destination's address and port; never answers a RST.
                if (p.Protocol != IpProtocol.Tcp || (p.Flags & TcpFlags.Rst) != 0 || p.FragmentOffset != 0)
                    throw new Stop(HostDisposition.Reject, where, reason + " (no RST: the packet is not a first-fragment TCP segment without RST)");
                var rst = new Packet(IpProtocol.Tcp, p.Dst, p.DstPort, p.Src, p.SrcPort,
                    (p.Flags & TcpFlags.Ack) != 0 ? TcpFlags.Rst : TcpFlags.Rst | TcpFlags.Ack, Ttl: 64, Length: 40);
                // nf_ct_attach: the RST carries the rejected packet's entry, in the other direction, as RELATED.
                ConntrackResult? attach = ct is { Verdict: ConntrackVerdict.Tracked, Entry: { } e }
                    ? new ConntrackResult(ConntrackVerdict.Tracked, e,
                        ct.Direction == ConntrackDirection.Original ? CtInfo.RelatedReply : CtInfo.Related,
                        ct.Direction == ConntrackDirection.Original ? ConntrackDirection.Reply : ConntrackDirection.Original, false, "RST of REJECT")
                    : ct is { Verdict: ConntrackVerdict.Untracked } ? ConntrackResult.Untracked : null;
                throw Answer(HostDisposition.Reject, where, reason, rst, null, attach);
            }
            int code = with switch
            {
                "icmp-net-unreachable" => 0,
                "icmp-host-unreachable" => 1,
                "icmp-proto-unreachable" => 2,
                "icmp-port-unreachable" => 3,
                "icmp-net-prohibited" => 9,
                "icmp-host-prohibited" => 10,
                "icmp-admin-prohibited" => 13,
                _ => -1,
            };
            if (code < 0)
            {
                Uncertain(where, $"REJECT --reject-with {with} is not modelled");
                throw new Stop(HostDisposition.Uncertain, where, reason);
            }
            SendError(3, (byte)code, where, reason, HostDisposition.Reject);
        }

        /// <summary>An ICMP error about the current packet (icmp_send): none about ICMP errors, broadcasts, multicasts or
        /// non-first fragments. It is locally generated, from the address the route back to the sender selects (§2.4),
        /// and walks OUTPUT and POSTROUTING itself.</summary>
        void SendError(byte type, byte code, string where, string reason, HostDisposition disposition = HostDisposition.Drop)
        {
            bool silent = (p.Protocol == IpProtocol.Icmp && ConntrackTracker.IsIcmpError(p.IcmpType))
                          || p.Dst.Value == 0xFFFFFFFF || (p.Dst.Value >> 28) == 0xE || p.FragmentOffset != 0
                          || host.AddressType(p.Dst) == RouteType.Broadcast;
            if (silent) throw new Stop(disposition, where, reason + " (no ICMP error for this packet)");
            if (localOut && icmpStack)
                throw new Stop(disposition, where, reason + " (no ICMP error: the packet comes from the ICMP stack itself, whose transmit lock is held)");
            // icmp_send: a packet addressed to this host is answered from its destination; any other from the address
            // the route back to the sender selects (§2.4: 10.1.0.1, not the rejected destination).
            var back = host.Lookup(p.Src, default, 0, null);
            var src = host.IsLocalAddress(p.Dst) ? p.Dst
                : back is null ? (Ip4?)null : back.Type == RouteType.Local ? p.Src : host.SelectSource(back, p.Src);
            if (src is null) throw new Stop(disposition, where, reason + " (no route back to the sender for the ICMP error)");
            int quotedLen = Math.Min((int)p.Length, 576 - 28);
            // icmp_glue_bits: an ICMP error carries the offending packet's entry (nf_ct_attach), RELATED, from raw OUTPUT on.
            ConntrackResult? attach = ct is { Verdict: ConntrackVerdict.Tracked, Entry: { } ce }
                ? new ConntrackResult(ConntrackVerdict.Tracked, ce,
                    ct.Direction == ConntrackDirection.Original ? CtInfo.RelatedReply : CtInfo.Related,
                    ct.Direction == ConntrackDirection.Original ? ConntrackDirection.Reply : ConntrackDirection.Original, false, "ICMP error of this host")
                : ct is { Verdict: ConntrackVerdict.Untracked } ? ConntrackResult.Untracked : null;
            var icmp = new Packet(IpProtocol.Icmp, src.Value, 0, p.Src, 0, TcpFlags.None, Ttl: 64,
                Length: (ushort)(28 + quotedLen), IcmpType: type, IcmpCode: code);
            throw Answer(disposition, where, reason, icmp, p, attach);
        }

        Stop Answer(HostDisposition disposition, string where, string reason, Packet reply, Packet? quotes, ConntrackResult? attach)
        {
            HostWalkOutcome? walk = null;
            if (depth < 2)
            {
                var sub = new Run(rt, chooser, sampleRandom, natRandom, record, depth + 1);
                walk = sub.Start(reply, new HostPacketOrigin.Local { IcmpStack = reply.Protocol == IpProtocol.Icmp }, attach, quotes);
                probability *= sub.probability;
                if (!walk.Uncertain.IsDefaultOrEmpty) uncertain = uncertain.AddRange(walk.Uncertain);
                Step(HostStepKind.Reply, where, $"answer {reply}" + (quotes is null ? "" : $" quoting [{quotes}]") + $": {HostWalkOutcome.DispositionName(walk.Disposition)} ({walk.Reason})");
                if (steps is not null)
                    foreach (var s in walk.Steps) steps.Add(s with { Text = "  " + s.Text });
            }
            return new Stop(disposition, where, reason) { Reply = reply, Quotes = walk?.Quoted ?? quotes, ReplyWalk = walk };
        }

        // ---- helpers ----

        RouteResult? Lookup(Ip4 dst, Ip4 src, uint mark, string? iif)
        {
            var r = host.Lookup(dst, src, mark, iif, sampleRandom);
            if (r is null || sampleRandom is not null || r.Choices.IsDefaultOrEmpty || r.Choices.Length < 2) return r;
            int i = chooser!.Choose(r.Choices.Length);
            probability *= r.Choices[i].Probability;
            return r with { Nexthop = r.Choices[i].Nexthop };
        }

        void Drop(string where, string reason)
        {
            Step(HostStepKind.Check, where, "dropped: " + reason);
            throw new Stop(HostDisposition.Drop, where, reason);
        }

        /// <summary>A route as `ip route` shows it, written once per route: routes are immutable and every packet a node
        /// forwards quotes one of its few.</summary>
        static string RouteText(RouteResult r) => routeTexts.GetValue(r.Route, static route => route.ToString());

        static readonly ConditionalWeakTable<Route, string> routeTexts = new();

        void Uncertain(string where, string reason) => uncertain = uncertain.Add($"{where}: {reason}");

        void Step(HostStepKind kind, string hook, string text, Packet? before = null, Packet? after = null) =>
            steps?.Add(new HostStep(kind, hook, text, null, before, after));

        /// <summary>The same for a text with holes: it is written only when this walk records its steps, and for the
        /// kinds a cluster trace shows as notes, as the whole `hook: text` line at once (see <see cref="StepText"/>).</summary>
        void Step(HostStepKind kind, string hook, [InterpolatedStringHandlerArgument("", "kind", "hook")] ref StepText text, Packet? before = null, Packet? after = null)
        {
            if (steps is null) return;
            steps.Add(text.WithHook
                ? new HostStep(kind, hook, text.ToStringAndClear(), before, after, lineWithHook: true)
                : new HostStep(kind, hook, text.ToStringAndClear(), null, before, after));
        }

        public bool Recording => steps is not null;

        /// <summary>Set on a walk run for a public method: what its outcome says about how it was made.</summary>
        public HostWalkRequest? Request { get; init; }
        public bool Explaining { get; init; }
        public bool Committing { get; init; }
        public ImmutableArray<int> CommittedChoices { get; init; }

        // The outcome is made once, with everything the walk and its caller know (no copies with `with`).
        HostWalkOutcome Finish(HostDisposition d, string where, string reason, string? outInterface = null, Ip4? nexthop = null,
            string? outBridgePort = null, bool bridged = false, Packet? reply = null, Packet? replyQuotes = null, HostWalkOutcome? replyWalk = null) => new()
        {
            OutInterface = outInterface,
            Nexthop = nexthop,
            OutBridgePort = outBridgePort,
            Bridged = bridged,
            Reply = reply,
            ReplyQuotes = replyQuotes,
            ReplyWalk = replyWalk,
            Committed = Committing,
            Request = Request,
            Choices = Explaining ? [.. chooser!.Taken] : CommittedChoices.IsDefault ? [] : CommittedChoices,
            TableChoices = Explaining ? [.. chooser!.Tables] : default,
            Probability = probability,
            Disposition = d,
            Where = where,
            Reason = reason,
            PacketBefore = before,
            PacketAfter = p,
            Quoted = q,
            InInterface = inIface,
            Steps = steps is null ? [] : [.. steps],
            Uncertain = uncertain,
            Conntrack = ct?.Entry?.Clone(),
            ConntrackCreated = ctCreated,
            RandomPorts = ports is null ? [] : [.. ports],
        };
    }
}
