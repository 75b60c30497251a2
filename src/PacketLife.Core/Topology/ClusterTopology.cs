using System.Collections.Immutable;
using PacketLife.Core.Azure;
using PacketLife.Core.Cluster;
using PacketLife.Core.Conntrack;
using PacketLife.Core.Diagnostics;
using PacketLife.Core.KubeProxy;
using PacketLife.Core.Net;
using PacketLife.Core.Netfilter.Evaluation;
using PacketLife.Core.Netfilter.Text;
using PacketLife.Core.Routing;

namespace PacketLife.Core.Topology;

/// <summary>A socket that accepts connections: a pod's container port or a node daemon (kube-proxy's healthz).</summary>
public readonly record struct Listener(IpProtocol Protocol, ushort Port, string Owner);

/// <summary>A pod on the pod network: its address, its node, the host side of its veth pair, what listens in it.</summary>
public sealed class TopologyPod
{
    public required Pod Pod { get; init; }
    public string Namespace => Pod.Metadata.Namespace;
    public string Name => Pod.Metadata.Name;
    public string Key => $"{Namespace}/{Name}";
    public required Ip4 Ip { get; init; }
    public required string NodeName { get; init; }
    /// <summary>The host end of the pod's veth pair, enslaved to cbr0 (kubenet's bridge CNI names it veth + 8 hex).</summary>
    public required string Veth { get; init; }
    public required ImmutableArray<Listener> Listeners { get; init; }
    /// <summary>The image the first container runs (the responder that answers: nginx for the seed's pods).</summary>
    public string? Image => Pod.Spec.Containers.Count > 0 ? Pod.Spec.Containers[0].Image : null;

    public bool Listens(IpProtocol proto, ushort port) => Listeners.Any(l => l.Protocol == proto && l.Port == port);
}

/// <summary>The rules the node runs: the parse of exactly the `iptables-save` text its kube-proxy sync leaves
/// (<see cref="KubeProxyNodeRules"/>), with the sync's own diagnostics; or a node's real dump (<see cref="NodeDump"/>),
/// then without a sync.</summary>
public sealed record NodeRules(string SaveText, Netfilter.RuleSet RuleSet, RuleSetEvaluator Evaluator, KubeProxySyncResult? Sync, IReadOnlyList<Diagnostic> Diagnostics)
{
    (bool, string?)? _conntrackNeed;

    /// <summary>Whether the rules register the conntrack hooks, and the first rule that does (the host walker's
    /// <see cref="Tracing.Host.HostRuntime.NeedsConntrack"/>): scanned once per rule set, not once per node runtime.</summary>
    public (bool Active, string? Because) ConntrackNeed => _conntrackNeed ??= (Tracing.Host.HostRuntime.NeedsConntrack(RuleSet, out var why), why);

    bool? _stateless;

    /// <summary>No rule reads or changes rule state (<see cref="NetfilterState"/>: `recent` lists, `statistic --mode nth`
    /// counters, `limit` buckets, ipsets): a walk's result then depends only on the packet and the conntrack table, so
    /// walks on separate copies of the node (parallel explain) give what one copy gives. Judged by an allow-list of
    /// match modules, so a module not listed counts as stateful.</summary>
    public bool Stateless => _stateless ??= ComputeStateless(RuleSet);

    static readonly HashSet<string> StatelessModules = new(StringComparer.Ordinal)
    {
        "comment", "tcp", "udp", "sctp", "icmp", "multiport", "addrtype", "conntrack", "state", "mark", "connmark",
        "physdev", "iprange", "length", "ttl", "pkttype", "mac", "dscp", "tos", "statistic",
    };

    static bool ComputeStateless(Netfilter.RuleSet rules)
    {
        foreach (var t in rules.Tables)
            foreach (var line in t.Lines)
            {
                if (line is not Netfilter.RuleLine rl) continue;
                if (rl.Rule.Target is { Name: "SET" }) return false;
                foreach (var m in rl.Rule.Matches)
                {
                    if (!StatelessModules.Contains(m.Module)) return false;
                    if (m is Netfilter.Matches.StatisticMatch { Mode: not Netfilter.Matches.StatisticMode.Random }) return false;
                }
            }
        return true;
    }
}

/// <summary>A node's real `iptables-save` output, read already, that replaces the generated rules of that node (issue 5
/// item 1: "or a real dump given per node"). What the reader does not model marks the walks through it uncertain.</summary>
public sealed record NodeDump(string SaveText, Netfilter.Text.NetfilterParseResult Parsed);

/// <summary>One AKS kubenet node: eth0 on the VNet, the cbr0 bridge holding the pod CIDR's first address, one veth per
/// pod, its kube-proxy rules and its conntrack table.</summary>
public sealed class TopologyNode
{
    readonly Func<NodeRules> _rules;
    NodeRules? _built;

    internal TopologyNode(Node node, Ip4 ip, Ip4Prefix podCidr, Host host, Func<NodeRules> rules, ConntrackTable conntrack)
    {
        Node = node; Ip = ip; PodCidr = podCidr; Host = host; _rules = rules; Conntrack = conntrack;
    }

    public Node Node { get; }
    public string Name => Node.Metadata.Name;
    public Ip4 Ip { get; }
    public Ip4Prefix PodCidr { get; }
    /// <summary>The bridge's gateway address (kubenet: the pod CIDR's first host address).</summary>
    public Ip4 Cbr0Ip => PodCidr.Network.Add(1);
    public Host Host { get; }
    public ConntrackTable Conntrack { get; }
    public List<TopologyPod> Pods { get; } = [];
    /// <summary>Sockets on the node itself (host network): kube-proxy's `/healthz` on healthCheckNodePorts.</summary>
    public List<Listener> Listeners { get; } = [];
    /// <summary>Built on first use: a trace touches only the nodes on its paths.</summary>
    public NodeRules Rules => _built ??= _rules();
    public bool RulesBuilt => _built is not null;
}

/// <summary>One route of the kubenet route table AKS keeps on the subnet: a node's pod CIDR via that node's IP.</summary>
public sealed record KubenetRoute(string Name, Ip4Prefix AddressPrefix, Ip4 NextHopIpAddress, string Node);

/// <summary>An Azure LB frontend that has a public IP.</summary>
public sealed record LbFrontend(string Name, Ip4 Ip);

/// <summary>The whole data path of a cluster as the tracer walks it (DESIGN: Topology): the internet, the Azure LB,
/// the VNet with the kubenet route table, the nodes and their pods. Built from the cluster state; runtime state
/// (conntrack tables, LB health) lives on it and mutates only through the tracer's stateful runs.</summary>
public sealed class ClusterTopology
{
    /// <summary>Where internet clients come from: TEST-NET-2 (RFC 5737), never a real host.</summary>
    public static readonly Ip4Prefix InternetClients = Ip4Prefix.Parse("198.51.100.0/24");
    /// <summary>The Azure platform address health probes come from (AzureLoadBalancer service tag).</summary>
    public static readonly Ip4 ProbeSource = Ip4.Parse("168.63.129.16");

    public required ClusterState State { get; init; }
    public required NodeProfile Profile { get; init; }
    public required ImmutableArray<TopologyNode> Nodes { get; init; }
    public required ImmutableArray<KubenetRoute> RouteTable { get; init; }
    public required ImmutableArray<LbFrontend> Frontends { get; init; }
    public required Ip4Prefix VnetSubnet { get; init; }
    public required Ip4Prefix ServiceCidr { get; init; }
    public required Ip4Prefix PodCidr { get; init; }
    public required TimeProvider Clock { get; init; }
    public LoadBalancer LoadBalancer => State.Azure.LoadBalancer;

    Dictionary<Ip4, TopologyPod>? _podsByIp;
    Dictionary<Ip4, TopologyNode>? _nodesByIp;
    Dictionary<string, TopologyNode>? _nodesByName;

    public IEnumerable<TopologyPod> Pods => Nodes.SelectMany(n => n.Pods);
    public TopologyPod? PodByIp(Ip4 ip) => (_podsByIp ??= Pods.GroupBy(p => p.Ip).ToDictionary(g => g.Key, g => g.First())).GetValueOrDefault(ip);
    public TopologyNode? NodeByIp(Ip4 ip) => (_nodesByIp ??= Nodes.ToDictionary(n => n.Ip)).GetValueOrDefault(ip);
    public TopologyNode? NodeByName(string name) => (_nodesByName ??= Nodes.ToDictionary(n => n.Name, StringComparer.Ordinal)).GetValueOrDefault(name);
    public TopologyPod? PodByName(string ns, string name) => Pods.FirstOrDefault(p => p.Namespace == ns && p.Name == name);
    public LbFrontend? FrontendByIp(Ip4 ip) => Frontends.FirstOrDefault(f => f.Ip == ip);

    /// <summary>The node whose pod CIDR holds <paramref name="ip"/> (the kubenet route the VNet applies).</summary>
    public KubenetRoute? RouteFor(Ip4 ip) => RouteTable.FirstOrDefault(r => r.AddressPrefix.Contains(ip));

    /// <param name="prefetchRules">Start the shared kube-proxy sync + parse on another thread at once, so that it runs
    /// while the hosts are built (for commands that will walk packets; a command that never asks for rules wastes it).</param>
    /// <param name="nodeDumps">Nodes that run a given dump instead of the generated rules.</param>
    public static ClusterTopology Build(ClusterState state, TimeProvider clock, NodeProfile? profile = null, bool prefetchRules = false,
        IReadOnlyDictionary<string, NodeDump>? nodeDumps = null)
    {
        profile ??= NodeProfile.From(state.Profile);
        var subnet = Ip4Prefix.Parse(state.Profile.NodeSubnet);
        var gateway = subnet.Network.Add(1);
        // kube-proxy's rules differ between nodes only through node-local endpoints of Local-policy Services;
        // nodes with the same local endpoints get the same text, so one sync serves them all.
        var localPolicy = new HashSet<string>(state.Services
            .Where(s => s.Spec.ExternalTrafficPolicy == TrafficPolicy.Local || s.Spec.InternalTrafficPolicy == TrafficPolicy.Local)
            .Select(s => s.Metadata.Namespace + "/" + s.Metadata.Name), StringComparer.Ordinal);
        var cache = new Dictionary<string, NodeRules>(StringComparer.Ordinal);
        var nodes = ImmutableArray.CreateBuilder<TopologyNode>();
        var routes = ImmutableArray.CreateBuilder<KubenetRoute>();
        string SignatureOf(Node node) =>
            localPolicy.Count == 0 || !state.EndpointSlices.Any(s => s.ServiceName is { } sn && localPolicy.Contains(s.Metadata.Namespace + "/" + sn)
                && s.Endpoints.Any(e => e.NodeName == node.Metadata.Name)) ? "" : node.Metadata.Name;
        NodeRules RulesFor(Node n, string signature)
        {
            // Nodes share a sync per signature; parallel explain (or the prefetch) may ask for two nodes' rules at once.
            lock (cache)
            {
                if (cache.TryGetValue(signature, out var shared)) return shared;
                var sync = IptablesProxier.Sync(new KubeProxySyncInput
                {
                    Services = state.Services,
                    EndpointSlices = state.EndpointSlices,
                    Nodes = state.Nodes,
                    Hostname = n.Metadata.Name,
                    Configuration = KubeProxyConfiguration.AksKubenet with { ClusterCIDR = state.Profile.PodCidr },
                    Environment = new KubeProxyEnvironment { Version = VersionOf(state.Profile.KubernetesVersion) },
                });
                var (text, parsed) = KubeProxyNodeRules.Build(sync, "node/" + n.Metadata.Name);
                var rules = new NodeRules(text, parsed.RuleSet, new RuleSetEvaluator(parsed.RuleSet), sync, [.. sync.Diagnostics, .. parsed.Diagnostics]);
                cache[signature] = rules;
                return rules;
            }
        }
        if (prefetchRules && state.Nodes.FirstOrDefault(x => x.InternalIP is not null && x.PodCIDR is not null) is { } first)
        {
            var sig = SignatureOf(first);
            // A failure here shows again, on the caller's thread, when the rules are asked for.
            _ = Task.Run(() => { try { RulesFor(first, sig); } catch (Exception) { } });
        }
        var podsByNode = state.Pods
            .Where(p => !p.Spec.HostNetwork && p.Spec.NodeName is not null && p.Status.PodIP is not null)
            .GroupBy(p => p.Spec.NodeName!, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
        foreach (var node in state.Nodes)
        {
            if (node.InternalIP is not { } ipText || !Ip4.TryParse(ipText, out var ip) || node.PodCIDR is not { } cidrText) continue;
            var podCidr = Ip4Prefix.Parse(cidrText);
            var host = new Host(node.Metadata.Name) { IpForward = true, RouteLocalnetAll = true };
            var lo = host.AddInterface("lo", InterfaceKind.Loopback);
            lo.AddAddress(Ip4.Parse("127.0.0.1"), 8, AddressScope.Host);
            var eth0 = host.AddInterface("eth0", InterfaceKind.Ethernet);
            eth0.AddAddress(ip, profile.VnetPrefixLength);
            var cbr0 = host.AddInterface("cbr0", InterfaceKind.Bridge);
            cbr0.AddAddress(podCidr.Network.Add(1), podCidr.Length, profile.Cbr0Scope);
            var pods = new List<TopologyPod>();
            foreach (var pod in podsByNode.GetValueOrDefault(node.Metadata.Name) ?? [])
            {
                var veth = "veth" + VethSuffix(pod.Metadata.Uid is { Length: > 0 } u ? u : pod.Metadata.Namespace + "/" + pod.Metadata.Name);
                var v = host.AddInterface(veth, InterfaceKind.Veth);
                v.Master = "cbr0";
                v.Hairpin = profile.Hairpin;
                pods.Add(new TopologyPod
                {
                    Pod = pod, Ip = Ip4.Parse(pod.Status.PodIP!), NodeName = node.Metadata.Name, Veth = veth, Listeners = ListenersOf(pod),
                });
            }
            host.AddRoute(new Route(RouteType.Unicast, Ip4Prefix.Parse("0.0.0.0/0"), [new Nexthop(gateway, "eth0")]));
            host.RebuildKernelRoutes();
            var signature = SignatureOf(node);
            var n = node;
            var dump = nodeDumps?.GetValueOrDefault(node.Metadata.Name);
            var dumped = dump is null ? null
                : new Lazy<NodeRules>(() => new NodeRules(dump.SaveText, dump.Parsed.RuleSet, new RuleSetEvaluator(dump.Parsed.RuleSet), null, dump.Parsed.Diagnostics));
            var topoNode = new TopologyNode(node, ip, podCidr, host, dumped is not null ? () => dumped.Value : () => RulesFor(n, signature), new ConntrackTable(clock, ConntrackSettings.Default with { TcpTimeoutEstablished = 86400, TcpTimeoutCloseWait = 3600 }));
            topoNode.Pods.AddRange(pods);
            // kube-proxy serves /healthz on every healthCheckNodePort (pkg/proxy/healthcheck/service_health.go).
            foreach (var s in state.Services)
                if (s.Spec.HealthCheckNodePort > 0)
                    topoNode.Listeners.Add(new Listener(IpProtocol.Tcp, (ushort)s.Spec.HealthCheckNodePort, "kube-proxy healthz " + s.Metadata.Namespace + "/" + s.Metadata.Name));
            nodes.Add(topoNode);
            // cloud-provider-azure names a single-stack route after its node (azure_routes.go mapNodeNameToRouteName).
            routes.Add(new KubenetRoute(node.Metadata.Name, podCidr, ip, node.Metadata.Name));
        }
        var frontends = ImmutableArray.CreateBuilder<LbFrontend>();
        foreach (var fe in state.Azure.LoadBalancer.FrontendIpConfigurations)
            if (state.Azure.PublicIpAddresses.FirstOrDefault(p => p.Name == fe.PublicIpAddressName) is { } pip && Ip4.TryParse(pip.IpAddress, out var feIp))
                frontends.Add(new LbFrontend(fe.Name, feIp));
        return new ClusterTopology
        {
            State = state, Profile = profile, Nodes = nodes.ToImmutable(), RouteTable = routes.ToImmutable(), Frontends = frontends.ToImmutable(),
            VnetSubnet = subnet, ServiceCidr = Ip4Prefix.Parse(state.Profile.ServiceCidr), PodCidr = Ip4Prefix.Parse(state.Profile.PodCidr), Clock = clock,
        };
    }

    static KubeProxyVersion VersionOf(string v)
    {
        var parts = v.TrimStart('v').Split('.');
        int minor = parts.Length >= 2 && int.TryParse(parts[1], out var m) ? m : 30;
        return minor switch { <= 28 => KubeProxyVersion.V1_28, 29 => KubeProxyVersion.V1_29, 30 => KubeProxyVersion.V1_30, _ => KubeProxyVersion.V1_31 };
    }

    /// <summary>What listens in a pod: its declared container ports, plus the port the image listens on whether
    /// declared or not (the nginx image listens on 80/tcp: its default.conf `listen 80`).</summary>
    static ImmutableArray<Listener> ListenersOf(Pod pod)
    {
        var b = ImmutableArray.CreateBuilder<Listener>();
        foreach (var c in pod.Spec.Containers)
        {
            foreach (var p in c.Ports)
                b.Add(new Listener(p.Protocol == Protocol.UDP ? IpProtocol.Udp : IpProtocol.Tcp, (ushort)p.Port, c.Name));
            if (Http.NginxResponder.IsNginxImage(c.Image) && !c.Ports.Any(p => p.Port == 80 && p.Protocol == Protocol.TCP))
                b.Add(new Listener(IpProtocol.Tcp, 80, c.Name));
        }
        return b.ToImmutable();
    }

    static string VethSuffix(string key)
    {
        // FNV-1a over the pod UID: stable across runs (the CNI's name is random; only stability matters here).
        uint h = 2166136261;
        foreach (var ch in key) { h ^= ch; h *= 16777619; }
        return h.ToString("x8");
    }
}
