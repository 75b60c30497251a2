using PacketLife.Core.Cluster;

namespace PacketLife.Core.KubeProxy;

/// <summary>One "service port" of kube-proxy's internal view (pkg/proxy/serviceport.go BaseServicePortInfo):
/// one per spec.ports[] entry of a proxied Service, with every address already filtered to the proxier's
/// family and printed canonically.</summary>
public sealed record ServicePortInfo
{
    public required string Namespace { get; init; }
    public required string Name { get; init; }
    public required string PortName { get; init; }
    /// <summary>`namespace/name` plus `:portName` only when the port is named (ServicePortName.String()).</summary>
    public required string SvcPortName { get; init; }
    public required Protocol Protocol { get; init; }
    /// <summary>Lower-case protocol as written in `-m P -p P` and hashed into chain names.</summary>
    public required string Proto { get; init; }
    public required string ClusterIP { get; init; }
    public required int Port { get; init; }
    public int NodePort { get; init; }
    public IReadOnlyList<string> ExternalIPs { get; init; } = [];
    public IReadOnlyList<string> LoadBalancerVIPs { get; init; } = [];
    public IReadOnlyList<KubeIp.Cidr> LoadBalancerSourceRanges { get; init; } = [];
    /// <summary>The source-range strings as written into rules: canonical (1.30+) or as given after TrimSpace (1.28).</summary>
    public IReadOnlyList<string> LoadBalancerSourceRangeTexts { get; init; } = [];
    public bool ExternalPolicyLocal { get; init; }
    public bool InternalPolicyLocal { get; init; }
    public int HealthCheckNodePort { get; init; }
    public bool ClientIPAffinity { get; init; }
    public int StickyMaxAgeSeconds { get; init; }
    /// <summary>portProtoHash: the common suffix of KUBE-SVC/SVL/EXT/FW chains.</summary>
    public required string Hash { get; init; }

    public bool ExternallyAccessible => NodePort != 0 || LoadBalancerVIPs.Count > 0 || ExternalIPs.Count > 0;
    public bool UsesClusterEndpoints => !InternalPolicyLocal || ExternallyAccessible;
    public bool UsesLocalEndpoints => InternalPolicyLocal || (ExternalPolicyLocal && ExternallyAccessible);

    public string ClusterPolicyChain => ChainNames.ServiceChain(Hash);
    public string LocalPolicyChain => ChainNames.LocalChain(Hash);
    public string ExternalChain => ChainNames.ExternalChain(Hash);
    public string FirewallChain => ChainNames.FirewallChain(Hash);
}

/// <summary>One endpoint of a service port (pkg/proxy/endpoint.go BaseEndpointInfo), built from
/// `addresses[0]` of an EndpointSlice endpoint.</summary>
public sealed record EndpointInfo(string Ip, int Port, bool Ready, bool Serving, bool Terminating, bool IsLocal, IpFamily Family)
{
    /// <summary>"ip:port", or "[ip]:port" for IPv6: the key endpoints are de-duplicated and sorted by,
    /// the text of comments and `--to-destination`, and part of the SEP hash.</summary>
    public string Key { get; } = Family == IpFamily.IPv6 ? $"[{Ip}]:{Port}" : $"{Ip}:{Port}";
}
