using PacketLife.Core.Cluster;
using PacketLife.Core.KubeProxy;
using static PacketLife.Tests.KubeProxy.K8s;

namespace PacketLife.Tests.KubeProxy;

/// <summary>Configuration and version knobs (facts §2.2, §4.2 item 7, §8, §9): one row per setting, asserting
/// the lines it changes.</summary>
public class ConfigurationSpecTests
{
    static readonly Service Np = Svc("ns1/svc1", "172.30.0.41", ServiceType.NodePort, Port(80, "p80", nodePort: 3001))
        .With(s => s with { ExternalTrafficPolicy = TrafficPolicy.Local });
    static readonly EndpointSlice Eps = Slice("ns1/svc1-abc", "svc1", "p80", 80, Ep("10.180.0.1", node: "test-hostname"));
    static readonly string H = ChainNames.PortProtoHash("ns1/svc1:p80", "tcp");
    static readonly string MasqArgs = "-A KUBE-SVC-" + H + " -m comment --comment \"ns1/svc1:p80 cluster IP\" -m tcp -p tcp -d 172.30.0.41 --dport 80";
    static readonly string PodTraffic = "-A KUBE-EXT-" + H + " -m comment --comment \"pod traffic for ns1/svc1:p80 external destinations\"";
    const string LastRule = "-A KUBE-SERVICES -m comment --comment \"kubernetes service nodeports; NOTE: this must be the last rule in this chain\"";
    const string Firewall = "-A KUBE-FIREWALL -m comment --comment \"block incoming localnet connections\" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP";

    public sealed record Row(string Name, KubeProxyConfiguration Config, KubeProxyEnvironment Env, string[] Present, string[] Absent, Node[]? Nodes = null)
    {
        public override string ToString() => Name;
    }

    static KubeProxyEnvironment V(KubeProxyVersion v, bool nfacct = false, bool? liberal = null, bool randomFully = true) =>
        new() { Version = v, NfacctCountersAvailable = nfacct, ConntrackTcpBeLiberal = liberal, HasRandomFully = randomFully };

    public static TheoryData<Row> Rows => new()
    {
        new Row("detectLocalMode ClusterCIDR", TestConfig, V(KubeProxyVersion.V1_30),
            [$"{MasqArgs} ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ", $"{PodTraffic} -s 10.0.0.0/8 -j KUBE-SVC-{H}"], []),
        new Row("detectLocalMode InterfaceNamePrefix azv (AKS kubenet profile)", KubeProxyConfiguration.AksKubenet, V(KubeProxyVersion.V1_30),
            [$"{MasqArgs} ! -i azv+ -j KUBE-MARK-MASQ", $"{PodTraffic} -i azv+ -j KUBE-SVC-{H}"], []),
        new Row("detectLocalMode BridgeInterface cbr0",
            new KubeProxyConfiguration { DetectLocalMode = DetectLocalMode.BridgeInterface, DetectLocal = new() { BridgeInterface = "cbr0" } }, V(KubeProxyVersion.V1_30),
            [$"{MasqArgs} ! -i cbr0 -j KUBE-MARK-MASQ", $"{PodTraffic} -i cbr0 -j KUBE-SVC-{H}"], []),
        new Row("detectLocalMode NodeCIDR uses the Node's podCIDR",
            new KubeProxyConfiguration { DetectLocalMode = DetectLocalMode.NodeCIDR, ClusterCIDR = "10.0.0.0/8" }, V(KubeProxyVersion.V1_30),
            [$"{MasqArgs} ! -s 10.244.1.0/24 -j KUBE-MARK-MASQ", $"{PodTraffic} -s 10.244.1.0/24 -j KUBE-SVC-{H}"], [],
            [new Node { Metadata = new ObjectMeta { Name = "test-hostname" }, PodCIDR = "10.244.1.0/24" }]),
        new Row("no clusterCIDR: NoOp detector, no masquerade rule and no pod-traffic rule", new KubeProxyConfiguration(), V(KubeProxyVersion.V1_30),
            [$"-A KUBE-EXT-{H} -m comment --comment \"masquerade LOCAL traffic for ns1/svc1:p80 external destinations\" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ"],
            [$"{MasqArgs}", PodTraffic]),
        new Row("masqueradeAll: masquerade rule without a source condition",
            TestConfig with { Iptables = new() { MasqueradeAll = true } }, V(KubeProxyVersion.V1_30),
            [$"{MasqArgs} -j KUBE-MARK-MASQ"], [$"{MasqArgs} ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ"]),
        new Row("masqueradeBit 15: mark 0x00008000 everywhere",
            TestConfig with { Iptables = new() { MasqueradeBit = 15 } }, V(KubeProxyVersion.V1_30),
            ["-A KUBE-MARK-MASQ -j MARK --or-mark 0x00008000", "-A KUBE-POSTROUTING -m mark ! --mark 0x00008000/0x00008000 -j RETURN",
             "-A KUBE-POSTROUTING -j MARK --xor-mark 0x00008000",
             "-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding rules\" -m mark --mark 0x00008000/0x00008000 -j ACCEPT"], []),
        new Row("random-fully unsupported: plain MASQUERADE", TestConfig, V(KubeProxyVersion.V1_30, randomFully: false),
            ["-A KUBE-POSTROUTING -m comment --comment \"kubernetes service traffic requiring SNAT\" -j MASQUERADE"],
            ["-A KUBE-POSTROUTING -m comment --comment \"kubernetes service traffic requiring SNAT\" -j MASQUERADE --random-fully"]),
        new Row("localhostNodePorts on (default): KUBE-FIREWALL, plain addrtype LOCAL", TestConfig, V(KubeProxyVersion.V1_30),
            [":KUBE-FIREWALL - [0:0]", Firewall, $"{LastRule} -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS"], []),
        new Row("localhostNodePorts off: no KUBE-FIREWALL, loopback excluded from NodePorts",
            TestConfig with { Iptables = new() { LocalhostNodePorts = false } }, V(KubeProxyVersion.V1_30),
            [$"{LastRule} -m addrtype --dst-type LOCAL ! -d 127.0.0.0/8 -j KUBE-NODEPORTS"], [":KUBE-FIREWALL - [0:0]", Firewall]),
        new Row("nodePortAddresses without loopback: one rule per node IP, localhost NodePorts forced off",
            TestConfig with { NodePortAddresses = ["192.168.0.0/16"] }, V(KubeProxyVersion.V1_30),
            [$"{LastRule} -d 192.168.0.2 -j KUBE-NODEPORTS"], [":KUBE-FIREWALL - [0:0]", $"{LastRule} -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS"]),
        new Row("nodePortAddresses with 127.0.0.0/8: loopback rule first (lo), KUBE-FIREWALL kept",
            TestConfig with { NodePortAddresses = ["127.0.0.0/8", "192.168.0.0/16"] }, V(KubeProxyVersion.V1_30),
            [$"{LastRule} -d 127.0.0.1 -j KUBE-NODEPORTS", $"{LastRule} -d 192.168.0.2 -j KUBE-NODEPORTS", Firewall], []),
        new Row("nodePortAddresses 0.0.0.0/0 means all", TestConfig with { NodePortAddresses = ["0.0.0.0/0"] }, V(KubeProxyVersion.V1_30),
            [$"{LastRule} -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS", Firewall], []),
        new Row("1.28: INVALID drop regardless of tcp_be_liberal", TestConfig, V(KubeProxyVersion.V1_28, liberal: true),
            ["-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP"], []),
        new Row("1.29+: no INVALID drop when nf_conntrack_tcp_be_liberal is set", TestConfig, V(KubeProxyVersion.V1_29, liberal: true),
            [], ["-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP"]),
        new Row("conntrack.tcpBeLiberal in the configuration is what kube-proxy sets the sysctl to",
            TestConfig with { Conntrack = new() { TcpBeLiberal = true } }, V(KubeProxyVersion.V1_30),
            [], ["-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP"]),
        new Row("1.30 with nfacct counters: counter on the INVALID drop, no localhost NodePort counter", TestConfig, V(KubeProxyVersion.V1_30, nfacct: true),
            ["-A KUBE-FORWARD -m conntrack --ctstate INVALID -m nfacct --nfacct-name ct_state_invalid_dropped_pkts -j DROP"],
            ["-A KUBE-NODEPORTS -m comment --comment ns1/svc1:p80 -m tcp -p tcp -d 127.0.0.0/8 --dport 3001 -m nfacct --nfacct-name localhost_nps_accepted_pkts -j KUBE-EXT-" + H]),
        new Row("1.31 with nfacct counters: localhost NodePort counter rule before the NodePort rule", TestConfig, V(KubeProxyVersion.V1_31, nfacct: true),
            ["-A KUBE-NODEPORTS -m comment --comment ns1/svc1:p80 -m tcp -p tcp -d 127.0.0.0/8 --dport 3001 -m nfacct --nfacct-name localhost_nps_accepted_pkts -j KUBE-EXT-" + H], []),
        new Row("1.30 default (no nfacct objects): plain INVALID drop", TestConfig, V(KubeProxyVersion.V1_30),
            ["-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP"], ["ct_state_invalid_dropped_pkts"]),
    };

    [Theory, MemberData(nameof(Rows))]
    public void Setting_changes_exactly_these_lines(Row row)
    {
        var r = IptablesProxier.Sync(new KubeProxySyncInput
        {
            Services = [Np], EndpointSlices = [Eps], Nodes = row.Nodes ?? [], Hostname = "test-hostname", NodeIPs = ["192.168.0.2"],
            Configuration = row.Config, Environment = row.Env,
        });
        var lines = r.RestorePayload.Split('\n');
        foreach (var p in row.Present) Assert.Contains(p, lines);
        foreach (var a in row.Absent) Assert.DoesNotContain(lines, l => l.StartsWith(a, StringComparison.Ordinal) || (a.Length < 40 && l.Contains(a)));
    }

    [Fact]
    public void Per_IP_nodeport_rules_come_last_in_KUBE_SERVICES()
    {
        var r = IptablesProxier.Sync(new KubeProxySyncInput
        {
            Services = [Np], EndpointSlices = [Eps], Hostname = "test-hostname", NodeIPs = ["192.168.0.2"],
            Configuration = TestConfig with { NodePortAddresses = ["127.0.0.0/8", "192.168.0.0/16"] },
        });
        var ks = Rules(r.RestorePayload, "nat").Where(l => l.StartsWith("-A KUBE-SERVICES ")).ToArray();
        Assert.Equal([$"{LastRule} -d 127.0.0.1 -j KUBE-NODEPORTS", $"{LastRule} -d 192.168.0.2 -j KUBE-NODEPORTS"], ks[^2..]);
    }

    [Fact]
    public void IPv6_proxier_brackets_endpoints_and_never_writes_KUBE_FIREWALL()
    {
        var svc = Svc("ns1/svc1", "fd00:172:30::41", ServiceType.ClusterIP, Port(80, "p80")) with { };
        svc = svc.With(s => s with { ClusterIPs = ["10.0.0.41", "fd00:172:30::41"] });
        var slice = Slice("ns1/svc1-v6", "svc1", "p80", 80, Ep("ff06::c1")) with { AddressType = "IPv6" };
        var v4slice = Slice("ns1/svc1-v4", "svc1", "p80", 80, Ep("10.180.0.1"));
        var r = IptablesProxier.Sync(new KubeProxySyncInput
        {
            Services = [svc], EndpointSlices = [slice, v4slice], Hostname = "test-hostname", NodeIPs = ["fd00::2"],
            Configuration = new KubeProxyConfiguration { ClusterCIDR = "10.0.0.0/8,fd00:10::/64" }, Family = IpFamily.IPv6,
        });
        string h = ChainNames.PortProtoHash("ns1/svc1:p80", "tcp");
        Assert.Equal(
        [
            $"-A KUBE-SERVICES -m comment --comment \"ns1/svc1:p80 cluster IP\" -m tcp -p tcp -d fd00:172:30::41 --dport 80 -j KUBE-SVC-{h}",
            $"-A KUBE-SVC-{h} -m comment --comment \"ns1/svc1:p80 cluster IP\" -m tcp -p tcp -d fd00:172:30::41 --dport 80 ! -s fd00:10::/64 -j KUBE-MARK-MASQ",
            $"-A KUBE-SVC-{h} -m comment --comment \"ns1/svc1:p80 -> [ff06::c1]:80\" -j KUBE-SEP-LIGRYQQLSZN4UWQ5",
            "-A KUBE-SEP-LIGRYQQLSZN4UWQ5 -m comment --comment ns1/svc1:p80 -s ff06::c1 -j KUBE-MARK-MASQ",
            "-A KUBE-SEP-LIGRYQQLSZN4UWQ5 -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination [ff06::c1]:80",
            "-A KUBE-SERVICES -m comment --comment \"kubernetes service nodeports; NOTE: this must be the last rule in this chain\" -m addrtype --dst-type LOCAL ! -d ::1/128 -j KUBE-NODEPORTS",
        ], Rules(r.RestorePayload, "nat").Where(l => !l.Contains("KUBE-POSTROUTING") && !l.StartsWith("-A KUBE-MARK-MASQ")));
        Assert.DoesNotContain(":KUBE-FIREWALL - [0:0]", Table(r.RestorePayload, "filter"));
        Assert.Empty(r.Diagnostics);
        // iptables-save prints /128 and the IPv6 reject/recent forms
        Assert.Equal("-A KUBE-SEP-LIGRYQQLSZN4UWQ5 -s ff06::c1/128 -m comment --comment \"ns1/svc1:p80\" -j KUBE-MARK-MASQ",
            SaveRuleFormatter.Format("-A KUBE-SEP-LIGRYQQLSZN4UWQ5 -m comment --comment ns1/svc1:p80 -s ff06::c1 -j KUBE-MARK-MASQ", IpFamily.IPv6));
    }

    [Fact]
    public void Large_cluster_mode_drops_the_SVC_to_SEP_and_SEP_comments_only()
    {
        var eps = Enumerable.Range(0, 1001).Select(i => Ep($"10.{180 + i / 65536}.{i / 256 % 256}.{i % 256}")).ToArray();
        var r = Sync([Svc("ns1/svc1", "172.30.0.41", ServiceType.ClusterIP, Port(80, "p80"))], [Slice("ns1/svc1-abc", "svc1", "p80", 80, eps)]);
        Assert.True(r.LargeClusterMode);
        var nat = Rules(r.RestorePayload, "nat");
        string sep0 = ChainNames.EndpointChain("ns1/svc1:p80", "tcp", "10.180.0.0:80");
        Assert.Contains($"-A KUBE-SVC-XPGD46QRK7WJZT7O -m statistic --mode random --probability 0.0009990010 -j {sep0}", nat);
        Assert.Contains($"-A {sep0} -s 10.180.0.0 -j KUBE-MARK-MASQ", nat);
        Assert.Contains($"-A {sep0} -m tcp -p tcp -j DNAT --to-destination 10.180.0.0:80", nat);
        Assert.Contains("-A KUBE-SERVICES -m comment --comment \"ns1/svc1:p80 cluster IP\" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j KUBE-SVC-XPGD46QRK7WJZT7O", nat);
        Assert.False(Sync([Svc("ns1/svc1", "172.30.0.41", ServiceType.ClusterIP, Port(80, "p80"))], [Slice("ns1/svc1-abc", "svc1", "p80", 80, eps[..1000])]).LargeClusterMode);
    }

    [Fact]
    public void Stale_service_chains_are_flushed_and_deleted_before_the_last_rule()
    {
        var r = IptablesProxier.Sync(new KubeProxySyncInput
        {
            Services = [Np], EndpointSlices = [Eps], Hostname = "test-hostname", Configuration = TestConfig,
            ExistingNatChains = ["KUBE-SVC-OLDOLDOLDOLDOLD1", "KUBE-SEP-OLDOLDOLDOLDOLD2", $"KUBE-SVC-{H}", "KUBE-MARK-DROP", "KUBE-SERVICES"],
        });
        var nat = Table(r.RestorePayload, "nat");
        Assert.Contains(":KUBE-SEP-OLDOLDOLDOLDOLD2 - [0:0]", nat);
        Assert.Contains(":KUBE-SVC-OLDOLDOLDOLDOLD1 - [0:0]", nat);
        Assert.Equal(["-X KUBE-SEP-OLDOLDOLDOLDOLD2", "-X KUBE-SVC-OLDOLDOLDOLDOLD1", "-A KUBE-SERVICES -m comment --comment \"kubernetes service nodeports; NOTE: this must be the last rule in this chain\" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS"],
            nat.Where(l => l.StartsWith("-X") || l.Contains("must be the last")).ToArray());
        Assert.DoesNotContain("-X KUBE-MARK-DROP", nat);
        Assert.DoesNotContain($"-X KUBE-SVC-{H}", nat);
    }
}
