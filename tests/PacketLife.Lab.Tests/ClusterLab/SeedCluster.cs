using PacketLife.Core.Cluster;

namespace PacketLife.Lab.Tests.Clusters;

/// <summary>Cluster state files for the lab tests, made with the twin's own verbs (as a user would).</summary>
public static class SeedCluster
{
    public const string Node0 = "aks-nodepool1-33086427-vmss000000";
    public const string Node1 = "aks-nodepool1-33086427-vmss000001";

    public static (int Code, string Out, string Err) Run(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        var code = PacketLife.App.Program.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    /// <summary>The seed's second walkthrough (tests/PacketLife.Tests/Golden/Seed/kubenet-deployment.txt): the AKS
    /// kubenet cluster, `kubectl create deploy nginx --image=nginx --port=80 --replicas=2`, `kubectl expose deploy
    /// nginx --type=LoadBalancer`, with public IPs from TEST-NET-3.</summary>
    public static string Deployment(string dir, int replicas = 2, int nodes = 2)
    {
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, "cluster.json");
        Check(Run("cluster", "init", "--public-ip-prefix", "203.0.113.0/24", "--nodes", nodes.ToString(System.Globalization.CultureInfo.InvariantCulture), "--cluster", path, "--force"));
        Check(Run("kubectl", "--cluster", path, "create", "deploy", "nginx", "--image=nginx", "--port=80", $"--replicas={replicas}"));
        Check(Run("kubectl", "--cluster", path, "expose", "deploy", "nginx", "--type=LoadBalancer"));
        return path;
    }

    public static void Check((int Code, string Out, string Err) r)
    {
        if (r.Code != 0) throw new InvalidOperationException($"exit {r.Code}: {r.Err}{r.Out}");
    }

    public static ClusterState Load(string path) => PacketLife.Manifests.StateFile.Load(path)!;
}
