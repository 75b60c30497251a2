using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using PacketLife.Core.Cluster;
using PacketLife.Core.Routing;
using PacketLife.Core.Topology;
using PacketLife.Core.Tracing.Cluster;
using PacketLife.Lab;
using PacketLife.Lab.Cluster;
using PacketLife.Lab.Verify;

namespace PacketLife.App.Cli;

/// <summary>`packetlife verify [--cases N] [--seed S] [--keep-failing]`: random clusters and connections, each run in
/// the twin (every path with its probability) and in the lab (real namespaces, real connections), compared
/// (issue 6 item 3). Prints agreement per category and, for a disagreement, the state file and connection that
/// reproduce it. Exit 0 when everything agreed, 1 when something did not, 2 when the lab cannot run.</summary>
public sealed class VerifyCommand : ICommandGroup
{
    public int Order => 61;

    public IEnumerable<Command> Commands()
    {
        var cases = new Option<int>("--cases") { Description = "How many connections cases to compare", DefaultValueFactory = _ => 200 };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the random clusters and cases (the run repeats with it)", DefaultValueFactory = _ => 1 };
        var keep = new Option<bool>("--keep-failing") { Description = "Leave the lab of the first disagreement up (and its state file) for a look" };
        var perCluster = new Option<int>("--cases-per-cluster") { Description = "Cases drawn from each random cluster", DefaultValueFactory = _ => 25 };
        var connections = new Option<int>("--connections") { Description = "Real connections per case (pods' frequencies are tested against the twin's probabilities)", DefaultValueFactory = _ => 10 };
        var root = new Option<string>("--state-root") { Description = "Parent of the labs' state directories", DefaultValueFactory = _ => LabJournal.DefaultRoot };
        var show = new Option<bool>("--show-cases") { Description = "Print every case: the twin's outcomes and the lab's (stderr)" };
        var outDir = new Option<string>("--out") { Description = "Where failing cases are written", DefaultValueFactory = _ => "verify-failures" };
        var c = new Command("verify", "Compare the twin with the real kernel on random clusters and connections (root only)")
            { cases, seed, keep, perCluster, connections, root, outDir, show };
        c.SetAction(r =>
        {
            var problems = LabPrerequisites.Problems([.. LabClusterCommands.UpTools, new LabTool("curl", "curl")]);
            if (problems.Count > 0) throw new CliException(problems[0], 2);
            var o = r.InvocationConfiguration.Output;
            var err = r.InvocationConfiguration.Error;
            var result = Run(r.GetValue(cases), r.GetValue(seed), r.GetValue(perCluster), r.GetValue(connections), r.GetValue(keep), r.GetValue(root)!, r.GetValue(outDir)!, o, err, r.GetValue(show));
            return result;
        });
        yield return c;
    }

    public static int Run(int caseCount, ulong seed, int perCluster, int connections, bool keepFailing, string stateRoot, string outDir, TextWriter o, TextWriter err, bool show = false)
    {
        var sw = Stopwatch.StartNew();
        var all = new List<CaseResult>();
        CaseResult? firstFailure = null;
        string? failureState = null;
        int cluster = 0;
        var work = Path.Combine(Path.GetTempPath(), "packetlife-verify-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(work);
        try
        {
            while (all.Count < caseCount)
            {
                var clusterSeed = seed * 1000 + (ulong)cluster++;
                var spec = RandomCluster.Generate(clusterSeed);
                var path = Path.Combine(work, $"cluster-{clusterSeed}.json");
                Build(spec, path);
                var state = PacketLife.Manifests.StateFile.Load(path)!;
                var lab = ClusterLab.Up(state, LabClusterCommands.NodeRules(state),
                    new ClusterLabOptions("legacy", stateRoot, LabClusterCommands.ProberArgv(), ProbeIntervalMs: 1000), null, null);
                bool keep = false;
                try
                {
                    var profile = NodeProfile.From(state.Profile);
                    var topo = ClusterTopology.Build(state, TimeProvider.System, profile);
                    var verifier = new ClusterVerifier(lab, new ClusterTracer(topo));
                    var rnd = new Random(unchecked((int)clusterSeed));
                    var batch = ClusterVerifier.Cases(topo, lab.Plan, rnd, Math.Min(perCluster, caseCount - all.Count));
                    foreach (var vc in batch)
                    {
                        var res = verifier.Run(vc, connections);
                        all.Add(res);
                        if (show)
                            err.WriteLine($"  {(res.Agreed ? "agree" : "DIFFER")} {vc}: twin {string.Join(", ", res.Twin.Select(kv => $"{kv.Key} {kv.Value:0.###}"))}; lab {string.Join(", ", res.Lab.GroupBy(x => x).Select(g => $"{g.Key} x{g.Count()}"))}");
                        if (!res.Agreed && firstFailure is null)
                        {
                            firstFailure = res;
                            Directory.CreateDirectory(outDir);
                            failureState = Path.Combine(outDir, $"cluster-{clusterSeed}.json");
                            File.Copy(path, failureState, overwrite: true);
                            File.WriteAllText(Path.ChangeExtension(failureState, ".case.txt"), Describe(res) + "\n");
                            keep = keepFailing;
                        }
                    }
                    err.WriteLine(string.Create(CultureInfo.InvariantCulture, $"verify: cluster {clusterSeed} ({spec.Nodes} nodes, {lab.Plan.Pods.Count} pods): {batch.Count(b => true)} cases, {all.Count}/{caseCount} done ({sw.Elapsed.TotalSeconds:0.0} s)"));
                    if (batch.Count == 0) err.WriteLine($"verify: cluster {clusterSeed} offers no case (no Service); next");
                }
                finally
                {
                    if (keep) err.WriteLine($"verify: kept the lab of the first disagreement: packetlife lab status --state {lab.StateDirectory}");
                    else lab.Down();
                }
                if (cluster > caseCount + 10) break; // clusters without cases cannot loop forever
            }
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }

        foreach (var g in all.GroupBy(x => x.Case.Category).OrderBy(g => g.Key, StringComparer.Ordinal))
            o.WriteLine($"{g.Key}: {g.Count(x => x.Agreed)}/{g.Count()} agreed");
        var (chi, df, p) = ClusterVerifier.ChiSquare(all);
        var distributionOk = p >= 0.001;
        o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"pod frequencies: chi-square {chi:0.00} with {df} degrees of freedom, p = {p:0.####} ({(distributionOk ? "consistent with the twin's probabilities" : "NOT consistent")})"));
        var agreed = all.Count(x => x.Agreed);
        o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{all.Count} cases, {agreed} agreed ({(all.Count == 0 ? 0 : 100.0 * agreed / all.Count):0.#}%) in {sw.Elapsed.TotalSeconds:0.0} s ({all.Count / sw.Elapsed.TotalSeconds:0.00} cases/s)"));
        if (firstFailure is not null)
        {
            o.WriteLine($"first disagreement: {Describe(firstFailure)}");
            o.WriteLine($"reproduce: packetlife lab up --cluster {failureState} and the connection above (also in {Path.ChangeExtension(failureState!, ".case.txt")})");
        }
        return agreed == all.Count && distributionOk ? 0 : 1;
    }

    static string Describe(CaseResult r) =>
        $"{r.Case}: {string.Join("; ", r.Problems)}";

    static void Build(RandomCluster spec, string path)
    {
        foreach (var cmd in spec.Commands)
        {
            string[] args = cmd[0] == "cluster" ? [.. cmd, "--cluster", path] : [cmd[0], "--cluster", path, .. cmd[1..]];
            Check(args);
        }
        var yaml = Path.ChangeExtension(path, ".services.yaml");
        File.WriteAllText(yaml, spec.ServicesYaml);
        Check(["kubectl", "--cluster", path, "apply", "-f", yaml]);
    }

    static void Check(string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        if (Program.Run(args, o, e) != 0) throw new CliException($"verify: building the random cluster failed at `{string.Join(' ', args)}`: {e.ToString().Trim()}", 2);
    }
}
