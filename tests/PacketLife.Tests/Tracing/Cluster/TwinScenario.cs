using PacketLife.Core.Cluster;
using PacketLife.Core.Net;
using PacketLife.Core.Topology;
using PacketLife.Core.Tracing.Cluster;
using PacketLife.Manifests;
using PacketLife.Tests.Cluster;

namespace PacketLife.Tests.Tracing.Cluster;

/// <summary>A cluster typed in with the seed's kubectl verbs (through the real CLI, on a manual clock), then read back
/// as the tracer sees it.</summary>
public sealed class TwinScenario : IDisposable
{
    public CliTestHost Host { get; } = new();

    public TwinScenario(params string[] kubectl)
    {
        foreach (var line in kubectl)
        {
            var (code, _, err) = Host.Run("kubectl " + line);
            Assert.True(code == 0, $"kubectl {line}: {err}");
        }
    }

    public static TwinScenario SeedPod() => new("run --image=nginx nginx --port=80", "expose po nginx --type=LoadBalancer");
    public static TwinScenario SeedDeployment(int replicas = 2) =>
        new($"create deploy nginx --image=nginx --port=80 --replicas={replicas}", "expose deploy nginx --type=LoadBalancer");

    /// <summary>A Service over the seed's nginx pods (`app: nginx`, port 80 to 80) with extra `spec` lines.</summary>
    public static string NginxService(string name, string type, params string[] spec) =>
        $"apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n  namespace: default\nspec:\n  type: {type}\n"
        + string.Concat(spec.Select(l => "  " + l + "\n"))
        + "  selector:\n    app: nginx\n  ports:\n  - port: 80\n    targetPort: 80";

    /// <summary>`web`: a LoadBalancer Service with externalTrafficPolicy Local.</summary>
    public static string EtpLocalWeb { get; } = NginxService("web", "LoadBalancer", "externalTrafficPolicy: Local");

    public ClusterState State => StateFile.Load(Host.StatePath)!;
    public ClusterTopology Topology() => ClusterTopology.Build(State, Host.Clock);
    public ClusterTracer Tracer() => new(Topology());

    public ClusterTrace Explain(string from, string to, IpProtocol proto = IpProtocol.Tcp, ClusterTracer? tracer = null)
    {
        tracer ??= Tracer();
        var (r, error) = TraceTargets.Resolve(tracer.Topology, from, to, proto);
        Assert.True(r is not null, error);
        return tracer.Explain(r!.From, r.To, proto);
    }

    public Service Service(string name = "nginx") => State.FindService("default", name)!;
    public IReadOnlyList<Pod> Pods(string prefix = "nginx") => State.Pods.Where(p => p.Metadata.Namespace == "default" && p.Metadata.Name.StartsWith(prefix, StringComparison.Ordinal)).ToList();
    public string NodeIp(string node) => State.FindNode(node)!.InternalIP!;

    public void Dispose() => Host.Dispose();
}
