using System.Globalization;
using System.Text;

namespace PacketLife.Lab.Verify;

/// <summary>A random cluster for `packetlife verify`, as the commands a user would type into the twin: `cluster init`,
/// `kubectl create deploy`, and one `kubectl apply -f` of Services (so every Service field is reachable: type,
/// several ports, target ports a pod may not listen on, externalTrafficPolicy Cluster/Local, ClientIP affinity,
/// loadBalancerSourceRanges). The same seed gives the same script.</summary>
public sealed record RandomCluster(ulong Seed, int Nodes, IReadOnlyList<string[]> Commands, string ServicesYaml)
{
    /// <summary>Source range that admits the lab's internet client (198.51.100.10) or one that shuts it out.</summary>
    public const string ClientRange = "198.51.100.0/24";
    public const string OtherRange = "192.0.2.0/24";

    public static RandomCluster Generate(ulong seed)
    {
        var r = new Random(unchecked((int)(seed ^ (seed >> 32))));
        int nodes = r.Next(1, 5);
        var cmds = new List<string[]>
        {
            new[] { "cluster", "init", "--nodes", nodes.ToString(CultureInfo.InvariantCulture), "--seed", seed.ToString(CultureInfo.InvariantCulture), "--public-ip-prefix", "203.0.113.0/24", "--force" },
        };
        int deployments = r.Next(1, 4);
        var yaml = new StringBuilder();
        for (int d = 0; d < deployments; d++)
        {
            var name = $"web{d}";
            // 0-4 replicas: 0 leaves a Service without endpoints (kube-proxy REJECTs or DROPs).
            cmds.Add(["kubectl", "create", "deploy", name, "--image=nginx", "--port=80", $"--replicas={r.Next(0, 5)}"]);
            int services = r.Next(1, 3);
            for (int s = 0; s < services; s++)
            {
                var type = (r.Next(3)) switch { 0 => "ClusterIP", 1 => "NodePort", _ => "LoadBalancer" };
                yaml.Append("---\napiVersion: v1\nkind: Service\nmetadata:\n  name: ").Append(name).Append('-').Append(s).Append("\n  namespace: default\nspec:\n");
                yaml.Append("  type: ").Append(type).Append('\n');
                yaml.Append("  selector:\n    app: ").Append(name).Append('\n');
                if (type != "ClusterIP" && r.Next(3) == 0) yaml.Append("  externalTrafficPolicy: Local\n");
                if (r.Next(4) == 0) yaml.Append("  sessionAffinity: ClientIP\n");
                if (type == "LoadBalancer" && r.Next(4) == 0)
                    yaml.Append("  loadBalancerSourceRanges:\n  - ").Append(r.Next(2) == 0 ? ClientRange : OtherRange).Append('\n');
                yaml.Append("  ports:\n");
                int ports = r.Next(1, 3);
                var used = new HashSet<int>();
                for (int p = 0; p < ports; p++)
                {
                    int port;
                    do port = (r.Next(3)) switch { 0 => 80, 1 => 8080, _ => 1000 + r.Next(9000) }; while (!used.Add(port));
                    // Mostly the pod's port 80; sometimes a port nothing listens on (connection refused).
                    var target = r.Next(5) == 0 ? 8081 : 80;
                    yaml.Append("  - name: p").Append(p).Append("\n    protocol: TCP\n    port: ").Append(port).Append("\n    targetPort: ").Append(target).Append('\n');
                }
            }
        }
        return new RandomCluster(seed, nodes, cmds, yaml.ToString());
    }
}
