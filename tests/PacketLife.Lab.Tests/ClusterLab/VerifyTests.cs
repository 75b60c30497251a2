using PacketLife.App.Cli;
using PacketLife.Lab.Verify;

namespace PacketLife.Lab.Tests.Clusters;

/// <summary>`packetlife verify`: the twin and the kernel agree on random clusters and connections.</summary>
public class VerifyTests
{
    [Fact]
    public void The_same_seed_gives_the_same_random_cluster_and_seeds_differ()
    {
        var a = RandomCluster.Generate(42);
        var b = RandomCluster.Generate(42);
        Assert.Equal(a.ServicesYaml, b.ServicesYaml);
        Assert.Equal(a.Commands.Select(c => string.Join(' ', c)), b.Commands.Select(c => string.Join(' ', c)));
        Assert.NotEqual(a.ServicesYaml, RandomCluster.Generate(43).ServicesYaml);
    }

    [Fact]
    public void Random_clusters_cover_what_the_issue_lists()
    {
        var all = Enumerable.Range(0, 200).Select(i => RandomCluster.Generate((ulong)i)).ToList();
        var yaml = string.Concat(all.Select(c => c.ServicesYaml));
        foreach (var needle in new[] { "type: ClusterIP", "type: NodePort", "type: LoadBalancer", "externalTrafficPolicy: Local",
                     "internalTrafficPolicy: Local", "sessionAffinity: ClientIP", "- " + RandomCluster.ClientRange, "- " + RandomCluster.OtherRange, "name: p1", "targetPort: 8081" })
            Assert.Contains(needle, yaml);
        Assert.Equal([1, 2, 3, 4], all.Select(c => c.Nodes).Distinct().Order());
        var replicas = all.SelectMany(c => c.Commands).Where(c => c[0] == "kubectl").Select(c => c[^1]).Distinct().Order();
        Assert.Equal(["--replicas=0", "--replicas=1", "--replicas=2", "--replicas=3", "--replicas=4"], replicas);
    }

    [Fact]
    public void Cases_name_their_objects_and_resolve_back_to_the_same_connection_and_every_category_is_drawn()
    {
        var work = Path.Combine(Path.GetTempPath(), "plt-cases-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(work);
        try
        {
            var categories = new HashSet<string>();
            for (ulong seed = 7000; seed < 7008; seed++)
            {
                var path = Path.Combine(work, $"c{seed}.json");
                VerifyCommand.Build(RandomCluster.Generate(seed).Spec, path);
                var state = PacketLife.Manifests.StateFile.Load(path)!;
                var topo = PacketLife.Core.Topology.ClusterTopology.Build(state, TimeProvider.System);
                var plan = PacketLife.Lab.Cluster.LabPlan.Create(state);
                foreach (var c in ClusterVerifier.Cases(topo, plan, new Random((int)seed), 25))
                {
                    Assert.NotNull(c.Spec);
                    Assert.Equal(c, c.Spec!.Resolve(topo, plan));
                    Assert.True(c.Spec.AppliesTo(RandomCluster.Generate(seed).Spec), c.ToString());
                    categories.Add(c.Category);
                }
            }
            Assert.Equal(CaseSpec.Categories.Order(), categories.Order());
        }
        finally
        {
            Directory.Delete(work, true);
        }
    }

    [Theory]
    [InlineData("--connections", "0", "error: --connections must be at least 1, got 0")]
    [InlineData("--cases", "0", "error: --cases must be at least 1, got 0")]
    [InlineData("--cases-per-cluster", "-3", "error: --cases-per-cluster must be at least 1, got -3")]
    [InlineData("--shrink-tries", "-1", "error: --shrink-tries must be at least 0, got -1")]
    public void Values_that_would_make_verify_agree_vacuously_are_refused_in_one_line(string option, string value, string message)
    {
        var (code, stdout, stderr) = SeedCluster.Run("verify", option, value);
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.Equal(message, stderr.Trim());
    }

    [Fact]
    public void The_pooled_chi_square_accepts_fair_counts_and_rejects_skewed_ones()
    {
        static CaseResult Case(int a, int b)
        {
            var c = new VerifyCase("pod->ClusterIP", "x", new PacketLife.Core.Tracing.Cluster.TraceSource.Probe(), default, 80, "svc", false);
            var pa = new Outcome("answered", "pod:a", "10.0.0.1");
            var pb = new Outcome("answered", "pod:b", "10.0.0.1");
            return new CaseResult(c, new Dictionary<Outcome, double> { [pa] = 0.5, [pb] = 0.5 }, [.. Enumerable.Repeat(pa, a), .. Enumerable.Repeat(pb, b)], []);
        }
        var fair = ClusterVerifier.ChiSquare(Enumerable.Range(0, 20).Select(_ => Case(5, 5)));
        Assert.Equal((0.0, 20), (fair.Statistic, fair.DegreesOfFreedom));
        Assert.True(fair.PValue > 0.99);
        var skewed = ClusterVerifier.ChiSquare(Enumerable.Range(0, 20).Select(_ => Case(9, 1)));
        Assert.Equal(20, skewed.DegreesOfFreedom);
        Assert.InRange(skewed.Statistic, 127.99, 128.01); // 20 × (2 × 4²/5)
        Assert.True(skewed.PValue < 1e-6);
    }

    [KernelFact]
    public void Verify_200_cases_agrees_completely()
    {
        var root = Path.Combine(LabEnvironment.StateRoot, "verify-" + Guid.NewGuid().ToString("N")[..8]);
        var outDir = Path.Combine(Path.GetTempPath(), "plt-verify-" + Guid.NewGuid().ToString("N")[..8]);
        var o = new StringWriter();
        var e = new StringWriter();
        try
        {
            var code = VerifyCommand.Run(200, seed: 7, perCluster: 25, connections: 6, keepFailing: false, root, outDir, o, e);
            var text = o.ToString();
            TestReport.Line("verify --cases 200 --seed 7 (twin vs lab):\n" + string.Join("\n", text.Split('\n').Where(l => !l.StartsWith("verify: ", StringComparison.Ordinal) && l.Length > 0).Select(l => "  " + l)));
            Assert.True(code == 0, text + e);
            Assert.Contains("200 cases, 200 agreed (100%)", text);
            foreach (var category in CaseSpec.Categories)
                Assert.Matches($"(?m)^{System.Text.RegularExpressions.Regex.Escape(category)}: (\\d+)/\\1 agreed$", text);
            Assert.Matches(@"pod frequencies: chi-square [\d.]+ with [1-9]\d* degrees of freedom", text);
            // Every connection's conntrack entries agree too, and the comparison saw completed, refused and lost ones.
            foreach (var category in ConntrackCompare.Categories)
                Assert.Matches($"(?m)^{System.Text.RegularExpressions.Regex.Escape(category)}: ([1-9]\\d*)/\\1 connections agreed$", text);
            Assert.Contains("answered: TIME_WAIT [ASSURED] mark=0 ×", text);
            Assert.Contains("answered: TIME_WAIT [ASSURED] mark=0 / TIME_WAIT [ASSURED] mark=0 ×", text);
            Assert.Contains("refused: (no entry) ×", text);
            Assert.Matches(@"the original port kept with a new source address: kernel \d+, twin \d+ of [1-9]\d* \(random on both sides\)", text);
            Assert.False(Directory.Exists(outDir));
        }
        finally
        {
            foreach (var d in Directory.Exists(root) ? Directory.GetDirectories(root) : [])
                if (File.Exists(Path.Combine(d, LabJournal.FileName))) LabRunner.Teardown(LabJournal.Load(d));
            if (Directory.Exists(root)) Directory.Delete(root, true);
            if (Directory.Exists(outDir)) Directory.Delete(outDir, true);
        }
    }
}

/// <summary>`verify` against a twin that is wrong on purpose: it traces with cbr0's address `scope global` while the
/// lab's nodes have the seed's `scope link`, so MASQUERADE for a local endpoint picks the cbr0 address in the twin and
/// the node IP in the kernel (netns-lab.md §7.1). verify must catch it, shrink it, and keep the smallest case's lab up.</summary>
public class VerifyShrinkTests(Xunit.Abstractions.ITestOutputHelper log)
{
    [KernelFact]
    public void A_twin_with_the_wrong_cbr0_scope_is_caught_shrunk_and_its_smallest_case_kept_up()
    {
        var root = Path.Combine(LabEnvironment.StateRoot, "verify-" + Guid.NewGuid().ToString("N")[..8]);
        var outDir = Path.Combine(Path.GetTempPath(), "plt-verify-" + Guid.NewGuid().ToString("N")[..8]);
        var o = new StringWriter();
        var e = new StringWriter();
        try
        {
            var code = VerifyCommand.Run(50, seed: 7, perCluster: 25, connections: 4, keepFailing: true, root, outDir, o, e, shrinkTries: 40,
                twinProfile: _ => new PacketLife.Core.Topology.NodeProfile(PacketLife.Core.Routing.AddressScope.Global, true));
            var text = o.ToString();
            log.WriteLine(text);
            Assert.True(code == 1, text + e);
            Assert.Contains("first disagreement:", text);
            Assert.Matches(@"(?m)^shrunk in \d+ tries \([1-9]\d* steps", text);
            // One node is enough for a local endpoint; the rest of the random cluster is gone.
            Assert.Matches(@"(?m)^smallest failing case: 1 node; web\d ×1: web\d-\d \w+ \[p\d \d+→80\]$", text);
            var state = Path.Combine(outDir, "smallest-cluster.json");
            Assert.NotNull(PacketLife.Manifests.StateFile.Load(state));
            var caseText = File.ReadAllText(Path.ChangeExtension(state, ".case.txt"));
            Assert.Contains($"packetlife lab up --cluster {Path.GetFullPath(state)}", caseText);
            Assert.Matches(@"packetlife lab exec \S+ -- curl -s -m 1 .*--local-port 20000 http://[\d.]+:\d+/whoami", caseText);
            Assert.Matches($@"packetlife trace [\d.]+:\d+.* --sport 20000 --cluster {System.Text.RegularExpressions.Regex.Escape(Path.GetFullPath(state))}", caseText);
            // --keep-failing: the smallest case's lab is up, and the report says how to take it down.
            var m = System.Text.RegularExpressions.Regex.Match(text, @"take it down with: packetlife lab down --state (\S+)");
            Assert.True(m.Success, text);
            var journal = LabJournal.Load(m.Groups[1].Value);
            Assert.NotEmpty(journal.Namespaces);
            Assert.All(journal.Namespaces, ns => Assert.True(LabRunner.NamespaceExists(ns), ns));
        }
        finally
        {
            foreach (var d in Directory.Exists(root) ? Directory.GetDirectories(root) : [])
                if (File.Exists(Path.Combine(d, LabJournal.FileName))) LabRunner.Teardown(LabJournal.Load(d));
            if (Directory.Exists(root)) Directory.Delete(root, true);
            if (Directory.Exists(outDir)) Directory.Delete(outDir, true);
        }
    }
}
