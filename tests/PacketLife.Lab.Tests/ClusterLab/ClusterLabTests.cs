using System.Text.RegularExpressions;
using PacketLife.App.Cli;
using PacketLife.Core.KubeProxy;

namespace PacketLife.Lab.Tests.Clusters;

/// <summary>The seed's deployment cluster in real namespaces: the internet client reaches nginx through the LB IP,
/// the nodes hold exactly the twin's rules, conntrack shows the seed's shapes, the probe loop moves nodes.</summary>
[Collection("cluster-lab")]
public class ClusterLabTests(ClusterLabFixture fx)
{
    string Vip => Assert.Single(fx.Lab.Plan.Frontends).Ip;

    /// <summary>The routing table of the frontend's one rule (TCP 80).</summary>
    string Table => Assert.Single(Assert.Single(fx.Lab.Plan.Frontends).Rules!).Table.ToString(System.Globalization.CultureInfo.InvariantCulture);

    string Curl(string url) => fx.Lab.Exec("client", ["curl", "-s", "-m", "3", url]).EnsureSuccess().Stdout;

    [KernelFact]
    public void The_client_reaches_nginx_through_the_LB_IP_and_both_pods_answer_over_repeated_connections()
    {
        Assert.Contains("<title>Welcome to nginx!</title>", Curl($"http://{Vip}/"));
        var nginxPods = fx.Lab.Plan.Pods.Where(p => p.Name.StartsWith("nginx-", StringComparison.Ordinal)).Select(p => p.Name).ToHashSet();
        var seen = new Dictionary<string, int>();
        for (int i = 0; i < 30; i++)
        {
            var name = Curl($"http://{Vip}/pod").Trim();
            Assert.Contains(name, nginxPods);
            seen[name] = seen.GetValueOrDefault(name) + 1;
        }
        Assert.Equal(nginxPods.Order(), seen.Keys.Order());
    }

    [KernelFact]
    public void Each_node_holds_exactly_the_rules_the_twin_prints()
    {
        var state = SeedCluster.Load(fx.ClusterPath);
        foreach (var node in fx.Lab.Plan.Nodes)
        {
            var twin = LabClusterCommands.NodeRules(state)(node.Name);
            var kernel = fx.Lab.IptablesSave(node.Name);
            Assert.Equal(WithoutComments(twin), WithoutComments(kernel));
        }
    }

    /// <summary>Drops the timestamped `#` lines and zeroes the chain counters, which the kernel counts.</summary>
    static string WithoutComments(string save) =>
        string.Join("\n", save.Split('\n').Where(l => !l.StartsWith('#') && l.Length > 0).Select(l => Regex.Replace(l, @"^(:\S+ \S+) \[\d+:\d+\]$", "$1 [0:0]")));

    [KernelFact]
    public void Conntrack_shows_DNAT_and_SNAT_entries_shaped_like_the_seed_and_the_probe_entries()
    {
        var state = SeedCluster.Load(fx.ClusterPath);
        var nodePort = state.FindService("default", "nginx")!.Spec.Ports[0].NodePort;
        for (int i = 0; i < 6; i++) Curl($"http://{Vip}/pod");
        var all = string.Join("\n", fx.Lab.Plan.Nodes.Select(n => fx.Lab.Conntrack(n.Name, "-p", "tcp")));
        // The seed: src=<client> dst=<LB IP> sport=… dport=80 src=<pod> dst=<node IP> sport=80 dport=… [ASSURED]
        Assert.Matches(new Regex(@"^tcp +6 \d+ \w+ src=198\.51\.100\.10 dst=" + Regex.Escape(Vip) + @" sport=\d+ dport=80 src=10\.244\.\d+\.\d+ dst=10\.224\.0\.[45] sport=80 dport=\d+ \[ASSURED\] mark=0 use=1$", RegexOptions.Multiline), all);
        // The Azure probe to the NodePort, DNATed to a pod and masqueraded to the node IP (cbr0 scope link, §7.1).
        Assert.Matches(new Regex(@"^tcp +6 \d+ \w+ src=168\.63\.129\.16 dst=(10\.224\.0\.[45]) sport=\d+ dport=" + nodePort + @" src=10\.244\.\d+\.\d+ dst=\1 sport=80 dport=\d+ \[ASSURED\] mark=0 use=1$", RegexOptions.Multiline), all);
    }

    [KernelFact]
    public void The_probe_loop_takes_a_node_out_and_back_in()
    {
        var state = SeedCluster.Load(fx.ClusterPath);
        var nodePort = state.FindService("default", "nginx")!.Spec.Ports[0].NodePort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var node = SeedCluster.Node1;
        string[] rule = ["INPUT", "-s", "168.63.129.16", "-p", "tcp", "--dport", nodePort, "-j", "DROP"];
        // The probe is DNATed in PREROUTING, so it is dropped in the raw table, before NAT, as a dead node would.
        fx.Lab.Exec(node, ["iptables-legacy", "-t", "raw", "-I", "PREROUTING", .. rule[1..]]).EnsureSuccess();
        try
        {
            WaitFor(h => h.Healthy.SequenceEqual([SeedCluster.Node0]) && h.Down.SequenceEqual([node]));
            var route = fx.Lab.Exec("lb", ["ip", "route", "show", "table", Table, Vip]).EnsureSuccess();
            Assert.Equal($"{Vip} via 10.224.0.4 dev vnet0", route.Stdout.Trim());
        }
        finally
        {
            fx.Lab.Exec(node, ["iptables-legacy", "-t", "raw", "-D", "PREROUTING", .. rule[1..]]).EnsureSuccess();
        }
        WaitFor(h => h.Healthy.Count == 2);
        Assert.Contains("nexthop via 10.224.0.5", fx.Lab.Exec("lb", ["ip", "route", "show", "table", Table, Vip]).Stdout);
        // Outside the rule's table the frontend IP is a blackhole: only what a rule covers is forwarded.
        Assert.Equal($"blackhole {Vip}", fx.Lab.Exec("lb", ["ip", "route", "show", Vip]).Stdout.Trim());
    }

    void WaitFor(Func<PacketLife.Lab.Cluster.FrontendHealth, bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        PacketLife.Lab.Cluster.FrontendHealth? last = null;
        while (DateTime.UtcNow < deadline)
        {
            last = fx.Lab.Status().Health?.Frontends.Single();
            if (last is not null && condition(last)) return;
            Thread.Sleep(100);
        }
        Assert.Fail($"probe state not reached; last: healthy [{string.Join(",", last?.Healthy ?? [])}] down [{string.Join(",", last?.Down ?? [])}]");
    }

    [KernelFact]
    public void Status_shows_every_namespace_and_process_present()
    {
        var s = fx.Lab.Status();
        Assert.All(s.Namespaces, n => Assert.True(n.Exists, n.Namespace));
        Assert.All(s.Processes, p => Assert.True(p.Alive, p.Process.Command));
        Assert.Equal(3 + fx.Lab.Plan.Nodes.Count + fx.Lab.Plan.Pods.Count, s.Namespaces.Count);
        // nginx per pod, the health server per node, the probe loop.
        Assert.Equal(fx.Lab.Plan.Pods.Count(p => p.Ports.Count > 0) + fx.Lab.Plan.Nodes.Count + 1, s.Processes.Count);
    }

    [KernelFact]
    public void Exec_refuses_a_shell_and_an_unknown_host_with_one_line()
    {
        var (code, _, err) = SeedCluster.Run("lab", "exec", "--state", fx.Lab.StateDirectory, "client", "--", "bash", "-c", "true");
        Assert.Equal(2, code);
        Assert.Equal($"lab exec: refusing to run \"bash\" in {fx.Lab.NamespaceOf("client")}: shells and namespace switchers could leave the namespace", err.Trim());
        (code, _, err) = SeedCluster.Run("lab", "exec", "--state", fx.Lab.StateDirectory, "nosuch", "--", "true");
        Assert.Equal(2, code);
        Assert.StartsWith("lab: no host \"nosuch\" in this lab", err.Trim());
        Assert.DoesNotContain("\n", err.Trim());
        (code, var output, _) = SeedCluster.Run("lab", "exec", "--state", fx.Lab.StateDirectory, "lb", "--", "ip", "-4", "-o", "addr", "show", "dev", "lo");
        Assert.Equal(0, code);
        Assert.Contains("inet 168.63.129.16/32", output);
    }
}
