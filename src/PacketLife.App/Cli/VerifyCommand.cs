using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using PacketLife.Core.Cluster;
using PacketLife.Core.Topology;
using PacketLife.Core.Tracing.Cluster;
using PacketLife.Lab;
using PacketLife.Lab.Cluster;
using PacketLife.Lab.Verify;
using TraceSource = PacketLife.Core.Tracing.Cluster.TraceSource;

namespace PacketLife.App.Cli;

/// <summary>`packetlife verify [--cases N] [--seed S] [--keep-failing]`: random clusters and connections, each run in
/// the twin (every path with its probability) and in the lab (real namespaces, real connections), compared
/// (issue 6 item 3): outcomes, pods' frequencies, the source the pod saw, and each connection's conntrack entries.
/// Prints agreement per category and, for a disagreement, shrinks it and writes the smallest state file and
/// connection that reproduce it. Exit 0 when everything agreed, 1 when something did not, 2 when the lab cannot run.</summary>
public sealed class VerifyCommand : ICommandGroup
{
    public int Order => 61;

    public IEnumerable<Command> Commands()
    {
        var cases = new Option<int>("--cases") { Description = "How many cases (a connection from a host to a Service, repeated --connections times) to compare", DefaultValueFactory = _ => 200 };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the random clusters and cases (the run repeats with it)", DefaultValueFactory = _ => 1 };
        var keep = new Option<bool>("--keep-failing") { Description = "Leave the lab of the smallest failing case up for a look (`packetlife lab down --state DIR` takes it down)" };
        var perCluster = new Option<int>("--cases-per-cluster") { Description = "Cases drawn from each random cluster", DefaultValueFactory = _ => 25 };
        var connections = new Option<int>("--connections") { Description = "Real connections per case (pods' frequencies are tested against the twin's probabilities)", DefaultValueFactory = _ => 10 };
        var root = new Option<string>("--state-root") { Description = "Parent of the labs' state directories", DefaultValueFactory = _ => LabJournal.DefaultRoot };
        var show = new Option<bool>("--show-cases") { Description = "Print every case: the twin's outcomes and the lab's (stderr)" };
        var outDir = new Option<string>("--out") { Description = "Where failing cases are written", DefaultValueFactory = _ => "verify-failures" };
        var shrinkTries = new Option<int>("--shrink-tries") { Description = "Clusters the shrinker may build to reduce a failing case (0: do not shrink)", DefaultValueFactory = _ => 60 };
        var noConntrack = new Option<bool>("--no-conntrack") { Description = "Compare outcomes only, not the conntrack entries (NAT tuples, state)" };
        var c = new Command("verify", "Compare the twin with the real kernel on random clusters and connections (root only)")
            { cases, seed, keep, perCluster, connections, root, outDir, show, shrinkTries, noConntrack };
        c.SetAction(r =>
        {
            // A case with no connection, or a run with no case, would agree vacuously: refuse it.
            foreach (var (name, value, min) in new[] { ("--cases", r.GetValue(cases), 1), ("--connections", r.GetValue(connections), 1),
                         ("--cases-per-cluster", r.GetValue(perCluster), 1), ("--shrink-tries", r.GetValue(shrinkTries), 0) })
                if (value < min) throw new CliException($"error: {name} must be at least {min}, got {value}", 2);
            var problems = LabPrerequisites.Problems([.. LabClusterCommands.UpTools, new LabTool("curl", "curl")]);
            if (problems.Count > 0) throw new CliException(problems[0], 2);
            var o = r.InvocationConfiguration.Output;
            var err = r.InvocationConfiguration.Error;
            return Run(r.GetValue(cases), r.GetValue(seed), r.GetValue(perCluster), r.GetValue(connections), r.GetValue(keep), r.GetValue(root)!, r.GetValue(outDir)!, o, err,
                r.GetValue(show), r.GetValue(shrinkTries), !r.GetValue(noConntrack));
        });
        yield return c;
    }

    public static int Run(int caseCount, ulong seed, int perCluster, int connections, bool keepFailing, string stateRoot, string outDir, TextWriter o, TextWriter err,
        bool show = false, int shrinkTries = 60, bool compareConntrack = true, Func<ClusterState, NodeProfile>? twinProfile = null)
    {
        // twinProfile: fault injection for verify's own tests: the twin traces with another node profile than the lab's.
        var profileOf = twinProfile ?? ProfileOf;
        var sw = Stopwatch.StartNew();
        var all = new List<CaseResult>();
        (CaseResult Result, ClusterSpec Cluster)? firstFailure = null;
        var reruns = new List<string>();
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
                var (lab, topo, verifier) = Up(spec.Spec, path, stateRoot, compareConntrack, profileOf);
                try
                {
                    var rnd = new Random(unchecked((int)clusterSeed));
                    var batch = ClusterVerifier.Cases(topo, lab.Plan, rnd, Math.Min(perCluster, caseCount - all.Count));
                    foreach (var vc in batch)
                    {
                        var res = verifier.Run(vc, connections);
                        if (!res.Agreed)
                        {
                            // A connection's 1 s timeout can pass on a loaded machine before a slow answer arrives: a
                            // disagreeing case runs once more (with new source ports) and counts as agreeing only if
                            // that run agrees completely. Every re-run is printed.
                            var again = verifier.Run(vc, connections);
                            reruns.Add($"re-run after a disagreement: {Describe(res)} -> {(again.Agreed ? "agrees" : "disagrees again")}");
                            if (again.Agreed) res = again;
                        }
                        all.Add(res);
                        if (show)
                            err.WriteLine($"  {(res.Agreed ? "agree" : "DIFFER")} {vc}: twin {string.Join(", ", res.Twin.Select(kv => $"{kv.Key} {kv.Value:0.###}"))}; lab {string.Join(", ", res.Lab.GroupBy(x => x).Select(g => $"{g.Key} x{g.Count()}"))}"
                                + (res.Agreed ? "" : "; " + string.Join("; ", res.AllProblems)));
                        if (!res.Agreed && firstFailure is null)
                        {
                            firstFailure = (res, spec.Spec);
                            Directory.CreateDirectory(outDir);
                            var failureState = Path.Combine(outDir, $"cluster-{clusterSeed}.json");
                            File.Copy(path, failureState, overwrite: true);
                            File.WriteAllText(Path.ChangeExtension(failureState, ".case.txt"), Describe(res) + "\n");
                        }
                    }
                    err.WriteLine(string.Create(CultureInfo.InvariantCulture, $"verify: cluster {clusterSeed} ({spec.Nodes} nodes, {lab.Plan.Pods.Count} pods): {batch.Count} cases, {all.Count}/{caseCount} done ({sw.Elapsed.TotalSeconds:0.0} s)"));
                    if (batch.Count == 0) err.WriteLine($"verify: cluster {clusterSeed} offers no case (no Service); next");
                }
                finally
                {
                    lab.Down();
                }
                if (cluster > caseCount + 10) break; // clusters without cases cannot loop forever
            }

            foreach (var category in CaseSpec.Categories)
            {
                var g = all.Where(x => x.Case.Category == category).ToList();
                if (g.Count > 0) o.WriteLine($"{category}: {g.Count(x => x.Problems.Count == 0)}/{g.Count} agreed");
            }
            var checks = all.SelectMany(x => x.ConnectionChecks).ToList();
            bool randomPortsOk = true;
            foreach (var category in compareConntrack ? ConntrackCompare.Categories : [])
            {
                var g = checks.Where(x => x.Category == category).ToList();
                o.WriteLine($"{category}: {g.Count(x => x.Agreed)}/{g.Count} connections agreed");
                if (category == ConntrackCompare.RandomPort)
                {
                    int kernelKept = g.Count(x => x.Agreed && x.Detail?.Contains(ConntrackCompare.KernelKept, StringComparison.Ordinal) == true);
                    int twinKept = g.Count(x => x.Agreed && x.Detail?.Contains(ConntrackCompare.TwinKept, StringComparison.Ordinal) == true);
                    var limit = ConntrackCompare.KeptOriginalLimit(g.Count);
                    randomPortsOk = kernelKept <= limit && twinKept <= limit;
                    o.WriteLine($"  the original port kept with a new source address: kernel {kernelKept}, twin {twinKept} of {g.Count} " +
                        $"({(randomPortsOk ? "random on both sides" : $"NOT random: more than {limit}")})");
                }
            }
            // What the state comparison saw: the entries' shapes along each connection (TIME_WAIT [ASSURED] after a
            // completed connection, CLOSE after a RST, SYN_SENT [UNREPLIED] for a SYN lost beyond the node, none when a
            // rule dropped or rejected it before conntrack confirmed the entry).
            var shapes = checks.Where(x => x.Category == ConntrackCompare.State && x.Agreed).GroupBy(x => x.Detail).OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal).ToList();
            if (shapes.Count > 0)
                o.WriteLine("conntrack entries compared: " + string.Join("; ", shapes.Select(g => $"{g.Key} ×{g.Count()}")));
            var (chi, df, p) = ClusterVerifier.ChiSquare(all);
            var distributionOk = p >= 0.001;
            o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"pod frequencies: chi-square {chi:0.00} with {df} degrees of freedom, p = {p:0.####} ({(distributionOk ? "consistent with the twin's probabilities" : "NOT consistent")})"));
            foreach (var r in reruns) o.WriteLine(r);
            var agreed = all.Count(x => x.Agreed);
            o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{all.Count} cases, {agreed} agreed ({(all.Count == 0 ? 0 : 100.0 * agreed / all.Count):0.#}%) in {sw.Elapsed.TotalSeconds:0.0} s ({all.Count / sw.Elapsed.TotalSeconds:0.00} cases/s)"));
            if (firstFailure is { } ff)
            {
                o.WriteLine($"first disagreement: {Describe(ff.Result)}");
                o.WriteLine($"its cluster: {ff.Cluster.Describe()} (state file {Path.Combine(outDir, $"cluster-{ff.Cluster.Seed}.json")})");
                ReportSmallest(ff.Result, ff.Cluster, shrinkTries, connections, keepFailing, stateRoot, outDir, work, compareConntrack, profileOf, o, err);
            }
            return agreed == all.Count && distributionOk && randomPortsOk ? 0 : 1;
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>Builds the cluster's state file, brings its lab up, and makes the twin's topology and the verifier.</summary>
    static (ClusterLab Lab, ClusterTopology Topology, ClusterVerifier Verifier) Up(ClusterSpec spec, string path, string stateRoot, bool compareConntrack, Func<ClusterState, NodeProfile> profileOf)
    {
        Build(spec, path);
        var state = PacketLife.Manifests.StateFile.Load(path)!;
        var lab = ClusterLab.Up(state, LabClusterCommands.NodeRules(state),
            new ClusterLabOptions("legacy", stateRoot, LabClusterCommands.ProberArgv(), ProbeIntervalMs: 1000), null, null);
        try
        {
            var topo = ClusterTopology.Build(state, TimeProvider.System, profileOf(state));
            return (lab, topo, new ClusterVerifier(lab, new ClusterTracer(topo)) { CompareConntrack = compareConntrack });
        }
        catch
        {
            lab.Down();
            throw;
        }
    }

    /// <summary>The node profile the lab builds (the state's settings; null means the seed's kernel).</summary>
    static NodeProfile ProfileOf(ClusterState state) => NodeProfile.From(state.Profile);

    /// <summary>The real oracle of the shrinker: each candidate cluster is built in its own lab, the case run there
    /// and in the twin, and the lab taken down.</summary>
    sealed class LabOracle(string work, string stateRoot, int connections, bool compareConntrack, Func<ClusterState, NodeProfile> profileOf, TextWriter err) : IVerifyOracle
    {
        int _n;

        public IReadOnlyList<string>? Check(ClusterSpec cluster, CaseSpec c)
        {
            (ClusterLab, ClusterTopology, ClusterVerifier) up;
            try
            {
                up = Up(cluster, Path.Combine(work, $"shrink-{_n++}.json"), stateRoot, compareConntrack, profileOf);
            }
            catch (Exception e) when (e is LabException or CliException)
            {
                // A candidate the lab (or the twin's verbs) cannot build is not a smaller failing case.
                err.WriteLine($"verify: shrink candidate not built: {e.Message}");
                return null;
            }
            var (lab, topo, verifier) = up;
            try
            {
                var vc = c.Resolve(topo, lab.Plan);
                return vc is null ? null : verifier.Run(vc, connections).Kinds;
            }
            finally
            {
                lab.Down();
            }
        }
    }

    /// <summary>Shrinks the first disagreement and writes the smallest failing case: its state file, the connection, and
    /// the commands that reproduce it; with --keep-failing its lab stays up.</summary>
    static void ReportSmallest(CaseResult failure, ClusterSpec cluster, int shrinkTries, int connections, bool keepFailing, string stateRoot, string outDir, string work,
        bool compareConntrack, Func<ClusterState, NodeProfile> profileOf, TextWriter o, TextWriter err)
    {
        var smallest = cluster;
        var smallestCase = failure.Case.Spec!;
        if (shrinkTries > 0)
        {
            var shrink = Shrinker.Shrink(cluster, smallestCase, failure.Kinds, new LabOracle(work, stateRoot, connections, compareConntrack, profileOf, err), shrinkTries, err.WriteLine);
            smallest = shrink.Cluster;
            smallestCase = shrink.Case;
            o.WriteLine($"shrunk in {shrink.Tries} tries ({shrink.Steps.Count} steps{(shrink.Exhausted ? ", stopped at --shrink-tries" : "")}): {string.Join("; ", shrink.Steps.Select(s => s.Change))}");
        }
        Directory.CreateDirectory(outDir);
        var statePath = Path.GetFullPath(Path.Combine(outDir, "smallest-cluster.json"));
        Build(smallest, statePath);
        var state = PacketLife.Manifests.StateFile.Load(statePath)!;
        var topo = ClusterTopology.Build(state, TimeProvider.System, profileOf(state));
        var vc = smallestCase.Resolve(topo, LabPlan.Create(state));
        const ushort sport = ClusterVerifier.FirstSourcePort;
        var lines = new List<string>
        {
            $"smallest failing case: {smallest.Describe()}",
            $"  connection: {smallestCase}" + (vc is null ? "" : $": tcp {SourceAddress(vc)}:{sport} -> {vc.To}:{vc.Port} from {vc.LabHost}"),
            $"  disagreed in: {string.Join(", ", failure.Kinds)}",
            $"  state file: {statePath} (built by: {string.Join(" && ", smallest.Commands.Select(cmd => "packetlife " + string.Join(' ', cmd)))} && packetlife kubectl apply -f {Path.ChangeExtension(statePath, ".services.yaml")})",
            $"  packetlife lab up --cluster {statePath}",
        };
        if (vc is not null)
        {
            var probe = vc.Category == CaseSpec.ProbeCategory ? $" --interface {LabPlan.ProbeSourceIp}" : "";
            lines.Add($"  packetlife lab exec {vc.LabHost} -- curl -s -m 1{probe} --local-port {sport} http://{vc.To}:{vc.Port}/whoami");
            lines.Add($"  packetlife lab conntrack NODE   (each of {string.Join(", ", topo.Nodes.Select(n => n.Name))})");
            lines.Add($"  packetlife trace {vc.To}:{vc.Port}{TraceFrom(vc)} --sport {sport} --cluster {statePath}");
        }
        File.WriteAllText(Path.ChangeExtension(statePath, ".case.txt"), string.Join("\n", lines) + "\n");
        foreach (var l in lines) o.WriteLine(l);
        if (keepFailing)
        {
            var lab = ClusterLab.Up(state, LabClusterCommands.NodeRules(state),
                new ClusterLabOptions("legacy", stateRoot, LabClusterCommands.ProberArgv(), ProbeIntervalMs: 1000), null, null);
            o.WriteLine($"kept the smallest failing case's lab up: packetlife lab status --state {lab.StateDirectory}; take it down with: packetlife lab down --state {lab.StateDirectory}");
        }
    }

    static string SourceAddress(VerifyCase c) => c.From switch
    {
        TraceSource.Internet i => i.Client.ToString(),
        TraceSource.Probe => LabPlan.ProbeSourceIp,
        TraceSource.FromPod p => p.Pod.Ip.ToString(),
        TraceSource.FromNode n => n.Node.Ip.ToString(),
        _ => "?",
    };

    static string TraceFrom(VerifyCase c) => c.From switch
    {
        TraceSource.Probe => " --from probe",
        TraceSource.FromPod p => $" --from pod/{p.Pod.Name}",
        TraceSource.FromNode n => $" --from {n.Node.Name}",
        _ => "",
    };

    static string Describe(CaseResult r) =>
        $"{r.Case}: {string.Join("; ", r.AllProblems)}";

    /// <summary>Builds the state file of a random cluster with the verbs a user would type.</summary>
    public static void Build(ClusterSpec spec, string path)
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
