using PacketLife.Core.Conntrack.Nat;
using PacketLife.Core.Net;
using PacketLife.Core.Topology;

namespace PacketLife.Core.Azure.DataPlane;

/// <summary>The LB's flow distribution. Azure documents the inputs (a 5-tuple hash for `Default`, 2-tuple for
/// `SourceIP`, 3-tuple for `SourceIPProtocol`; learn.microsoft.com distribution-mode-concepts) but not the
/// function, so the twin uses a documented one of its own: the kernel's jhash2 (as conntrack uses) over the
/// tuple words with initval 0, scaled to the number of healthy backends with Lemire's multiply-shift
/// (reciprocal_scale). Every backend is equally likely for a random source port, which is what explain mode
/// reports (1/n each).</summary>
public static class FlowHash
{
    public static uint Hash(string loadDistribution, IpProtocol proto, Ip4 src, ushort sport, Ip4 dst, ushort dport)
    {
        Span<uint> words = stackalloc uint[4];
        words[0] = src.Value;
        switch (loadDistribution)
        {
            case "SourceIP":
                return JHash.Jhash2(words[..1], 0);
            case "SourceIPProtocol":
                words[1] = (uint)proto;
                return JHash.Jhash2(words[..2], 0);
            default:
                words[1] = dst.Value;
                words[2] = ((uint)sport << 16) | dport;
                words[3] = (uint)proto;
                return JHash.Jhash2(words, 0);
        }
    }

    public static int Pick(uint hash, int backends) => (int)JHash.ReciprocalScale(hash, (uint)backends);
}

/// <summary>One backend's health as the LB sees it: up or down, flipped after ProbeThreshold consecutive results the
/// other way (MSDOC load-balancer-custom-probe-overview). A new backend starts up (Azure sends it flows once the
/// pool holds it; the first failed probes take it out).</summary>
public sealed class ProbeHealth
{
    public bool Up { get; private set; } = true;
    public int ConsecutiveSuccesses { get; private set; }
    public int ConsecutiveFailures { get; private set; }
    public DateTimeOffset? LastProbe { get; private set; }
    /// <summary>Told when <see cref="Up"/> flips (the LB's view of the pool changed).</summary>
    internal Action? UpChanged { get; init; }

    /// <summary>Records one probe result; Http/Https probes that fail with a non-200 or a RST mark down at once.</summary>
    public void Record(bool success, int threshold, bool immediateDown, DateTimeOffset at)
    {
        LastProbe = at;
        if (success)
        {
            ConsecutiveFailures = 0;
            ConsecutiveSuccesses++;
            if (!Up && ConsecutiveSuccesses >= threshold) { Up = true; UpChanged?.Invoke(); }
        }
        else
        {
            ConsecutiveSuccesses = 0;
            ConsecutiveFailures++;
            if (Up && (immediateDown || ConsecutiveFailures >= threshold)) { Up = false; UpChanged?.Invoke(); }
        }
    }
}

/// <summary>The Azure LB data plane of the `kubernetes` load balancer: rule lookup by frontend IP/port/protocol and
/// backend health per (probe, node). Health is runtime state, changed only by <see cref="ProbeHealth.Record"/>.</summary>
public sealed class LoadBalancerDataPlane(ClusterTopology topology)
{
    readonly Dictionary<(string Probe, string Node), ProbeHealth> _health = new();

    public ClusterTopology Topology => topology;

    /// <summary>The rule that owns (frontend IP, port, protocol), or null; <paramref name="onFrontend"/> lists the rules the frontend has.</summary>
    public Azure.LoadBalancingRule? MatchRule(Packet p, out LbFrontend? frontend, out IReadOnlyList<Azure.LoadBalancingRule> onFrontend)
    {
        frontend = topology.FrontendByIp(p.Dst);
        onFrontend = [];
        if (frontend is null) return null;
        var name = frontend.Name;
        onFrontend = topology.LoadBalancer.LoadBalancingRules.Where(r => r.FrontendIpConfigurationName == name).ToList();
        var proto = p.Protocol == IpProtocol.Udp ? "Udp" : p.Protocol == IpProtocol.Tcp ? "Tcp" : "All";
        return onFrontend.FirstOrDefault(r => r.FrontendPort == p.DstPort && (r.Protocol == proto || r.Protocol == "All"));
    }

    public Azure.HealthProbe? ProbeOf(Azure.LoadBalancingRule rule) => topology.LoadBalancer.Probes.FirstOrDefault(p => p.Name == rule.ProbeName);

    /// <summary>Nodes of the rule's backend pool in pool order.</summary>
    public IReadOnlyList<TopologyNode> Pool(Azure.LoadBalancingRule rule)
    {
        if (_pools.TryGetValue(rule.BackendAddressPoolName, out var cached)) return cached;
        var pool = topology.LoadBalancer.BackendAddressPools.FirstOrDefault(p => p.Name == rule.BackendAddressPoolName);
        IReadOnlyList<TopologyNode> nodes = pool is null ? [] : pool.NodeNames.Select(topology.NodeByName).Where(n => n is not null).Select(n => n!).ToList();
        return _pools[rule.BackendAddressPoolName] = nodes;
    }

    readonly Dictionary<string, IReadOnlyList<TopologyNode>> _pools = new(StringComparer.Ordinal);

    public ProbeHealth Health(string probe, string node)
    {
        if (!_health.TryGetValue((probe, node), out var h))
        {
            _health[(probe, node)] = h = new ProbeHealth { UpChanged = () => HealthVersion++ };
            HealthVersion++;
        }
        return h;
    }

    /// <summary>Changes whenever a backend's recorded health appears or flips: decisions derived from the pool's health
    /// may be kept while it stays the same.</summary>
    public long HealthVersion { get; private set; }

    public bool HasHealth(string probe, string node) => _health.ContainsKey((probe, node));
}
