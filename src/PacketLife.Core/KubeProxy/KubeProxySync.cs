using PacketLife.Core.Cluster;
using PacketLife.Core.Diagnostics;

namespace PacketLife.Core.KubeProxy;

/// <summary>Everything one kube-proxy (one IP family) sees on one node at a full sync.</summary>
public sealed record KubeProxySyncInput
{
    public IReadOnlyList<Service> Services { get; init; } = [];
    public IReadOnlyList<EndpointSlice> EndpointSlices { get; init; } = [];
    /// <summary>Optional: the node object gives the node IP (InternalIP) and podCIDR (detectLocalMode NodeCIDR).</summary>
    public IReadOnlyList<Node> Nodes { get; init; } = [];
    /// <summary>The node name kube-proxy runs as (endpoints with this nodeName are local).</summary>
    public required string Hostname { get; init; }
    /// <summary>The node's own addresses (besides loopback); empty = the Node object's InternalIP.</summary>
    public IReadOnlyList<string> NodeIPs { get; init; } = [];
    public required KubeProxyConfiguration Configuration { get; init; }
    public KubeProxyEnvironment Environment { get; init; } = new();
    public IpFamily Family { get; init; } = IpFamily.IPv4;
    /// <summary>Chains already in the node's nat table: stale KUBE-SVC/SVL/EXT/FW/SEP ones are flushed and deleted (§9).</summary>
    public IReadOnlyCollection<string> ExistingNatChains { get; init; } = [];
    /// <summary>Where an object was read (file:line), for diagnostics; default names the object.</summary>
    public Func<object, SourceLocation>? Locate { get; init; }
    public SourceLocation ConfigurationLocation { get; init; } = new("KubeProxyConfiguration", 0, 0);
}

/// <summary>A rule kube-proxy inserts (`iptables -I`) into a built-in chain outside the restore payload (§2.4).</summary>
public sealed record JumpRule(string Table, string SourceChain, string Args, string TargetChain)
{
    /// <summary>The rule as `-A CHAIN args -j TARGET`, in kube-proxy's argument order.</summary>
    public string Text => Args.Length == 0 ? $"-A {SourceChain} -j {TargetChain}" : $"-A {SourceChain} {Args} -j {TargetChain}";
}

/// <summary>The result of one full sync: the restore payload and what kube-proxy sets up around it.</summary>
public sealed record KubeProxySyncResult
{
    /// <summary>The text fed to `iptables-restore --noflush --counters`, in generation order.</summary>
    public required string RestorePayload { get; init; }
    public required IReadOnlyList<Diagnostic> Diagnostics { get; init; }
    /// <summary>Jump rules, in the order kube-proxy ensures (prepends) them.</summary>
    public required IReadOnlyList<JumpRule> JumpRules { get; init; }
    /// <summary>(table, chain) of the empty canary chains: kube-proxy's and kubelet's.</summary>
    public required IReadOnlyList<(string Table, string Chain)> Canaries { get; init; }
    public required IReadOnlyList<ServicePortEndpoints> ServicePorts { get; init; }
    public required int RuleCount { get; init; }
    /// <summary>More than 1000 endpoints: SVC→SEP and SEP rules carry no comment (§9).</summary>
    public required bool LargeClusterMode { get; init; }
    public required string MasqueradeMark { get; init; }
    public required IpFamily Family { get; init; }
    /// <summary>Every line of <see cref="RestorePayload"/> with its rules in save form, made as the payload was written
    /// (for <see cref="NodeIptablesView"/>); null when the sync could not vouch for them.</summary>
    internal PayloadSaveForms? SaveForms { get; init; }
}
