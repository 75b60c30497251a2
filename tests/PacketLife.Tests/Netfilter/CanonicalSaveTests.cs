using PacketLife.Core.Diagnostics;

namespace PacketLife.Tests.Netfilter;

/// <summary>How iptables-save prints a rule back, for rules written in any accepted order
/// (netfilter-conntrack.md §3.14 and each match's "Save form", kube-proxy-iptables.md §7; iptables 1.8.9).</summary>
public class CanonicalSaveTests
{
    public static TheoryData<string, string, string> Rows => new()
    {
        // table    written                                                                  printed by iptables-save
        { "filter", "-A X -s 10.0.0.1", "-A X -s 10.0.0.1/32" },
        { "filter", "-A X -d 10.0.0.0/255.255.0.0", "-A X -d 10.0.0.0/16" },
        { "filter", "-A X -d 10.1.2.3/8", "-A X -d 10.0.0.0/8" },
        { "filter", "-A X -s 0.0.0.0/0 -j ACCEPT", "-A X -j ACCEPT" },
        { "filter", "-A X -p tcp --dport 80", "-A X -p tcp -m tcp --dport 80" },
        { "filter", "-A X -p tcp ! --syn", "-A X -p tcp -m tcp ! --tcp-flags FIN,SYN,RST,ACK SYN" },
        { "filter", "-A X -p tcp --tcp-flags SYN,ACK SYN --sport 1024:65535 ! --dport 22", "-A X -p tcp -m tcp --sport 1024:65535 ! --dport 22 --tcp-flags SYN,ACK SYN" },
        { "filter", "-A X -p icmp --icmp-type echo-request", "-A X -p icmp -m icmp --icmp-type 8" },
        { "filter", "-A X -p icmp --icmp-type port-unreachable", "-A X -p icmp -m icmp --icmp-type 3/3" },
        { "filter", "-A X -j LOG --log-prefix \"pfx: \" --log-level 7", "-A X -j LOG --log-prefix \"pfx: \" --log-level 7" },
        { "filter", "-A X -j LOG --log-level warning", "-A X -j LOG" },
        { "filter", "-A X -j NFLOG --nflog-group 5 --nflog-prefix \"np\"", "-A X -j NFLOG --nflog-prefix np --nflog-group 5" },
        { "filter", "-A X -j REJECT", "-A X -j REJECT --reject-with icmp-port-unreachable" },
        { "filter", "-A X -p tcp -j REJECT --reject-with tcp-rst", "-A X -p tcp -j REJECT --reject-with tcp-reset" },
        { "raw", "-A X -j NOTRACK", "-A X -j NOTRACK" },
        { "raw", "-A X -j CT --notrack", "-A X -j CT --notrack" },
        { "raw", "-A X -j CT --zone 5", "-A X -j CT --zone 5" },
        { "filter", "-A X -g Y", "-A X -g Y" },
        { "filter", "-A X -o eth0 -s 10.0.0.0/8 -p udp -i eth1 -d 10.1.0.0/16", "-A X -s 10.0.0.0/8 -d 10.1.0.0/16 -i eth1 -o eth0 -p udp" },
        { "filter", "-A X -i + -j ACCEPT", "-A X -j ACCEPT" },
        { "filter", "-A X ! -i eth+ -j ACCEPT", "-A X ! -i eth+ -j ACCEPT" },
        { "filter", "-A X -f", "-A X -f" },
        { "filter", "-A X ! -f ! -p tcp", "-A X ! -p tcp ! -f" },
        { "filter", "-A X -p 47", "-A X -p gre" },
        { "filter", "-A X -p all -j ACCEPT", "-A X -j ACCEPT" },
        { "filter", "-A X -p ipencap", "-A X -p ipencap" },
        // MARK (facts §4.1)
        { "mangle", "-A X -j MARK --set-mark 0x4000", "-A X -j MARK --set-xmark 0x4000/0xffffffff" },
        { "mangle", "-A X -j MARK --set-mark 0x1/0x3", "-A X -j MARK --set-xmark 0x1/0x3" },
        { "mangle", "-A X -j MARK --or-mark 0x4000", "-A X -j MARK --set-xmark 0x4000/0x4000" },
        { "mangle", "-A X -j MARK --xor-mark 0x4000", "-A X -j MARK --set-xmark 0x4000/0x0" },
        { "mangle", "-A X -j MARK --and-mark 0xff", "-A X -j MARK --set-xmark 0x0/0xffffff00" },
        { "mangle", "-A X -j MARK --set-xmark 0x8/0xc", "-A X -j MARK --set-xmark 0x8/0xc" },
        { "nat", "-A X -j MARK --or-mark 0x00004000", "-A X -j MARK --set-xmark 0x4000/0x4000" },
        // CONNMARK (facts §4.2)
        { "mangle", "-A X -j CONNMARK --save-mark", "-A X -j CONNMARK --save-mark --nfmask 0xffffffff --ctmask 0xffffffff" },
        { "mangle", "-A X -j CONNMARK --restore-mark --mask 0xff", "-A X -j CONNMARK --restore-mark --nfmask 0xff --ctmask 0xff" },
        { "mangle", "-A X -j CONNMARK --set-mark 0x10", "-A X -j CONNMARK --set-xmark 0x10/0xffffffff" },
        // mark / connmark matches (facts §3.5)
        { "filter", "-A X -m mark --mark 0x00004000/0x00004000 -j ACCEPT", "-A X -m mark --mark 0x4000/0x4000 -j ACCEPT" },
        { "filter", "-A X -m mark ! --mark 5", "-A X -m mark ! --mark 0x5" },
        { "filter", "-A X -m connmark --mark 0x1/0xff", "-A X -m connmark --mark 0x1/0xff" },
        // kube-proxy's restore order (kube-proxy-iptables.md §7)
        { "nat", "-A X -m comment --comment \"ns1/svc1:p80 cluster IP\" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j Y", "-A X -d 172.30.0.41/32 -p tcp -m comment --comment \"ns1/svc1:p80 cluster IP\" -m tcp --dport 80 -j Y" },
        { "nat", "-A X -m comment --comment \"ns1/svc1:p80 cluster IP\" -m tcp -p tcp -d 172.30.0.41 --dport 80 ! -s 10.0.0.0/8 -j Y", "-A X ! -s 10.0.0.0/8 -d 172.30.0.41/32 -p tcp -m comment --comment \"ns1/svc1:p80 cluster IP\" -m tcp --dport 80 -j Y" },
        { "nat", "-A X -m comment --comment ns1/svc1:p80 -s 10.180.0.1 -j Y", "-A X -s 10.180.0.1/32 -m comment --comment \"ns1/svc1:p80\" -j Y" },
        { "nat", "-A X -m comment --comment \"x\" -m recent --name S --rcheck --seconds 10800 --reap -j Y", "-A X -m comment --comment x -m recent --rcheck --seconds 10800 --reap --name S --mask 255.255.255.255 --rsource -j Y" },
        { "nat", "-A X -m comment --comment c -m recent --name S --set -m tcp -p tcp -j DNAT --to-destination 10.0.0.1:80", "-A X -p tcp -m comment --comment c -m recent --set --name S --mask 255.255.255.255 --rsource -m tcp -j DNAT --to-destination 10.0.0.1:80" },
        { "nat", "-A X -m statistic --mode random --probability 0.3333333333 -j Y", "-A X -m statistic --mode random --probability 0.33333333349 -j Y" },
        { "filter", "-A X -m conntrack --ctstate INVALID -m nfacct --nfacct-name ct_state_invalid_dropped_pkts -j DROP", "-A X -m conntrack --ctstate INVALID -m nfacct --nfacct-name  ct_state_invalid_dropped_pkts -j DROP" },
        { "nat", "-A X -m comment --comment c -m addrtype --dst-type LOCAL ! -d 127.0.0.0/8 -j Y", "-A X ! -d 127.0.0.0/8 -m comment --comment c -m addrtype --dst-type LOCAL -j Y" },
        { "filter", "-A X -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP", "-A X -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP" },
        // comment quoting (xtables_save_string)
        { "filter", "-A X -m comment --comment abc", "-A X -m comment --comment abc" },
        { "filter", "-A X -m comment --comment \"a-b\"", "-A X -m comment --comment a-b" },
        { "filter", "-A X -m comment --comment a_b", "-A X -m comment --comment a_b" },
        { "filter", "-A X -m comment --comment \"quote\\\"in\"", "-A X -m comment --comment \"quote\\\"in\"" },
        { "filter", "-A X -m comment --comment \"it's\"", "-A X -m comment --comment \"it\\'s\"" },
        { "filter", "-A X -m comment --comment \"\"", "-A X -m comment --comment \"\"" },
        { "filter", "-A X -m comment --comment a.b", "-A X -m comment --comment \"a.b\"" },
        // conntrack / state (facts §3.4)
        { "filter", "-A X -m conntrack --ctstate ESTABLISHED,RELATED,NEW,INVALID", "-A X -m conntrack --ctstate INVALID,NEW,RELATED,ESTABLISHED" },
        { "filter", "-A X -m conntrack --ctproto tcp", "-A X -m conntrack --ctproto 6" },
        { "filter", "-A X -m conntrack ! --ctstate NEW --ctorigdst 10.0.0.0/8 --ctreplsrc 10.2.0.2 --ctstatus SEEN_REPLY,ASSURED --ctdir ORIGINAL", "-A X -m conntrack ! --ctstate NEW --ctorigdst 10.0.0.0/8 --ctreplsrc 10.2.0.2 --ctstatus SEEN_REPLY,ASSURED --ctdir ORIGINAL" },
        { "filter", "-A X -m conntrack --ctdir REPLY --ctstate NEW", "-A X -m conntrack --ctstate NEW --ctdir REPLY" },
        { "filter", "-A X -m state --state ESTABLISHED,RELATED", "-A X -m state --state RELATED,ESTABLISHED" },
        { "filter", "-A X -m state ! --state NEW", "-A X -m state ! --state NEW" },
        // addrtype (facts §3.3)
        { "filter", "-A X -m addrtype --src-type LOCAL,UNICAST", "-A X -m addrtype --src-type UNICAST,LOCAL" },
        { "filter", "-A X -m addrtype --limit-iface-in --src-type UNICAST,LOCAL ! --dst-type BROADCAST", "-A X -m addrtype --src-type UNICAST,LOCAL ! --dst-type BROADCAST --limit-iface-in" },
        // multiport, iprange, length, ttl (facts §3.6-3.9)
        { "filter", "-A X -p tcp -m multiport --dports 80,443,8000:8080", "-A X -p tcp -m multiport --dports 80,443,8000:8080" },
        { "filter", "-A X -p udp -m multiport ! --ports 53,5353", "-A X -p udp -m multiport ! --ports 53,5353" },
        { "filter", "-A X -m iprange --src-range 10.0.0.1-10.0.0.9 ! --dst-range 10.1.0.1-10.1.0.2", "-A X -m iprange --src-range 10.0.0.1-10.0.0.9 ! --dst-range 10.1.0.1-10.1.0.2" },
        { "filter", "-A X -m length --length 100:200", "-A X -m length --length 100:200" },
        { "filter", "-A X -m length ! --length 64", "-A X -m length ! --length 64" },
        { "filter", "-A X -m ttl ! --ttl-eq 64", "-A X -m ttl ! --ttl-eq 64" },
        { "filter", "-A X -m ttl --ttl-gt 64 -m ttl --ttl-lt 200", "-A X -m ttl --ttl-gt 64 -m ttl --ttl-lt 200" },
        // recent (facts §3.10)
        { "filter", "-A X -m recent --set --name SSH", "-A X -m recent --set --name SSH --mask 255.255.255.255 --rsource" },
        { "filter", "-A X -m recent --update --seconds 60 --hitcount 4 --name SSH --mask 255.255.255.0 --rdest", "-A X -m recent --update --seconds 60 --hitcount 4 --name SSH --mask 255.255.255.0 --rdest" },
        { "filter", "-A X -m recent --rcheck --seconds 30 --reap", "-A X -m recent --rcheck --seconds 30 --reap --name DEFAULT --mask 255.255.255.255 --rsource" },
        { "filter", "-A X -m recent ! --rcheck --name T3", "-A X -m recent ! --rcheck --name T3 --mask 255.255.255.255 --rsource" },
        // statistic (facts §3.1, §3.2)
        { "filter", "-A X -m statistic --mode random --probability 0.5", "-A X -m statistic --mode random --probability 0.50000000000" },
        { "filter", "-A X -m statistic --mode random ! --probability 0.25", "-A X -m statistic --mode random ! --probability 0.25000000000" },
        { "filter", "-A X -m statistic --mode nth --every 3 --packet 0", "-A X -m statistic --mode nth --every 3 --packet 0" },
        // owner, set, physdev, limit
        { "filter", "-A OUTPUT -m owner ! --uid-owner 0", "-A OUTPUT -m owner ! --uid-owner 0" },
        { "filter", "-A X -m set --match-set S2 dst,dst", "-A X -m set --match-set S2 dst,dst" },
        { "filter", "-A X -m set ! --match-set S3 dst -j DROP", "-A X -m set ! --match-set S3 dst -j DROP" },
        { "filter", "-A FORWARD -m physdev --physdev-is-bridged --physdev-in veth1 -j ACCEPT", "-A FORWARD -m physdev --physdev-in veth1 --physdev-is-bridged -j ACCEPT" },
        { "filter", "-A X -m limit --limit 5/second", "-A X -m limit --limit 5/sec" },
        { "filter", "-A X -m limit --limit 60/minute --limit-burst 10", "-A X -m limit --limit 1/sec --limit-burst 10" },
        { "filter", "-A X -m limit", "-A X -m limit --limit 3/hour" },
        // NAT targets (facts §4.4-4.7)
        { "nat", "-A PREROUTING -p tcp -j DNAT --to-destination 10.2.0.2:8080", "-A PREROUTING -p tcp -j DNAT --to-destination 10.2.0.2:8080" },
        { "nat", "-A PREROUTING -j DNAT --to-destination 10.2.0.10-10.2.0.13 --persistent", "-A PREROUTING -j DNAT --to-destination 10.2.0.10-10.2.0.13 --persistent" },
        { "nat", "-A PREROUTING -p tcp -j DNAT --to 10.2.0.2:9000-9005", "-A PREROUTING -p tcp -j DNAT --to-destination 10.2.0.2:9000-9005" },
        { "nat", "-A POSTROUTING -p tcp -j SNAT --to-source 10.2.0.1:20005", "-A POSTROUTING -p tcp -j SNAT --to-source 10.2.0.1:20005" },
        { "nat", "-A POSTROUTING -j MASQUERADE --random-fully", "-A POSTROUTING -j MASQUERADE --random-fully" },
        { "nat", "-A POSTROUTING -p tcp -j MASQUERADE --to-ports 20000-20009", "-A POSTROUTING -p tcp -j MASQUERADE --to-ports 20000-20009" },
        { "nat", "-A PREROUTING -p tcp -j REDIRECT --to-ports 8080", "-A PREROUTING -p tcp -j REDIRECT --to-ports 8080" },
        { "mangle", "-A FORWARD -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu", "-A FORWARD -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu" },
        { "mangle", "-A POSTROUTING -p udp --dport 68 -j CHECKSUM --checksum-fill", "-A POSTROUTING -p udp -m udp --dport 68 -j CHECKSUM --checksum-fill" },
        { "raw", "-A PREROUTING -p tcp -j TRACE", "-A PREROUTING -p tcp -j TRACE" },
        // counters
        { "filter", "-A X -c 10 600 -j ACCEPT", "[10:600] -A X -j ACCEPT" },
        { "filter", "[3:180] -A X -j ACCEPT", "[3:180] -A X -j ACCEPT" },
    };

    [Theory]
    [MemberData(nameof(Rows))]
    public void Iptables_save_prints_the_rule_so(string table, string written, string printed)
    {
        var (rule, diags) = Nf.Rule(table, written);
        Assert.DoesNotContain(diags, d => d.Severity == Severity.Error);
        Assert.False(rule.IsUnsupported, string.Join("; ", rule.Unsupported));
        Assert.Equal(printed, rule.Canonical);
    }

    [Fact]
    public void Canonical_form_is_stable_when_read_again()
    {
        foreach (var row in Rows)
        {
            var (table, _, printed) = ((string)row[0], (string)row[1], (string)row[2]);
            Assert.Equal(printed, Nf.Canonical(table, printed));
        }
    }

    /// <summary>kube-proxy writes `%0.10f` of 1/n; the kernel keeps lround(p·2^31) and iptables prints `%.11f` of it
    /// (kube-proxy-iptables.md §7, n = 2..20).</summary>
    [Fact]
    public void Statistic_probabilities_come_back_as_the_kernel_stores_them()
    {
        string[] expected =
        [
            "0.50000000000", "0.33333333349", "0.25000000000", "0.20000000019", "0.16666666651", "0.14285714272",
            "0.12500000000", "0.11111111101", "0.10000000009", "0.09090909082", "0.08333333349", "0.07692307699",
            "0.07142857136", "0.06666666688", "0.06250000000", "0.05882352963", "0.05555555550", "0.05263157887", "0.04999999981",
        ];
        for (int n = 2; n <= 20; n++)
        {
            var written = (1.0 / n).ToString("F10", System.Globalization.CultureInfo.InvariantCulture);
            Assert.Equal($"-A X -m statistic --mode random --probability {expected[n - 2]}", Nf.Canonical("filter", $"-A X -m statistic --mode random --probability {written}"));
        }
    }

    [Theory]
    [InlineData("0.2", "0.20000000019")]
    [InlineData("0.01", "0.00999999978")]
    [InlineData("0.001", "0.00100000016")]
    [InlineData("0.0000001", "0.00000010012")]
    [InlineData("0.99999999", "0.99999999022")]
    [InlineData("1", "1.00000000000")]
    [InlineData("0", "0.00000000000")]
    public void Statistic_probability_table_of_the_facts(string given, string printed) =>
        Assert.Equal($"-A X -m statistic --mode random --probability {printed}", Nf.Canonical("filter", $"-A X -m statistic --mode random --probability {given}"));
}
