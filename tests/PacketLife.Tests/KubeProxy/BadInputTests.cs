using PacketLife.Core.Cluster;
using PacketLife.Core.Diagnostics;
using PacketLife.Core.KubeProxy;
using static PacketLife.Tests.KubeProxy.K8s;

namespace PacketLife.Tests.KubeProxy;

/// <summary>Bad objects get a diagnostic naming them and are skipped; everything else is still generated,
/// as kube-proxy does (it logs and goes on).</summary>
public class BadInputTests
{
    static readonly Service Good = Svc("ns9/good", "172.30.0.99", ServiceType.ClusterIP, Port(80, "p80"));
    static readonly EndpointSlice GoodEps = Slice("ns9/good-abc", "good", "p80", 80, Ep("10.180.9.9"));

    public sealed record Row(string Name, Service[] Services, EndpointSlice[] Slices, string Code, string MessagePart, string[] StillPresent)
    {
        public override string ToString() => Name;
    }

    static Service Bad(Func<ServiceSpec, ServiceSpec> f) => Svc("ns1/bad", "172.30.0.41", ServiceType.LoadBalancer, Port(80, "p80", nodePort: 3001)).With(f);

    public static TheoryData<Row> Rows => new()
    {
        new Row("invalid clusterIP: Service skipped", [Bad(s => s with { ClusterIP = "172.30.0.400" })], [], "KP001", "Service ns1/bad: invalid spec.clusterIP \"172.30.0.400\"", []),
        new Row("port 0: port skipped", [Svc("ns1/bad", "172.30.0.41", ServiceType.ClusterIP, Port(0, "p0"), Port(81, "p81"))], [], "KP002", "Service ns1/bad: port \"p0\" has invalid port number 0",
            ["-A KUBE-SERVICES -m comment --comment \"ns1/bad:p81 has no endpoints\" -m tcp -p tcp -d 172.30.0.41 --dport 81 -j REJECT"]),
        new Row("nodePort 70000: treated as none", [Svc("ns1/bad", "172.30.0.41", ServiceType.NodePort, Port(80, "p80", nodePort: 70000))], [], "KP003", "invalid nodePort 70000",
            ["-A KUBE-SERVICES -m comment --comment \"ns1/bad:p80 has no endpoints\" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j REJECT"]),
        new Row("invalid externalIP: that IP ignored", [Bad(s => s with { ExternalIPs = ["1.2.3", "192.168.99.1"] })], [], "KP004", "invalid spec.externalIPs entry \"1.2.3\"",
            ["-A KUBE-EXTERNAL-SERVICES -m comment --comment \"ns1/bad:p80 has no endpoints\" -m tcp -p tcp -d 192.168.99.1 --dport 80 -j REJECT"]),
        new Row("invalid LB ingress IP: ignored", [Bad(s => s) with { Status = new ServiceStatus { LoadBalancerIngress = [new("not-an-ip")] } }], [], "KP005", "ingress ip \"not-an-ip\"", []),
        new Row("invalid source range: ignored", [Bad(s => s with { LoadBalancerSourceRanges = ["10.0.0.0/33"] })], [], "KP006", "loadBalancerSourceRanges entry \"10.0.0.0/33\"", []),
        new Row("slice for an unknown Service: ignored", [], [Slice("ns1/ghost-abc", "ghost", "p80", 80, Ep("10.180.0.1"))], "KP010", "EndpointSlice ns1/ghost-abc: Service ns1/ghost does not exist", []),
        new Row("slice without service-name label", [], [new EndpointSlice { Metadata = Meta("ns1/orphan") }], "KP011", "EndpointSlice ns1/orphan: no kubernetes.io/service-name label", []),
        new Row("slice port without a number", [Svc("ns1/bad", "172.30.0.41", ServiceType.ClusterIP, Port(80, "p80"))],
            [Slice("ns1/bad-abc", "bad", [new EndpointPort("p80", Protocol.TCP, null)], Ep("10.180.0.1"))], "KP012", "EndpointSlice ns1/bad-abc: port p80 has no valid port number", []),
        new Row("invalid endpoint address: endpoint skipped, the others used", [Svc("ns1/bad", "172.30.0.41", ServiceType.ClusterIP, Port(80, "p80"))],
            [Slice("ns1/bad-abc", "bad", "p80", 80, Ep("10.180.0.999"), Ep("10.180.0.2"))], "KP013", "invalid endpoint address \"10.180.0.999\"",
            ["-A KUBE-SVC-" + ChainNames.PortProtoHash("ns1/bad:p80", "tcp") + " -m comment --comment \"ns1/bad:p80 -> 10.180.0.2:80\" -j " + ChainNames.EndpointChain("ns1/bad:p80", "tcp", "10.180.0.2:80")]),
        new Row("duplicate endpoint across slices", [Svc("ns1/bad", "172.30.0.41", ServiceType.ClusterIP, Port(80, "p80"))],
            [Slice("ns1/bad-a", "bad", "p80", 80, Ep("10.180.0.2")), Slice("ns1/bad-b", "bad", "p80", 80, Ep("10.180.0.2"))], "KP015", "EndpointSlice ns1/bad-b: endpoint 10.180.0.2:80 of ns1/bad:p80 is already listed",
            ["-A KUBE-SVC-" + ChainNames.PortProtoHash("ns1/bad:p80", "tcp") + " -m comment --comment \"ns1/bad:p80 -> 10.180.0.2:80\" -j " + ChainNames.EndpointChain("ns1/bad:p80", "tcp", "10.180.0.2:80")]),
        new Row("FQDN slice is not proxied", [Svc("ns1/bad", "172.30.0.41", ServiceType.ClusterIP, Port(80, "p80"))],
            [Slice("ns1/bad-fqdn", "bad", "p80", 80, Ep("example.com")) with { AddressType = "FQDN" }], "KP016", "addressType FQDN", []),
    };

    [Theory, MemberData(nameof(Rows))]
    public void Bad_object_is_reported_by_name_and_the_rest_is_generated(Row row)
    {
        var r = Sync([.. row.Services, Good], [.. row.Slices, GoodEps]);
        var d = Assert.Single(r.Diagnostics, x => x.Code == row.Code);
        Assert.Contains(row.MessagePart, d.Message);
        var lines = r.RestorePayload.Split('\n');
        foreach (var l in row.StillPresent) Assert.Contains(l, lines);
        // the good Service is untouched by its neighbour's problems
        Assert.Contains("-A KUBE-SERVICES -m comment --comment \"ns9/good:p80 cluster IP\" -m tcp -p tcp -d 172.30.0.99 --dport 80 -j KUBE-SVC-" + ChainNames.PortProtoHash("ns9/good:p80", "tcp"), lines);
    }

    public static TheoryData<string, KubeProxyConfiguration, string> BadConfigs => new()
    {
        { "masqueradeBit 32", TestConfig with { Iptables = new() { MasqueradeBit = 32 } }, "invalid iptables.masqueradeBit \"32\"; using 14" },
        { "BridgeInterface without a bridge", new() { DetectLocalMode = DetectLocalMode.BridgeInterface }, "invalid detectLocal.bridgeInterface" },
        { "InterfaceNamePrefix without a prefix", new() { DetectLocalMode = DetectLocalMode.InterfaceNamePrefix }, "invalid detectLocal.interfaceNamePrefix" },
        { "bad clusterCIDR", new() { ClusterCIDR = "10.0.0.0/99" }, "invalid clusterCIDR \"10.0.0.0/99\"" },
        { "bad nodePortAddresses entry", TestConfig with { NodePortAddresses = ["eth0"] }, "invalid nodePortAddresses entry \"eth0\"" },
        { "unsupported mode", TestConfig with { Mode = "ipvs" }, "mode \"ipvs\" is not modelled" },
    };

    [Theory, MemberData(nameof(BadConfigs))]
    public void Invalid_configuration_is_reported_and_defaults_are_used(string name, KubeProxyConfiguration cfg, string message)
    {
        _ = name;
        var r = Sync([Good], [GoodEps], cfg);
        Assert.Contains(r.Diagnostics, d => d.Severity == Severity.Error && d.Message.Contains(message));
        Assert.Contains("-A KUBE-MARK-MASQ -j MARK --or-mark 0x00004000", r.RestorePayload.Split('\n'));
    }
}
