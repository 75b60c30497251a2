using PacketLife.Core.Cluster;
using PacketLife.Core.KubeProxy;
using static PacketLife.Tests.KubeProxy.K8s;

namespace PacketLife.Tests.KubeProxy;

/// <summary>One row per Service feature of issue 4: the exact block kube-proxy writes for ns1/svc1 port p80
/// (cluster IP 172.30.0.41, node "test-hostname", node IP 192.168.0.2, ClusterCIDR detector 10.0.0.0/8),
/// written from kube-proxy-iptables.md §4 and the upstream test expectations it quotes.</summary>
public class ServiceFeatureSpecTests
{
    public sealed record Case(string Name, Service[] Services, EndpointSlice[] Slices, string[] Expected,
        string SvcPortName = "ns1/svc1:p80", string Proto = "tcp", KubeProxyVersion Version = KubeProxyVersion.V1_28)
    {
        public override string ToString() => Name;
    }

    const string Host = "test-hostname";
    static Service Cip(params ServicePort[] ports) => Svc("ns1/svc1", "172.30.0.41", ServiceType.ClusterIP, ports.Length > 0 ? ports : [Port(80, "p80")]);
    static Service Np(int nodePort = 3001) => Svc("ns1/svc1", "172.30.0.41", ServiceType.NodePort, Port(80, "p80", nodePort: nodePort));
    static Service Lb(int nodePort = 3001) => Svc("ns1/svc1", "172.30.0.41", ServiceType.LoadBalancer, Port(80, "p80", nodePort: nodePort)).WithLb("1.2.3.4");
    static EndpointSlice S(params Endpoint[] eps) => Slice("ns1/svc1-abc", "svc1", "p80", 80, eps);

    const string KsCip = "nat: -A KUBE-SERVICES -m comment --comment \"ns1/svc1:p80 cluster IP\" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j {SVC}";
    const string SvcMasq = "nat: -A {SVC} -m comment --comment \"ns1/svc1:p80 cluster IP\" -m tcp -p tcp -d 172.30.0.41 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ";
    static string[] Sep(string ip) =>
    [
        $"nat: -A {{SEP:{ip}:80}} -m comment --comment ns1/svc1:p80 -s {ip} -j KUBE-MARK-MASQ",
        $"nat: -A {{SEP:{ip}:80}} -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination {ip}:80",
    ];
    static string To(string chain, string ip, string? prob = null) =>
        $"nat: -A {chain} -m comment --comment \"ns1/svc1:p80 -> {ip}:80\"" + (prob is null ? "" : $" -m statistic --mode random --probability {prob}") + $" -j {{SEP:{ip}:80}}";

    public static TheoryData<Case> Cases => new()
    {
        new Case("ClusterIP, one ready endpoint", [Cip()], [S(Ep("10.180.0.1"))],
        [
            "nat: :{SVC} - [0:0]", "nat: :{SEP:10.180.0.1:80} - [0:0]",
            KsCip, SvcMasq, To("{SVC}", "10.180.0.1"), .. Sep("10.180.0.1"),
        ]),
        new Case("ClusterIP, three endpoints: sorted as ip:port strings, probabilities 1/3 then 1/2", [Cip()],
            [S(Ep("10.180.0.2"), Ep("10.180.0.1"), Ep("10.180.0.11"))],
        [
            "nat: :{SVC} - [0:0]", "nat: :{SEP:10.180.0.11:80} - [0:0]", "nat: :{SEP:10.180.0.1:80} - [0:0]", "nat: :{SEP:10.180.0.2:80} - [0:0]",
            KsCip, SvcMasq,
            To("{SVC}", "10.180.0.11", "0.3333333333"), To("{SVC}", "10.180.0.1", "0.5000000000"), To("{SVC}", "10.180.0.2"),
            .. Sep("10.180.0.11"), .. Sep("10.180.0.1"), .. Sep("10.180.0.2"),
        ]),
        new Case("ClusterIP, no endpoints: filter REJECT", [Cip()], [],
        [
            "filter: -A KUBE-SERVICES -m comment --comment \"ns1/svc1:p80 has no endpoints\" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j REJECT",
        ]),
        new Case("NodePort, eTP Cluster", [Np()], [S(Ep("10.180.0.1"))],
        [
            "nat: :{EXT} - [0:0]", "nat: :{SVC} - [0:0]", "nat: :{SEP:10.180.0.1:80} - [0:0]",
            KsCip,
            "nat: -A KUBE-NODEPORTS -m comment --comment ns1/svc1:p80 -m tcp -p tcp --dport 3001 -j {EXT}",
            SvcMasq,
            "nat: -A {EXT} -m comment --comment \"masquerade traffic for ns1/svc1:p80 external destinations\" -j KUBE-MARK-MASQ",
            "nat: -A {EXT} -j {SVC}",
            To("{SVC}", "10.180.0.1"), .. Sep("10.180.0.1"),
        ]),
        new Case("NodePort type with nodePort 0: no NodePort rule, no KUBE-EXT", [Np(nodePort: 0)], [S(Ep("10.180.0.1"))],
        [
            "nat: :{SVC} - [0:0]", "nat: :{SEP:10.180.0.1:80} - [0:0]",
            KsCip, SvcMasq, To("{SVC}", "10.180.0.1"), .. Sep("10.180.0.1"),
        ]),
        new Case("externalIPs on a ClusterIP Service go through KUBE-EXT",
            [Cip().With(s => s with { ExternalIPs = ["192.168.99.11"] })], [S(Ep("10.180.0.1"))],
        [
            "nat: :{EXT} - [0:0]", "nat: :{SVC} - [0:0]", "nat: :{SEP:10.180.0.1:80} - [0:0]",
            KsCip,
            "nat: -A KUBE-SERVICES -m comment --comment \"ns1/svc1:p80 external IP\" -m tcp -p tcp -d 192.168.99.11 --dport 80 -j {EXT}",
            SvcMasq,
            "nat: -A {EXT} -m comment --comment \"masquerade traffic for ns1/svc1:p80 external destinations\" -j KUBE-MARK-MASQ",
            "nat: -A {EXT} -j {SVC}",
            To("{SVC}", "10.180.0.1"), .. Sep("10.180.0.1"),
        ]),
        new Case("LoadBalancer ingress IP, eTP Cluster (the seed's shape)", [Lb()], [S(Ep("10.180.0.1"))],
        [
            "nat: :{EXT} - [0:0]", "nat: :{SVC} - [0:0]", "nat: :{SEP:10.180.0.1:80} - [0:0]",
            KsCip,
            "nat: -A KUBE-SERVICES -m comment --comment \"ns1/svc1:p80 loadbalancer IP\" -m tcp -p tcp -d 1.2.3.4 --dport 80 -j {EXT}",
            "nat: -A KUBE-NODEPORTS -m comment --comment ns1/svc1:p80 -m tcp -p tcp --dport 3001 -j {EXT}",
            SvcMasq,
            "nat: -A {EXT} -m comment --comment \"masquerade traffic for ns1/svc1:p80 external destinations\" -j KUBE-MARK-MASQ",
            "nat: -A {EXT} -j {SVC}",
            To("{SVC}", "10.180.0.1"), .. Sep("10.180.0.1"),
        ]),
        new Case("LoadBalancer with ipMode Proxy ingress (1.30+): the VIP is not proxied", [Lb() with { Status = new ServiceStatus { LoadBalancerIngress = [new LoadBalancerIngress("1.2.3.4", IpMode: "Proxy")] } }],
            [S(Ep("10.180.0.1"))],
        [
            "nat: :{EXT} - [0:0]", "nat: :{SVC} - [0:0]", "nat: :{SEP:10.180.0.1:80} - [0:0]",
            KsCip,
            "nat: -A KUBE-NODEPORTS -m comment --comment ns1/svc1:p80 -m tcp -p tcp --dport 3001 -j {EXT}",
            SvcMasq,
            "nat: -A {EXT} -m comment --comment \"masquerade traffic for ns1/svc1:p80 external destinations\" -j KUBE-MARK-MASQ",
            "nat: -A {EXT} -j {SVC}",
            To("{SVC}", "10.180.0.1"), .. Sep("10.180.0.1"),
        ], Version: KubeProxyVersion.V1_30),
        new Case("LoadBalancer without endpoints: REJECT for cluster IP, external IP, LB IP and NodePort",
            [Lb().With(s => s with { ExternalIPs = ["192.168.99.11"] })], [],
        [
            "filter: -A KUBE-SERVICES -m comment --comment \"ns1/svc1:p80 has no endpoints\" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j REJECT",
            "filter: -A KUBE-EXTERNAL-SERVICES -m comment --comment \"ns1/svc1:p80 has no endpoints\" -m tcp -p tcp -d 192.168.99.11 --dport 80 -j REJECT",
            "filter: -A KUBE-EXTERNAL-SERVICES -m comment --comment \"ns1/svc1:p80 has no endpoints\" -m tcp -p tcp -d 1.2.3.4 --dport 80 -j REJECT",
            "filter: -A KUBE-EXTERNAL-SERVICES -m comment --comment \"ns1/svc1:p80 has no endpoints\" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 3001 -j REJECT",
        ]),
        new Case("eTP Local with a local endpoint: KUBE-SVL, health check node port, EXT short-circuits",
            [Lb().With(s => s with { ExternalTrafficPolicy = TrafficPolicy.Local, HealthCheckNodePort = 30000 })],
            [S(Ep("10.180.0.1", node: Host), Ep("10.180.0.2", node: "other"))],
        [
            "filter: -A KUBE-NODEPORTS -m comment --comment \"ns1/svc1:p80 health check node port\" -m tcp -p tcp --dport 30000 -j ACCEPT",
            "nat: :{EXT} - [0:0]", "nat: :{SVC} - [0:0]", "nat: :{SVL} - [0:0]", "nat: :{SEP:10.180.0.1:80} - [0:0]", "nat: :{SEP:10.180.0.2:80} - [0:0]",
            KsCip,
            "nat: -A KUBE-SERVICES -m comment --comment \"ns1/svc1:p80 loadbalancer IP\" -m tcp -p tcp -d 1.2.3.4 --dport 80 -j {EXT}",
            "nat: -A KUBE-NODEPORTS -m comment --comment ns1/svc1:p80 -m tcp -p tcp --dport 3001 -j {EXT}",
            SvcMasq,
            "nat: -A {EXT} -m comment --comment \"pod traffic for ns1/svc1:p80 external destinations\" -s 10.0.0.0/8 -j {SVC}",
            "nat: -A {EXT} -m comment --comment \"masquerade LOCAL traffic for ns1/svc1:p80 external destinations\" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ",
            "nat: -A {EXT} -m comment --comment \"route LOCAL traffic for ns1/svc1:p80 external destinations\" -m addrtype --src-type LOCAL -j {SVC}",
            "nat: -A {EXT} -j {SVL}",
            To("{SVC}", "10.180.0.1", "0.5000000000"), To("{SVC}", "10.180.0.2"),
            To("{SVL}", "10.180.0.1"),
            .. Sep("10.180.0.1"), .. Sep("10.180.0.2"),
        ]),
        new Case("eTP Local, no local endpoint, NodePort type: filter DROP on the NodePort, no EXT→SVL jump, no health check (not a LoadBalancer)",
            [Np().With(s => s with { ExternalTrafficPolicy = TrafficPolicy.Local, HealthCheckNodePort = 30000 })],
            [S(Ep("10.180.0.2", node: "other"))],
        [
            "filter: -A KUBE-EXTERNAL-SERVICES -m comment --comment \"ns1/svc1:p80 has no local endpoints\" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 3001 -j DROP",
            "nat: :{EXT} - [0:0]", "nat: :{SVC} - [0:0]", "nat: :{SEP:10.180.0.2:80} - [0:0]",
            KsCip,
            "nat: -A KUBE-NODEPORTS -m comment --comment ns1/svc1:p80 -m tcp -p tcp --dport 3001 -j {EXT}",
            SvcMasq,
            "nat: -A {EXT} -m comment --comment \"pod traffic for ns1/svc1:p80 external destinations\" -s 10.0.0.0/8 -j {SVC}",
            "nat: -A {EXT} -m comment --comment \"masquerade LOCAL traffic for ns1/svc1:p80 external destinations\" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ",
            "nat: -A {EXT} -m comment --comment \"route LOCAL traffic for ns1/svc1:p80 external destinations\" -m addrtype --src-type LOCAL -j {SVC}",
            To("{SVC}", "10.180.0.2"), .. Sep("10.180.0.2"),
        ]),
        new Case("eTP Local on a LoadBalancer without any endpoint: REJECT everywhere, health check rule still written",
            [Lb().With(s => s with { ExternalTrafficPolicy = TrafficPolicy.Local, HealthCheckNodePort = 30000 })], [],
        [
            "filter: -A KUBE-SERVICES -m comment --comment \"ns1/svc1:p80 has no endpoints\" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j REJECT",
            "filter: -A KUBE-EXTERNAL-SERVICES -m comment --comment \"ns1/svc1:p80 has no endpoints\" -m tcp -p tcp -d 1.2.3.4 --dport 80 -j REJECT",
            "filter: -A KUBE-EXTERNAL-SERVICES -m comment --comment \"ns1/svc1:p80 has no endpoints\" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 3001 -j REJECT",
            "filter: -A KUBE-NODEPORTS -m comment --comment \"ns1/svc1:p80 health check node port\" -m tcp -p tcp --dport 30000 -j ACCEPT",
        ]),
        new Case("eTP Local on a ClusterIP Service without externalIPs is Cluster (type not externally accessible)",
            [Cip().With(s => s with { ExternalTrafficPolicy = TrafficPolicy.Local })], [S(Ep("10.180.0.2", node: "other"))],
        [
            "nat: :{SVC} - [0:0]", "nat: :{SEP:10.180.0.2:80} - [0:0]",
            KsCip, SvcMasq, To("{SVC}", "10.180.0.2"), .. Sep("10.180.0.2"),
        ]),
        new Case("iTP Local with a local endpoint: cluster IP → KUBE-SVL, masquerade rule in KUBE-SVL",
            [Cip().With(s => s with { InternalTrafficPolicy = TrafficPolicy.Local })],
            [S(Ep("10.180.0.1", node: Host), Ep("10.180.0.2", node: "other"))],
        [
            "nat: :{SVL} - [0:0]", "nat: :{SEP:10.180.0.1:80} - [0:0]",
            "nat: -A KUBE-SERVICES -m comment --comment \"ns1/svc1:p80 cluster IP\" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j {SVL}",
            "nat: -A {SVL} -m comment --comment \"ns1/svc1:p80 cluster IP\" -m tcp -p tcp -d 172.30.0.41 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ",
            To("{SVL}", "10.180.0.1"), .. Sep("10.180.0.1"),
        ]),
        new Case("iTP Local without a local endpoint: filter DROP \"has no local endpoints\"",
            [Cip().With(s => s with { InternalTrafficPolicy = TrafficPolicy.Local })], [S(Ep("10.180.0.2", node: "other"))],
        [
            "filter: -A KUBE-SERVICES -m comment --comment \"ns1/svc1:p80 has no local endpoints\" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j DROP",
        ]),
        new Case("sessionAffinity ClientIP: -m recent --rcheck per endpoint first, --set in the SEP DNAT rule",
            [Cip().With(s => s with { SessionAffinity = SessionAffinity.ClientIP })], [S(Ep("10.180.0.1"), Ep("10.180.0.2"))],
        [
            "nat: :{SVC} - [0:0]", "nat: :{SEP:10.180.0.1:80} - [0:0]", "nat: :{SEP:10.180.0.2:80} - [0:0]",
            KsCip, SvcMasq,
            "nat: -A {SVC} -m comment --comment \"ns1/svc1:p80 -> 10.180.0.1:80\" -m recent --name {SEP:10.180.0.1:80} --rcheck --seconds 10800 --reap -j {SEP:10.180.0.1:80}",
            "nat: -A {SVC} -m comment --comment \"ns1/svc1:p80 -> 10.180.0.2:80\" -m recent --name {SEP:10.180.0.2:80} --rcheck --seconds 10800 --reap -j {SEP:10.180.0.2:80}",
            To("{SVC}", "10.180.0.1", "0.5000000000"), To("{SVC}", "10.180.0.2"),
            "nat: -A {SEP:10.180.0.1:80} -m comment --comment ns1/svc1:p80 -s 10.180.0.1 -j KUBE-MARK-MASQ",
            "nat: -A {SEP:10.180.0.1:80} -m comment --comment ns1/svc1:p80 -m recent --name {SEP:10.180.0.1:80} --set -m tcp -p tcp -j DNAT --to-destination 10.180.0.1:80",
            "nat: -A {SEP:10.180.0.2:80} -m comment --comment ns1/svc1:p80 -s 10.180.0.2 -j KUBE-MARK-MASQ",
            "nat: -A {SEP:10.180.0.2:80} -m comment --comment ns1/svc1:p80 -m recent --name {SEP:10.180.0.2:80} --set -m tcp -p tcp -j DNAT --to-destination 10.180.0.2:80",
        ]),
        new Case("sessionAffinity ClientIP with timeoutSeconds 300",
            [Cip().With(s => s with { SessionAffinity = SessionAffinity.ClientIP, SessionAffinityTimeoutSeconds = 300 })], [S(Ep("10.180.0.1"))],
        [
            "nat: :{SVC} - [0:0]", "nat: :{SEP:10.180.0.1:80} - [0:0]",
            KsCip, SvcMasq,
            "nat: -A {SVC} -m comment --comment \"ns1/svc1:p80 -> 10.180.0.1:80\" -m recent --name {SEP:10.180.0.1:80} --rcheck --seconds 300 --reap -j {SEP:10.180.0.1:80}",
            To("{SVC}", "10.180.0.1"),
            "nat: -A {SEP:10.180.0.1:80} -m comment --comment ns1/svc1:p80 -s 10.180.0.1 -j KUBE-MARK-MASQ",
            "nat: -A {SEP:10.180.0.1:80} -m comment --comment ns1/svc1:p80 -m recent --name {SEP:10.180.0.1:80} --set -m tcp -p tcp -j DNAT --to-destination 10.180.0.1:80",
        ]),
        new Case("loadBalancerSourceRanges: LB IP → KUBE-FW, filter DROP in KUBE-PROXY-FIREWALL, NodePort bypasses it",
            [Lb().With(s => s with { LoadBalancerSourceRanges = ["203.0.113.0/25"] })], [S(Ep("10.180.0.1"))],
        [
            "filter: -A KUBE-PROXY-FIREWALL -m comment --comment \"ns1/svc1:p80 traffic not accepted by {FW}\" -m tcp -p tcp -d 1.2.3.4 --dport 80 -j DROP",
            "nat: :{EXT} - [0:0]", "nat: :{FW} - [0:0]", "nat: :{SVC} - [0:0]", "nat: :{SEP:10.180.0.1:80} - [0:0]",
            KsCip,
            "nat: -A KUBE-SERVICES -m comment --comment \"ns1/svc1:p80 loadbalancer IP\" -m tcp -p tcp -d 1.2.3.4 --dport 80 -j {FW}",
            "nat: -A KUBE-NODEPORTS -m comment --comment ns1/svc1:p80 -m tcp -p tcp --dport 3001 -j {EXT}",
            SvcMasq,
            "nat: -A {EXT} -m comment --comment \"masquerade traffic for ns1/svc1:p80 external destinations\" -j KUBE-MARK-MASQ",
            "nat: -A {EXT} -j {SVC}",
            "nat: -A {FW} -m comment --comment \"ns1/svc1:p80 loadbalancer IP\" -s 203.0.113.0/25 -j {EXT}",
            "nat: -A {FW} -m comment --comment \"other traffic to ns1/svc1:p80 will be dropped by KUBE-PROXY-FIREWALL\"",
            To("{SVC}", "10.180.0.1"), .. Sep("10.180.0.1"),
        ]),
        new Case("loadBalancerSourceRanges holding the node IP: the LB IP is allowed as a source (hairpin); sloppy CIDR re-printed",
            [Lb().With(s => s with { LoadBalancerSourceRanges = [" 192.168.000.000/016 "] })], [S(Ep("10.180.0.1"))],
        [
            "filter: -A KUBE-PROXY-FIREWALL -m comment --comment \"ns1/svc1:p80 traffic not accepted by {FW}\" -m tcp -p tcp -d 1.2.3.4 --dport 80 -j DROP",
            "nat: :{EXT} - [0:0]", "nat: :{FW} - [0:0]", "nat: :{SVC} - [0:0]", "nat: :{SEP:10.180.0.1:80} - [0:0]",
            KsCip,
            "nat: -A KUBE-SERVICES -m comment --comment \"ns1/svc1:p80 loadbalancer IP\" -m tcp -p tcp -d 1.2.3.4 --dport 80 -j {FW}",
            "nat: -A KUBE-NODEPORTS -m comment --comment ns1/svc1:p80 -m tcp -p tcp --dport 3001 -j {EXT}",
            SvcMasq,
            "nat: -A {EXT} -m comment --comment \"masquerade traffic for ns1/svc1:p80 external destinations\" -j KUBE-MARK-MASQ",
            "nat: -A {EXT} -j {SVC}",
            "nat: -A {FW} -m comment --comment \"ns1/svc1:p80 loadbalancer IP\" -s 192.168.0.0/16 -j {EXT}",
            "nat: -A {FW} -m comment --comment \"ns1/svc1:p80 loadbalancer IP\" -s 1.2.3.4 -j {EXT}",
            "nat: -A {FW} -m comment --comment \"other traffic to ns1/svc1:p80 will be dropped by KUBE-PROXY-FIREWALL\"",
            To("{SVC}", "10.180.0.1"), .. Sep("10.180.0.1"),
        ], Version: KubeProxyVersion.V1_30),
        new Case("1.28 writes a source range as given after TrimSpace",
            [Lb().With(s => s with { LoadBalancerSourceRanges = [" 203.0.113.000/025 "] })], [S(Ep("10.180.0.1"))],
        [
            "filter: -A KUBE-PROXY-FIREWALL -m comment --comment \"ns1/svc1:p80 traffic not accepted by {FW}\" -m tcp -p tcp -d 1.2.3.4 --dport 80 -j DROP",
            "nat: :{EXT} - [0:0]", "nat: :{FW} - [0:0]", "nat: :{SVC} - [0:0]", "nat: :{SEP:10.180.0.1:80} - [0:0]",
            KsCip,
            "nat: -A KUBE-SERVICES -m comment --comment \"ns1/svc1:p80 loadbalancer IP\" -m tcp -p tcp -d 1.2.3.4 --dport 80 -j {FW}",
            "nat: -A KUBE-NODEPORTS -m comment --comment ns1/svc1:p80 -m tcp -p tcp --dport 3001 -j {EXT}",
            SvcMasq,
            "nat: -A {EXT} -m comment --comment \"masquerade traffic for ns1/svc1:p80 external destinations\" -j KUBE-MARK-MASQ",
            "nat: -A {EXT} -j {SVC}",
            "nat: -A {FW} -m comment --comment \"ns1/svc1:p80 loadbalancer IP\" -s 203.0.113.000/025 -j {EXT}",
            "nat: -A {FW} -m comment --comment \"other traffic to ns1/svc1:p80 will be dropped by KUBE-PROXY-FIREWALL\"",
            To("{SVC}", "10.180.0.1"), .. Sep("10.180.0.1"),
        ]),
        new Case("loadBalancerSourceRanges without endpoints: no KUBE-FW, REJECT", [Lb().With(s => s with { LoadBalancerSourceRanges = ["203.0.113.0/25"] })], [],
        [
            "filter: -A KUBE-SERVICES -m comment --comment \"ns1/svc1:p80 has no endpoints\" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j REJECT",
            "filter: -A KUBE-EXTERNAL-SERVICES -m comment --comment \"ns1/svc1:p80 has no endpoints\" -m tcp -p tcp -d 1.2.3.4 --dport 80 -j REJECT",
            "filter: -A KUBE-EXTERNAL-SERVICES -m comment --comment \"ns1/svc1:p80 has no endpoints\" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 3001 -j REJECT",
        ]),
        new Case("not ready endpoints are not used; ready ones are", [Cip()],
            [S(Ep("10.180.0.1", ready: false), Ep("10.180.0.2", ready: true))],
        [
            "nat: :{SVC} - [0:0]", "nat: :{SEP:10.180.0.2:80} - [0:0]",
            KsCip, SvcMasq, To("{SVC}", "10.180.0.2"), .. Sep("10.180.0.2"),
        ]),
        new Case("terminating: a ready endpoint wins over a serving-terminating one", [Cip()],
            [S(Ep("10.180.0.1", ready: false, serving: true, terminating: true), Ep("10.180.0.2"))],
        [
            "nat: :{SVC} - [0:0]", "nat: :{SEP:10.180.0.2:80} - [0:0]",
            KsCip, SvcMasq, To("{SVC}", "10.180.0.2"), .. Sep("10.180.0.2"),
        ]),
        new Case("terminating: no ready endpoint, fall back to serving-terminating; not-serving terminating never used", [Cip()],
            [S(Ep("10.180.0.1", ready: false, serving: true, terminating: true), Ep("10.180.0.3", ready: false, serving: false, terminating: true))],
        [
            "nat: :{SVC} - [0:0]", "nat: :{SEP:10.180.0.1:80} - [0:0]",
            KsCip, SvcMasq, To("{SVC}", "10.180.0.1"), .. Sep("10.180.0.1"),
        ]),
        new Case("terminating: only not-ready, not-terminating endpoints = no endpoints", [Cip()], [S(Ep("10.180.0.1", ready: false))],
        [
            "filter: -A KUBE-SERVICES -m comment --comment \"ns1/svc1:p80 has no endpoints\" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j REJECT",
        ]),
        new Case("terminating with eTP Local: local serving-terminating endpoint used for external traffic, remote ready for internal",
            [Np().With(s => s with { ExternalTrafficPolicy = TrafficPolicy.Local })],
            [S(Ep("10.180.0.1", node: Host, ready: false, serving: true, terminating: true), Ep("10.180.0.2", node: "other"))],
        [
            "nat: :{EXT} - [0:0]", "nat: :{SVC} - [0:0]", "nat: :{SVL} - [0:0]", "nat: :{SEP:10.180.0.1:80} - [0:0]", "nat: :{SEP:10.180.0.2:80} - [0:0]",
            KsCip,
            "nat: -A KUBE-NODEPORTS -m comment --comment ns1/svc1:p80 -m tcp -p tcp --dport 3001 -j {EXT}",
            SvcMasq,
            "nat: -A {EXT} -m comment --comment \"pod traffic for ns1/svc1:p80 external destinations\" -s 10.0.0.0/8 -j {SVC}",
            "nat: -A {EXT} -m comment --comment \"masquerade LOCAL traffic for ns1/svc1:p80 external destinations\" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ",
            "nat: -A {EXT} -m comment --comment \"route LOCAL traffic for ns1/svc1:p80 external destinations\" -m addrtype --src-type LOCAL -j {SVC}",
            "nat: -A {EXT} -j {SVL}",
            To("{SVC}", "10.180.0.2"), To("{SVL}", "10.180.0.1"),
            .. Sep("10.180.0.1"), .. Sep("10.180.0.2"),
        ]),
        new Case("duplicate endpoint in two slices collapses to one", [Cip()],
            [S(Ep("10.180.0.1")), Slice("ns1/svc1-def", "svc1", "p80", 80, Ep("10.180.0.1"))],
        [
            "nat: :{SVC} - [0:0]", "nat: :{SEP:10.180.0.1:80} - [0:0]",
            KsCip, SvcMasq, To("{SVC}", "10.180.0.1"), .. Sep("10.180.0.1"),
        ]),
        new Case("only addresses[0] of an endpoint is used", [Cip()],
            [S(new Endpoint { Addresses = ["10.180.0.1", "10.180.0.9"] })],
        [
            "nat: :{SVC} - [0:0]", "nat: :{SEP:10.180.0.1:80} - [0:0]",
            KsCip, SvcMasq, To("{SVC}", "10.180.0.1"), .. Sep("10.180.0.1"),
        ]),
        new Case("slice port name must equal the service port name", [Cip()], [Slice("ns1/svc1-abc", "svc1", "http", 80, Ep("10.180.0.1"))],
        [
            "filter: -A KUBE-SERVICES -m comment --comment \"ns1/svc1:p80 has no endpoints\" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j REJECT",
        ]),
        new Case("UDP port: -m udp -p udp and the hash takes udp",
            [Cip(Port(53, "dns", Protocol.UDP))], [Slice("ns1/svc1-abc", "svc1", [new EndpointPort("dns", Protocol.UDP, 5353)], Ep("10.180.0.1"))],
        [
            "nat: :{SVC} - [0:0]", "nat: :{SEP:10.180.0.1:5353} - [0:0]",
            "nat: -A KUBE-SERVICES -m comment --comment \"ns1/svc1:dns cluster IP\" -m udp -p udp -d 172.30.0.41 --dport 53 -j {SVC}",
            "nat: -A {SVC} -m comment --comment \"ns1/svc1:dns cluster IP\" -m udp -p udp -d 172.30.0.41 --dport 53 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ",
            "nat: -A {SVC} -m comment --comment \"ns1/svc1:dns -> 10.180.0.1:5353\" -j {SEP:10.180.0.1:5353}",
            "nat: -A {SEP:10.180.0.1:5353} -m comment --comment ns1/svc1:dns -s 10.180.0.1 -j KUBE-MARK-MASQ",
            "nat: -A {SEP:10.180.0.1:5353} -m comment --comment ns1/svc1:dns -m udp -p udp -j DNAT --to-destination 10.180.0.1:5353",
        ], SvcPortName: "ns1/svc1:dns", Proto: "udp"),
        new Case("SCTP port",
            [Cip(Port(80, "p80", Protocol.SCTP))], [Slice("ns1/svc1-abc", "svc1", [new EndpointPort("p80", Protocol.SCTP, 80)], Ep("10.180.0.1"))],
        [
            "nat: :KUBE-SVC-GFCIFIA5VTFSTMSM - [0:0]", "nat: :{SEP:10.180.0.1:80} - [0:0]",
            "nat: -A KUBE-SERVICES -m comment --comment \"ns1/svc1:p80 cluster IP\" -m sctp -p sctp -d 172.30.0.41 --dport 80 -j KUBE-SVC-GFCIFIA5VTFSTMSM",
            "nat: -A KUBE-SVC-GFCIFIA5VTFSTMSM -m comment --comment \"ns1/svc1:p80 cluster IP\" -m sctp -p sctp -d 172.30.0.41 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ",
            "nat: -A KUBE-SVC-GFCIFIA5VTFSTMSM -m comment --comment \"ns1/svc1:p80 -> 10.180.0.1:80\" -j {SEP:10.180.0.1:80}",
            "nat: -A {SEP:10.180.0.1:80} -m comment --comment ns1/svc1:p80 -s 10.180.0.1 -j KUBE-MARK-MASQ",
            "nat: -A {SEP:10.180.0.1:80} -m comment --comment ns1/svc1:p80 -m sctp -p sctp -j DNAT --to-destination 10.180.0.1:80",
        ], Proto: "sctp"),
        new Case("unnamed port: svcPortName without ':' (hash of ns1/svc1 + tcp)",
            [Cip(Port(80))], [Slice("ns1/svc1-abc", "svc1", (string?)null, 80, Ep("10.0.1.5"))],
        [
            "nat: :KUBE-SVC-AQI2S6QIMU7PVVRP - [0:0]", "nat: :KUBE-SEP-EQCHZ7S2PJ72OHAY - [0:0]",
            "nat: -A KUBE-SERVICES -m comment --comment \"ns1/svc1 cluster IP\" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j KUBE-SVC-AQI2S6QIMU7PVVRP",
            "nat: -A KUBE-SVC-AQI2S6QIMU7PVVRP -m comment --comment \"ns1/svc1 cluster IP\" -m tcp -p tcp -d 172.30.0.41 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ",
            "nat: -A KUBE-SVC-AQI2S6QIMU7PVVRP -m comment --comment \"ns1/svc1 -> 10.0.1.5:80\" -j KUBE-SEP-EQCHZ7S2PJ72OHAY",
            "nat: -A KUBE-SEP-EQCHZ7S2PJ72OHAY -m comment --comment ns1/svc1 -s 10.0.1.5 -j KUBE-MARK-MASQ",
            "nat: -A KUBE-SEP-EQCHZ7S2PJ72OHAY -m comment --comment ns1/svc1 -m tcp -p tcp -j DNAT --to-destination 10.0.1.5:80",
        ], SvcPortName: "ns1/svc1"),
        new Case("headless Service: nothing", [Svc("ns1/svc1", "None", ServiceType.ClusterIP, Port(80, "p80"))], [S(Ep("10.180.0.1"))], []),
        new Case("ExternalName Service: nothing",
            [Svc("ns1/svc1", "", ServiceType.ExternalName, Port(80, "p80")).With(s => s with { ExternalName = "example.com" })], [], []),
        new Case("Service of the other family only: nothing for the IPv4 proxier", [Svc("ns1/svc1", "fd00::41", ServiceType.ClusterIP, Port(80, "p80"))], [], []),
    };

    [Theory, MemberData(nameof(Cases))]
    public void Service_block_is_exact(Case c)
    {
        var r = Sync(c.Services, c.Slices, host: Host, env: new KubeProxyEnvironment { Version = c.Version });
        Assert.Equal(ServiceBlock.Expand(c.SvcPortName, c.Proto, c.Expected), ServiceBlock.Of(r));
    }

    [Fact]
    public void Multiple_ports_get_one_chain_set_each_in_spec_order()
    {
        var svc = Cip(Port(80, "p80"), Port(443, "p443"));
        var slice = Slice("ns1/svc1-abc", "svc1", [new EndpointPort("p80", Protocol.TCP, 8080), new EndpointPort("p443", Protocol.TCP, 8443)], Ep("10.180.0.1"));
        var block = ServiceBlock.Of(Sync([svc], [slice]));
        string h80 = ChainNames.PortProtoHash("ns1/svc1:p80", "tcp"), h443 = ChainNames.PortProtoHash("ns1/svc1:p443", "tcp");
        Assert.Equal(
        [
            $"nat: :KUBE-SVC-{h80} - [0:0]", $"nat: :{ChainNames.EndpointChain("ns1/svc1:p80", "tcp", "10.180.0.1:8080")} - [0:0]",
            $"nat: :KUBE-SVC-{h443} - [0:0]", $"nat: :{ChainNames.EndpointChain("ns1/svc1:p443", "tcp", "10.180.0.1:8443")} - [0:0]",
        ], block.Where(l => l.StartsWith("nat: :")));
        Assert.Contains($"nat: -A KUBE-SERVICES -m comment --comment \"ns1/svc1:p443 cluster IP\" -m tcp -p tcp -d 172.30.0.41 --dport 443 -j KUBE-SVC-{h443}", block);
        Assert.Contains($"nat: -A {ChainNames.EndpointChain("ns1/svc1:p443", "tcp", "10.180.0.1:8443")} -m comment --comment ns1/svc1:p443 -m tcp -p tcp -j DNAT --to-destination 10.180.0.1:8443", block);
    }

    [Fact]
    public void Multi_port_LoadBalancer_with_eTP_Local_writes_one_health_check_rule_per_port()
    {
        var svc = Svc("ns1/svc1", "172.30.0.41", ServiceType.LoadBalancer, Port(80, "p80", nodePort: 3001), Port(443, "p443", nodePort: 3002))
            .With(s => s with { ExternalTrafficPolicy = TrafficPolicy.Local, HealthCheckNodePort = 30000 }).WithLb("1.2.3.4");
        var r = Sync([svc], []);
        Assert.Equal(
        [
            "-A KUBE-NODEPORTS -m comment --comment \"ns1/svc1:p80 health check node port\" -m tcp -p tcp --dport 30000 -j ACCEPT",
            "-A KUBE-NODEPORTS -m comment --comment \"ns1/svc1:p443 health check node port\" -m tcp -p tcp --dport 30000 -j ACCEPT",
        ], Rules(r.RestorePayload, "filter").Where(l => l.StartsWith("-A KUBE-NODEPORTS")));
    }
}
