using System.Collections.Immutable;
using System.Runtime.CompilerServices;
using PacketLife.Core.Azure.DataPlane;
using PacketLife.Core.Cluster;
using PacketLife.Core.Conntrack;
using PacketLife.Core.Diagnostics;
using PacketLife.Core.Net;
using PacketLife.Core.Topology;

namespace PacketLife.Core.Tracing.Cluster;

/// <summary>Where a traced packet starts.</summary>
public abstract record TraceSource(string Label)
{
    public sealed record Internet(Ip4 Client) : TraceSource("internet " + Client);
    /// <summary>The LB's health probe from 168.63.129.16 to every node of the pool.</summary>
    public sealed record Probe() : TraceSource("probe 168.63.129.16");
    public sealed record FromPod(TopologyPod Pod) : TraceSource("pod " + Pod.Key + " (" + Pod.Ip + ")");
    public sealed record FromNode(TopologyNode Node) : TraceSource("node " + Node.Name + " (" + Node.Ip + ")");
}

/// <summary>What a traced packet is sent to: an address and port, with the object it came from.</summary>
/// <param name="ProbeTarget">For the probe source: trace the probe of this LB rule (to each pool node).</param>
public sealed record TraceTarget(Ip4 Address, ushort Port, string Label, Service? Service = null, Azure.LoadBalancingRule? ProbeTarget = null);

/// <summary>Follows packets through the whole cluster (issue 5): internet → Azure LB → node (netfilter, conntrack,
/// routing) → VNet (kubenet routes) → node → cbr0 → pod, then the answer back to the client. Explain mode
/// enumerates every path with its exact probability (LB backend × `statistic` branches); sample mode follows one
/// (LB flow hash, seeded random) and, when stateful, leaves its conntrack entries on the nodes.</summary>
public sealed partial class ClusterTracer
{
    const int MaxHops = 32;
    // Steady-state probe results, written by parallel probe workers and read on every LB decision.
    // Each probe result: the chance one probe succeeds, and why it is not known when a path meets an unmodelled rule.
    readonly System.Collections.Concurrent.ConcurrentDictionary<(string Probe, string Node), (double Ok, string? Uncertain)> _probeSuccess = new();
    readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> _prefetched = new(StringComparer.Ordinal);
    readonly Dictionary<string, NodeRuntime> _scratch = new(StringComparer.Ordinal);
    readonly Dictionary<string, NodeRuntime> _live = new(StringComparer.Ordinal);

    public ClusterTracer(ClusterTopology topology)
    {
        Topology = topology;
        LoadBalancer = new LoadBalancerDataPlane(topology);
    }

    public ClusterTopology Topology { get; }
    public LoadBalancerDataPlane LoadBalancer { get; }

    /// <summary>Explain runs start from copies of each node's conntrack entries instead of empty tables (a packet of a
    /// known flow follows its entry, as the kernel does; the nodes' tables are still left alone).</summary>
    public bool StartFromLiveConntrack { get; set; }

    /// <summary>The work-saving paths of explain mode (the LB decision planned once per explain, one walk instead of
    /// explain + commit where a fresh node does not fork, light health-probe runs). Off: every walk is done the plain
    /// way; tests compare both on whole clusters, which must give the same traces.</summary>
    internal bool Shortcuts { get; init; } = true;

    /// <summary>Threads for an explain's independent parts (each LB backend's subtree of paths, each node's health
    /// probe). Used only with <see cref="Shortcuts"/> and when every node's rules are
    /// <see cref="NodeRules.Stateless"/>: each thread walks its own copies of the nodes, and with no rule state a walk
    /// depends only on its packet and its run's conntrack table, so the paths, their order and every byte of the
    /// text are what one thread gives (tests compare both).</summary>
    internal int Parallelism { get; init; } = Environment.ProcessorCount;

    bool? _parallelOk;

    bool ParallelOk => Shortcuts && Parallelism > 1 && (_parallelOk ??= Topology.Nodes.All(n => n.Rules.Stateless));

    /// <summary>Every path the packet can take, each with its probability; state is left alone.</summary>
    public ClusterTrace Explain(TraceSource from, TraceTarget to, IpProtocol proto, ushort sourcePort = 0, ulong seed = 1)
    {
        if (from is TraceSource.Probe && to.ProbeTarget is { } rule) return ExplainProbe(rule, seed);
        var packet = Initial(from, to, proto, sourcePort, seed);
        _lbPlans = Shortcuts ? new() : null;
        try
        {
            var runs = from is TraceSource.Internet && ParallelOk
                ? ReplayChooser.EnumerateSplit((ch, scratch) => Run(from, packet, ch, new RunState(this, false, seed, scratch)), Parallelism,
                    () => new Dictionary<string, NodeRuntime>(StringComparer.Ordinal), DropFreshOutcomes)
                : ReplayChooser.Enumerate(ch => Run(from, packet, ch, stateful: false, seed));
            var paths = runs.Select(r => r.Result with { Probability = r.Probability }).ToImmutableArray();
            return new ClusterTrace(from.Label, to.Label, packet, paths);
        }
        finally
        {
            _lbPlans = null;
        }
    }

    /// <summary>One path: the LB's flow hash and a seeded draw at `statistic` rules. Stateful: the nodes' own
    /// conntrack tables are used and keep the entries.</summary>
    public ClusterTrace Sample(TraceSource from, TraceTarget to, IpProtocol proto, ulong seed, bool stateful = false, ushort sourcePort = 0)
    {
        var packet = Initial(from, to, proto, sourcePort, seed);
        var chooser = new SampleChooser(new Random(unchecked((int)seed)));
        var path = Run(from, packet, chooser, stateful, seed);
        return new ClusterTrace(from.Label, to.Label, packet, [path]);
    }

    /// <summary>The probe of one LB rule's probe to every node of its pool: one path per node (each node is probed
    /// on its own, every IntervalInSeconds), probability 1 each.</summary>
    ClusterTrace ExplainProbe(Azure.LoadBalancingRule rule, ulong seed)
    {
        var probe = LoadBalancer.ProbeOf(rule);
        var paths = ImmutableArray.CreateBuilder<TracePath>();
        Packet? first = null;
        foreach (var node in LoadBalancer.Pool(rule))
        {
            var p = new Packet(IpProtocol.Tcp, ClusterTopology.ProbeSource, EphemeralPort(seed ^ (ulong)node.Ip.Value), node.Ip, (ushort)(probe?.Port ?? 0));
            first ??= p;
            foreach (var r in ReplayChooser.Enumerate(ch => Run(new TraceSource.Probe(), p, ch, false, seed)))
                paths.Add(r.Result with { Probability = r.Probability });
        }
        return new ClusterTrace("probe 168.63.129.16", $"probe {probe?.Name} ({probe?.Protocol} port {probe?.Port}) to every node of pool {rule.BackendAddressPoolName}",
            first ?? new Packet(IpProtocol.Tcp, ClusterTopology.ProbeSource, 0, Ip4.Any, 0), paths.ToImmutable());
    }

    public static ushort EphemeralPort(ulong seed)
    {
        // Linux's default ip_local_port_range is 32768-60999.
        var x = seed * 0x9E3779B97F4A7C15UL;
        x ^= x >> 29;
        return (ushort)(32768 + (int)(x % (60999 - 32768 + 1)));
    }

    Packet Initial(TraceSource from, TraceTarget to, IpProtocol proto, ushort sourcePort, ulong seed)
    {
        var sport = sourcePort != 0 ? sourcePort : EphemeralPort(seed);
        Ip4 src = from switch
        {
            TraceSource.Internet i => i.Client,
            TraceSource.Probe => ClusterTopology.ProbeSource,
            TraceSource.FromPod p => p.Pod.Ip,
            TraceSource.FromNode n => n.Node.Host.Lookup(to.Address) is { } r && n.Node.Host.SelectSource(r, to.Address) is { } s ? s : n.Node.Ip,
            _ => Ip4.Any,
        };
        return new Packet(proto, src, sport, to.Address, to.Port, proto == IpProtocol.Tcp ? TcpFlags.Syn : TcpFlags.None);
    }

    // ---------------------------------------------------------------------------------------------------------
    // One run: forward until a socket answers or the packet dies, then the answer back to the client.

    internal sealed class RunState(ClusterTracer tracer, bool stateful, ulong seed, Dictionary<string, NodeRuntime>? scratch = null)
    {
        /// <summary>This run's copies of the nodes for explain mode (the tracer's own, or a parallel worker's).</summary>
        readonly Dictionary<string, NodeRuntime> _scratch = scratch ?? tracer._scratch;
        readonly Dictionary<string, NodeRuntime> _nodes = new(StringComparer.Ordinal);
        public List<Explanation> Explanations { get; } = [];
        public bool Masqueraded { get; set; }
        public string? MasqueradeRule { get; set; }
        public Ip4 MasqueradeAddress { get; set; }
        /// <summary>Where the answering socket's packets start (the pod's veth on cbr0, or the node's OUTPUT).</summary>
        public Loc? Responder { get; set; }
        /// <summary>The first packet as the answering socket received it.</summary>
        public Packet? Received { get; set; }
        public bool Listening { get; set; }
        /// <summary>The Service whose LB rule carried the packet (`namespace/name`).</summary>
        public string? LbService { get; set; }

        /// <summary>Only the disposition is wanted (a health probe's steady state): no hops, steps or explanations are
        /// built, walks after a fork are not committed, and unforked walks record no steps. Exact as long as the run
        /// visits each node once (an uncommitted node has no entry for a packet that comes back): a second visit
        /// throws <see cref="LightRunRevisit"/> and the caller runs it in full.</summary>
        public bool Light { get; init; }
        public HashSet<string>? Visited { get; set; }
        /// <summary>Node walks so far in this run.</summary>
        public int NodeWalks { get; set; }

        public NodeRuntime Node(TopologyNode n)
        {
            if (!_nodes.TryGetValue(n.Name, out var rt))
            {
                var randomSeed = unchecked((int)(seed * 0x9E3779B97F4A7C15UL >> 32) ^ (int)n.Ip.Value);
                if (stateful)
                {
                    rt = tracer._live.TryGetValue(n.Name, out var live) ? live : tracer._live[n.Name] = new NodeRuntime(n, n.Conntrack);
                }
                else
                {
                    // Explain runs reuse one scratch runtime per node (building one scans the rules), emptied per run.
                    if (!_scratch.TryGetValue(n.Name, out rt))
                        _scratch[n.Name] = rt = new NodeRuntime(n, new ConntrackTable(tracer.Topology.Clock, n.Conntrack.Settings)) { Shortcuts = tracer.Shortcuts };
                    rt.Table.Flush();
                    // Each path starts from the same rule state too: a `recent --set` (ClientIP affinity), an nth
                    // counter or a limit bucket that one path's commit moved must not steer the next path.
                    rt.Runtime.State.ResetRuleState();
                    // A trace "against the live state" starts from copies of the node's entries (stale ones included).
                    if (tracer.StartFromLiveConntrack)
                        foreach (var e in n.Conntrack.List()) rt.Table.TryLoad(e.Clone());
                }
                rt.Reseed(randomSeed);
                _nodes[n.Name] = rt;
            }
            return rt;
        }

        public void Explain(Explanation e)
        {
            e = Shared(e);
            if (!Explanations.Contains(e)) Explanations.Add(e);
        }

        /// <summary>One object per distinct explanation (per thread): most paths of an explain give the same few, and
        /// only the first of each then outlives its path.</summary>
        static Explanation Shared(Explanation e)
        {
            var cache = explanations ??= [];
            if (cache.TryGetValue(e, out var shared)) return shared;
            if (cache.Count >= 1 << 14) cache.Clear();
            cache.Add(e);
            return e;
        }

        [ThreadStatic] static HashSet<Explanation>? explanations;
    }

    internal abstract record Loc;
    sealed record AtLb : Loc;
    sealed record AtNode(TopologyNode Node, string? InIf, string? PhysIn) : Loc;
    sealed record AtPod(TopologyPod Pod) : Loc;
    sealed record AtNodeSocket(TopologyNode Node) : Loc;
    sealed record AtInternet : Loc;

    /// <summary>The end of one direction: where it stopped, the packet there, why.</summary>
    sealed record Leg(ImmutableArray<TraceHop> Hops, Loc? Reached, Packet Packet, TraceDisposition? Failed, string Detail, string? Rule);

    TracePath Run(TraceSource from, Packet packet, IBranchChooser chooser, bool stateful, ulong seed) =>
        Run(from, packet, chooser, new RunState(this, stateful, seed));

    Loc StartOf(TraceSource from, Packet packet) => from switch
    {
        TraceSource.Internet => new AtLb(),
        TraceSource.Probe => Topology.NodeByIp(packet.Dst) is { } pn ? new AtNode(pn, "eth0", null) : new AtInternet(),
        TraceSource.FromPod p => new AtNode(Topology.NodeByName(p.Pod.NodeName)!, "cbr0", p.Pod.Veth),
        TraceSource.FromNode n => new AtNode(n.Node, null, null),
        _ => throw new ArgumentOutOfRangeException(nameof(from)),
    };

    TracePath Run(TraceSource from, Packet packet, IBranchChooser chooser, RunState st, bool forwardOnly = false)
    {
        Loc start = from switch
        {
            TraceSource.Internet => new AtLb(),
            TraceSource.Probe => Topology.NodeByIp(packet.Dst) is { } pn ? new AtNode(pn, "eth0", null) : new AtInternet(),
            TraceSource.FromPod p => new AtNode(Topology.NodeByName(p.Pod.NodeName)!, "cbr0", p.Pod.Veth),
            TraceSource.FromNode n => new AtNode(n.Node, null, null),
            _ => throw new ArgumentOutOfRangeException(nameof(from)),
        };
        if (from is TraceSource.Internet && Topology.FrontendByIp(packet.Dst) is null)
        {
            return new TracePath(1, [new TraceHop("internet", null, null, packet, packet, [new NoteStep($"{packet.Dst} is not a public IP of this cluster's load balancer: Azure has nothing to deliver it to")])],
                [], TraceDisposition.Dropped, "not reachable from the internet", null, false, []);
        }
        var fwd = Walk(start, packet, chooser, st, from, isReply: false);
        if (fwd.Failed is { } failed)
            return Finish(st, fwd, [], failed, fwd.Detail, null);

        // A socket got the packet: the responder answers.
        var got = fwd.Packet;
        string answeredBy;
        bool listening;
        Loc replyStart;
        switch (fwd.Reached)
        {
            case AtPod ap:
                answeredBy = $"pod {ap.Pod.Key} ({ap.Pod.Ip}) on {ap.Pod.NodeName}";
                if (from is TraceSource.Internet && !st.Masqueraded && got.Src == packet.Src && st.LbService is { } lbSvc)
                {
                    var local = Topology.State.Services.Any(s => s.Metadata.Namespace + "/" + s.Metadata.Name == lbSvc && s.Spec.ExternalTrafficPolicy == TrafficPolicy.Local);
                    st.Explain(new Explanation(TraceMessages.SourceIpKept,
                        local ? TraceMessages.SourceIpKeptText(lbSvc) : TraceMessages.SourceIpKeptUnmasqueradedText(lbSvc), null, "service/" + lbSvc));
                }
                listening = ap.Pod.Listens(got.Protocol, got.DstPort);
                replyStart = new AtNode(Topology.NodeByName(ap.Pod.NodeName)!, "cbr0", ap.Pod.Veth);
                if (!listening) st.Explain(new Explanation(TraceMessages.NotListening, TraceMessages.NotListeningText("pod " + ap.Pod.Key, $"{got.DstPort}/{Protocols(got.Protocol)}"), null, "pod/" + ap.Pod.Key));
                break;
            case AtNodeSocket ns:
                var l = ns.Node.Listeners.FirstOrDefault(x => x.Protocol == got.Protocol && x.Port == got.DstPort);
                listening = l != default;
                answeredBy = listening ? $"{l.Owner} on node {ns.Node.Name}" : $"node {ns.Node.Name}";
                replyStart = new AtNode(ns.Node, null, null);
                if (!listening) st.Explain(new Explanation(TraceMessages.NotListening, TraceMessages.NotListeningText("node " + ns.Node.Name, $"{got.DstPort}/{Protocols(got.Protocol)}"), null, "node/" + ns.Node.Name));
                if (listening && l.Owner.StartsWith("kube-proxy healthz ", StringComparison.Ordinal))
                {
                    var status = HealthzStatus(ns.Node, got.DstPort);
                    var svcKey = l.Owner["kube-proxy healthz ".Length..];
                    answeredBy += status == 200 ? " (HTTP 200: a local endpoint is ready)" : " (HTTP 503: no local endpoint)";
                    if (status != 200)
                        st.Explain(new Explanation(TraceMessages.EtpLocalNoEndpoint, TraceMessages.EtpLocalNoEndpointText(svcKey, ns.Node.Name), null, "service/" + svcKey));
                }
                break;
            default:
                return Finish(st, fwd, [], TraceDisposition.Dropped, "left the cluster", null);
        }
        if (forwardOnly)
            return Finish(st, fwd, [], listening ? TraceDisposition.Answered : TraceDisposition.Refused, listening ? "reached a listening socket" : "nobody listens", answeredBy);
        if (got.Protocol == IpProtocol.Udp && !listening)
            return Finish(st, fwd, [], TraceDisposition.Refused, answeredBy + " answers ICMP port unreachable (nobody listens)", answeredBy);
        var reply = new Packet(got.Protocol, got.Dst, got.DstPort, got.Src, got.SrcPort,
            got.Protocol == IpProtocol.Tcp ? (listening ? TcpFlags.Syn | TcpFlags.Ack : TcpFlags.Rst | TcpFlags.Ack) : TcpFlags.None);
        st.Responder = replyStart;
        st.Received = got;
        st.Listening = listening;
        var back = Walk(replyStart, reply, chooser, st, from, isReply: true);
        if (back.Failed is { } bf) return Finish(st, fwd, back.Hops, bf == TraceDisposition.Dropped ? TraceDisposition.ReplyLost : bf, "reply: " + back.Detail, answeredBy);
        // The client's socket matches the answer against what it sent.
        var expected = $"{packet.Dst}:{packet.DstPort}";
        var came = $"{back.Packet.Src}:{back.Packet.SrcPort}";
        if (back.Packet.Dst != packet.Src || back.Packet.DstPort != packet.SrcPort || came != expected)
        {
            st.Explain(new Explanation(TraceMessages.AsymmetricReturn, TraceMessages.AsymmetricText(expected, came)));
            return Finish(st, fwd, back.Hops, TraceDisposition.ReplyLost, $"the client got an answer from {came}, not {expected}", answeredBy);
        }
        return Finish(st, fwd, back.Hops, listening ? TraceDisposition.Answered : TraceDisposition.Refused,
            listening ? $"{answeredBy} answered; the reply reached the client as {back.Packet}" : $"{answeredBy} answered RST (connection refused)", answeredBy);
    }

    TracePath Finish(RunState st, Leg fwd, ImmutableArray<TraceHop> back, TraceDisposition d, string detail, string? answeredBy)
    {
        return new TracePath(1, fwd.Hops, back, d, detail, answeredBy, st.Masqueraded, [.. st.Explanations]);
    }

    static string Protocols(IpProtocol p) => p == IpProtocol.Udp ? "udp" : "tcp";

    Leg Walk(Loc loc, Packet p, IBranchChooser chooser, RunState st, TraceSource from, bool isReply)
    {
        var hops = ImmutableArray.CreateBuilder<TraceHop>();
        for (int i = 0; i < MaxHops; i++)
        {
            switch (loc)
            {
                case AtLb:
                {
                    var (node, hop, fail, unknown) = LbHop(p, chooser, st);
                    hops.Add(hop);
                    if (node is null) return new Leg(hops.ToImmutable(), null, p, unknown ? TraceDisposition.Uncertain : TraceDisposition.Dropped, fail!, null);
                    loc = new AtNode(node, "eth0", null);
                    continue;
                }
                case AtInternet:
                {
                    // Leaving the VNet: an answer whose source is an LB frontend goes back through the LB's flow (floating IP).
                    var fe = Topology.FrontendByIp(p.Src);
                    hops.Add(new TraceHop("azure-lb", null, "internet", p, p, [new NoteStep(fe is not null
                        ? $"the answer of a floating-IP flow leaves through the LB with source {p.Src} (frontend {fe.Name}) unchanged"
                        : $"leaves the VNet to {p.Dst} through the outbound rule (SNAT to the outbound public IP)")]));
                    return new Leg(hops.ToImmutable(), loc, p, null, "reached the internet", null);
                }
                case AtPod ap:
                    if (!st.Light) hops.Add(new TraceHop("pod/" + ap.Pod.Key, "eth0", null, p, p, [new NoteStep($"delivered into pod {ap.Pod.Key} ({ap.Pod.Ip}) through {ap.Pod.Veth}")]));
                    return new Leg(hops.ToImmutable(), loc, p, null, "delivered", null);
                case AtNodeSocket ns:
                    return new Leg(hops.ToImmutable(), loc, p, null, "delivered", null);
                case AtNode an:
                {
                    var rt = st.Node(an.Node);
                    var before = p;
                    WalkResult r;
                    if (st.Light)
                    {
                        if (!(st.Visited ??= new(StringComparer.Ordinal)).Add(an.Node.Name)) throw new LightRunRevisit();
                        r = NodeWalk.WalkLight(rt, p, an.InIf, an.PhysIn, chooser, st.NodeWalks++ == 0);
                    }
                    else r = NodeWalk.Walk(rt, p, an.InIf, an.PhysIn, chooser, st.NodeWalks++ == 0);
                    p = r.Packet;
                    if (!st.Light) hops.Add(new TraceHop(an.Node.Name, an.InIf is null ? "(local)" : an.PhysIn is null ? an.InIf : NodeWalk.Shared($"{an.InIf} (from {an.PhysIn})"),
                        r.OutInterface is null ? null : r.PhysOut is null ? r.OutInterface : NodeWalk.Shared($"{r.OutInterface} (to {r.PhysOut})"), before, p, r.Steps));
                    if (r.Masqueraded && !isReply && !st.Light)
                    {
                        st.Masqueraded = true;
                        st.MasqueradeAddress = p.Src;
                        ExplainMasquerade(st, r, an.Node, p, from);
                    }
                    if (!isReply && !st.Light) ExplainHairpin(st, from, p, r);
                    switch (r.End)
                    {
                        case WalkEnd.Dropped:
                            ExplainDrop(st, r, an.Node);
                            return new Leg(hops.ToImmutable(), null, p, TraceDisposition.Dropped, $"{r.Detail} on {an.Node.Name}", r.DropRule);
                        case WalkEnd.Rejected:
                            ExplainDrop(st, r, an.Node);
                            return new Leg(hops.ToImmutable(), null, p, TraceDisposition.Rejected, $"{r.Detail} on {an.Node.Name}", r.DropRule);
                        case WalkEnd.Uncertain:
                            return new Leg(hops.ToImmutable(), null, p, TraceDisposition.Uncertain, r.Detail, r.DropRule);
                        case WalkEnd.Local:
                            if (isReply && from is TraceSource.FromNode fnode && fnode.Node == an.Node) return new Leg(hops.ToImmutable(), new AtNodeSocket(an.Node), p, null, "delivered", null);
                            loc = new AtNodeSocket(an.Node);
                            continue;
                    }
                    if (r.OutInterface == "cbr0")
                    {
                        // Routed out cbr0 the frame goes to the bridge port whose FDB entry has the address (the pod's veth).
                        TopologyPod? pod = null;
                        foreach (var x in an.Node.Pods)
                            if (r.PhysOut is not null ? x.Veth == r.PhysOut : x.Ip == p.Dst) { pod = x; break; }
                        if (pod is null)
                        {
                            ExplainStale(st, r, an.Node, p);
                            return new Leg(hops.ToImmutable(), null, p, TraceDisposition.Dropped, $"no pod has {p.Dst} on {an.Node.Name}'s cbr0: ARP gets no answer", null);
                        }
                        loc = new AtPod(pod);
                        continue;
                    }
                    var next = Vnet(p, r.NextHop, st.Light ? null : hops);
                    if (next is null)
                    {
                        ExplainStale(st, r, an.Node, p);
                        return new Leg(hops.ToImmutable(), null, p, TraceDisposition.Dropped, $"nothing in the VNet has {p.Dst}: Azure drops it", null);
                    }
                    loc = next;
                    continue;
                }
            }
        }
        return new Leg(hops.ToImmutable(), null, p, TraceDisposition.Dropped, "loop: more than " + MaxHops + " hops", null);
    }

    /// <summary>The VNet's forwarding of a packet a node sent out eth0: to a node IP, to a pod CIDR (the kubenet route
    /// table's next hop, the node), or out of the VNet.</summary>
    /// <summary>A packet of a known flow (no entry created here) sent to a pod address nobody has: the entry is stale.</summary>
    void ExplainStale(RunState st, WalkResult r, TopologyNode node, Packet p)
    {
        if (st.Light) return;
        if (r.Entry is not { } stale || r.Steps.OfType<ConntrackStep>().Any(c => c.Created) || !Topology.PodCidr.Contains(p.Dst) || Topology.PodByIp(p.Dst) is not null) return;
        var line = PacketLife.Core.Conntrack.Text.ConntrackText.Write(PacketLife.Core.Conntrack.Text.ConntrackLine.FromEntry(stale, Topology.Clock.GetUtcNow()));
        st.Explain(new Explanation(TraceMessages.StaleConntrack, TraceMessages.StaleConntrackText(line, p.Dst.ToString()), null, "node/" + node.Name));
    }

    Loc? Vnet(Packet p, Ip4 nextHop, ImmutableArray<TraceHop>.Builder? hops)
    {
        if (Topology.NodeByIp(p.Dst) is { } n)
        {
            hops?.Add(new TraceHop("vnet", null, null, p, p, [new NoteStep($"{p.Dst} is node {n.Name}'s NIC in subnet {Topology.VnetSubnet}")]));
            return new AtNode(n, "eth0", null);
        }
        if (Topology.RouteFor(p.Dst) is { } route && Topology.NodeByName(route.Node) is { } rn)
        {
            hops?.Add(new TraceHop("vnet", null, null, p, p,
                [new RouteStep("kubenet route table", $"{route.AddressPrefix} nextHopType VirtualAppliance nextHopIpAddress {route.NextHopIpAddress}", "eth0 of " + rn.Name, route.NextHopIpAddress.ToString(),
                    $"route {route.Name} of the AKS route table sends the node's pod CIDR to the node (kubenet)")]));
            return new AtNode(rn, "eth0", null);
        }
        if (Topology.PodCidr.Contains(p.Dst) || Topology.VnetSubnet.Contains(p.Dst))
        {
            hops?.Add(new TraceHop("vnet", null, null, p, p, [new NoteStep($"nothing in the VNet has {p.Dst}: Azure drops it")]));
            return null;
        }
        return new AtInternet();
    }

    /// <summary>What the LB decides for a packet before it picks the backend: the rule, the probe, the healthy backends
    /// and the flow hash. The same in every run of one explain (health changes only between calls), so an explain over
    /// a 500-node pool computes it once instead of once per path.</summary>
    sealed record LbPlan(Azure.LoadBalancingRule? Rule, LbFrontend? Frontend, IReadOnlyList<Azure.LoadBalancingRule> OnFrontend, Azure.HealthProbe? Probe,
        ImmutableArray<TopologyNode> Down, ImmutableArray<TopologyNode> Healthy, double[] Probabilities, uint Hash);

    /// <summary>LB plans of the explain in progress (null outside <see cref="Explain"/>).</summary>
    Dictionary<Packet, LbPlan>? _lbPlans;

    /// <summary>The pool's healthy and down backends per rule, with the LB health version they were read at (steady-state
    /// probe results never change; recorded health does, and bumps the version).</summary>
    readonly Dictionary<Azure.LoadBalancingRule, (long Version, ImmutableArray<TopologyNode> Down, ImmutableArray<TopologyNode> Healthy, double[] Probabilities)> _poolViews
        = new(ReferenceEqualityComparer.Instance);

    (ImmutableArray<TopologyNode> Down, ImmutableArray<TopologyNode> Healthy, double[] Probabilities) PoolView(Azure.LoadBalancingRule rule, Azure.HealthProbe? probe)
    {
        if (Shortcuts)
            lock (_poolViews)
                if (_poolViews.TryGetValue(rule, out var v) && v.Version == LoadBalancer.HealthVersion) return (v.Down, v.Healthy, v.Probabilities);
        if (probe is not null) PrefetchProbes(probe, LoadBalancer.Pool(rule));
        var version = LoadBalancer.HealthVersion;
        var healthy = ImmutableArray.CreateBuilder<TopologyNode>();
        var down = ImmutableArray.CreateBuilder<TopologyNode>();
        foreach (var n in LoadBalancer.Pool(rule))
            (probe is null || IsUp(probe, n) ? healthy : down).Add(n);
        var probabilities = new double[healthy.Count];
        Array.Fill(probabilities, 1.0 / healthy.Count);
        var view = (version, down.ToImmutable(), healthy.ToImmutable(), probabilities);
        lock (_poolViews) _poolViews[rule] = view;
        return (view.Item2, view.Item3, view.probabilities);
    }

    LbPlan PlanLb(Packet p)
    {
        if (_lbPlans is not null)
            lock (_lbPlans)
                if (_lbPlans.TryGetValue(p, out var cached)) return cached;
        var rule = LoadBalancer.MatchRule(p, out var fe, out var onFrontend);
        LbPlan plan;
        if (rule is null) plan = new LbPlan(null, fe, onFrontend, null, [], [], [], 0);
        else
        {
            var probe = LoadBalancer.ProbeOf(rule);
            var (down, healthy, probabilities) = PoolView(rule, probe);
            plan = new LbPlan(rule, fe, onFrontend, probe, down, healthy, probabilities,
                FlowHash.Hash(rule.LoadDistribution, p.Protocol, p.Src, p.SrcPort, p.Dst, p.DstPort));
        }
        if (_lbPlans is not null) lock (_lbPlans) _lbPlans[p] = plan;
        return plan;
    }

    (TopologyNode? Node, TraceHop Hop, string? Fail, bool Unknown) LbHop(Packet p, IBranchChooser chooser, RunState st)
    {
        var plan = PlanLb(p);
        var (rule, fe) = (plan.Rule, plan.Frontend);
        if (rule is null)
        {
            var onFrontend = plan.OnFrontend;
            var text = TraceMessages.NoLbRuleText(fe?.Name ?? p.Dst.ToString(), $"{p.DstPort}/{Protocols(p.Protocol)}", onFrontend.Count == 0 ? "none" : string.Join(", ", onFrontend.Select(r => r.Name)));
            st.Explain(new Explanation(TraceMessages.NoLbRule, text));
            return (null, new TraceHop("azure-lb", "frontend " + fe?.Name, null, p, p, [new LoadBalancerStep("(none)", fe?.Name ?? "", null, text)]), "no LB rule for " + p.Dst + ":" + p.DstPort, false);
        }
        var probe = plan.Probe;
        var steps = ImmutableArray.CreateBuilder<TraceStep>();
        var healthy = plan.Healthy;
        foreach (var n in plan.Down)
        {
            // A probe whose path meets a rule the engine does not model: the LB's pool, and so its choice, is unknown.
            if (probe is not null && !LoadBalancer.HasHealth(probe.Name, n.Name) && ProbeUncertainty(probe, n) is { } why)
            {
                steps.Add(new NoteStep($"backend {n.Name}: health unknown: probe {probe.Name} ({probe.Protocol} :{probe.Port}) {why}"));
                return (null, new TraceHop("azure-lb", "frontend " + fe!.Name, null, p, p, steps.ToImmutable()),
                    $"the LB's choice is not known: the health of backend {n.Name} is uncertain ({why})", true);
            }
            steps.Add(new NoteStep($"backend {n.Name} is down: probe {probe!.Name} ({probe.Protocol} :{probe.Port}) fails"));
            st.Explain(new Explanation(TraceMessages.NodeOutOfRotation, TraceMessages.NodeOutOfRotationText(n.Name, probe.Name, probe.IntervalInSeconds, probe.ProbeThreshold), null, "service/" + rule.Service));
        }
        if (healthy.Length == 0)
        {
            steps.Add(new LoadBalancerStep(rule.Name, fe!.Name, null, "no healthy backend: Azure drops new flows"));
            return (null, new TraceHop("azure-lb", "frontend " + fe.Name, null, p, p, steps.ToImmutable()), "the LB has no healthy backend for rule " + rule.Name, false);
        }
        var hash = plan.Hash;
        var pick = chooser.Choose(plan.Probabilities, FlowHash.Pick(hash, healthy.Length));
        var node = healthy[pick];
        var after = rule.EnableFloatingIP ? p : p with { Dst = node.Ip, DstPort = (ushort)rule.BackendPort };
        steps.Add(new LoadBalancerStep(rule.Name, fe!.Name, node.Name,
            $"{(rule.LoadDistribution == "Default" ? "5-tuple" : rule.LoadDistribution)} hash {hash:x8} over {healthy.Length} healthy backend(s) → {node.Name} ({node.Ip}); " +
            (rule.EnableFloatingIP ? $"floating IP: destination stays {p.Dst}:{p.DstPort}" : $"destination rewritten to {node.Ip}:{rule.BackendPort}") +
            $"; idle timeout {rule.IdleTimeoutInMinutes} min" + (rule.EnableTcpReset ? " with TCP reset to both ends" : "")));
        st.LbService = rule.Service;
        if (rule.EnableFloatingIP) st.Explain(new Explanation(TraceMessages.FloatingIp, TraceMessages.FloatingIpText(p.Dst.ToString(), rule.Name), null, "service/" + rule.Service));
        st.Explain(new Explanation(TraceMessages.LbHash, TraceMessages.LbHashText(healthy.Length), null, "service/" + rule.Service));
        return (node, new TraceHop("azure-lb", "frontend " + fe.Name, "backend " + node.Name, p, after, steps.ToImmutable()), null, false);
    }

    /// <summary>Each node's steady-state probe result, computed on <see cref="Parallelism"/> threads (each with its own
    /// copies of the nodes) for the nodes the timeline has not probed; the results do not depend on the split.</summary>
    void PrefetchProbes(Azure.HealthProbe probe, IReadOnlyList<TopologyNode> pool)
    {
        // Once per probe and tracer: steady-state results never change (the timeline's recorded health is read apart).
        if (!ParallelOk || !_prefetched.TryAdd(probe.Name, true)) return;
        var todo = new List<TopologyNode>();
        foreach (var n in pool)
            if (!LoadBalancer.HasHealth(probe.Name, n.Name) && !_probeSuccess.ContainsKey((probe.Name, n.Name))) todo.Add(n);
        if (todo.Count < 2) return;
        Parallel.For(0, todo.Count, new ParallelOptions { MaxDegreeOfParallelism = Parallelism },
            () => new Dictionary<string, NodeRuntime>(StringComparer.Ordinal),
            (i, _, scratch) => { ProbeSuccess(probe, todo[i], scratch); DropFreshOutcomes(scratch); return scratch; },
            _ => { });
    }

    /// <summary>A subtree of paths (one LB backend) or one node's probe is done: the explained outcomes it cached are
    /// for packets no later subtree sends to these nodes (an LB backend is picked once; a probe is per node), so they go
    /// rather than outlive the explain (hundreds of megabytes of steps on a 500-node cluster, copied by every
    /// collection that keeps them). A later use would explain again and get the same outcomes.</summary>
    static void DropFreshOutcomes(Dictionary<string, NodeRuntime> scratch)
    {
        foreach (var rt in scratch.Values) rt.FreshOutcomes.Clear();
    }

    /// <summary>A backend's health: the recorded probe state when the twin's timeline has probed it, else the steady
    /// state (up exactly when every path of the probe succeeds).</summary>
    public bool IsUp(Azure.HealthProbe probe, TopologyNode node)
    {
        if (LoadBalancer.HasHealth(probe.Name, node.Name)) return LoadBalancer.Health(probe.Name, node.Name).Up;
        return ProbeSuccess(probe, node) >= 1.0 - 1e-12;
    }

    /// <summary>The probability that one probe of <paramref name="probe"/> to <paramref name="node"/> succeeds: TCP: the
    /// handshake completes; HTTP: kube-proxy's healthz answers 200 (the node has a ready local endpoint).</summary>
    public double ProbeSuccess(Azure.HealthProbe probe, TopologyNode node) => ProbeSuccess(probe, node, null);

    double ProbeSuccess(Azure.HealthProbe probe, TopologyNode node, Dictionary<string, NodeRuntime>? scratch) => ProbeResult(probe, node, scratch).Ok;

    (double Ok, string? Uncertain) ProbeResult(Azure.HealthProbe probe, TopologyNode node, Dictionary<string, NodeRuntime>? scratch)
    {
        if (_probeSuccess.TryGetValue((probe.Name, node.Name), out var v)) return v;
        var p = new Packet(IpProtocol.Tcp, ClusterTopology.ProbeSource, 40000, node.Ip, (ushort)probe.Port);
        double ok = 0;
        // The SYN reaching a listening socket decides it (its answer follows the conntrack entries back, which the
        // forward paths of this same node already show). Only dispositions are needed: a light run, unless the path
        // comes back to a node it left.
        string? uncertain = null;
        List<(double Probability, TracePath Result)> runs;
        try
        {
            runs = ReplayChooser.Enumerate(ch => Run(new TraceSource.Probe(), p, ch, new RunState(this, false, 7, scratch) { Light = Shortcuts }, forwardOnly: true));
        }
        catch (LightRunRevisit)
        {
            runs = ReplayChooser.Enumerate(ch => Run(new TraceSource.Probe(), p, ch, new RunState(this, false, 7, scratch), forwardOnly: true));
        }
        foreach (var (prob, path) in runs)
        {
            if (path.Disposition == TraceDisposition.Uncertain) uncertain ??= path.DispositionDetail;
            if (path.Disposition != TraceDisposition.Answered) continue;
            if (probe.Protocol is "Http" or "Https") ok += HealthzStatus(node, probe.Port) == 200 ? prob : 0;
            else ok += prob;
        }
        return _probeSuccess[(probe.Name, node.Name)] = (ok, uncertain);
    }

    /// <summary>Why one probe of <paramref name="probe"/> to <paramref name="node"/> has no known result (a path of it
    /// meets a rule the engine does not model), or null when it is known.</summary>
    public string? ProbeUncertainty(Azure.HealthProbe probe, TopologyNode node) => ProbeResult(probe, node, null).Uncertain;

    /// <summary>kube-proxy's service health server (pkg/proxy/healthcheck/service_health.go): 200 when the node has
    /// at least one ready local endpoint of the Service whose healthCheckNodePort this is, else 503.</summary>
    public int HealthzStatus(TopologyNode node, int port) => LocalEndpoints(node, port) > 0 ? 200 : 503;

    public int LocalEndpoints(TopologyNode node, int healthCheckNodePort)
    {
        var svc = Topology.State.Services.FirstOrDefault(s => s.Spec.HealthCheckNodePort == healthCheckNodePort);
        if (svc is null) return 0;
        return Topology.State.EndpointSlices
            .Where(s => s.Metadata.Namespace == svc.Metadata.Namespace && s.ServiceName == svc.Metadata.Name)
            .SelectMany(s => s.Endpoints)
            .Count(e => e.NodeName == node.Name && e.Conditions.Ready != false);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Explanations tied to the rule and the Kubernetes object.

    /// <summary>The `namespace/name` a kube-proxy rule's comment names ("default/nginx -> ...", "masquerade traffic for
    /// default/nginx external destinations", "default/nginx:http has no endpoints").</summary>
    static string? ServiceOfComment(string? rule)
    {
        if (rule is null) return null;
        // Rule texts are the evaluator's own strings, quoted by every path that visits the rule: read each comment once.
        return serviceOfComment.GetValue(rule, static r => new StrongBox<string?>(ReadServiceOfComment(r))).Value;
    }

    static readonly ConditionalWeakTable<string, StrongBox<string?>> serviceOfComment = new();

    static string? ReadServiceOfComment(string rule)
    {
        var m = System.Text.RegularExpressions.Regex.Match(rule, "--comment \"?([^\"]*)\"?");
        if (!m.Success) return null;
        foreach (var word in m.Groups[1].Value.Split(' '))
        {
            var w = word.TrimEnd(':');
            if (w.Contains('/') && !w.Contains("->", StringComparison.Ordinal)) return w.Split(':')[0];
        }
        return null;
    }

    void ExplainMasquerade(RunState st, WalkResult r, TopologyNode node, Packet after, TraceSource from)
    {
        // The rule that asked for the mark: the last KUBE-MARK-MASQ jump before the walk's end.
        RuleStep? markRule = null, commented = null;
        // The last KUBE-MARK-MASQ jump, and the last rule with a comment (from the end, until both are found).
        for (int i = r.Steps.Length - 1; i >= 0 && (markRule is null || commented is null); i--)
            if (r.Steps[i] is RuleStep { Rule: { } ruleText } rs)
            {
                if (markRule is null && rs.Action == "Jump" && ruleText.Contains("-j KUBE-MARK-MASQ", StringComparison.Ordinal)) markRule = rs;
                if (commented is null && ruleText.Contains("--comment", StringComparison.Ordinal)) commented = rs;
            }
        var svc = ServiceOfComment(markRule?.Rule) ?? ServiceOfComment(commented?.Rule);
        var text = from is TraceSource.FromPod or TraceSource.FromNode
            ? TraceMessages.SourceIpLostInsideText(svc ?? "the Service", after.Src.ToString(), markRule?.Rule)
            : TraceMessages.SourceIpLostText(svc ?? "the Service", after.Src.ToString());
        st.Explain(new Explanation(TraceMessages.SourceIpLost, text,
            markRule is null ? r.MasqueradeRule : $"{markRule.Position} {markRule.Rule}", svc is null ? null : "service/" + svc));
    }

    void ExplainHairpin(RunState st, TraceSource from, Packet after, WalkResult r)
    {
        if (from is TraceSource.FromPod fp && r.End == WalkEnd.Forwarded && r.PhysOut == fp.Pod.Veth)
        {
            var svc = ServiceOfComment(r.Steps.OfType<RuleStep>().LastOrDefault(s => s.Rule?.Contains("-j DNAT", StringComparison.Ordinal) == true)?.Rule);
            st.Explain(new Explanation(TraceMessages.Hairpin, TraceMessages.HairpinText(fp.Pod.Key, svc ?? "its Service"),
                r.Steps.OfType<RuleStep>().LastOrDefault(s => s.Rule?.Contains("-j KUBE-MARK-MASQ", StringComparison.Ordinal) == true && s.Chain.StartsWith("KUBE-SEP-", StringComparison.Ordinal))?.Rule,
                svc is null ? null : "service/" + svc));
        }
    }

    void ExplainDrop(RunState st, WalkResult r, TopologyNode node)
    {
        if (st.Light) return;
        var rule = r.DropRule;
        if (rule is null) return;
        var svc = ServiceOfComment(rule);
        if (rule.Contains("has no local endpoints", StringComparison.Ordinal))
            st.Explain(new Explanation(TraceMessages.EtpLocalNoEndpoint, TraceMessages.EtpLocalNoEndpointText(svc ?? "the Service", node.Name), rule, svc is null ? null : "service/" + svc));
        else if (rule.Contains("has no endpoints", StringComparison.Ordinal))
            st.Explain(new Explanation(TraceMessages.NoEndpoints, TraceMessages.NoEndpointsText(svc ?? "the Service"), rule, svc is null ? null : "service/" + svc));
        else if (rule == "hairpin-off")
            st.Explain(new Explanation(TraceMessages.HairpinOff, TraceMessages.HairpinOffText(r.Steps.OfType<NoteStep>().Select(n => n.Text).LastOrDefault() ?? ""), null, null));
    }
}

/// <summary>A light run (<see cref="ClusterTracer.RunState.Light"/>) came back to a node it had walked without committing.</summary>
internal sealed class LightRunRevisit : Exception;
