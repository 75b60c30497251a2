using PacketLife.Core.Azure;

namespace PacketLife.Core.Cluster;

/// <summary>What the control plane's controllers remember between invocations: the random source's word,
/// the node CIDR allocator's candidate, host-local's `last_reserved_ip` per node, the next VMSS instance.</summary>
public sealed class ControllerState
{
    public ulong RandomState { get; set; }
    public int NextNodeCidrCandidate { get; set; }
    public Dictionary<string, string> LastReservedIp { get; set; } = new(StringComparer.Ordinal);
    public int NextVmssInstance { get; set; }
    public long ResourceVersion { get; set; } = 1000;
    /// <summary>`namespace/name` of imported Services and Deployments: their EndpointSlices, ReplicaSets and
    /// Pods came from a real cluster, so the simulated controllers leave them as imported.</summary>
    public HashSet<string> Imported { get; set; } = new(StringComparer.Ordinal);
}

/// <summary>A whole cluster: the profile, every Kubernetes object, controller memory and the Azure objects.
/// This is runtime state (it mutates as verbs run); the objects in it are immutable records that
/// operations replace.</summary>
public sealed class ClusterState
{
    public ClusterProfile Profile { get; set; } = new();
    public List<Node> Nodes { get; set; } = [];
    public List<Pod> Pods { get; set; } = [];
    public List<Service> Services { get; set; } = [];
    public List<EndpointSlice> EndpointSlices { get; set; } = [];
    public List<Deployment> Deployments { get; set; } = [];
    public List<ReplicaSet> ReplicaSets { get; set; } = [];
    public ControllerState Controllers { get; set; } = new();
    public AzureState Azure { get; set; } = new();

    /// <summary>The seed's cluster (see <see cref="EmbeddedCluster"/>).</summary>
    public static ClusterState EmbeddedDefault(TimeProvider clock, ulong seed = EmbeddedCluster.DefaultSeed) =>
        EmbeddedCluster.Build(new ClusterProfile(), clock, seed, nodeCount: 2, registrationOrder: [1, 0]);

    public Service? FindService(string ns, string name) => Services.Find(s => s.Metadata.Namespace == ns && s.Metadata.Name == name);
    public Pod? FindPod(string ns, string name) => Pods.Find(p => p.Metadata.Namespace == ns && p.Metadata.Name == name);
    public Deployment? FindDeployment(string ns, string name) => Deployments.Find(d => d.Metadata.Namespace == ns && d.Metadata.Name == name);
    public Node? FindNode(string name) => Nodes.Find(n => n.Metadata.Name == name);
}
