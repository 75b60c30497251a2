namespace PacketLife.Core.Cluster;

// The Kubernetes objects PacketLife models, with the API's field names (core/v1, apps/v1,
// discovery.k8s.io/v1). Only the fields that networking, scheduling and `kubectl get` use are
// here; the readers report every other field instead of dropping it silently.
// These are immutable snapshots: controllers produce new objects, they never mutate one.

public sealed record ObjectMeta
{
    public required string Name { get; init; }
    public string Namespace { get; init; } = "default";
    public string Uid { get; init; } = "";
    public DateTimeOffset CreationTimestamp { get; init; }
    public IReadOnlyDictionary<string, string> Labels { get; init; } = new Dictionary<string, string>();
    public IReadOnlyDictionary<string, string> Annotations { get; init; } = new Dictionary<string, string>();
    /// <summary>Owner (kind, name, uid): Pod → ReplicaSet → Deployment, EndpointSlice → Service.</summary>
    public IReadOnlyList<OwnerReference> OwnerReferences { get; init; } = [];
    public string ResourceVersion { get; init; } = "";
    public string GenerateName { get; init; } = "";
}

public sealed record OwnerReference(string ApiVersion, string Kind, string Name, string Uid, bool Controller = true);

/// <summary>A port number or a port name (Service targetPort, container port name).</summary>
public readonly record struct IntOrString(int? IntValue, string? StringValue)
{
    public static IntOrString FromInt(int v) => new(v, null);
    public static IntOrString FromString(string s) => new(null, s);
    public bool IsInt => IntValue.HasValue;
    public override string ToString() => IntValue?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? StringValue ?? "";
}

public enum ServiceType { ClusterIP, NodePort, LoadBalancer, ExternalName }

public enum TrafficPolicy { Cluster, Local }

public enum SessionAffinity { None, ClientIP }

/// <summary>`TCP`, `UDP`, `SCTP` as the API spells them.</summary>
public enum Protocol { TCP, UDP, SCTP }

public sealed record ServicePort
{
    public string Name { get; init; } = "";
    public Protocol Protocol { get; init; } = Protocol.TCP;
    public required int Port { get; init; }
    public IntOrString TargetPort { get; init; }
    /// <summary>0 when none is allocated.</summary>
    public int NodePort { get; init; }
    public string? AppProtocol { get; init; }
}

public sealed record ServiceSpec
{
    public ServiceType Type { get; init; } = ServiceType.ClusterIP;
    public IReadOnlyDictionary<string, string> Selector { get; init; } = new Dictionary<string, string>();
    public IReadOnlyList<ServicePort> Ports { get; init; } = [];
    /// <summary>"" (not yet allocated), "None" (headless) or an address.</summary>
    public string ClusterIP { get; init; } = "";
    public IReadOnlyList<string> ClusterIPs { get; init; } = [];
    public IReadOnlyList<string> IpFamilies { get; init; } = [];
    public string? IpFamilyPolicy { get; init; }
    public IReadOnlyList<string> ExternalIPs { get; init; } = [];
    public string? ExternalName { get; init; }
    /// <summary>Only meaningful for NodePort/LoadBalancer (the API server defaults it to Cluster there).</summary>
    public TrafficPolicy? ExternalTrafficPolicy { get; init; }
    public TrafficPolicy? InternalTrafficPolicy { get; init; }
    public int HealthCheckNodePort { get; init; }
    public SessionAffinity SessionAffinity { get; init; } = SessionAffinity.None;
    /// <summary>`sessionAffinityConfig.clientIP.timeoutSeconds` (API default 10800).</summary>
    public int? SessionAffinityTimeoutSeconds { get; init; }
    public IReadOnlyList<string> LoadBalancerSourceRanges { get; init; } = [];
    public string? LoadBalancerIP { get; init; }
    public bool? AllocateLoadBalancerNodePorts { get; init; }
    public bool PublishNotReadyAddresses { get; init; }
}

public sealed record LoadBalancerIngress(string? Ip, string? Hostname = null, string? IpMode = null);

public sealed record ServiceStatus
{
    public IReadOnlyList<LoadBalancerIngress> LoadBalancerIngress { get; init; } = [];
}

public sealed record Service
{
    public required ObjectMeta Metadata { get; init; }
    public ServiceSpec Spec { get; init; } = new();
    public ServiceStatus Status { get; init; } = new();
}

public sealed record EndpointConditions(bool? Ready = null, bool? Serving = null, bool? Terminating = null);

public sealed record EndpointTargetRef(string Kind, string Name, string Namespace, string Uid = "");

public sealed record Endpoint
{
    public IReadOnlyList<string> Addresses { get; init; } = [];
    public EndpointConditions Conditions { get; init; } = new();
    public string? NodeName { get; init; }
    public string? Zone { get; init; }
    public string? Hostname { get; init; }
    public EndpointTargetRef? TargetRef { get; init; }
}

public sealed record EndpointPort(string? Name, Protocol? Protocol, int? Port, string? AppProtocol = null);

public sealed record EndpointSlice
{
    public required ObjectMeta Metadata { get; init; }
    /// <summary>IPv4, IPv6 or FQDN.</summary>
    public string AddressType { get; init; } = "IPv4";
    public IReadOnlyList<Endpoint> Endpoints { get; init; } = [];
    public IReadOnlyList<EndpointPort> Ports { get; init; } = [];

    /// <summary>The Service this slice belongs to (label `kubernetes.io/service-name`).</summary>
    public string? ServiceName => Metadata.Labels.TryGetValue("kubernetes.io/service-name", out var n) ? n : null;
}

public sealed record ContainerPort(int Port, string? Name = null, Protocol Protocol = Protocol.TCP);

public sealed record Container
{
    public required string Name { get; init; }
    public required string Image { get; init; }
    public IReadOnlyList<ContainerPort> Ports { get; init; } = [];
}

public sealed record PodSpec
{
    public IReadOnlyList<Container> Containers { get; init; } = [];
    public string? NodeName { get; init; }
    public bool HostNetwork { get; init; }
    public string RestartPolicy { get; init; } = "Always";
}

public sealed record PodStatus
{
    /// <summary>Pending, Running, Succeeded, Failed, Unknown.</summary>
    public string Phase { get; init; } = "Pending";
    public string? PodIP { get; init; }
    public string? HostIP { get; init; }
    public bool Ready { get; init; }
    public int Restarts { get; init; }
    public DateTimeOffset? StartTime { get; init; }
    /// <summary>Set while the pod is being deleted (graceful termination): endpoints become terminating.</summary>
    public DateTimeOffset? DeletionTimestamp { get; init; }
}

public sealed record Pod
{
    public required ObjectMeta Metadata { get; init; }
    public PodSpec Spec { get; init; } = new();
    public PodStatus Status { get; init; } = new();
}

public sealed record NodeAddress(string Type, string Address);

public sealed record NodeInfo
{
    public string KubeletVersion { get; init; } = "";
    public string OsImage { get; init; } = "";
    public string KernelVersion { get; init; } = "";
    public string ContainerRuntimeVersion { get; init; } = "";
    public string OperatingSystem { get; init; } = "linux";
    public string Architecture { get; init; } = "amd64";
}

public sealed record Node
{
    public required ObjectMeta Metadata { get; init; }
    /// <summary>The node's pod CIDR (kubenet: one /24 per node).</summary>
    public string? PodCIDR { get; init; }
    public string? ProviderID { get; init; }
    public bool Unschedulable { get; init; }
    public IReadOnlyList<NodeAddress> Addresses { get; init; } = [];
    public bool Ready { get; init; } = true;
    public NodeInfo Info { get; init; } = new();

    public string? InternalIP => Addresses.FirstOrDefault(a => a.Type == "InternalIP")?.Address;
}

public sealed record PodTemplate
{
    public IReadOnlyDictionary<string, string> Labels { get; init; } = new Dictionary<string, string>();
    public PodSpec Spec { get; init; } = new();
}

public sealed record Deployment
{
    public required ObjectMeta Metadata { get; init; }
    public int Replicas { get; init; } = 1;
    public IReadOnlyDictionary<string, string> Selector { get; init; } = new Dictionary<string, string>();
    public PodTemplate Template { get; init; } = new();
}

public sealed record ReplicaSet
{
    public required ObjectMeta Metadata { get; init; }
    public int Replicas { get; init; } = 1;
    public IReadOnlyDictionary<string, string> Selector { get; init; } = new Dictionary<string, string>();
    public PodTemplate Template { get; init; } = new();
}
