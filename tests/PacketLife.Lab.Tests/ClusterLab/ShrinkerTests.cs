using PacketLife.Lab.Verify;

namespace PacketLife.Lab.Tests.Clusters;

/// <summary>The shrinker, without the kernel: a fake "kernel" oracle disagrees whenever the cluster has a chosen
/// feature, and the shrinker must find the smallest cluster and case that still have it.</summary>
public class ShrinkerTests
{
    /// <summary>A fake kernel: disagrees (in <paramref name="kind"/>) exactly when <paramref name="feature"/> holds; like
    /// the real oracle it cannot send from a Deployment with no pod (null: the case does not apply).</summary>
    sealed class FeatureOracle(Func<ClusterSpec, CaseSpec, bool> feature, string kind = ConntrackCompare.State) : IVerifyOracle
    {
        public int Calls { get; private set; }

        public IReadOnlyList<string>? Check(ClusterSpec cluster, CaseSpec c)
        {
            Calls++;
            if (c.SourceDeployment is { } d && cluster.Deployments.First(x => x.Name == d).Replicas == 0) return null;
            return feature(cluster, c) ? [kind] : [];
        }
    }

    /// <summary>Four nodes, three Deployments, five Services of every type with every feature, several ports.</summary>
    static readonly ClusterSpec Big = new(7001, 4,
    [
        new RandomDeployment("web0", 3,
        [
            new RandomService("web0-0", "LoadBalancer", EtpLocal: true, ItpLocal: false, Affinity: false, RandomCluster.OtherRange, [new RandomPort("p0", 80, 80), new RandomPort("p1", 8080, 8081)]),
            new RandomService("web0-1", "NodePort", EtpLocal: true, ItpLocal: true, Affinity: true, null, [new RandomPort("p0", 80, 8081), new RandomPort("p1", 4567, 8081)]),
        ]),
        new RandomDeployment("web1", 4,
        [
            new RandomService("web1-0", "ClusterIP", false, true, true, null, [new RandomPort("p0", 8080, 80)]),
        ]),
        new RandomDeployment("web2", 0,
        [
            new RandomService("web2-0", "LoadBalancer", false, false, true, RandomCluster.ClientRange, [new RandomPort("p0", 80, 80)]),
            new RandomService("web2-1", "NodePort", true, false, false, null, [new RandomPort("p0", 9000, 80), new RandomPort("p1", 80, 80)]),
        ]),
    ]);

    [Fact]
    public void A_disagreement_on_affinity_shrinks_to_two_nodes_and_the_affinity_Service_alone()
    {
        // The fake kernel disagrees when the target Service has ClientIP affinity, its Deployment has at least two
        // replicas and the cluster at least two nodes (say, a cross-node affinity bug).
        var oracle = new FeatureOracle((s, c) => s.Service(c.Service)!.Affinity && s.DeploymentOf(c.Service)!.Replicas >= 2 && s.Nodes >= 2);
        var start = new CaseSpec(CaseSpec.PodToClusterIp, "web0-1", "p1", "pod:web1#3");
        var r = Shrinker.Shrink(Big, start, [ConntrackCompare.State], oracle);

        Assert.False(r.Exhausted);
        Assert.Equal(2, r.Cluster.Nodes);
        Assert.Equal(["web0", "web1"], r.Cluster.Deployments.Select(d => d.Name));
        Assert.Equal((2, 1), (r.Cluster.Deployments[0].Replicas, r.Cluster.Deployments[1].Replicas));
        var svc = Assert.Single(r.Cluster.Services);
        Assert.Equal(new RandomService("web0-1", "ClusterIP", false, false, true, null, [new RandomPort("p1", 80, 80)]), svc, new ServiceComparer());
        Assert.Equal(start with { Source = "pod:web1#0" }, r.Case);
        Assert.Equal([ConntrackCompare.State], r.Kinds);
        // Every step made the case smaller, and each was a failing case.
        Assert.All(r.Steps, s => Assert.True(oracle.Check(s.Cluster, s.Case)!.Count > 0));
        Assert.True(r.Steps.Zip(r.Steps.Skip(1)).All(p => Shrinker.Weight(p.Second.Cluster, p.Second.Case) < Shrinker.Weight(p.First.Cluster, p.First.Case)));
    }

    [Fact]
    public void A_disagreement_on_externalTrafficPolicy_Local_from_the_internet_keeps_a_LoadBalancer_with_it()
    {
        var oracle = new FeatureOracle((s, c) => s.Service(c.Service)!.EtpLocal, ConntrackCompare.Tuples);
        var r = Shrinker.Shrink(Big, new CaseSpec(CaseSpec.InternetToLb, "web0-0", "p1", "client"), [ConntrackCompare.Tuples], oracle);

        Assert.Equal(1, r.Cluster.Nodes);
        var d = Assert.Single(r.Cluster.Deployments);
        Assert.Equal(("web0", 0), (d.Name, d.Replicas));
        var svc = Assert.Single(d.Services);
        // internet->LB needs the LoadBalancer type; everything else goes.
        Assert.Equal(("LoadBalancer", true, false, false, (string?)null), (svc.Type, svc.EtpLocal, svc.ItpLocal, svc.Affinity, svc.SourceRange));
        Assert.Equal([new RandomPort("p1", 80, 80)], svc.Ports);
        Assert.Equal("1 node; web0 ×0: web0-0 LoadBalancer [p1 80→80], externalTrafficPolicy Local", r.Cluster.Describe());
    }

    [Fact]
    public void Every_candidate_is_a_cluster_the_API_server_accepts_each_Service_keeps_a_port()
    {
        // Found in CI: a candidate without web1-0's only port failed to build (spec.ports: Required value).
        var seen = new List<ClusterSpec>();
        var oracle = new KindOracle((s, c) => { seen.Add(s); return []; });
        Shrinker.Shrink(Big, new CaseSpec(CaseSpec.PodToClusterIp, "web0-1", "p1", "pod:web1#3"), [ConntrackCompare.State], oracle);
        Assert.NotEmpty(seen);
        Assert.All(seen, s => Assert.All(s.Services, svc => Assert.NotEmpty(svc.Ports)));
    }

    [Fact]
    public void Only_the_same_kind_of_disagreement_counts_while_shrinking()
    {
        // Dropping the source range turns the tuple disagreement into an outcome one: not the same bug, not kept.
        var kinds = new Func<ClusterSpec, CaseSpec, IReadOnlyList<string>>((s, c) =>
            s.Service(c.Service)!.SourceRange is not null ? [ConntrackCompare.Tuples] : [CaseResult.OutcomeKind]);
        var r = Shrinker.Shrink(Big, new CaseSpec(CaseSpec.InternetToLb, "web2-0", "p0", "client"), [ConntrackCompare.Tuples], new KindOracle(kinds));
        Assert.Equal(RandomCluster.ClientRange, r.Cluster.Service("web2-0")!.SourceRange);
        Assert.Equal(1, r.Cluster.Nodes);
    }

    [Fact]
    public void A_case_that_no_longer_disagrees_is_left_as_it_was()
    {
        var oracle = new FeatureOracle((_, _) => false);
        var start = new CaseSpec(CaseSpec.NodeToNodePort, "web0-1", "p0", "node#3", TargetNode: 2);
        var r = Shrinker.Shrink(Big, start, [CaseResult.OutcomeKind], oracle);
        Assert.Same(Big, r.Cluster);
        Assert.Equal(start, r.Case);
        Assert.Empty(r.Steps);
        Assert.True(r.Tries > 10);
    }

    [Fact]
    public void The_shrinker_stops_at_its_budget()
    {
        var r = Shrinker.Shrink(Big, new CaseSpec(CaseSpec.PodToClusterIp, "web1-0", "p0", "pod:web0#2"), [ConntrackCompare.State],
            new FeatureOracle((_, _) => true), maxTries: 3);
        Assert.True(r.Exhausted);
        Assert.Equal(3, r.Tries);
    }

    public static TheoryData<string, CaseSpec, bool> Applies => new()
    {
        // case                                                    applies to Big
        { "internet to a LoadBalancer port", new CaseSpec(CaseSpec.InternetToLb, "web0-0", "p1", "client"), true },
        { "internet to a NodePort Service", new CaseSpec(CaseSpec.InternetToLb, "web0-1", "p0", "client"), false },
        { "NodePort of a ClusterIP Service", new CaseSpec(CaseSpec.NodeToNodePort, "web1-0", "p0", "node#0"), false },
        { "a port the Service lacks", new CaseSpec(CaseSpec.PodToClusterIp, "web1-0", "p1", "pod:web0#0"), false },
        { "pod to its own Service", new CaseSpec(CaseSpec.PodToOwnService, "web1-0", "p0", "pod:web1#1"), true },
        { "pod to another's Service as its own", new CaseSpec(CaseSpec.PodToOwnService, "web1-0", "p0", "pod:web0#1"), false },
        { "a source Deployment that is gone", new CaseSpec(CaseSpec.PodToClusterIp, "web1-0", "p0", "pod:web9#0"), false },
        { "probe of a LoadBalancer", new CaseSpec(CaseSpec.ProbeCategory, "web2-0", "p0", "lb", 1), true },
    };

    [Theory]
    [MemberData(nameof(Applies))]
    public void A_case_applies_only_to_clusters_that_have_what_it_names(string name, CaseSpec c, bool applies) =>
        Assert.True(applies == c.AppliesTo(Big), name);

    sealed class KindOracle(Func<ClusterSpec, CaseSpec, IReadOnlyList<string>> kinds) : IVerifyOracle
    {
        public IReadOnlyList<string>? Check(ClusterSpec cluster, CaseSpec c) => kinds(cluster, c);
    }

    /// <summary>Records compare their lists by reference; this compares the Service field by field.</summary>
    sealed class ServiceComparer : IEqualityComparer<RandomService>
    {
        public bool Equals(RandomService? a, RandomService? b) =>
            a is not null && b is not null && a with { Ports = Array.Empty<RandomPort>() } == b with { Ports = Array.Empty<RandomPort>() } && a.Ports.SequenceEqual(b.Ports);

        public int GetHashCode(RandomService s) => s.Name.GetHashCode(StringComparison.Ordinal);
    }
}

/// <summary>The shrinker over clusters really built with the `packetlife` verbs and traced by the twin (no kernel):
/// the fake kernel disagrees with the twin whenever the twin says more than one pod can answer a connection to a
/// Service with ClientIP affinity.</summary>
public class ShrinkerOverBuiltClustersTests
{
    sealed class TwinBackedOracle(string work) : IVerifyOracle
    {
        int _n;

        public IReadOnlyList<string>? Check(ClusterSpec cluster, CaseSpec c)
        {
            var path = Path.Combine(work, $"c{_n++}.json");
            PacketLife.App.Cli.VerifyCommand.Build(cluster, path);
            var state = PacketLife.Manifests.StateFile.Load(path)!;
            var topo = PacketLife.Core.Topology.ClusterTopology.Build(state, TimeProvider.System);
            var vc = c.Resolve(topo, PacketLife.Lab.Cluster.LabPlan.Create(state));
            if (vc is null) return null;
            var twin = new ClusterVerifier(null!, new PacketLife.Core.Tracing.Cluster.ClusterTracer(topo)).Twin(vc);
            return vc.Affinity && twin.Keys.Count(o => o.Class == "answered") > 1 ? [CaseResult.OutcomeKind] : [];
        }
    }

    [Fact]
    public void A_built_cluster_shrinks_to_the_affinity_Service_with_two_pods()
    {
        var work = Path.Combine(Path.GetTempPath(), "plt-shrink-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(work);
        try
        {
            var big = new ClusterSpec(7002, 3,
            [
                new RandomDeployment("web0", 4,
                [
                    new RandomService("web0-0", "LoadBalancer", false, false, true, null, [new RandomPort("p0", 8080, 80), new RandomPort("p1", 80, 80)]),
                    new RandomService("web0-1", "NodePort", true, false, false, null, [new RandomPort("p0", 80, 80)]),
                ]),
                new RandomDeployment("web1", 2, [new RandomService("web1-0", "ClusterIP", false, false, false, null, [new RandomPort("p0", 80, 8081)])]),
            ]);
            var oracle = new TwinBackedOracle(work);
            var start = new CaseSpec(CaseSpec.PodToClusterIp, "web0-0", "p0", "pod:web1#1");
            Assert.Equal([CaseResult.OutcomeKind], oracle.Check(big, start));
            var r = Shrinker.Shrink(big, start, [CaseResult.OutcomeKind], oracle);
            Assert.Equal("1 node; web0 ×2: web0-0 ClusterIP [p0 80→80], sessionAffinity ClientIP; web1 ×1", r.Cluster.Describe());
            Assert.Equal(start with { Source = "pod:web1#0" }, r.Case);
        }
        finally
        {
            Directory.Delete(work, true);
        }
    }
}
