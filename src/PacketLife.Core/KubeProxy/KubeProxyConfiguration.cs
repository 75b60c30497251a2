namespace PacketLife.Core.KubeProxy;

/// <summary>`detectLocalMode` of kubeproxy.config.k8s.io/v1alpha1: how kube-proxy tells traffic from
/// local pods apart from everything else (pkg/proxy/util/localdetector.go).</summary>
public enum DetectLocalMode { ClusterCIDR, NodeCIDR, BridgeInterface, InterfaceNamePrefix }

/// <summary>`detectLocal` block: the interface settings used by the two interface-based modes.</summary>
public sealed record DetectLocalConfiguration
{
    public string BridgeInterface { get; init; } = "";
    public string InterfaceNamePrefix { get; init; } = "";
}

/// <summary>`iptables` block. MasqueradeBit defaults to 14 and LocalhostNodePorts to true, as kube-proxy's
/// v1alpha1 defaulting does.</summary>
public sealed record IptablesConfiguration
{
    public int MasqueradeBit { get; init; } = 14;
    public bool MasqueradeAll { get; init; }
    public bool LocalhostNodePorts { get; init; } = true;
    public TimeSpan SyncPeriod { get; init; } = TimeSpan.FromSeconds(30);
    public TimeSpan MinSyncPeriod { get; init; } = TimeSpan.FromSeconds(1);
}

/// <summary>`conntrack` block. These settings are sysctls kube-proxy writes at start-up
/// (nf_conntrack_max, nf_conntrack_tcp_timeout_established, ..._close_wait, nf_conntrack_tcp_be_liberal);
/// they never appear in the restore payload, but the conntrack engine reads them from here.</summary>
public sealed record ConntrackConfiguration
{
    public int? MaxPerCore { get; init; } = 32768;
    public int? Min { get; init; } = 131072;
    public TimeSpan? TcpEstablishedTimeout { get; init; } = TimeSpan.FromHours(24);
    public TimeSpan? TcpCloseWaitTimeout { get; init; } = TimeSpan.FromHours(1);
    public bool TcpBeLiberal { get; init; }
    public TimeSpan? UdpTimeout { get; init; }
    public TimeSpan? UdpStreamTimeout { get; init; }
}

/// <summary>The fields of `KubeProxyConfiguration` (kubeproxy.config.k8s.io/v1alpha1) that change what
/// iptables mode programs. Defaults are kube-proxy's own defaulting (pkg/proxy/apis/config/v1alpha1/defaults.go).</summary>
public sealed record KubeProxyConfiguration
{
    /// <summary>`mode`; only "iptables" (or "", which means iptables on Linux) is modelled.</summary>
    public string Mode { get; init; } = "iptables";
    /// <summary>`clusterCIDR`: comma-separated, at most one per family.</summary>
    public string ClusterCIDR { get; init; } = "";
    public DetectLocalMode DetectLocalMode { get; init; } = DetectLocalMode.ClusterCIDR;
    public DetectLocalConfiguration DetectLocal { get; init; } = new();
    public IptablesConfiguration Iptables { get; init; } = new();
    /// <summary>`nodePortAddresses`: CIDRs (or the keyword "primary"); empty = every local address.</summary>
    public IReadOnlyList<string> NodePortAddresses { get; init; } = [];
    public ConntrackConfiguration Conntrack { get; init; } = new();
    public string HostnameOverride { get; init; } = "";

    /// <summary>kube-proxy's defaults: what an unconfigured kube-proxy runs with.</summary>
    public static KubeProxyConfiguration Default { get; } = new();

    /// <summary>The AKS kubenet profile the twin's nodes use: pod traffic is recognised by its bridge-side
    /// veth name prefix `azv` (InterfaceNamePrefix), masquerade bit 14, conntrack established 86400 s and
    /// close-wait 3600 s, cluster CIDR 10.244.0.0/16 (kubenet's default pod CIDR on AKS).</summary>
    public static KubeProxyConfiguration AksKubenet { get; } = new()
    {
        ClusterCIDR = "10.244.0.0/16",
        DetectLocalMode = DetectLocalMode.InterfaceNamePrefix,
        DetectLocal = new DetectLocalConfiguration { InterfaceNamePrefix = "azv" },
        Iptables = new IptablesConfiguration { MasqueradeBit = 14 },
        Conntrack = new ConntrackConfiguration
        {
            TcpEstablishedTimeout = TimeSpan.FromSeconds(86400),
            TcpCloseWaitTimeout = TimeSpan.FromSeconds(3600),
        },
    };
}

/// <summary>The kube-proxy release line being modelled. Only the releases whose iptables output differs
/// are distinguished (kube-proxy-iptables.md §8).</summary>
public enum KubeProxyVersion
{
    /// <summary>1.28: IPTablesOwnershipCleanup GA; writes source-range strings as given.</summary>
    V1_28 = 128,
    /// <summary>1.29: KUBE-FORWARD INVALID drop omitted when nf_conntrack_tcp_be_liberal is set (PR #120412).</summary>
    V1_29 = 129,
    /// <summary>1.30: `-m nfacct --nfacct-name ct_state_invalid_dropped_pkts` in the INVALID rule when the
    /// counter exists (PR #122812); LB ingress with ipMode Proxy ignored.</summary>
    V1_30 = 130,
    /// <summary>1.31 and later: extra localhost NodePort rule with `localhost_nps_accepted_pkts` (PR #125015).</summary>
    V1_31 = 131,
}

/// <summary>Facts about the node kube-proxy runs on that are not configuration but change the payload.</summary>
public sealed record KubeProxyEnvironment
{
    /// <summary>The seed's nodes run v1.30.6.</summary>
    public KubeProxyVersion Version { get; init; } = KubeProxyVersion.V1_30;
    /// <summary>iptables supports `--random-fully` (any iptables ≥ 1.6.2 on a kernel ≥ 3.14; true on AKS nodes).</summary>
    public bool HasRandomFully { get; init; } = true;
    /// <summary>Whether kube-proxy could create its nfacct counters (`nfacct.Ensure` through nfnetlink_acct).
    /// Off by default: the seed's dumps show no nfacct match, nfacct objects are per network namespace and
    /// a fresh one has none (so `-m nfacct` would make iptables-restore fail there), and the twin cannot know
    /// whether the node's kernel has nfnetlink_acct loaded. Turn it on to model a node where it succeeded.</summary>
    public bool NfacctCountersAvailable { get; init; }
    /// <summary>The sysctl net.netfilter.nf_conntrack_tcp_be_liberal as kube-proxy reads it (1.29+ omits the
    /// INVALID drop when it is non-zero). Null: taken from `conntrack.tcpBeLiberal` of the configuration.</summary>
    public bool? ConntrackTcpBeLiberal { get; init; }
    /// <summary>Write the mark as kube-proxy's unit tests' fake does (`0x4000`) instead of `%#08x`
    /// (`0x00004000`): only for comparing against upstream test expectations.</summary>
    public bool FakeProxierMarkFormat { get; init; }
}
