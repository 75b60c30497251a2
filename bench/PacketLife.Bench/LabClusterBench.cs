using System.Diagnostics;
using System.Globalization;
using PacketLife.App.Cli;
using PacketLife.Lab;
using PacketLife.Lab.Cluster;

namespace PacketLife.Bench;

/// <summary>`lab-up [ROUNDS]`: `lab up` (in process, without the .NET start of the CLI) and `lab down` for the seed's
/// deployment cluster (2 nodes, 2 nginx replicas behind a LoadBalancer Service, the AKS add-ons) and for 20 nodes ×
/// 10 pods; best and median of ROUNDS. Root and Linux only.</summary>
public sealed class LabUpBench : IBench
{
    public string Name => "lab-up";

    public int Run(string[] args)
    {
        int rounds = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 3;
        var problems = LabPrerequisites.Problems(LabClusterCommands.UpTools);
        if (problems.Count > 0) { Console.Error.WriteLine(problems[0]); return 2; }
        var work = Path.Combine(Path.GetTempPath(), "plt-bench-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(work);
        try
        {
            Console.WriteLine("| benchmark | nodes | pods built | namespaces | up best | up median | down median |");
            Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- |");
            Measure("seed deployment", State(work, "seed", nodes: 2, replicas: 2), rounds, work);
            // 20 nodes × 10 pods: the add-ons' pods plus an nginx Deployment filling up to 200 pod-network pods.
            var big = State(work, "big", nodes: 20, replicas: 200 - 7);
            Measure("20 x 10", big, rounds, work);
            return 0;
        }
        finally
        {
            Directory.Delete(work, true);
        }
    }

    static string State(string work, string name, int nodes, int replicas)
    {
        var path = Path.Combine(work, name + ".json");
        Check("cluster", "init", "--nodes", nodes.ToString(CultureInfo.InvariantCulture), "--public-ip-prefix", "203.0.113.0/24", "--cluster", path, "--force");
        Check("kubectl", "--cluster", path, "create", "deploy", "nginx", "--image=nginx", "--port=80", $"--replicas={replicas}");
        Check("kubectl", "--cluster", path, "expose", "deploy", "nginx", "--type=LoadBalancer");
        return path;
    }

    static void Check(params string[] args)
    {
        var e = new StringWriter();
        if (PacketLife.App.Program.Run(args, new StringWriter(), e) != 0) throw new InvalidOperationException(e.ToString());
    }

    static void Measure(string label, string path, int rounds, string work)
    {
        var state = PacketLife.Manifests.StateFile.Load(path)!;
        var ups = new List<double>();
        var downs = new List<double>();
        ClusterLab? last = null;
        for (int i = 0; i < rounds; i++)
        {
            var sw = Stopwatch.StartNew();
            var lab = ClusterLab.Up(state, LabClusterCommands.NodeRules(state), new ClusterLabOptions("legacy", Path.Combine(work, "labs"), LabClusterCommands.ProberArgv()));
            ups.Add(sw.Elapsed.TotalSeconds);
            last = lab;
            sw.Restart();
            lab.Down();
            downs.Add(sw.Elapsed.TotalSeconds);
        }
        ups.Sort();
        downs.Sort();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| lab-up {label} | {last!.Plan.Nodes.Count} | {last.Plan.Pods.Count} | {3 + last.Plan.Nodes.Count + last.Plan.Pods.Count} | {ups[0]:0.00} s | {ups[ups.Count / 2]:0.00} s | {downs[downs.Count / 2]:0.00} s |"));
    }
}

/// <summary>`lab-verify [CASES] [SEED] [CONNECTIONS]`: `packetlife verify` end to end (random clusters built and torn
/// down, the twin's tracer, real connections), once comparing outcomes only and once with each connection's conntrack
/// entries too (one `conntrack -L` per node per case, one twin connection replayed per real one); prints cases per
/// second of both, so the cost of the conntrack comparison is measured in the same run.</summary>
public sealed class LabVerifyBench : IBench
{
    public string Name => "lab-verify";

    public int Run(string[] args)
    {
        int cases = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 200;
        ulong seed = args.Length > 1 ? ulong.Parse(args[1], CultureInfo.InvariantCulture) : 7;
        int connections = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 10;
        int code = 0;
        foreach (var conntrack in new[] { false, true })
        {
            var out_ = new StringWriter();
            var sw = Stopwatch.StartNew();
            code |= VerifyCommand.Run(cases, seed, 25, connections, false, Path.Combine(Path.GetTempPath(), "plt-bench-verify"), Path.Combine(Path.GetTempPath(), "plt-bench-verify-failures"),
                out_, TextWriter.Null, shrinkTries: 0, compareConntrack: conntrack);
            Console.Write(out_.ToString());
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| lab-verify {(conntrack ? "with conntrack" : "outcomes only")} | {cases} cases | {connections} connections each | {sw.Elapsed.TotalSeconds:0.0} s | {cases / sw.Elapsed.TotalSeconds:0.00} cases/s |"));
        }
        return code;
    }
}
