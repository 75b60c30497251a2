using System.Globalization;
using System.Text;

namespace PacketLife.Lab.Verify;

/// <summary>One Service port of a random cluster: `port` on the Service, `targetPort` on the pods (80 is nginx's,
/// 8081 is a port nothing listens on).</summary>
public sealed record RandomPort(string Name, int Port, int TargetPort);

/// <summary>One Service of a random cluster, with every field `verify` varies. <see cref="SourceRange"/> is
/// loadBalancerSourceRanges' one entry (LoadBalancer only), null for none.</summary>
public sealed record RandomService(string Name, string Type, bool EtpLocal, bool ItpLocal, bool Affinity, string? SourceRange, IReadOnlyList<RandomPort> Ports)
{
    public bool HasNodePorts => Type is "NodePort" or "LoadBalancer";

    /// <summary>The features a shrink may drop, in words (for the report).</summary>
    public IEnumerable<string> Features()
    {
        if (EtpLocal) yield return "externalTrafficPolicy Local";
        if (ItpLocal) yield return "internalTrafficPolicy Local";
        if (Affinity) yield return "sessionAffinity ClientIP";
        if (SourceRange is not null) yield return "loadBalancerSourceRanges " + SourceRange;
        foreach (var p in Ports.Where(p => p.TargetPort != 80)) yield return $"port {p.Name} targets {p.TargetPort}";
    }
}

/// <summary>A Deployment of nginx (`--port=80`) and the Services that select it (`app: NAME`).</summary>
public sealed record RandomDeployment(string Name, int Replicas, IReadOnlyList<RandomService> Services);

/// <summary>A random cluster as data, so that the shrinker can take it apart: `cluster init --nodes N --seed S`, the
/// Deployments, and their Services. <see cref="Commands"/> and <see cref="ServicesYaml"/> are what a user would type
/// to build the same state with `packetlife` (cluster init, kubectl create deploy, kubectl apply -f).</summary>
public sealed record ClusterSpec(ulong Seed, int Nodes, IReadOnlyList<RandomDeployment> Deployments)
{
    /// <summary>The lab's public addresses come from TEST-NET-3 (RFC 5737), as `lab up` expects.</summary>
    public const string PublicIpPrefix = "203.0.113.0/24";

    public IEnumerable<RandomService> Services => Deployments.SelectMany(d => d.Services);

    public RandomDeployment? DeploymentOf(string service) => Deployments.FirstOrDefault(d => d.Services.Any(s => s.Name == service));

    public RandomService? Service(string name) => Services.FirstOrDefault(s => s.Name == name);

    public IReadOnlyList<string[]> Commands
    {
        get
        {
            var cmds = new List<string[]>
            {
                new[] { "cluster", "init", "--nodes", Nodes.ToString(CultureInfo.InvariantCulture), "--seed", Seed.ToString(CultureInfo.InvariantCulture), "--public-ip-prefix", PublicIpPrefix, "--force" },
            };
            foreach (var d in Deployments)
                cmds.Add(["kubectl", "create", "deploy", d.Name, "--image=nginx", "--port=80", $"--replicas={d.Replicas}"]);
            return cmds;
        }
    }

    public string ServicesYaml
    {
        get
        {
            var yaml = new StringBuilder();
            foreach (var d in Deployments)
                foreach (var s in d.Services)
                {
                    yaml.Append("---\napiVersion: v1\nkind: Service\nmetadata:\n  name: ").Append(s.Name).Append("\n  namespace: default\nspec:\n");
                    yaml.Append("  type: ").Append(s.Type).Append('\n');
                    yaml.Append("  selector:\n    app: ").Append(d.Name).Append('\n');
                    if (s.EtpLocal) yaml.Append("  externalTrafficPolicy: Local\n");
                    if (s.ItpLocal) yaml.Append("  internalTrafficPolicy: Local\n");
                    if (s.Affinity) yaml.Append("  sessionAffinity: ClientIP\n");
                    if (s.SourceRange is { } range) yaml.Append("  loadBalancerSourceRanges:\n  - ").Append(range).Append('\n');
                    yaml.Append("  ports:\n");
                    foreach (var p in s.Ports)
                        yaml.Append("  - name: ").Append(p.Name).Append("\n    protocol: TCP\n    port: ").Append(p.Port.ToString(CultureInfo.InvariantCulture))
                            .Append("\n    targetPort: ").Append(p.TargetPort.ToString(CultureInfo.InvariantCulture)).Append('\n');
                }
            return yaml.ToString();
        }
    }

    /// <summary>A size for comparing shrinks: nodes, replicas, Services, ports and features all count.</summary>
    public int Size => Nodes + Deployments.Sum(d => 1 + d.Replicas + d.Services.Sum(s => 1 + s.Ports.Count + s.Features().Count() + TypeWeight(s.Type)));

    static int TypeWeight(string type) => type switch { "LoadBalancer" => 2, "NodePort" => 1, _ => 0 };

    /// <summary>One line per object, for reports: `2 nodes; web0 ×2: web0-0 LoadBalancer [80→80] eTP Local`.</summary>
    public string Describe()
    {
        var sb = new StringBuilder();
        sb.Append(Nodes).Append(Nodes == 1 ? " node" : " nodes");
        foreach (var d in Deployments)
        {
            sb.Append("; ").Append(d.Name).Append(" ×").Append(d.Replicas);
            foreach (var s in d.Services)
            {
                sb.Append(": ").Append(s.Name).Append(' ').Append(s.Type).Append(" [")
                  .Append(string.Join(", ", s.Ports.Select(p => $"{p.Name} {p.Port}→{p.TargetPort}"))).Append(']');
                foreach (var f in s.Features().Where(f => !f.StartsWith("port ", StringComparison.Ordinal))) sb.Append(", ").Append(f);
            }
        }
        return sb.ToString();
    }
}
