using PacketLife.Core.Cluster;
using PacketLife.Core.KubeProxy;

namespace PacketLife.Tests.KubeProxy;

/// <summary>Terse constructors for the objects the spec tables use, in the API's words.</summary>
static class K8s
{
    public static ObjectMeta Meta(string nsName, IReadOnlyDictionary<string, string>? labels = null)
    {
        var parts = nsName.Split('/');
        return new ObjectMeta { Namespace = parts[0], Name = parts[1], Labels = labels ?? new Dictionary<string, string>() };
    }

    public static Service Svc(string nsName, string clusterIP, ServiceType type, params ServicePort[] ports) =>
        new() { Metadata = Meta(nsName), Spec = new ServiceSpec { Type = type, ClusterIP = clusterIP, Ports = ports } };

    public static ServicePort Port(int port, string name = "", Protocol protocol = Protocol.TCP, int nodePort = 0) =>
        new() { Name = name, Port = port, Protocol = protocol, NodePort = nodePort, TargetPort = IntOrString.FromInt(port) };

    public static Service WithLb(this Service s, params string[] ips) =>
        s with { Status = new ServiceStatus { LoadBalancerIngress = ips.Select(i => new LoadBalancerIngress(i)).ToArray() } };

    public static Service With(this Service s, Func<ServiceSpec, ServiceSpec> f) => s with { Spec = f(s.Spec) };

    public static EndpointSlice Slice(string nsName, string service, string? portName, int port, params Endpoint[] eps) =>
        Slice(nsName, service, [new EndpointPort(portName, Protocol.TCP, port)], eps);

    public static EndpointSlice Slice(string nsName, string service, EndpointPort[] ports, params Endpoint[] eps) => new()
    {
        Metadata = Meta(nsName, new Dictionary<string, string> { ["kubernetes.io/service-name"] = service }),
        Ports = ports,
        Endpoints = eps,
    };

    public static Endpoint Ep(string ip, string? node = null, bool? ready = null, bool? serving = null, bool? terminating = null) =>
        new() { Addresses = [ip], NodeName = node, Conditions = new EndpointConditions(ready, serving, terminating) };

    /// <summary>The configuration of kube-proxy's unit tests: ClusterCIDR detector on 10.0.0.0/8.</summary>
    public static KubeProxyConfiguration TestConfig => new() { ClusterCIDR = "10.0.0.0/8" };

    public static KubeProxySyncResult Sync(IEnumerable<Service> svcs, IEnumerable<EndpointSlice> slices, KubeProxyConfiguration? cfg = null,
        KubeProxyEnvironment? env = null, string host = "test-hostname", string[]? nodeIPs = null, IpFamily family = IpFamily.IPv4) =>
        IptablesProxier.Sync(new KubeProxySyncInput
        {
            Services = svcs.ToArray(),
            EndpointSlices = slices.ToArray(),
            Hostname = host,
            NodeIPs = nodeIPs ?? ["192.168.0.2"],
            Configuration = cfg ?? TestConfig,
            Environment = env ?? new KubeProxyEnvironment { Version = KubeProxyVersion.V1_28 },
            Family = family,
        });

    /// <summary>The payload's lines of one table, in order.</summary>
    public static string[] Table(string payload, string table)
    {
        var lines = payload.Split('\n');
        int start = Array.IndexOf(lines, "*" + table);
        int end = Array.IndexOf(lines, "COMMIT", start);
        return lines[(start + 1)..end];
    }

    public static string[] Rules(string payload, string table) => Table(payload, table).Where(l => l.StartsWith("-A ")).ToArray();
}
