using System.Globalization;
using PacketLife.Core.Conntrack;
using PacketLife.Core.Net;
using PacketLife.Core.Netfilter.Text;
using PacketLife.Core.Routing;
using PacketLife.Core.Tracing.Host;
using PacketLife.Tests.Conntrack;

namespace PacketLife.Tests.Tracing.Host;

/// <summary>Spec tables for the per-host walk (netfilter-conntrack.md §1, §2.4, §6): one row per kernel behaviour, on
/// the lab's router (client side eth0 198.51.100.1/24, server side eth1 203.0.113.1/24, default via the server).</summary>
public class HostWalkTests
{
    public const string Router = """
        host rtr
        sysctl net.ipv4.ip_forward = 1
        interface eth0 ethernet
        address 198.51.100.1/24
        interface eth1 ethernet
        address 203.0.113.1/24
        route default via 203.0.113.2 dev eth1
        """;

    public const string Node = """
        host node
        sysctl net.ipv4.ip_forward = 1
        interface eth0 ethernet
        address 10.3.0.2/24
        interface cbr0 bridge
        address 10.244.0.1/24
        interface vethp1 veth master cbr0
        interface vethp2 veth master cbr0 hairpin
        route default via 10.3.0.1 dev eth0
        """;

    internal static HostRuntime Runtime(string rules, string hostText = Router, Action<Core.Routing.Host>? tweak = null, TimeProvider? clock = null)
    {
        var h = HostFile.Read(hostText, "host");
        Assert.False(h.HasErrors, string.Join("\n", h.Diagnostics));
        tweak?.Invoke(h.Host!);
        var rs = IptablesSaveReader.Read(rules, "rules");
        Assert.False(rs.HasErrors, string.Join("\n", rs.Diagnostics));
        var state = new Core.Netfilter.Evaluation.NetfilterState { Clock = clock ?? ManualClock.Start() };
        return new HostRuntime(h.Host!, rs.RuleSet, state, new ConntrackTable(state.Clock, h.Host!.Conntrack))
        {
            BridgePortOf = (bridge, ip) => ip.ToString() switch { "10.244.0.11" => "vethp1", "10.244.0.12" => "vethp2", _ => null },
        };
    }

    internal static Packet Tcp(string from, string to, TcpFlags flags = TcpFlags.Syn, byte ttl = 64)
    {
        var (s, sp) = Split(from);
        var (d, dp) = Split(to);
        return new Packet(IpProtocol.Tcp, s, sp, d, dp, flags, Ttl: ttl);
    }

    static (Ip4, ushort) Split(string hp)
    {
        int c = hp.LastIndexOf(':');
        return (Ip4.Parse(hp[..c]), ushort.Parse(hp[(c + 1)..], CultureInfo.InvariantCulture));
    }

    const string DnatMasq = """
        *nat
        :PREROUTING ACCEPT [0:0]
        :INPUT ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        :POSTROUTING ACCEPT [0:0]
        -A PREROUTING -d 198.51.100.1/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination 203.0.113.2:8080
        -A POSTROUTING -o eth1 -j MASQUERADE
        COMMIT
        """;

    // Row: rules, packet, origin interface, expected disposition, expected packet after, conntrack entry made?
    public static TheoryData<string, string, string, string, HostDisposition, string, bool> Paths => new()
    {
        // §5.7: DNAT in PREROUTING then MASQUERADE on the way out; routed after DNAT (§1.6), TTL decremented (§1.7).
        { "dnat+masquerade", DnatMasq, "198.51.100.2:50672 > 198.51.100.1:80", "eth0", HostDisposition.Forward, "tcp 203.0.113.1:50672 -> 203.0.113.2:8080 ttl=63", true },
        // No conntrack-dependent rule: no entry and the nat chains are never traversed (§1.3).
        { "conntrack off", "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -j RETURN\nCOMMIT\n",
          "198.51.100.2:1000 > 203.0.113.2:80", "eth0", HostDisposition.Forward, "tcp 198.51.100.2:1000 -> 203.0.113.2:80 ttl=63", false },
        // Local delivery: INPUT, the entry is confirmed in INPUT.
        { "local", "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -m conntrack --ctstate NEW -j ACCEPT\nCOMMIT\n",
          "198.51.100.2:1000 > 198.51.100.1:22", "eth0", HostDisposition.Local, "tcp 198.51.100.2:1000 -> 198.51.100.1:22 ttl=64", true },
        // FORWARD DROP: no entry ever appears (§1.3 confirm).
        { "forward drop", "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n-A FORWARD -m state --state ESTABLISHED -j ACCEPT\nCOMMIT\n",
          "198.51.100.2:1000 > 203.0.113.2:80", "eth0", HostDisposition.Drop, "tcp 198.51.100.2:1000 -> 203.0.113.2:80 ttl=63", false },
        // DNAT to 127.0.0.1 from outside is a martian without route_localnet (§1.10).
        { "dnat to loopback", "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n-A PREROUTING -p tcp -j DNAT --to-destination 127.0.0.1:8080\nCOMMIT\n",
          "198.51.100.2:1000 > 198.51.100.1:80", "eth0", HostDisposition.Drop, "tcp 198.51.100.2:1000 -> 127.0.0.1:8080 ttl=64", false },
    };

    [Theory]
    [MemberData(nameof(Paths))]
    public void Path(string name, string rules, string packet, string inIface, HostDisposition disposition, string after, bool entry)
    {
        var rt = Runtime(rules);
        var parts = packet.Split(" > ");
        var o = new HostWalker(rt).Sample(Tcp(parts[0], parts[1]), new HostPacketOrigin.Wire(inIface), new Random(1));
        Assert.True(disposition == o.Disposition, $"{name}: {o.Disposition} at {o.Where}: {o.Reason}\n{string.Join("\n", o.Steps)}");
        Assert.Equal(after, $"{o.PacketAfter} ttl={o.PacketAfter.Ttl}");
        Assert.Equal(entry, rt.Conntrack.Count == 1);
        Assert.Equal(entry, o.ConntrackCreated);
    }

    [Fact]
    public void Dnat_masquerade_entry_and_reply_reverse_nat()
    {
        var rt = Runtime(DnatMasq);
        var w = new HostWalker(rt);
        var syn = w.Sample(Tcp("198.51.100.2:50672", "198.51.100.1:80"), new HostPacketOrigin.Wire("eth0"), new Random(1));
        Assert.Equal(HostDisposition.Forward, syn.Disposition);
        Assert.Equal("eth1", syn.OutInterface);
        Assert.Equal(Ip4.Parse("203.0.113.2"), syn.Nexthop);
        var e = Assert.Single(rt.Conntrack.List());
        Assert.Equal("src=198.51.100.2 dst=198.51.100.1 sport=50672 dport=80", e.Original.ToString());
        Assert.Equal("src=203.0.113.2 dst=203.0.113.1 sport=8080 dport=50672", e.Reply.ToString());
        // The SYN-ACK is un-NATed from the entry, without any nat chain (§1.5).
        var synack = w.Sample(Tcp("203.0.113.2:8080", "203.0.113.1:50672", TcpFlags.Syn | TcpFlags.Ack), new HostPacketOrigin.Wire("eth1"), new Random(1));
        Assert.Equal(HostDisposition.Forward, synack.Disposition);
        Assert.Equal("tcp 198.51.100.1:80 -> 198.51.100.2:50672", synack.PacketAfter.ToString());
        Assert.Equal("eth0", synack.OutInterface);
        Assert.DoesNotContain(synack.RuleVisits, v => v.Table == "nat");
    }

    [Fact]
    public void Ttl_one_is_answered_with_time_exceeded_from_the_facing_address()
    {
        var rt = Runtime(DnatMasq);
        var o = new HostWalker(rt).Sample(Tcp("198.51.100.2:1000", "203.0.113.2:80", ttl: 1), new HostPacketOrigin.Wire("eth0"), new Random(1));
        Assert.Equal(HostDisposition.Drop, o.Disposition);
        Assert.NotNull(o.Reply);
        Assert.Equal("icmp 198.51.100.1 -> 198.51.100.2 type=11 code=0 id=0", o.Reply!.ToString());
        Assert.Equal(HostDisposition.Output, o.ReplyWalk!.Disposition);
        Assert.Equal(0, rt.Conntrack.Count);
    }

    [Fact]
    public void Ip_forward_off_drops_silently_after_prerouting()
    {
        var rt = Runtime(DnatMasq, tweak: h => h.IpForward = false);
        var o = new HostWalker(rt).Sample(Tcp("198.51.100.2:1000", "203.0.113.2:80"), new HostPacketOrigin.Wire("eth0"), new Random(1));
        Assert.Equal(HostDisposition.Drop, o.Disposition);
        Assert.Null(o.Reply);
        Assert.Contains("ip_forward=0", o.Reason);
        Assert.Contains(o.RuleVisits, v => v.Table == "nat" && v.Chain == "PREROUTING");
        Assert.Equal(0, rt.Conntrack.Count);
    }

    [Fact]
    public void Strict_rp_filter_drops_a_spoofed_source_after_the_prerouting_chains()
    {
        var rt = Runtime(DnatMasq, tweak: h => h.RpFilterAll = 1);
        var o = new HostWalker(rt).Sample(Tcp("203.0.113.99:1000", "198.51.100.1:80"), new HostPacketOrigin.Wire("eth0"), new Random(1));
        Assert.Equal(HostDisposition.Drop, o.Disposition);
        Assert.Equal("rp_filter", o.Where);
        Assert.Equal(0, rt.Conntrack.Count);
    }

    [Theory]
    [InlineData("icmp-port-unreachable", "icmp 198.51.100.1 -> 198.51.100.2 type=3 code=3 id=0")]
    [InlineData("icmp-host-prohibited", "icmp 198.51.100.1 -> 198.51.100.2 type=3 code=10 id=0")]
    [InlineData("tcp-reset", "tcp 203.0.113.2:80 -> 198.51.100.2:1000")]
    public void Reject_answers_from_the_right_address(string with, string reply)
    {
        var rt = Runtime($"*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A FORWARD -p tcp -j REJECT --reject-with {with}\nCOMMIT\n");
        var o = new HostWalker(rt).Sample(Tcp("198.51.100.2:1000", "203.0.113.2:80"), new HostPacketOrigin.Wire("eth0"), new Random(1));
        Assert.Equal(HostDisposition.Reject, o.Disposition);
        Assert.Equal(reply, o.Reply!.ToString());
        Assert.Equal("eth0", o.ReplyWalk!.OutInterface);
        if (with == "tcp-reset") Assert.Equal(TcpFlags.Rst | TcpFlags.Ack, o.Reply.Flags);
    }

    const string Statistic = """
        *nat
        :PREROUTING ACCEPT [0:0]
        :INPUT ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        :POSTROUTING ACCEPT [0:0]
        -A PREROUTING -d 198.51.100.1/32 -p tcp -m statistic --mode random --probability 0.25 -j DNAT --to-destination 203.0.113.2:8080
        -A PREROUTING -d 198.51.100.1/32 -p tcp -j DNAT --to-destination 203.0.113.3:8080
        COMMIT
        """;

    [Fact]
    public void Explain_gives_every_branch_with_its_probability_and_changes_nothing_until_committed()
    {
        var rt = Runtime(Statistic);
        var w = new HostWalker(rt);
        var all = w.Explain(Tcp("198.51.100.2:1000", "198.51.100.1:80"), new HostPacketOrigin.Wire("eth0"));
        Assert.Equal(2, all.Count);
        Assert.Equal(0.75, all[0].Probability, 12);
        Assert.Equal("tcp 198.51.100.2:1000 -> 203.0.113.3:8080", all[0].PacketAfter.ToString());
        Assert.Equal(0.25, all[1].Probability, 12);
        Assert.Equal("tcp 198.51.100.2:1000 -> 203.0.113.2:8080", all[1].PacketAfter.ToString());
        Assert.Equal(0, rt.Conntrack.Count);
        Assert.All(all, o => Assert.False(o.Committed));
        var c = w.Commit(all[1], new Random(3));
        Assert.True(c.Committed);
        Assert.Equal("tcp 198.51.100.2:1000 -> 203.0.113.2:8080", c.PacketAfter.ToString());
        var e = Assert.Single(rt.Conntrack.List());
        Assert.Equal(Ip4.Parse("203.0.113.2"), e.Reply.Src);
    }

    [Fact]
    public void Sample_with_a_seed_is_reproducible()
    {
        string Run(int seed)
        {
            var rt = Runtime(Statistic);
            var w = new HostWalker(rt);
            return string.Join(",", Enumerable.Range(0, 20).Select(i =>
                w.Sample(Tcp($"198.51.100.2:{1000 + i}", "198.51.100.1:80"), new HostPacketOrigin.Wire("eth0"), new Random(seed + i)).PacketAfter.Dst));
        }
        Assert.Equal(Run(7), Run(7));
        Assert.Contains("203.0.113.2", Run(7) + Run(8) + Run(9));
    }

    const string KubeHairpin = """
        *nat
        :PREROUTING ACCEPT [0:0]
        :INPUT ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        :POSTROUTING ACCEPT [0:0]
        :KUBE-MARK-MASQ - [0:0]
        :KUBE-POSTROUTING - [0:0]
        -A PREROUTING -d 10.96.0.11/32 -p tcp -m tcp --dport 80 -j KUBE-SEP
        -A POSTROUTING -j KUBE-POSTROUTING
        -A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000
        -A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
        -A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0
        -A KUBE-POSTROUTING -j MASQUERADE --random-fully
        :KUBE-SEP - [0:0]
        -A KUBE-SEP -s 10.244.0.11/32 -j KUBE-MARK-MASQ
        -A KUBE-SEP -p tcp -m tcp -j DNAT --to-destination 10.244.0.11:8080
        COMMIT
        """;

    [Theory]
    // §6.3: pod → its own Service is DNATed back to itself and bridged out of the port it came in on.
    [InlineData("vethp1", false, HostDisposition.Drop)]
    [InlineData("vethp1", true, HostDisposition.Forward)]
    public void Hairpin_needs_the_port_flag(string port, bool hairpin, HostDisposition expected)
    {
        var rt = Runtime(KubeHairpin, Node, h => h.FindInterface(port)!.Hairpin = hairpin);
        var o = new HostWalker(rt).Sample(Tcp("10.244.0.11:37148", "10.96.0.11:80"), new HostPacketOrigin.Wire("cbr0", port), new Random(1));
        Assert.True(expected == o.Disposition, $"{o.Disposition} {o.Where} {o.Reason}\n{string.Join("\n", o.Steps)}");
        if (expected == HostDisposition.Forward)
        {
            Assert.True(o.Bridged);
            Assert.Equal("vethp1", o.OutBridgePort);
            Assert.Equal(64, o.PacketAfter.Ttl);
            Assert.Equal(Ip4.Parse("10.244.0.1"), o.PacketAfter.Src);
            Assert.Equal("10.244.0.11", o.PacketAfter.Dst.ToString());
            Assert.Single(o.RandomPorts);
            Assert.Equal(1, rt.Conntrack.Count);
        }
        else Assert.Equal(0, rt.Conntrack.Count);
    }

    [Fact]
    public void Pod_to_pod_on_the_bridge_passes_forward_with_physdev()
    {
        var rt = Runtime("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n-A FORWARD -i cbr0 -o cbr0 -m physdev --physdev-in vethp1 --physdev-out vethp2 -j ACCEPT\nCOMMIT\n", Node);
        var o = new HostWalker(rt).Sample(Tcp("10.244.0.11:1000", "10.244.0.12:80"), new HostPacketOrigin.Wire("cbr0", "vethp1"), new Random(1));
        Assert.True(o.Disposition == HostDisposition.Forward, $"{o.Where} {o.Reason}\n{string.Join("\n", o.Steps)}");
        Assert.Equal("vethp2", o.OutBridgePort);
        Assert.Equal(64, o.PacketAfter.Ttl);
    }

    [Fact]
    public void Local_output_reroutes_after_nat_output_but_filter_output_sees_the_first_device()
    {
        var rules = """
            *nat
            :PREROUTING ACCEPT [0:0]
            :INPUT ACCEPT [0:0]
            :OUTPUT ACCEPT [0:0]
            :POSTROUTING ACCEPT [0:0]
            -A OUTPUT -d 198.51.100.9/32 -j DNAT --to-destination 203.0.113.2:8080
            COMMIT
            *filter
            :INPUT ACCEPT [0:0]
            :FORWARD ACCEPT [0:0]
            :OUTPUT ACCEPT [0:0]
            -A OUTPUT -o eth0 -j ACCEPT
            COMMIT
            """;
        var rt = Runtime(rules);
        var o = new HostWalker(rt).Sample(new Packet(IpProtocol.Tcp, Ip4.Any, 4000, Ip4.Parse("198.51.100.9"), 80), new HostPacketOrigin.Local(), new Random(1));
        Assert.Equal(HostDisposition.Output, o.Disposition);
        Assert.Equal("eth1", o.OutInterface);
        // A re-route keeps the source chosen by the first route (§1.6).
        Assert.Equal("tcp 198.51.100.1:4000 -> 203.0.113.2:8080", o.PacketAfter.ToString());
        Assert.Contains(o.RuleVisits, v => v.Table == "filter" && v.Chain == "OUTPUT" && v.Index == 1);
    }
}
