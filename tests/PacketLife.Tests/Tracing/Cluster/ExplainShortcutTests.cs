using CsCheck;
using PacketLife.App.Rendering;
using PacketLife.Core.Net;
using PacketLife.Core.Topology;
using PacketLife.Core.Tracing.Cluster;
using PacketLife.Tests.Cluster;

namespace PacketLife.Tests.Tracing.Cluster;

/// <summary>`trace --all` takes shortcuts for speed (the LB decision planned once per explain, one walk instead of
/// explain + commit on a node that does not fork, light health-probe runs, the LB backends' subtrees and the health
/// probes on several threads). They must not change a single path: per cluster and per question, the shortcut tracer
/// (on one thread and on four) and the plain tracer give the same trace, compared as the JSON the CLI prints (every
/// path in order, probability, hop, step, conntrack line and explanation).</summary>
public class ExplainShortcutTests
{
    /// <summary>A cluster of <paramref name="nodes"/> nodes: Deployment nginx (ETP Cluster, LoadBalancer), Deployment
    /// web behind an ETP Local LoadBalancer (nodes without a web pod fail its probe), a client pod.</summary>
    static CliTestHost Cluster(int nodes, int seed, int nginx, int web)
    {
        var h = new CliTestHost(init: false);
        Run(h, $"cluster init --nodes {nodes} --seed {seed}");
        Run(h, $"kubectl create deploy nginx --image=nginx --port=80 --replicas={nginx}");
        Run(h, "kubectl expose deploy nginx --type=LoadBalancer");
        Run(h, $"kubectl create deploy web --image=nginx --port=80 --replicas={web}");
        Run(h, "kubectl apply -f " + h.File("web.yaml", TwinScenario.EtpLocalWeb));
        Run(h, "kubectl run --image=nginx client --port=80");
        return h;
    }

    static void Run(CliTestHost h, string line)
    {
        var (code, _, err) = h.Run(line);
        Assert.True(code == 0, $"{line}: {err}");
    }

    // question                     from            to
    static readonly (string From, string To)[] Questions =
    [
        ("internet",                "svc/nginx"),
        ("internet",                "svc/web"),
        ("probe",                   "svc/nginx"),
        ("probe",                   "svc/web"),
        ("pod/client",              "svc/nginx"),
        ("pod/client",              "svc/web"),
        ("internet",                "svc/nginx:8080"),
    ];

    static void AssertSameTraces(CliTestHost h)
    {
        var state = PacketLife.Manifests.StateFile.Load(h.StatePath)!;
        var fast = new ClusterTracer(ClusterTopology.Build(state, h.Clock)) { Parallelism = 1 };
        var parallel = new ClusterTracer(ClusterTopology.Build(state, h.Clock)) { Parallelism = 4 };
        var plain = new ClusterTracer(ClusterTopology.Build(state, h.Clock)) { Shortcuts = false };
        var questions = Questions.Append(("node/" + fast.Topology.Nodes[0].Name, "svc/nginx")).ToList();
        // A pod to another node's NodePort: the first node only forwards, the second one forks (DNAT + statistic).
        var nodePort = state.Services.Single(x => x.Metadata.Name == "nginx").Spec.Ports[0].NodePort;
        questions.Add(("pod/client", $"{fast.Topology.Nodes[^1].Ip}:{nodePort}"));
        foreach (var (from, to) in questions)
        {
            var (r, error) = TraceTargets.Resolve(fast.Topology, from, to, IpProtocol.Tcp);
            if (r is null)
            {
                // A question the cluster cannot answer (no such port) fails the same way for both.
                Assert.Equal(error, TraceTargets.Resolve(plain.Topology, from, to, IpProtocol.Tcp).Error);
                continue;
            }
            var (q, _) = TraceTargets.Resolve(plain.Topology, from, to, IpProtocol.Tcp);
            var expected = TraceText.Json(plain.Explain(q!.From, q.To, IpProtocol.Tcp));
            var actual = TraceText.Json(fast.Explain(r.From, r.To, IpProtocol.Tcp));
            Assert.True(expected == actual, $"{from} -> {to}: the shortcut trace differs from the plain one");
            var (pr, _) = TraceTargets.Resolve(parallel.Topology, from, to, IpProtocol.Tcp);
            var threaded = TraceText.Json(parallel.Explain(pr!.From, pr.To, IpProtocol.Tcp));
            Assert.True(expected == threaded, $"{from} -> {to}: the parallel trace differs from the plain one");
        }
    }

    public static TheoryData<string, int, int, int> Clusters => new()
    {
        // case                                    nodes  nginx replicas  web replicas
        { "seed-sized, every node has both",          2,        2,               2 },
        { "web on one node of three (probe fails)",   3,        3,               1 },
        { "more pods than nodes",                     4,        7,               3 },
        { "no web pod at all (every probe fails)",    3,        2,               0 },
        { "no nginx endpoints (REJECT)",              2,        0,               1 },
        { "one node",                                 1,        2,               1 },
    };

    [Theory, MemberData(nameof(Clusters))]
    public void Shortcut_traces_equal_plain_traces(string @case, int nodes, int nginx, int web)
    {
        _ = @case;
        using var h = Cluster(nodes, 7, nginx, web);
        AssertSameTraces(h);
    }

    [Fact]
    public void Rules_with_state_are_walked_on_one_thread_and_still_give_the_plain_traces()
    {
        using var h = Cluster(3, 7, 3, 1);
        var state = PacketLife.Manifests.StateFile.Load(h.StatePath)!;
        Assert.True(ClusterTopology.Build(state, h.Clock).Nodes[0].Rules.Stateless);
        // ClientIP affinity: kube-proxy's `-m recent` lists are rule state, so one thread walks them in order.
        Run(h, "kubectl apply -f " + h.File("sticky.yaml", TwinScenario.NginxService("nginx", "LoadBalancer", "sessionAffinity: ClientIP")));
        state = PacketLife.Manifests.StateFile.Load(h.StatePath)!;
        var rules = ClusterTopology.Build(state, h.Clock).Nodes[0].Rules;
        Assert.Contains("-m recent", rules.SaveText, StringComparison.Ordinal);
        Assert.False(rules.Stateless);
        AssertSameTraces(h);
    }

    [Fact]
    public void A_backend_the_timeline_takes_out_of_rotation_leaves_the_next_trace_of_the_same_tracer()
    {
        using var h = Cluster(2, 7, 2, 1);
        var tracer = new ClusterTracer(ClusterTopology.Build(PacketLife.Manifests.StateFile.Load(h.StatePath)!, h.Clock));
        var (r, error) = TraceTargets.Resolve(tracer.Topology, "internet", "svc/nginx", IpProtocol.Tcp);
        Assert.True(r is not null, error);
        var before = tracer.Explain(r!.From, r.To, IpProtocol.Tcp);
        Assert.Equal(2, before.Paths.Select(p => p.Hops[0].OutInterface).Distinct().Count());
        // The LB's probe of node 0 fails (an RST from a TCP probe takes it out at once).
        var rule = tracer.Topology.LoadBalancer.LoadBalancingRules.Single(x => x.Service == "default/nginx");
        var probe = tracer.LoadBalancer.ProbeOf(rule)!;
        var node0 = tracer.LoadBalancer.Pool(rule)[0];
        tracer.LoadBalancer.Health(probe.Name, node0.Name).Record(false, probe.ProbeThreshold, immediateDown: true, h.Clock.GetUtcNow());
        var after = tracer.Explain(r.From, r.To, IpProtocol.Tcp);
        Assert.All(after.Paths, p => Assert.Equal("backend " + tracer.LoadBalancer.Pool(rule)[1].Name, p.Hops[0].OutInterface));
        Assert.Equal(1.0, after.Paths.Sum(p => p.Probability), 12);
        var sampled = tracer.Sample(r.From, r.To, IpProtocol.Tcp, seed: 3);
        Assert.Equal("backend " + tracer.LoadBalancer.Pool(rule)[1].Name, sampled.Paths[0].Hops[0].OutInterface);
    }

    [Fact]
    public void Shortcut_traces_equal_plain_traces_on_random_clusters()
    {
        Gen.Select(Gen.Int[1, 5], Gen.Int[0, 1000], Gen.Int[0, 6], Gen.Int[0, 4])
            .Sample((nodes, seed, nginx, web) =>
            {
                using var h = Cluster(nodes, seed, nginx, web);
                AssertSameTraces(h);
            }, iter: 12, threads: 1);
    }
}
