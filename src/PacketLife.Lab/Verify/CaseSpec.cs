using PacketLife.Core.Cluster;
using PacketLife.Core.Net;
using PacketLife.Core.Topology;
using PacketLife.Core.Tracing.Cluster;

namespace PacketLife.Lab.Verify;

/// <summary>A verify case named by the objects it uses rather than by addresses, so that it still means the same
/// connection in a shrunk cluster (where pods get other names and addresses): the Service and port by name, the
/// sending pod by its Deployment and position, nodes by position.</summary>
/// <param name="Category">internet->LB, internet->NodePort, pod->ClusterIP, pod->own Service, node->NodePort, probe.</param>
/// <param name="Service">The Service's name (namespace default).</param>
/// <param name="Port">The Service port's name (`p0`, `p1`).</param>
/// <param name="Source">`client`, `lb`, `node#I` or `pod:DEPLOYMENT#I` (the I-th built pod of the Deployment by name).</param>
/// <param name="TargetNode">The node a NodePort or a probe goes to (by position, modulo the node count).</param>
/// <param name="Probe">Which of the Service's LB probes (by name order), for `probe`.</param>
public sealed record CaseSpec(string Category, string Service, string Port, string Source, int TargetNode = 0, int Probe = 0)
{
    public const string InternetToLb = "internet->LB";
    public const string InternetToNodePort = "internet->NodePort";
    public const string PodToClusterIp = "pod->ClusterIP";
    public const string PodToOwnService = "pod->own Service";
    public const string NodeToNodePort = "node->NodePort";
    public const string ProbeCategory = "probe";

    public static IReadOnlyList<string> Categories { get; } = [InternetToLb, InternetToNodePort, PodToClusterIp, PodToOwnService, NodeToNodePort, ProbeCategory];

    /// <summary>The Deployment a `pod:` source names, or null.</summary>
    public string? SourceDeployment => Source.StartsWith("pod:", StringComparison.Ordinal) ? Source[4..Source.IndexOf('#')] : null;

    int SourceIndex => int.Parse(Source[(Source.IndexOf('#') + 1)..], System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Whether the random cluster still has what this case needs (the Service, its port, the sending
    /// Deployment, the Service type the category needs). Replica counts are not checked here: a Deployment scaled to 0
    /// has no pod to send from, which <see cref="Resolve"/> reports.</summary>
    public bool AppliesTo(ClusterSpec spec)
    {
        var s = spec.Service(Service);
        if (s is null || s.Ports.All(p => p.Name != Port)) return false;
        if (SourceDeployment is { } d && spec.Deployments.All(x => x.Name != d)) return false;
        if (Category == PodToOwnService && spec.DeploymentOf(Service)?.Name != SourceDeployment) return false;
        return Category switch
        {
            InternetToLb or ProbeCategory => s.Type == "LoadBalancer",
            NodeToNodePort or InternetToNodePort => s.HasNodePorts,
            _ => true,
        };
    }

    /// <summary>The connection this case means in a built cluster, or null when something it names is not there.</summary>
    public VerifyCase? Resolve(ClusterTopology topo, Cluster.LabPlan plan)
    {
        var state = topo.State;
        var svc = state.FindService("default", Service);
        if (svc is null || svc.Spec.ClusterIP is not { Length: > 0 } cip || cip == "None") return null;
        var port = svc.Spec.Ports.FirstOrDefault(p => p.Name == Port);
        if (port is null) return null;
        bool affinity = svc.Spec.SessionAffinity == SessionAffinity.ClientIP;
        var label = $"svc/{Service}:{port.Port}";
        TopologyNode Node(int i) => topo.Nodes[((i % topo.Nodes.Length) + topo.Nodes.Length) % topo.Nodes.Length];
        switch (Category)
        {
            case InternetToLb:
                if (svc.Status.LoadBalancerIngress.Count == 0 || svc.Status.LoadBalancerIngress[0].Ip is not { } lbIp) return null;
                return new VerifyCase(Category, "client", new TraceSource.Internet(Ip4.Parse(Cluster.LabPlan.ClientIp)), Ip4.Parse(lbIp), (ushort)port.Port,
                    label + " LB IP", affinity, this);
            case PodToClusterIp:
            case PodToOwnService:
            {
                var from = SourcePod(topo, plan);
                if (from is null) return null;
                return new VerifyCase(Category, from.Key, new TraceSource.FromPod(from), Ip4.Parse(cip), (ushort)port.Port,
                    label + (Category == PodToOwnService ? " (its own)" : " cluster IP"), affinity, this);
            }
            case NodeToNodePort:
            {
                if (port.NodePort <= 0) return null;
                var from = Node(SourceIndex);
                var to = Node(TargetNode);
                return new VerifyCase(Category, from.Name, new TraceSource.FromNode(from), to.Ip, (ushort)port.NodePort,
                    $"svc/{Service} NodePort on {to.Name}", affinity, this);
            }
            case InternetToNodePort:
            {
                // A node's address is private to the VNet: Azure delivers nothing to it from the internet (the lab's
                // fabric blackholes it as well), whatever the NodePort.
                if (port.NodePort <= 0) return null;
                var to = Node(TargetNode);
                return new VerifyCase(Category, "client", new TraceSource.Internet(Ip4.Parse(Cluster.LabPlan.ClientIp)), to.Ip, (ushort)port.NodePort,
                    $"svc/{Service} NodePort on {to.Name} from the internet", affinity, this);
            }
            case ProbeCategory:
            {
                var probes = ProbesOf(state, Service);
                if (probes.Count == 0) return null;
                var p = probes[Probe % probes.Count];
                var to = Node(TargetNode);
                return new VerifyCase(Category, "lb", new TraceSource.Probe(), to.Ip, (ushort)p.Port, $"{p.Protocol} probe {p.Name} to {to.Name}", affinity, this);
            }
            default:
                return null;
        }
    }

    TopologyPod? SourcePod(ClusterTopology topo, Cluster.LabPlan plan)
    {
        var pods = PodsOf(topo, plan, SourceDeployment!);
        return pods.Count == 0 ? null : pods[SourceIndex % pods.Count];
    }

    /// <summary>The built pods of a Deployment (label `app: NAME`), in name order.</summary>
    public static IReadOnlyList<TopologyPod> PodsOf(ClusterTopology topo, Cluster.LabPlan plan, string deployment) =>
        topo.Pods.Where(p => plan.FindPod(p.Key) is not null && p.Pod.Metadata.Namespace == "default"
                             && p.Pod.Metadata.Labels.TryGetValue("app", out var a) && a == deployment)
            .OrderBy(p => p.Key, StringComparer.Ordinal).ToList();

    /// <summary>The LB health probes that cloud-provider-azure made for a Service, in name order.</summary>
    public static IReadOnlyList<PacketLife.Core.Azure.HealthProbe> ProbesOf(ClusterState state, string service) =>
        state.Azure.LoadBalancer.Probes.Where(p => p.Port > 0 && p.Service == "default/" + service).OrderBy(p => p.Name, StringComparer.Ordinal).ToList();

    public override string ToString() => $"{Category} {Source} -> svc/{Service} port {Port}" +
        (Category is NodeToNodePort or InternetToNodePort or ProbeCategory ? $" on node #{TargetNode}" : "") + (Category == ProbeCategory ? $" probe #{Probe}" : "");
}
