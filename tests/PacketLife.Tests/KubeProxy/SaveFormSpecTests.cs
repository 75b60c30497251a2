using PacketLife.Core.KubeProxy;

namespace PacketLife.Tests.KubeProxy;

/// <summary>What iptables-save prints for what kube-proxy writes (facts §7, iptables v1.8.9).</summary>
public class SaveFormSpecTests
{
    public static TheoryData<string, string> Rows => new()
    {
        { "-A KUBE-SERVICES -m comment --comment \"ns1/svc1:p80 cluster IP\" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j X",
          "-A KUBE-SERVICES -d 172.30.0.41/32 -p tcp -m comment --comment \"ns1/svc1:p80 cluster IP\" -m tcp --dport 80 -j X" },
        { "-A KUBE-SVC-X -m comment --comment \"ns1/svc1:p80 cluster IP\" -m tcp -p tcp -d 172.30.0.41 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ",
          "-A KUBE-SVC-X ! -s 10.0.0.0/8 -d 172.30.0.41/32 -p tcp -m comment --comment \"ns1/svc1:p80 cluster IP\" -m tcp --dport 80 -j KUBE-MARK-MASQ" },
        { "-A KUBE-SEP-X -m comment --comment ns1/svc1:p80 -s 10.180.0.1 -j KUBE-MARK-MASQ",
          "-A KUBE-SEP-X -s 10.180.0.1/32 -m comment --comment \"ns1/svc1:p80\" -j KUBE-MARK-MASQ" },
        { "-A C -m comment --comment abc -j ACCEPT", "-A C -m comment --comment abc -j ACCEPT" },
        { "-A C -m comment --comment a-b -j ACCEPT", "-A C -m comment --comment a-b -j ACCEPT" },
        { "-A C -m comment --comment a_b -j ACCEPT", "-A C -m comment --comment a_b -j ACCEPT" },
        { "-A C -m comment --comment a.b -j ACCEPT", "-A C -m comment --comment \"a.b\" -j ACCEPT" },
        { "-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000", "-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000" },
        { "-A KUBE-MARK-MASQ -j MARK --or-mark 0x00004000", "-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000" },
        { "-A KUBE-POSTROUTING -j MARK --xor-mark 0x00004000", "-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0" },
        { "-A KUBE-POSTROUTING -m mark ! --mark 0x00004000/0x00004000 -j RETURN", "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN" },
        { "-A KUBE-SERVICES -m comment --comment \"x has no endpoints\" -m tcp -p tcp -d 1.2.3.4 --dport 80 -j REJECT",
          "-A KUBE-SERVICES -d 1.2.3.4/32 -p tcp -m comment --comment \"x has no endpoints\" -m tcp --dport 80 -j REJECT --reject-with icmp-port-unreachable" },
        { "-A S -m comment --comment \"a -> b\" -m recent --name S --rcheck --seconds 10800 --reap -j S",
          "-A S -m comment --comment \"a -> b\" -m recent --rcheck --seconds 10800 --reap --name S --mask 255.255.255.255 --rsource -j S" },
        { "-A S -m comment --comment ns/a -m recent --name S --set -m tcp -p tcp -j DNAT --to-destination 10.0.0.1:80",
          "-A S -p tcp -m comment --comment \"ns/a\" -m recent --set --name S --mask 255.255.255.255 --rsource -m tcp -j DNAT --to-destination 10.0.0.1:80" },
        { "-A S -m statistic --mode random --probability 0.3333333333 -j X", "-A S -m statistic --mode random --probability 0.33333333349 -j X" },
        { "-A S -m statistic --mode random --probability 0.5000000000 -j X", "-A S -m statistic --mode random --probability 0.50000000000 -j X" },
        { "-A KUBE-FORWARD -m conntrack --ctstate INVALID -m nfacct --nfacct-name ct_state_invalid_dropped_pkts -j DROP",
          "-A KUBE-FORWARD -m conntrack --ctstate INVALID -m nfacct --nfacct-name  ct_state_invalid_dropped_pkts -j DROP" },
        { "-A KUBE-SERVICES -m comment --comment \"n\" -m addrtype --dst-type LOCAL ! -d 127.0.0.0/8 -j KUBE-NODEPORTS",
          "-A KUBE-SERVICES ! -d 127.0.0.0/8 -m comment --comment n -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS" },
        { "-A F -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP", "-A F -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP" },
        { "-A KUBE-FW-X -m comment --comment \"other traffic to ns/a will be dropped by KUBE-PROXY-FIREWALL\"",
          "-A KUBE-FW-X -m comment --comment \"other traffic to ns/a will be dropped by KUBE-PROXY-FIREWALL\"" },
        { "-A C -s 203.0.113.5/25 -j X", "-A C -s 203.0.113.0/25 -j X" },
    };

    [Theory, MemberData(nameof(Rows))]
    public void Saved_form(string written, string saved) => Assert.Equal(saved, SaveRuleFormatter.Format(written));

    public static TheoryData<int, string> Probabilities => new()
    {
        { 2, "0.50000000000" }, { 3, "0.33333333349" }, { 4, "0.25000000000" }, { 5, "0.20000000019" }, { 6, "0.16666666651" },
        { 7, "0.14285714272" }, { 8, "0.12500000000" }, { 9, "0.11111111101" }, { 10, "0.10000000009" }, { 11, "0.09090909082" },
        { 12, "0.08333333349" }, { 13, "0.07692307699" }, { 14, "0.07142857136" }, { 15, "0.06666666688" }, { 16, "0.06250000000" },
        { 17, "0.05882352963" }, { 18, "0.05555555550" }, { 19, "0.05263157887" }, { 20, "0.04999999981" },
    };

    /// <summary>kube-proxy writes %0.10f of 1/n; the kernel keeps lround(p·2^31); iptables-save prints %.11f of that.</summary>
    [Theory, MemberData(nameof(Probabilities))]
    public void Probability_round_trip(int n, string saved) =>
        Assert.Equal(saved, SaveRuleFormatter.SavedProbability((1.0 / n).ToString("F10", System.Globalization.CultureInfo.InvariantCulture)));

    [Fact]
    public void Sorted_normalisation_orders_tables_chains_and_service_rules_like_kube_proxy_tests()
    {
        const string payload = """
            *nat
            :KUBE-SERVICES - [0:0]
            :KUBE-NODEPORTS - [0:0]
            :KUBE-SVC-B - [0:0]
            :KUBE-SVC-A - [0:0]
            -A KUBE-SERVICES -m comment --comment "ns2/b cluster IP" -j KUBE-SVC-B
            -A KUBE-SVC-B -j X
            -A KUBE-SERVICES -m comment --comment "ns1/a:p80 cluster IP" -j KUBE-SVC-A
            -A KUBE-SVC-A -j Y
            -X KUBE-SVC-OLD
            -A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -j KUBE-NODEPORTS
            COMMIT
            *filter
            :KUBE-SERVICES - [0:0]
            COMMIT

            """;
        const string expected = """
            *filter
            :KUBE-SERVICES - [0:0]
            COMMIT
            *nat
            :KUBE-NODEPORTS - [0:0]
            :KUBE-SERVICES - [0:0]
            :KUBE-SVC-A - [0:0]
            :KUBE-SVC-B - [0:0]
            -A KUBE-SERVICES -m comment --comment "ns1/a:p80 cluster IP" -j KUBE-SVC-A
            -A KUBE-SERVICES -m comment --comment "ns2/b cluster IP" -j KUBE-SVC-B
            -A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -j KUBE-NODEPORTS
            -A KUBE-SVC-A -j Y
            -A KUBE-SVC-B -j X
            -X KUBE-SVC-OLD
            COMMIT

            """;
        Assert.Equal(expected.ReplaceLineEndings("\n"), RestoreSorter.Sort(payload.ReplaceLineEndings("\n")));
    }
}
