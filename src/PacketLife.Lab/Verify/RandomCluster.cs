namespace PacketLife.Lab.Verify;

/// <summary>A random cluster for `packetlife verify`, as the commands a user would type into the twin: `cluster init`,
/// `kubectl create deploy`, and one `kubectl apply -f` of Services (so every Service field is reachable: type,
/// several ports, target ports a pod may not listen on, externalTrafficPolicy and internalTrafficPolicy
/// Cluster/Local, ClientIP affinity, loadBalancerSourceRanges). The same seed gives the same script.</summary>
public sealed record RandomCluster(ClusterSpec Spec)
{
    /// <summary>Source range that admits the lab's internet client (198.51.100.10) or one that shuts it out.</summary>
    public const string ClientRange = "198.51.100.0/24";
    public const string OtherRange = "192.0.2.0/24";

    public ulong Seed => Spec.Seed;
    public int Nodes => Spec.Nodes;
    public IReadOnlyList<string[]> Commands => Spec.Commands;
    public string ServicesYaml => Spec.ServicesYaml;

    public static RandomCluster Generate(ulong seed)
    {
        var r = new Random(unchecked((int)(seed ^ (seed >> 32))));
        int nodes = r.Next(1, 5);
        int deployments = r.Next(1, 4);
        var list = new List<RandomDeployment>();
        for (int d = 0; d < deployments; d++)
        {
            var name = $"web{d}";
            // 0-4 replicas: 0 leaves a Service without endpoints (kube-proxy REJECTs or DROPs).
            int replicas = r.Next(0, 5);
            int services = r.Next(1, 3);
            var svcs = new List<RandomService>();
            for (int s = 0; s < services; s++)
            {
                var type = (r.Next(3)) switch { 0 => "ClusterIP", 1 => "NodePort", _ => "LoadBalancer" };
                bool etpLocal = type != "ClusterIP" && r.Next(3) == 0;
                bool affinity = r.Next(4) == 0;
                string? range = type == "LoadBalancer" && r.Next(4) == 0 ? (r.Next(2) == 0 ? ClientRange : OtherRange) : null;
                int ports = r.Next(1, 3);
                var used = new HashSet<int>();
                var portList = new List<RandomPort>();
                for (int p = 0; p < ports; p++)
                {
                    int port;
                    do port = (r.Next(3)) switch { 0 => 80, 1 => 8080, _ => 1000 + r.Next(9000) }; while (!used.Add(port));
                    // Mostly the pod's port 80; sometimes a port nothing listens on (connection refused).
                    var target = r.Next(5) == 0 ? 8081 : 80;
                    portList.Add(new RandomPort($"p{p}", port, target));
                }
                // internalTrafficPolicy Local (KEP-2086): traffic from inside the cluster to the ClusterIP goes only to
                // endpoints on the sender's node; drawn last so that older seeds keep their other fields.
                bool itpLocal = r.Next(5) == 0;
                svcs.Add(new RandomService($"{name}-{s}", type, etpLocal, itpLocal, affinity, range, portList));
            }
            list.Add(new RandomDeployment(name, replicas, svcs));
        }
        return new RandomCluster(new ClusterSpec(seed, nodes, list));
    }
}
