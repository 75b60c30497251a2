using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using PacketLife.Core.Cluster;
using PacketLife.Core.Net;

namespace PacketLife.Lab.Cluster;

/// <summary>One node of the lab: its namespace, its VNet address and pod /24, and the port on the VNet bridge.</summary>
public sealed record NodePlan(string Name, string Role, string Ip, int SubnetLength, string PodCidr, string Cbr0Ip, int Cbr0Length, string VnetPort, IReadOnlyList<HealthPortPlan> HealthPorts);

/// <summary>An HTTP port a node answers probes on, as kube-proxy's health servers do: 10256 `/healthz` (always 200
/// while kube-proxy runs) and each eTP=Local Service's healthCheckNodePort (200 with local endpoints, else 503;
/// kube-proxy pkg/proxy/healthcheck/service_health.go).</summary>
public sealed record HealthPortPlan(int Port, int Status, string Service);

/// <summary>One pod of the lab: its namespace, address, the veth on its node's cbr0 and the TCP ports nginx serves.</summary>
public sealed record PodPlan(string Namespace, string Name, string Role, string NodeName, string Ip, int Length, string Gateway, string HostVeth, IReadOnlyList<int> Ports)
{
    public string Key => $"{Namespace}/{Name}";
}

/// <summary>An Azure health probe of a load-balancing rule (interval and threshold as ARM has them).</summary>
public sealed record ProbePlan(string Name, string Protocol, int Port, string? Path, int IntervalSeconds, int Threshold);

/// <summary>A frontend IP of the Azure LB: each of its load-balancing rules is routed unchanged (floating IP) to the
/// nodes its own probe finds healthy.</summary>
public sealed record FrontendPlan(string Ip, IReadOnlyList<string> Nodes, IReadOnlyList<ProbePlan> Probes, IReadOnlyList<string> Services, IReadOnlyList<LbRulePlan>? Rules = null);

/// <summary>One load-balancing rule (frontend IP, protocol, port). The fabric marks its packets with <see cref="Table"/>
/// (iptables mangle in the fabric namespace) and `ip rule fwmark TABLE lookup TABLE` routes them by the rule's own
/// table, so each rule has its own healthy set, as Azure decides health per rule.</summary>
public sealed record LbRulePlan(string Protocol, int Port, int Table, string? Probe);

/// <summary>Everything the lab builds for one cluster state, decided before anything is created (pure: the same
/// state gives the same plan). Names derive from object identity (a short hash of the node or pod name), so
/// `lab sync` can tell which pods are new, gone or unchanged.</summary>
public sealed record LabPlan
{
    /// <summary>The internet client (RFC 5737 TEST-NET-2) and the fabric's side of that link.</summary>
    public const string ClientIp = "198.51.100.10";
    public const string InternetGatewayIp = "198.51.100.1";
    public const int InternetLength = 24;
    /// <summary>Azure's virtual public IP: the health-probe source (and DNS, DHCP) of every VNet (Azure docs,
    /// "What is IP address 168.63.129.16?").</summary>
    public const string ProbeSourceIp = "168.63.129.16";
    /// <summary>Fixed seed of the fabric's ECMP hash: the same 5-tuple always picks the same node (netns-lab.md P1).</summary>
    public const uint DefaultEcmpSeed = 12345;

    public string ClientRole { get; init; } = "cli";
    public string LbRole { get; init; } = "lb";
    public string VnetRole { get; init; } = "vnet";
    /// <summary>The subnet gateway address in the fabric (first host of the node subnet, as in Azure).</summary>
    public required string VnetGatewayIp { get; init; }
    public required int SubnetLength { get; init; }
    /// <summary>`legacy` or `nft`: which iptables-restore loads the node rules.</summary>
    public string Iptables { get; init; } = "legacy";
    public bool Hairpin { get; init; } = true;
    public string Cbr0Scope { get; init; } = "link";
    public uint EcmpSeed { get; init; } = DefaultEcmpSeed;
    /// <summary>Overrides every probe's interval (tests that watch a node go out and back in); null: ARM's.</summary>
    public int? ProbeIntervalMs { get; init; }
    public required IReadOnlyList<NodePlan> Nodes { get; init; }
    public required IReadOnlyList<PodPlan> Pods { get; init; }
    public required IReadOnlyList<FrontendPlan> Frontends { get; init; }
    /// <summary>Pods the lab does not build, with the reason (host-network pods share their node's namespace).</summary>
    public IReadOnlyList<string> Skipped { get; init; } = [];

    /// <summary>Plans the lab for <paramref name="state"/>.</summary>
    /// <exception cref="LabException">The state cannot be built (a node without InternalIP or pod CIDR, ...).</exception>
    /// <summary>The lab's public address space: TEST-NET-2 and TEST-NET-3 (RFC 5737).</summary>
    public static readonly IReadOnlyList<Ip4Prefix> PublicRanges = [Ip4Prefix.Parse("198.51.100.0/24"), Ip4Prefix.Parse("203.0.113.0/24")];

    public static LabPlan Create(ClusterState state, string iptables = "legacy")
    {
        if (iptables is not ("legacy" or "nft")) throw new LabException($"lab: unknown --iptables \"{iptables}\" (legacy or nft)");
        var subnet = Ip4Prefix.Parse(state.Profile.NodeSubnet);
        var nodes = new List<NodePlan>();
        var nodeByName = new Dictionary<string, NodePlan>(StringComparer.Ordinal);
        foreach (var n in state.Nodes)
        {
            var name = n.Metadata.Name;
            var ipText = n.Addresses.FirstOrDefault(a => a.Type == "InternalIP")?.Address
                ?? throw new LabException($"lab: node \"{name}\" has no InternalIP address");
            if (!Ip4.TryParse(ipText, out var ip) || !subnet.Contains(ip))
                throw new LabException($"lab: node \"{name}\" has InternalIP {ipText} outside the node subnet {subnet}");
            if (n.PodCIDR is not { } cidrText || !Ip4Prefix.TryParse(cidrText, out var cidr))
                throw new LabException($"lab: node \"{name}\" has no pod CIDR (kubenet gives every node one)");
            var h = ShortHash(name);
            nodes.Add(new NodePlan(name, "n-" + h, ip.ToString(), subnet.Length, cidr.ToString(), cidr.Network.Add(1).ToString(), cidr.Length, "v" + h,
                HealthPorts(state, name)));
            nodeByName[name] = nodes[^1];
        }

        var pods = new List<PodPlan>();
        var skipped = new List<string>();
        foreach (var p in state.Pods.OrderBy(p => p.Metadata.Namespace, StringComparer.Ordinal).ThenBy(p => p.Metadata.Name, StringComparer.Ordinal))
        {
            var key = $"{p.Metadata.Namespace}/{p.Metadata.Name}";
            if (p.Spec.HostNetwork) { skipped.Add($"{key}: host network (it is its node)"); continue; }
            if (p.Status.PodIP is not { } podIp || p.Spec.NodeName is not { } nodeName) { skipped.Add($"{key}: not scheduled or no IP"); continue; }
            if (!nodeByName.TryGetValue(nodeName, out var node)) { skipped.Add($"{key}: node {nodeName} is not in the state"); continue; }
            var cidr = Ip4Prefix.Parse(node.PodCidr);
            if (!Ip4.TryParse(podIp, out var ip) || !cidr.Contains(ip)) { skipped.Add($"{key}: IP {podIp} outside its node's pod CIDR {cidr}"); continue; }
            var h = ShortHash(key);
            pods.Add(new PodPlan(p.Metadata.Namespace, p.Metadata.Name, "p-" + h, nodeName, ip.ToString(), cidr.Length, node.Cbr0Ip, "c" + h, PodPorts(state, p, podIp)));
        }

        var kernel = PacketLife.Core.Topology.NodeProfile.From(state.Profile);
        return new LabPlan
        {
            VnetGatewayIp = subnet.Network.Add(1).ToString(),
            SubnetLength = subnet.Length,
            Iptables = iptables,
            // The same node profile the twin traces with (one reading of the state's settings and their defaults).
            Hairpin = kernel.Hairpin,
            Cbr0Scope = kernel.Cbr0Scope == PacketLife.Core.Routing.AddressScope.Global ? "global" : "link",
            Nodes = nodes,
            Pods = pods,
            Frontends = PlanFrontends(state, nodeByName),
            Skipped = skipped,
        };
    }

    /// <summary>TCP ports nginx listens on in a pod: what the twin takes as listening (ClusterTopology.ListenersOf): the
    /// containers' declared TCP ports, plus 80 for an nginx image (its default.conf listens there, declared or not).
    /// Empty: the pod runs no nginx (nothing listens, connections are refused as in the twin).</summary>
    static IReadOnlyList<int> PodPorts(ClusterState state, Pod pod, string podIp)
    {
        var ports = new SortedSet<int>();
        foreach (var c in pod.Spec.Containers)
        {
            foreach (var cp in c.Ports)
                if (cp.Protocol == Protocol.TCP) ports.Add(cp.Port);
            if (PacketLife.Core.Http.NginxResponder.IsNginxImage(c.Image)) ports.Add(80);
        }
        _ = state;
        _ = podIp;
        return [.. ports];
    }

    /// <summary>The node's kube-proxy health ports (see <see cref="HealthPortPlan"/>).</summary>
    static IReadOnlyList<HealthPortPlan> HealthPorts(ClusterState state, string nodeName)
    {
        var list = new List<HealthPortPlan> { new(10256, 200, "kube-proxy") };
        foreach (var s in state.Services)
        {
            if (s.Spec.HealthCheckNodePort <= 0) continue;
            var key = $"{s.Metadata.Namespace}/{s.Metadata.Name}";
            bool local = state.EndpointSlices.Any(sl => sl.Metadata.Namespace == s.Metadata.Namespace && sl.ServiceName == s.Metadata.Name
                && sl.Endpoints.Any(e => e.NodeName == nodeName && e.Conditions.Ready != false));
            list.Add(new HealthPortPlan(s.Spec.HealthCheckNodePort, local ? 200 : 503, key));
        }
        return list;
    }

    /// <summary>Frontends from the twin's Azure LB: each load-balancing rule's frontend IP, its backend pool's nodes,
    /// and its probe. The outbound-only frontend carries no rule and is not routed.</summary>
    static IReadOnlyList<FrontendPlan> PlanFrontends(ClusterState state, Dictionary<string, NodePlan> nodes)
    {
        var lb = state.Azure.LoadBalancer;
        var byIp = new SortedDictionary<string, (SortedSet<string> Nodes, List<ProbePlan> Probes, SortedSet<string> Services, List<LbRulePlan> Rules)>(StringComparer.Ordinal);
        int table = 100;
        foreach (var rule in lb.LoadBalancingRules)
        {
            var fe = lb.FrontendIpConfigurations.FirstOrDefault(f => f.Name == rule.FrontendIpConfigurationName);
            var pip = fe is null ? null : state.Azure.PublicIpAddresses.FirstOrDefault(p => p.Name == fe.PublicIpAddressName);
            if (pip is null) continue;
            // Safety: the lab's "public" addresses come only from the documentation ranges (RFC 5737), so that no lab
            // address can ever stand for a real host, whatever the twin's state uses.
            if (!Ip4.TryParse(pip.IpAddress, out var feIp) || !PublicRanges.Any(r => r.Contains(feIp)))
                throw new LabException($"lab: frontend IP {pip.IpAddress} ({rule.Service ?? rule.Name}) is not in a documentation range ({string.Join(", ", PublicRanges)}), " +
                    "the only public addresses the lab uses; make the cluster with `packetlife cluster init --public-ip-prefix 203.0.113.0/24`");
            if (!byIp.TryGetValue(pip.IpAddress, out var entry)) byIp[pip.IpAddress] = entry = (new(StringComparer.Ordinal), [], new(StringComparer.Ordinal), []);
            var pool = lb.BackendAddressPools.FirstOrDefault(b => b.Name == rule.BackendAddressPoolName);
            foreach (var n in pool?.NodeNames ?? []) if (nodes.ContainsKey(n)) entry.Nodes.Add(n);
            if (rule.Service is { } svc) entry.Services.Add(svc);
            var probe = rule.ProbeName is null ? null : lb.Probes.FirstOrDefault(p => p.Name == rule.ProbeName);
            if (probe is not null && entry.Probes.All(p => p.Name != probe.Name))
                entry.Probes.Add(new ProbePlan(probe.Name, probe.Protocol, probe.Port, probe.RequestPath, probe.IntervalInSeconds, Math.Max(1, probe.ProbeThreshold)));
            entry.Rules.Add(new LbRulePlan(rule.Protocol.ToLowerInvariant(), rule.FrontendPort, ++table, probe?.Name));
        }
        return byIp.Select(kv => new FrontendPlan(kv.Key, [.. kv.Value.Nodes], kv.Value.Probes, [.. kv.Value.Services], kv.Value.Rules)).ToList();
    }

    /// <summary>8 hex digits of FNV-1a over the name: short enough for interface names (15 bytes, `IFNAMSIZ`).</summary>
    public static string ShortHash(string text)
    {
        uint h = 2166136261;
        foreach (var b in Encoding.UTF8.GetBytes(text)) { h ^= b; h *= 16777619; }
        return h.ToString("x8", CultureInfo.InvariantCulture);
    }

    public NodePlan? FindNode(string name) => Nodes.FirstOrDefault(n => n.Name == name);

    /// <summary>A pod by `name` or `namespace/name`.</summary>
    public PodPlan? FindPod(string name) =>
        Pods.FirstOrDefault(p => p.Key == name) ?? (Pods.Where(p => p.Name == name).ToList() is [var one] ? one : null);

    public const string FileName = "lab.json";

    public string ToJson() => JsonSerializer.Serialize(this, LabFileJson.Default.LabPlan);

    public static LabPlan FromJson(string text) =>
        JsonSerializer.Deserialize(text, LabFileJson.Default.LabPlan) ?? throw new LabException("lab: empty lab.json");

    /// <summary>Writes the plan beside the journal (write then rename, so a reader never sees half a file).</summary>
    public void Save(string stateDir)
    {
        var tmp = Path.Combine(stateDir, FileName + ".tmp");
        File.WriteAllText(tmp, ToJson());
        File.Move(tmp, Path.Combine(stateDir, FileName), overwrite: true);
    }

    public static LabPlan Load(string stateDir) => FromJson(File.ReadAllText(Path.Combine(stateDir, FileName)));
}
