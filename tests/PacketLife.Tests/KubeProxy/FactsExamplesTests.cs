using PacketLife.Core.Cluster;
using PacketLife.Core.KubeProxy;
using static PacketLife.Tests.KubeProxy.K8s;

namespace PacketLife.Tests.KubeProxy;

/// <summary>Whole payloads and blocks quoted in kube-proxy-iptables.md (from upstream test expectations).</summary>
public class FactsExamplesTests
{
    [Fact]
    public void Real_node_payload_for_one_NodePort_service_matches_facts_6_1()
    {
        var svc = Svc("ns1/svc1", "172.30.0.41", ServiceType.NodePort, Port(80, "p80", nodePort: 3001));
        var slice = Slice("ns1/svc1-abc", "svc1", "p80", 80, Ep("10.180.0.1"));
        var r = Sync([svc], [slice]);
        const string expected = """
            *filter
            :KUBE-SERVICES - [0:0]
            :KUBE-EXTERNAL-SERVICES - [0:0]
            :KUBE-FORWARD - [0:0]
            :KUBE-NODEPORTS - [0:0]
            :KUBE-PROXY-FIREWALL - [0:0]
            :KUBE-FIREWALL - [0:0]
            -A KUBE-FIREWALL -m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP
            -A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
            -A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x00004000/0x00004000 -j ACCEPT
            -A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
            COMMIT
            *nat
            :KUBE-SERVICES - [0:0]
            :KUBE-NODEPORTS - [0:0]
            :KUBE-POSTROUTING - [0:0]
            :KUBE-MARK-MASQ - [0:0]
            :KUBE-EXT-XPGD46QRK7WJZT7O - [0:0]
            :KUBE-SVC-XPGD46QRK7WJZT7O - [0:0]
            :KUBE-SEP-SXIVWICOYRO3J4NJ - [0:0]
            -A KUBE-POSTROUTING -m mark ! --mark 0x00004000/0x00004000 -j RETURN
            -A KUBE-POSTROUTING -j MARK --xor-mark 0x00004000
            -A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully
            -A KUBE-MARK-MASQ -j MARK --or-mark 0x00004000
            -A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j KUBE-SVC-XPGD46QRK7WJZT7O
            -A KUBE-NODEPORTS -m comment --comment ns1/svc1:p80 -m tcp -p tcp --dport 3001 -j KUBE-EXT-XPGD46QRK7WJZT7O
            -A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
            -A KUBE-EXT-XPGD46QRK7WJZT7O -m comment --comment "masquerade traffic for ns1/svc1:p80 external destinations" -j KUBE-MARK-MASQ
            -A KUBE-EXT-XPGD46QRK7WJZT7O -j KUBE-SVC-XPGD46QRK7WJZT7O
            -A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -j KUBE-SEP-SXIVWICOYRO3J4NJ
            -A KUBE-SEP-SXIVWICOYRO3J4NJ -m comment --comment ns1/svc1:p80 -s 10.180.0.1 -j KUBE-MARK-MASQ
            -A KUBE-SEP-SXIVWICOYRO3J4NJ -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.1:80
            -A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
            COMMIT

            """;
        Assert.Equal(expected.ReplaceLineEndings("\n"), r.RestorePayload);
        Assert.Empty(r.Diagnostics);
    }

    [Fact]
    public void Worked_example_4_3_eTP_Local_without_local_endpoint_on_1_31_with_nfacct()
    {
        var svc = Svc("ns2/svc2", "172.30.0.42", ServiceType.LoadBalancer, Port(80, "p80", nodePort: 3001))
            .With(s => s with { ExternalTrafficPolicy = TrafficPolicy.Local, HealthCheckNodePort = 30000, ExternalIPs = ["192.168.99.22"] })
            .WithLb("1.2.3.4");
        var slice = Slice("ns2/svc2-abc", "svc2", "p80", 80, Ep("10.180.0.2", node: "other-node"));
        var r = Sync([svc], [slice], env: new KubeProxyEnvironment { Version = KubeProxyVersion.V1_31, NfacctCountersAvailable = true });
        string[] filter =
        [
            "-A KUBE-FIREWALL -m comment --comment \"block incoming localnet connections\" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP",
            "-A KUBE-EXTERNAL-SERVICES -m comment --comment \"ns2/svc2:p80 has no local endpoints\" -m tcp -p tcp -d 192.168.99.22 --dport 80 -j DROP",
            "-A KUBE-EXTERNAL-SERVICES -m comment --comment \"ns2/svc2:p80 has no local endpoints\" -m tcp -p tcp -d 1.2.3.4 --dport 80 -j DROP",
            "-A KUBE-EXTERNAL-SERVICES -m comment --comment \"ns2/svc2:p80 has no local endpoints\" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 3001 -j DROP",
            "-A KUBE-NODEPORTS -m comment --comment \"ns2/svc2:p80 health check node port\" -m tcp -p tcp --dport 30000 -j ACCEPT",
            "-A KUBE-FORWARD -m conntrack --ctstate INVALID -m nfacct --nfacct-name ct_state_invalid_dropped_pkts -j DROP",
            "-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding rules\" -m mark --mark 0x00004000/0x00004000 -j ACCEPT",
            "-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding conntrack rule\" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
        ];
        string[] nat =
        [
            "-A KUBE-POSTROUTING -m mark ! --mark 0x00004000/0x00004000 -j RETURN",
            "-A KUBE-POSTROUTING -j MARK --xor-mark 0x00004000",
            "-A KUBE-POSTROUTING -m comment --comment \"kubernetes service traffic requiring SNAT\" -j MASQUERADE --random-fully",
            "-A KUBE-MARK-MASQ -j MARK --or-mark 0x00004000",
            "-A KUBE-SERVICES -m comment --comment \"ns2/svc2:p80 cluster IP\" -m tcp -p tcp -d 172.30.0.42 --dport 80 -j KUBE-SVC-GNZBNJ2PO5MGZ6GT",
            "-A KUBE-SERVICES -m comment --comment \"ns2/svc2:p80 external IP\" -m tcp -p tcp -d 192.168.99.22 --dport 80 -j KUBE-EXT-GNZBNJ2PO5MGZ6GT",
            "-A KUBE-SERVICES -m comment --comment \"ns2/svc2:p80 loadbalancer IP\" -m tcp -p tcp -d 1.2.3.4 --dport 80 -j KUBE-EXT-GNZBNJ2PO5MGZ6GT",
            "-A KUBE-NODEPORTS -m comment --comment ns2/svc2:p80 -m tcp -p tcp -d 127.0.0.0/8 --dport 3001 -m nfacct --nfacct-name localhost_nps_accepted_pkts -j KUBE-EXT-GNZBNJ2PO5MGZ6GT",
            "-A KUBE-NODEPORTS -m comment --comment ns2/svc2:p80 -m tcp -p tcp --dport 3001 -j KUBE-EXT-GNZBNJ2PO5MGZ6GT",
            "-A KUBE-SVC-GNZBNJ2PO5MGZ6GT -m comment --comment \"ns2/svc2:p80 cluster IP\" -m tcp -p tcp -d 172.30.0.42 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ",
            "-A KUBE-EXT-GNZBNJ2PO5MGZ6GT -m comment --comment \"pod traffic for ns2/svc2:p80 external destinations\" -s 10.0.0.0/8 -j KUBE-SVC-GNZBNJ2PO5MGZ6GT",
            "-A KUBE-EXT-GNZBNJ2PO5MGZ6GT -m comment --comment \"masquerade LOCAL traffic for ns2/svc2:p80 external destinations\" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ",
            "-A KUBE-EXT-GNZBNJ2PO5MGZ6GT -m comment --comment \"route LOCAL traffic for ns2/svc2:p80 external destinations\" -m addrtype --src-type LOCAL -j KUBE-SVC-GNZBNJ2PO5MGZ6GT",
            "-A KUBE-SVC-GNZBNJ2PO5MGZ6GT -m comment --comment \"ns2/svc2:p80 -> 10.180.0.2:80\" -j KUBE-SEP-RS4RBKLTHTF2IUXJ",
            "-A KUBE-SEP-RS4RBKLTHTF2IUXJ -m comment --comment ns2/svc2:p80 -s 10.180.0.2 -j KUBE-MARK-MASQ",
            "-A KUBE-SEP-RS4RBKLTHTF2IUXJ -m comment --comment ns2/svc2:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.2:80",
            "-A KUBE-SERVICES -m comment --comment \"kubernetes service nodeports; NOTE: this must be the last rule in this chain\" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS",
        ];
        Assert.Equal(filter, Rules(r.RestorePayload, "filter"));
        Assert.Equal(nat, Rules(r.RestorePayload, "nat"));
        Assert.DoesNotContain(":KUBE-SVL-GNZBNJ2PO5MGZ6GT - [0:0]", Table(r.RestorePayload, "nat"));
    }

    public static TheoryData<string, string, string> Hashes => new()
    {
        // svcPortName      proto    chain suffix (facts §3)
        { "ns1/svc1:p80", "tcp", "XPGD46QRK7WJZT7O" },
        { "ns1/svc1", "tcp", "AQI2S6QIMU7PVVRP" },
        { "ns1/svc1:p80", "sctp", "GFCIFIA5VTFSTMSM" },
        { "ns2/svc2:p80", "tcp", "GNZBNJ2PO5MGZ6GT" },
        { "ns5/svc5:p80", "tcp", "NUKIZ6OKUXPJNT4C" },
        { "default/nginx", "tcp", "2CMXP7HKUVJN7L6M" },
    };

    [Theory, MemberData(nameof(Hashes))]
    public void Port_proto_hash(string svcPortName, string proto, string expected) =>
        Assert.Equal(expected, ChainNames.PortProtoHash(svcPortName, proto));

    public static TheoryData<string, string, string, string> SepHashes => new()
    {
        { "ns1/svc1:p80", "tcp", "10.180.0.1:80", "KUBE-SEP-SXIVWICOYRO3J4NJ" },
        { "ns1/svc1:p80", "tcp", "[ff06::c1]:80", "KUBE-SEP-LIGRYQQLSZN4UWQ5" },
        { "ns1/svc1", "tcp", "10.0.1.5:80", "KUBE-SEP-EQCHZ7S2PJ72OHAY" },
        // the seed's endpoints
        { "default/nginx", "tcp", "10.244.0.33:80", "KUBE-SEP-4X7S3D7PCAJUKXXB" },
        { "default/nginx", "tcp", "10.244.0.113:80", "KUBE-SEP-ESQ56IRPPG5O3T2M" },
        { "default/nginx", "tcp", "10.244.1.136:80", "KUBE-SEP-4JJP2BCEIDJE7FLC" },
    };

    [Theory, MemberData(nameof(SepHashes))]
    public void Endpoint_chain_hash(string svcPortName, string proto, string ep, string expected) =>
        Assert.Equal(expected, ChainNames.EndpointChain(svcPortName, proto, ep));
}
