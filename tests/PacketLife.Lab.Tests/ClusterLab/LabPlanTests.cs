using PacketLife.Lab.Cluster;

namespace PacketLife.Lab.Tests.Clusters;

/// <summary>What `lab up` decides to build for a state, before anything is created (no root needed).</summary>
public class LabPlanTests
{
    static readonly Lazy<(string Path, LabPlan Plan)> Seed = new(() =>
    {
        var path = SeedCluster.Deployment(Path.Combine(Path.GetTempPath(), "plt-plan-" + Guid.NewGuid().ToString("N")[..8]));
        return (path, LabPlan.Create(SeedCluster.Load(path)));
    });

    [Fact]
    public void The_seed_deployment_cluster_has_two_nodes_its_pod_network_pods_and_one_frontend()
    {
        var (path, plan) = Seed.Value;
        var state = SeedCluster.Load(path);
        Assert.Equal([SeedCluster.Node0, SeedCluster.Node1], plan.Nodes.Select(n => n.Name));
        Assert.Equal(["10.224.0.4", "10.224.0.5"], plan.Nodes.Select(n => n.Ip));
        Assert.All(plan.Nodes, n => Assert.Equal(n.PodCidr.Replace(".0/24", ".1"), n.Cbr0Ip));
        Assert.Equal("10.224.0.1", plan.VnetGatewayIp);
        // Every pod with its own network is built; host-network pods (kube-proxy, CSI, ...) are their node.
        var podNetwork = state.Pods.Where(p => !p.Spec.HostNetwork).Select(p => $"{p.Metadata.Namespace}/{p.Metadata.Name}").Order().ToList();
        Assert.Equal(podNetwork, plan.Pods.Select(p => p.Key).Order().ToList());
        Assert.Equal(state.Pods.Count(p => p.Spec.HostNetwork), plan.Skipped.Count);
        var nginx = plan.Pods.Where(p => p.Name.StartsWith("nginx-", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, nginx.Count);
        Assert.All(nginx, p => Assert.Equal([80], p.Ports));
        var svc = state.FindService("default", "nginx")!;
        var f = Assert.Single(plan.Frontends);
        Assert.Equal(svc.Status.LoadBalancerIngress[0].Ip, f.Ip);
        Assert.StartsWith("203.0.113.", f.Ip);
        Assert.Equal([SeedCluster.Node0, SeedCluster.Node1], f.Nodes);
        var probe = Assert.Single(f.Probes);
        Assert.Equal(("Tcp", svc.Spec.Ports[0].NodePort, 5, 2), (probe.Protocol, probe.Port, probe.IntervalSeconds, probe.Threshold));
        Assert.Equal(new LbRulePlan("tcp", 80, 101, probe.Name), Assert.Single(f.Rules!));
    }

    [Fact]
    public void Names_fit_the_kernel_limits_and_are_stable()
    {
        var (path, plan) = Seed.Value;
        var again = LabPlan.Create(SeedCluster.Load(path));
        Assert.Equal(plan.ToJson(), again.ToJson());
        // IFNAMSIZ is 16 bytes with the terminating NUL.
        Assert.All(plan.Pods, p => Assert.InRange(p.HostVeth.Length, 1, 15));
        Assert.All(plan.Nodes, n => Assert.InRange(n.VnetPort.Length, 1, 15));
        var roles = plan.Pods.Select(p => p.Role).Concat(plan.Nodes.Select(n => n.Role)).Concat([plan.ClientRole, plan.LbRole, plan.VnetRole]).ToList();
        Assert.Equal(roles.Count, roles.Distinct().Count());
        Assert.Equal(plan.ToJson(), LabPlan.FromJson(plan.ToJson()).ToJson());
    }

    [Fact]
    public void Kernel_settings_come_from_the_node_profile_and_default_to_the_seed()
    {
        var state = SeedCluster.Load(Seed.Value.Path);
        var plan = LabPlan.Create(state);
        Assert.True(plan.Hairpin);
        Assert.Equal("link", plan.Cbr0Scope);
        var other = LabPlan.Create(new PacketLife.Core.Cluster.ClusterState
        {
            Profile = state.Profile with { BridgeHairpin = false, Cbr0AddressScope = "global" },
            Nodes = state.Nodes, Pods = state.Pods, Services = state.Services, EndpointSlices = state.EndpointSlices, Azure = state.Azure,
        }, "nft");
        Assert.False(other.Hairpin);
        Assert.Equal("global", other.Cbr0Scope);
        Assert.Equal("nft", other.Iptables);
    }

    public static TheoryData<string, string[], string> Routes => new()
    {
        // case            healthy node IPs                  the fabric's route
        { "none healthy",  [],                               "route replace blackhole 203.0.113.7/32 table 101" },
        { "one healthy",   ["10.224.0.4"],                   "route replace 203.0.113.7/32 table 101 via 10.224.0.4 dev vnet0" },
        { "two healthy",   ["10.224.0.4", "10.224.0.5"],     "route replace 203.0.113.7/32 table 101 nexthop via 10.224.0.4 dev vnet0 weight 1 nexthop via 10.224.0.5 dev vnet0 weight 1" },
    };

    [Theory]
    [MemberData(nameof(Routes))]
    public void A_frontend_routes_unchanged_to_its_healthy_nodes(string @case, string[] healthy, string route)
    {
        Assert.Equal(route, global::PacketLife.Lab.Cluster.ClusterLab.FrontendRoute("203.0.113.7", healthy, 101));
        _ = @case;
    }

    [Fact]
    public void A_bad_iptables_variant_or_a_node_without_pod_cidr_is_one_line()
    {
        var state = SeedCluster.Load(Seed.Value.Path);
        var e = Assert.Throws<LabException>(() => LabPlan.Create(state, "ebtables"));
        Assert.Equal("lab: unknown --iptables \"ebtables\" (legacy or nft)", e.Message);
        state.Nodes[0] = state.Nodes[0] with { PodCIDR = null };
        e = Assert.Throws<LabException>(() => LabPlan.Create(state));
        Assert.Equal($"lab: node \"{SeedCluster.Node0}\" has no pod CIDR (kubenet gives every node one)", e.Message);
    }

    [Fact]
    public void A_frontend_outside_the_documentation_ranges_is_refused_in_one_line()
    {
        // The seed's own public prefixes (swedencentral's 20.240/16, 4.225/16) are real addresses: the twin may keep
        // them, the lab never uses them.
        var dir = Path.Combine(Path.GetTempPath(), "plt-plan-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            var path = Path.Combine(dir, "cluster.json");
            Directory.CreateDirectory(dir);
            SeedCluster.Check(SeedCluster.Run("cluster", "init", "--cluster", path));
            SeedCluster.Check(SeedCluster.Run("kubectl", "--cluster", path, "run", "nginx", "--image=nginx", "--port=80"));
            SeedCluster.Check(SeedCluster.Run("kubectl", "--cluster", path, "expose", "po", "nginx", "--type=LoadBalancer"));
            var state = SeedCluster.Load(path);
            var ip = state.Services.Single(s => s.Metadata.Name == "nginx").Status.LoadBalancerIngress[0].Ip;
            var e = Assert.Throws<LabException>(() => LabPlan.Create(state));
            Assert.Equal($"lab: frontend IP {ip} (default/nginx) is not in a documentation range (198.51.100.0/24, 203.0.113.0/24), " +
                "the only public addresses the lab uses; make the cluster with `packetlife cluster init --public-ip-prefix 203.0.113.0/24`", e.Message);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Pod_nginx_serves_its_ports_the_default_page_and_its_name()
    {
        var pod = new PodPlan("default", "web-1", "p-1", "n", "10.244.0.9", 24, "10.244.0.1", "c1", [80, 8080]);
        var conf = NginxConfig.Pod(pod, "/state/pods/p-1");
        Assert.Contains("        listen 80;\n", conf.Replace("\r", ""));
        Assert.Contains("        listen 8080;\n", conf.Replace("\r", ""));
        Assert.Contains("root /var/www/html;", conf);
        Assert.Contains("location = /pod { default_type text/plain; return 200 \"web-1\\n\"; }", conf);
        Assert.Contains("pid /state/pods/p-1/nginx.pid;", conf);
        Assert.Contains("keepalive_timeout 0;", conf);
        Assert.DoesNotContain("/var/lib/nginx", conf);
    }
}

/// <summary>`lab ...` bad input: one line, exit 2, nothing built.</summary>
public class LabClusterCliTests
{
    public static TheoryData<string, string, string> MissingForUp => new()
    {
        // case               missing program              the one line
        { "nginx missing",    "nginx",                     "lab: 'nginx' is not installed (install it with: apt-get install -y nginx-light)" },
        { "conntrack missing", "conntrack",                "lab: 'conntrack' is not installed (install it with: apt-get install -y conntrack)" },
        { "iptables missing", "iptables-legacy-restore",   "lab: 'iptables-legacy-restore' is not installed (install it with: apt-get install -y iptables)" },
    };

    [KernelTheory]
    [MemberData(nameof(MissingForUp))]
    public void Lab_up_names_a_missing_tool_and_its_package(string @case, string missing, string line)
    {
        Assert.Equal([line], PacketLife.Lab.LabPrerequisites.Problems(PacketLife.App.Cli.LabClusterCommands.UpTools, p => p != missing));
        _ = @case;
    }

    [KernelFact]
    public void Verbs_without_a_lab_say_so_in_one_line()
    {
        var root = Path.Combine(LabEnvironment.StateRoot, "none-" + Guid.NewGuid().ToString("N")[..8]);
        foreach (var verb in new[] { "status", "sync" })
        {
            var (code, output, err) = SeedCluster.Run("lab", verb, "--state-root", root);
            Assert.Equal(2, code);
            Assert.Equal("", output);
            Assert.Equal("lab: no lab is up (run `packetlife lab up`)", err.Trim());
        }
        var (c2, _, e2) = SeedCluster.Run("lab", "conntrack", "somenode", "--state", Path.Combine(root, "0badc0de"));
        Assert.Equal(2, c2);
        Assert.StartsWith("lab: no lab journal in", e2.Trim());
        Assert.False(Directory.Exists(root));
    }
}
