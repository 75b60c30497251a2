using PacketLife.Core.Diagnostics;
using PacketLife.Core.Net;
using PacketLife.Core.Tracing.Cluster;

namespace PacketLife.Tests.Tracing.Cluster;

/// <summary>Packet-flow tables through the whole cluster, in the manner of kube-proxy's tracer tests: per case the
/// source, the destination, the pods reached with their probabilities, whether the source was masqueraded, and the
/// disposition.</summary>
public class ClusterPacketFlowTests
{
    static string Short(TracePath p) => p.AnsweredBy is null ? "-" : p.AnsweredBy.Split(' ')[1];

    [Fact]
    public void Seed_pod_from_the_internet_reaches_the_pod_through_either_node_half_the_time()
    {
        using var s = TwinScenario.SeedPod();
        var t = s.Explain("internet", "svc/nginx");
        Assert.Equal(2, t.Paths.Length);
        Assert.All(t.Paths, p =>
        {
            Assert.Equal(0.5, p.Probability, 12);
            Assert.Equal(TraceDisposition.Answered, p.Disposition);
            Assert.True(p.Masqueraded);
            Assert.Equal("default/nginx", Short(p));
        });
        // Floating IP: the node gets the LB IP as destination.
        var lbIp = s.Service().Status.LoadBalancerIngress[0].Ip;
        Assert.All(t.Paths, p => Assert.Equal(lbIp, p.Hops[1].Before.Dst.ToString()));
        // The reply reaches the client from the LB IP and port it sent to.
        Assert.All(t.Paths, p => Assert.Equal($"{lbIp}", p.ReplyHops[^1].After.Src.ToString()));
        Assert.Contains(t.Explanations, e => e.Code == TraceMessages.SourceIpLost && e.KubernetesObject == "service/default/nginx");
    }

    [Fact]
    public void Seed_deployment_has_four_paths_of_25_percent()
    {
        using var s = TwinScenario.SeedDeployment();
        var t = s.Explain("internet", "svc/nginx");
        Assert.Equal(4, t.Paths.Length);
        Assert.All(t.Paths, p => Assert.Equal(0.25, p.Probability, 12));
        Assert.All(t.Paths, p => Assert.Equal(TraceDisposition.Answered, p.Disposition));
        var pods = s.Pods().Select(p => "default/" + p.Metadata.Name).Order().ToList();
        Assert.Equal(pods, t.Paths.Select(Short).Distinct().Order().ToList());
        // Each LB backend (node) gets half, and from each node each pod gets half of that.
        foreach (var node in t.Paths.Select(p => p.Hops[0].OutInterface).Distinct())
            Assert.Equal(0.5, t.Paths.Where(p => p.Hops[0].OutInterface == node).Sum(p => p.Probability), 12);
    }

    public static TheoryData<int, int> Scaled => new() { { 1, 2 }, { 2, 4 }, { 3, 6 } };

    [Theory, MemberData(nameof(Scaled))]
    public void Scaling_the_deployment_changes_the_probabilities(int replicas, int paths)
    {
        using var s = TwinScenario.SeedDeployment(1);
        if (replicas != 1) Assert.Equal(0, s.Host.Run($"kubectl scale deploy nginx --replicas={replicas}").Code);
        var t = s.Explain("internet", "svc/nginx");
        Assert.Equal(paths, t.Paths.Length);
        // kube-proxy prints the statistic probability with 11 decimals (0.33333333349), so that is what the kernel uses.
        Assert.All(t.Paths, p => Assert.Equal(1.0 / paths, p.Probability, 8));
        Assert.Equal(replicas, t.Paths.Select(Short).Distinct().Count());
        Assert.Equal(1.0, t.Paths.Sum(p => p.Probability), 12);
    }

    [Fact]
    public void Remote_endpoint_is_masqueraded_to_the_node_ip_and_not_natted_again_on_the_endpoint_node()
    {
        using var s = TwinScenario.SeedPod();
        var pod = s.Pods()[0];
        var t = s.Explain("internet", "svc/nginx");
        var remote = Assert.Single(t.Paths, p => p.Hops[0].OutInterface != "backend " + pod.Spec.NodeName);
        var entryNode = remote.Hops[1];
        Assert.Equal(entryNode.After.Src.ToString(), s.NodeIp(remote.Hops[0].OutInterface!["backend ".Length..]));
        Assert.Equal(pod.Status.PodIP, entryNode.After.Dst.ToString());
        // The VNet's kubenet route, then the endpoint's node forwards without NAT (seed: src=10.224.0.5 dst=10.244.1.136 ... dport=29998 both ways).
        Assert.Equal("vnet", remote.Hops[2].Host);
        var endpointNode = remote.Hops[3];
        Assert.Equal(pod.Spec.NodeName, endpointNode.Host);
        Assert.Equal(endpointNode.Before.ToString(), endpointNode.After.ToString());
        var ct = endpointNode.Steps.OfType<ConntrackStep>().Last().Entry;
        Assert.Matches($@"src={entryNode.After.Src} dst={pod.Status.PodIP} sport=(\d+) dport=80 .*src={pod.Status.PodIP} dst={entryNode.After.Src} sport=80 dport=\1 ", ct);
    }

    [Fact]
    public void Local_endpoint_masquerades_to_the_node_ip_with_cbr0_scope_link_as_the_seed_shows()
    {
        using var s = TwinScenario.SeedPod();
        var pod = s.Pods()[0];
        var t = s.Explain("internet", "svc/nginx");
        var local = Assert.Single(t.Paths, p => p.Hops[0].OutInterface == "backend " + pod.Spec.NodeName);
        Assert.Equal(s.NodeIp(pod.Spec.NodeName!), local.Hops[1].After.Src.ToString());
    }

    [Fact]
    public void Cbr0_scope_global_gives_the_textbook_bridge_address_instead()
    {
        using var s = TwinScenario.SeedPod();
        var topo = PacketLife.Core.Topology.ClusterTopology.Build(s.State, s.Host.Clock, new PacketLife.Core.Topology.NodeProfile(PacketLife.Core.Routing.AddressScope.Global));
        var pod = s.Pods()[0];
        var t = s.Explain("internet", "svc/nginx", tracer: new ClusterTracer(topo));
        var local = Assert.Single(t.Paths, p => p.Hops[0].OutInterface == "backend " + pod.Spec.NodeName);
        Assert.Equal(topo.NodeByName(pod.Spec.NodeName!)!.Cbr0Ip, local.Hops[1].After.Src);
    }

    [Fact]
    public void Probe_to_the_nodeport_reaches_a_pod_from_every_node()
    {
        using var s = TwinScenario.SeedDeployment();
        var t = s.Explain("probe", "svc/nginx");
        // One probe per node, each node's statistic branches: 2 nodes x 2 endpoints.
        Assert.Equal(4, t.Paths.Length);
        Assert.All(t.Paths, p => Assert.Equal(TraceDisposition.Answered, p.Disposition));
        Assert.All(t.Paths, p => Assert.Equal("168.63.129.16", p.Hops[0].Before.Src.ToString()));
        Assert.All(t.Paths, p => Assert.Equal(s.Service().Spec.Ports[0].NodePort, p.Hops[0].Before.DstPort));
        Assert.All(t.Paths, p => Assert.True(p.Masqueraded));
    }

    [Fact]
    public void Pod_to_cluster_ip_is_masqueraded_under_the_not_azv_rule()
    {
        using var s = TwinScenario.SeedDeployment();
        var client = s.Pods()[0];
        var t = s.Explain("pod/" + client.Metadata.Name, "svc/nginx");
        Assert.Equal(2, t.Paths.Length);
        Assert.All(t.Paths, p => Assert.True(p.Masqueraded));
        Assert.All(t.Paths, p => Assert.Equal(TraceDisposition.Answered, p.Disposition));
        Assert.All(t.Paths, p => Assert.Contains(p.Hops[0].Steps.OfType<RuleStep>(), r => r.Rule?.Contains("! -i azv+", StringComparison.Ordinal) == true && r.Action == "Jump"));
        Assert.Equal(s.Service().Spec.ClusterIP, t.Packet.Dst.ToString());
    }

    [Fact]
    public void Hairpin_pod_to_its_own_service_is_explained_and_answered_with_hairpin_on()
    {
        using var s = TwinScenario.SeedPod();
        var t = s.Explain("pod/nginx", "svc/nginx");
        var p = Assert.Single(t.Paths);
        Assert.Equal(TraceDisposition.Answered, p.Disposition);
        Assert.Contains(p.Explanations, e => e.Code == TraceMessages.Hairpin && e.KubernetesObject == "service/default/nginx");
    }

    [Fact]
    public void Hairpin_off_drops_at_the_bridge()
    {
        using var s = TwinScenario.SeedPod();
        var topo = PacketLife.Core.Topology.ClusterTopology.Build(s.State, s.Host.Clock, new PacketLife.Core.Topology.NodeProfile(Hairpin: false));
        var t = s.Explain("pod/nginx", "svc/nginx", tracer: new ClusterTracer(topo));
        var p = Assert.Single(t.Paths);
        Assert.Equal(TraceDisposition.Dropped, p.Disposition);
        Assert.Contains(p.Explanations, e => e.Code == TraceMessages.HairpinOff);
    }

    [Fact]
    public void Service_without_endpoints_is_rejected_inside_and_has_no_healthy_backend_outside()
    {
        using var s = TwinScenario.SeedDeployment();
        Assert.Equal(0, s.Host.Run("kubectl run --image=nginx client --port=80").Code);
        Assert.Equal(0, s.Host.Run("kubectl scale deploy nginx --replicas=0").Code);
        var inside = s.Explain("pod/client", "svc/nginx");
        var p = Assert.Single(inside.Paths);
        Assert.Equal(TraceDisposition.Rejected, p.Disposition);
        var e = Assert.Single(p.Explanations, x => x.Code == TraceMessages.NoEndpoints);
        Assert.Contains("has no endpoints", e.Rule);
        Assert.Equal("service/default/nginx", e.KubernetesObject);
        var outside = s.Explain("internet", "svc/nginx");
        var o = Assert.Single(outside.Paths);
        Assert.Equal(TraceDisposition.Dropped, o.Disposition);
        Assert.Contains(o.Explanations, x => x.Code == TraceMessages.NodeOutOfRotation);
    }

    [Fact]
    public void Port_nobody_listens_on_answers_rst()
    {
        using var s = TwinScenario.SeedPod();
        var pod = s.Pods()[0];
        var t = s.Explain("node/" + pod.Spec.NodeName, $"{pod.Status.PodIP}:8080");
        var p = Assert.Single(t.Paths);
        Assert.Equal(TraceDisposition.Refused, p.Disposition);
        Assert.Contains(p.Explanations, e => e.Code == TraceMessages.NotListening);
    }

    [Fact]
    public void Etp_local_keeps_the_source_ip_and_the_probe_keeps_the_lb_off_the_node_without_endpoint()
    {
        using var s = TwinScenario.SeedDeployment(1);
        var yaml = s.Host.File("web.yaml", TwinScenario.EtpLocalWeb);
        Assert.Equal(0, s.Host.Run($"kubectl apply -f {yaml}").Code);
        var tracer = s.Tracer();
        var t = s.Explain("internet", "svc/web", tracer: tracer);
        var p = Assert.Single(t.Paths);
        Assert.Equal(1.0, p.Probability, 12);
        Assert.Equal(TraceDisposition.Answered, p.Disposition);
        Assert.False(p.Masqueraded);
        Assert.Contains(t.Explanations, e => e.Code == TraceMessages.NodeOutOfRotation);
        Assert.Contains(t.Explanations, e => e.Code == TraceMessages.SourceIpKept && e.KubernetesObject == "service/default/web");
        // The pod saw the client's own address.
        var podHop = p.Hops.Single(h => h.Host.StartsWith("pod/", StringComparison.Ordinal));
        Assert.Equal(t.Packet.Src, podHop.Before.Src);
    }

    [Fact]
    public void Etp_local_node_without_endpoint_drops_while_the_lb_still_counts_it_healthy()
    {
        using var s = TwinScenario.SeedDeployment(1);
        var yaml = s.Host.File("web.yaml", TwinScenario.EtpLocalWeb);
        Assert.Equal(0, s.Host.Run($"kubectl apply -f {yaml}").Code);
        var tracer = s.Tracer();
        var podNode = s.Pods()[0].Spec.NodeName;
        var rule = tracer.Topology.LoadBalancer.LoadBalancingRules.Single(r => r.Service == "default/web");
        var probe = tracer.LoadBalancer.ProbeOf(rule)!;
        var other = tracer.LoadBalancer.Pool(rule).Single(n => n.Name != podNode);
        // Before ProbeThreshold failures the LB still sends new flows there (e.g. right after the pod moved).
        tracer.LoadBalancer.Health(probe.Name, other.Name);
        var t = s.Explain("internet", "svc/web", tracer: tracer);
        Assert.Equal(2, t.Paths.Length);
        var dropped = Assert.Single(t.Paths, p => p.Disposition == TraceDisposition.Dropped);
        Assert.Contains(dropped.Explanations, e => e.Code == TraceMessages.EtpLocalNoEndpoint && e.KubernetesObject == "service/default/web");
        Assert.Equal(0.5, dropped.Probability, 12);
    }

    [Fact]
    public void Explain_leaves_no_rule_state_behind_a_second_explain_of_a_ClientIP_affinity_service_sees_every_pod_again()
    {
        // An explain run walks each branch on a scratch copy of the node; `recent --set` of one run (or one branch)
        // must not pin the next: before any real connection the client has no affinity entry (kube-proxy's
        // KUBE-SEP `-m recent --set`, iptables-extensions(8) recent).
        using var s = TwinScenario.SeedDeployment(3);
        var yaml = s.Host.File("sticky.yaml", TwinScenario.NginxService("sticky", "ClusterIP", "sessionAffinity: ClientIP"));
        Assert.Equal(0, s.Host.Run($"kubectl apply -f {yaml}").Code);
        var tracer = s.Tracer();
        var client = s.Pods()[0].Metadata.Name;
        for (int run = 0; run < 3; run++)
        {
            var t = s.Explain("pod/" + client, "svc/sticky", tracer: tracer);
            Assert.Equal(3, t.Paths.Length);
            Assert.All(t.Paths, p => Assert.Equal(1.0 / 3, p.Probability, 9));
            Assert.Equal(3, t.Paths.Select(p => p.AnsweredBy).Distinct().Count());
        }
    }

    [Fact]
    public void Sample_follows_the_lb_hash_and_is_reproducible_with_a_seed()
    {
        using var s = TwinScenario.SeedDeployment();
        var tracer = s.Tracer();
        var (r, _) = TraceTargets.Resolve(tracer.Topology, "internet", "svc/nginx", IpProtocol.Tcp, seed: 42);
        var a = tracer.Sample(r!.From, r.To, IpProtocol.Tcp, 42);
        var b = tracer.Sample(r.From, r.To, IpProtocol.Tcp, 42);
        Assert.Equal(PacketLife.App.Rendering.TraceText.Render(a), PacketLife.App.Rendering.TraceText.Render(b));
        var all = tracer.Explain(r.From, r.To, IpProtocol.Tcp);
        Assert.Contains(all.Paths, p => p.AnsweredBy == a.Paths[0].AnsweredBy && p.Hops[0].OutInterface == a.Paths[0].Hops[0].OutInterface);
    }

    [Fact]
    public void Explain_leaves_the_nodes_conntrack_tables_alone()
    {
        using var s = TwinScenario.SeedDeployment();
        var tracer = s.Tracer();
        s.Explain("internet", "svc/nginx", tracer: tracer);
        Assert.All(tracer.Topology.Nodes, n => Assert.Equal(0, n.Conntrack.Count));
    }
}
