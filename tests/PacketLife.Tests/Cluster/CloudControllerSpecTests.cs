using PacketLife.Core.Cluster;
using PacketLife.Core.Net;

namespace PacketLife.Tests.Cluster;

/// <summary>cloud-provider-azure's LB objects per Service (facts azure-aks.md §1.1–§1.5).</summary>
public class CloudControllerSpecTests
{
    static (ClusterState State, ClusterApi Api) Fresh(params string[] prefixes)
    {
        var s = ClusterState.EmbeddedDefault(new ManualClock(new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero)));
        if (prefixes.Length > 0) s.Profile = s.Profile with { PublicIpPrefixes = prefixes };
        return (s, new ClusterApi(s, new ManualClock(new DateTimeOffset(2025, 1, 1, 1, 0, 0, TimeSpan.Zero))));
    }

    static Service Lb(string name, TrafficPolicy etp = TrafficPolicy.Cluster, SessionAffinity aff = SessionAffinity.None, params ServicePort[] ports) => new()
    {
        Metadata = new ObjectMeta { Name = name },
        Spec = new ServiceSpec
        {
            Type = ServiceType.LoadBalancer, ExternalTrafficPolicy = etp, SessionAffinity = aff,
            Selector = new Dictionary<string, string> { ["app"] = name },
            Ports = ports.Length > 0 ? ports : [new ServicePort { Port = 80 }],
        },
    };

    [Fact]
    public void Fresh_AKS_LB_has_only_the_outbound_frontend_pools_and_rule()
    {
        var (s, _) = Fresh();
        var lb = s.Azure.LoadBalancer;
        Assert.Equal([EmbeddedCluster.SeedOutboundFrontend], lb.FrontendIpConfigurations.Select(f => f.Name));
        Assert.Equal(["aksOutboundBackendPool", "kubernetes"], lb.BackendAddressPools.Select(p => p.Name));
        Assert.All(lb.BackendAddressPools, p => Assert.Equal(2, p.NodeNames.Count));
        var rule = Assert.Single(lb.OutboundRules);
        Assert.Equal(("aksOutboundRule", "All", 30, true), (rule.Name, rule.Protocol, rule.IdleTimeoutInMinutes, rule.EnableTcpReset));
        Assert.Empty(lb.LoadBalancingRules);
        Assert.Empty(lb.Probes);
    }

    [Fact]
    public void ETP_Cluster_service_gets_frontend_public_ip_rule_and_TCP_probe_on_the_NodePort()
    {
        var (s, api) = Fresh("203.0.113.0/24");
        Assert.True(api.CreateService(Lb("web")).Ok);
        var svc = s.FindService("default", "web")!;
        var @base = "a" + svc.Metadata.Uid.Replace("-", "")[..31];
        var fe = s.Azure.LoadBalancer.FrontendIpConfigurations[1];
        Assert.Equal(@base, fe.Name);
        Assert.Equal("kubernetes-" + @base, fe.PublicIpAddressName);
        var pip = s.Azure.PublicIpAddresses.Single(p => p.Name == fe.PublicIpAddressName);
        Assert.True(Ip4Prefix.Parse("203.0.113.0/24").Contains(Ip4.Parse(pip.IpAddress)));
        Assert.Equal("default/web", pip.Tags["k8s-azure-service"]);
        Assert.Equal(pip.IpAddress, svc.Status.LoadBalancerIngress.Single().Ip);
        Assert.Equal("VIP", svc.Status.LoadBalancerIngress.Single().IpMode);

        var rule = Assert.Single(s.Azure.LoadBalancer.LoadBalancingRules);
        Assert.Equal(($"{@base}-TCP-80", "Tcp", 80, 80, true, true, true, 4, "Default", "kubernetes"),
            (rule.Name, rule.Protocol, rule.FrontendPort, rule.BackendPort, rule.EnableFloatingIP, rule.EnableTcpReset, rule.DisableOutboundSnat, rule.IdleTimeoutInMinutes, rule.LoadDistribution, rule.BackendAddressPoolName));
        var probe = Assert.Single(s.Azure.LoadBalancer.Probes);
        Assert.Equal((rule.Name, "Tcp", svc.Spec.Ports[0].NodePort, 5, 2, (string?)null), (probe.Name, probe.Protocol, probe.Port, probe.IntervalInSeconds, probe.ProbeThreshold, probe.RequestPath));
        Assert.Equal(probe.Name, rule.ProbeName);
    }

    [Fact]
    public void ETP_Local_service_shares_one_HTTP_healthz_probe_on_the_health_check_NodePort()
    {
        var (s, api) = Fresh();
        Assert.True(api.CreateService(Lb("ing", TrafficPolicy.Local, SessionAffinity.None,
            new ServicePort { Name = "http", Port = 80 }, new ServicePort { Name = "https", Port = 443 })).Ok);
        var svc = s.FindService("default", "ing")!;
        Assert.InRange(svc.Spec.HealthCheckNodePort, 30086, 32767);
        var @base = Naming.AzureLoadBalancerBaseName(svc.Metadata.Uid);
        var probe = Assert.Single(s.Azure.LoadBalancer.Probes);
        Assert.Equal(($"{@base}-TCP-{svc.Spec.HealthCheckNodePort}", "Http", svc.Spec.HealthCheckNodePort, "/healthz"), (probe.Name, probe.Protocol, probe.Port, probe.RequestPath));
        Assert.Equal([$"{@base}-TCP-80", $"{@base}-TCP-443"], s.Azure.LoadBalancer.LoadBalancingRules.Select(r => r.Name));
        Assert.All(s.Azure.LoadBalancer.LoadBalancingRules, r => Assert.Equal(probe.Name, r.ProbeName));
    }

    [Fact]
    public void ClientIP_affinity_gives_SourceIP_distribution_and_UDP_ports_get_no_probe()
    {
        var (s, api) = Fresh();
        Assert.True(api.CreateService(Lb("dns", TrafficPolicy.Cluster, SessionAffinity.ClientIP, new ServicePort { Name = "dns", Port = 53, Protocol = Protocol.UDP })).Ok);
        var rule = Assert.Single(s.Azure.LoadBalancer.LoadBalancingRules);
        Assert.Equal(("SourceIP", "Udp", false, (string?)null), (rule.LoadDistribution, rule.Protocol, rule.EnableTcpReset, rule.ProbeName));
        Assert.Empty(s.Azure.LoadBalancer.Probes);
    }

    [Fact]
    public void Deleting_the_service_removes_frontend_rules_probes_and_public_ip_and_scaling_changes_nothing()
    {
        var (s, api) = Fresh();
        Assert.True(api.CreateDeployment(new Deployment
        {
            Metadata = new ObjectMeta { Name = "web" }, Replicas = 2, Selector = new Dictionary<string, string> { ["app"] = "web" },
            Template = new PodTemplate { Labels = new Dictionary<string, string> { ["app"] = "web" }, Spec = new PodSpec { Containers = [new Container { Name = "web", Image = "nginx" }] } },
        }).Ok);
        Assert.True(api.CreateService(Lb("web")).Ok);
        var before = System.Text.Json.JsonSerializer.Serialize(s.Azure);
        Assert.True(api.ScaleDeployment("default", "web", 3).Ok);
        Assert.Equal(before, System.Text.Json.JsonSerializer.Serialize(s.Azure));
        Assert.True(api.Delete("Service", "default", "web").Ok);
        Assert.Single(s.Azure.LoadBalancer.FrontendIpConfigurations);
        Assert.Empty(s.Azure.LoadBalancer.LoadBalancingRules);
        Assert.Empty(s.Azure.LoadBalancer.Probes);
        Assert.Single(s.Azure.PublicIpAddresses); // the outbound IP stays
        Assert.DoesNotContain(s.EndpointSlices, e => e.ServiceName == "web");
    }

    [Fact]
    public void An_exhausted_public_prefix_leaves_the_service_pending()
    {
        var (s, api) = Fresh("198.51.100.7/32");
        // The outbound IP came from the default prefixes; the only address of the new prefix goes to `a`.
        Assert.True(api.CreateService(Lb("a")).Ok);
        Assert.True(api.CreateService(Lb("b")).Ok);
        Assert.Equal("198.51.100.7", s.FindService("default", "a")!.Status.LoadBalancerIngress.Single().Ip);
        Assert.Empty(s.FindService("default", "b")!.Status.LoadBalancerIngress);
    }
}
