using PacketLife.Core.Net;
using PacketLife.Core.Netfilter;
using PacketLife.Core.Netfilter.Evaluation;
using PacketLife.Core.Netfilter.Text;

namespace PacketLife.Tests.Netfilter;

/// <summary>Each match's behaviour, in the kernel's words: rows transcribed from the verified tables of
/// netfilter-conntrack.md §2.6-§3.13.</summary>
public class MatchSpecTests
{
    static readonly Ip4 Cli = Ip4.Parse("10.1.0.2"), Srv = Ip4.Parse("10.2.0.2"), RtrEth0 = Ip4.Parse("10.1.0.1"), RtrEth1 = Ip4.Parse("10.2.0.1");
    static readonly Packet Udp = new(IpProtocol.Udp, Cli, 40000, Srv, 7701, TcpFlags.None, Length: 31);

    /// <summary>rtr of the lab (facts §0): eth0 10.1.0.1/24, eth1 10.2.0.1/24, lo; the local routing table.</summary>
    static AddressType RtrTypes(Ip4 ip, string? dev)
    {
        if (ip == RtrEth0) return dev is null || dev == "eth0" ? AddressType.Local : AddressType.Unicast;
        if (ip == RtrEth1) return dev is null || dev == "eth1" ? AddressType.Local : AddressType.Unicast;
        if (ip.IsLoopback) return dev is null || dev == "lo" ? AddressType.Local : AddressType.Unicast;
        if (ip == Ip4.Parse("10.1.0.255")) return dev is null || dev == "eth0" ? AddressType.Broadcast : AddressType.Unicast;
        if (ip.Value == 0xFFFFFFFF) return AddressType.Broadcast;
        return AddressType.Unicast;
    }

    static bool Matches(string chain, string spec, PacketContext ctx)
    {
        var r = IptablesSaveReader.Read($"*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A {chain} {spec}\nCOMMIT\n", "t");
        Assert.False(r.HasErrors, string.Join("\n", r.Diagnostics));
        var o = Assert.Single(new TableEvaluator(r.RuleSet.Table("filter")!).Explain(ctx));
        Assert.False(o.IsUncertain, string.Join("; ", o.Uncertain));
        return o.Visits.Any(v => v.Index == 1 && v.Action == VisitAction.Matched);
    }

    static PacketContext In(Packet p, string iif = "eth0") => new() { Packet = p, Hook = NetfilterHook.Input, InInterface = iif, AddressTypeOf = RtrTypes, Conntrack = ConntrackView.NewFor(p) };

    // facts §3.3, INPUT on rtr, UDP from cli arriving on eth0. Columns: LOCAL, LOCAL+lii, UNICAST, UNICAST+lii,
    // BROADCAST, BROADCAST+lii, MULTICAST, src UNICAST, src LOCAL.
    public static TheoryData<string, string, string, string> AddrtypeRows => new()
    {
        { "to eth0's own address", "10.1.0.1", "eth0", "1 1 0 0 0 0 0 1 0" },
        { "to eth1's address, arriving on eth0", "10.2.0.1", "eth0", "1 0 0 1 0 0 0 1 0" },
        { "to 10.1.0.255", "10.1.0.255", "eth0", "0 0 0 0 1 1 0 1 0" },
        { "to 255.255.255.255", "255.255.255.255", "eth0", "0 0 0 0 1 1 0 1 0" },
    };

    [Theory]
    [MemberData(nameof(AddrtypeRows))]
    public void Addrtype(string @case, string dst, string iif, string expected)
    {
        var ctx = In(Udp with { Dst = Ip4.Parse(dst) }, iif);
        string[] specs =
        [
            "-m addrtype --dst-type LOCAL", "-m addrtype --dst-type LOCAL --limit-iface-in", "-m addrtype --dst-type UNICAST",
            "-m addrtype --dst-type UNICAST --limit-iface-in", "-m addrtype --dst-type BROADCAST", "-m addrtype --dst-type BROADCAST --limit-iface-in",
            "-m addrtype --dst-type MULTICAST", "-m addrtype --src-type UNICAST", "-m addrtype --src-type LOCAL",
        ];
        Assert.True(expected == string.Join(" ", specs.Select(s => Matches("INPUT", s, ctx) ? 1 : 0)), @case);
    }

    [Fact]
    public void Addrtype_without_host_addresses_is_uncertain_not_guessed()
    {
        var r = IptablesSaveReader.Read("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m addrtype --dst-type LOCAL -j DROP\nCOMMIT\n", "t");
        var o = Assert.Single(new TableEvaluator(r.RuleSet.Table("filter")!).Explain(new PacketContext { Packet = Udp, Hook = NetfilterHook.Input }));
        Assert.Equal(VerdictKind.Uncertain, o.Verdict.Kind);
    }

    // facts §3.11, mangle POSTROUTING, rules `--uid-owner 0`, `! --uid-owner 0`, `--socket-exists`, `! --socket-exists`,
    // `--uid-owner 1000`, `! --uid-owner 1000`.
    [Theory]
    [InlineData("forwarded UDP", false, "0 1 0 1 0 1")]
    [InlineData("locally sent as root", true, "1 0 1 0 0 1")]
    public void Owner(string @case, bool local, string expected)
    {
        var ctx = new PacketContext { Packet = Udp, Hook = NetfilterHook.Output, Owner = local ? new SocketOwner(0, 0) : null };
        string[] specs = ["--uid-owner 0", "! --uid-owner 0", "--socket-exists", "! --socket-exists", "--uid-owner 1000", "! --uid-owner 1000"];
        Assert.True(expected == string.Join(" ", specs.Select(s => Matches("OUTPUT", "-m owner " + s, ctx) ? 1 : 0)), @case);
    }

    // facts §3.13: UDP 10.1.0.2:random → 10.2.0.2:7701.
    [Theory]
    [InlineData("S1 dst", true)]
    [InlineData("S1 src", false)]
    [InlineData("S2 dst,dst", true)]
    [InlineData("S2 dst,src", false)]
    [InlineData("S3 src", true)]
    [InlineData("! S3 dst", true)]
    [InlineData("S4 dst,dst,src", true)]
    [InlineData("S1 dst,dst", true)]
    [InlineData("S2 dst", false)]
    public void Set(string rule, bool expected)
    {
        var (sets, diags) = IpSetCollection.Read(
            "create S1 hash:ip family inet\nadd S1 10.2.0.2\ncreate S2 hash:ip,port family inet\nadd S2 10.2.0.2,udp:7701\n" +
            "create S3 hash:net family inet\nadd S3 10.1.0.0/24\ncreate S4 hash:ip,port,ip family inet\nadd S4 10.2.0.2,udp:7701,10.1.0.2\n", "sets");
        Assert.Empty(diags);
        var neg = rule.StartsWith('!');
        var parts = rule.TrimStart('!', ' ').Split(' ');
        var ctx = In(Udp) with { State = new NetfilterState { IpSets = sets } };
        Assert.Equal(expected, Matches("INPUT", $"-m set {(neg ? "! " : "")}--match-set {parts[0]} {parts[1]}", ctx));
    }

    sealed class ManualClock : TimeProvider
    {
        public long Ticks;
        public override long GetTimestamp() => Ticks;
        public override long TimestampFrequency => 1000;
    }

    [Fact]
    public void Recent_counts_the_stamps_stored_before_this_packet()
    {
        // facts §3.10: `--rcheck --seconds 5 --hitcount 3` followed by `--set` matched first on the 4th packet.
        var clock = new ManualClock();
        var state = new NetfilterState { Clock = clock };
        var r = IptablesSaveReader.Read("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m recent --rcheck --seconds 5 --hitcount 3 --name T\n-A INPUT -m recent --set --name T\nCOMMIT\n", "t");
        var e = new TableEvaluator(r.RuleSet.Table("filter")!);
        var firsts = new List<bool>();
        for (int n = 0; n < 5; n++)
        {
            clock.Ticks += 500;
            var o = e.Sample(In(Udp) with { State = state }, new Random(0));
            firsts.Add(o.Visits.Any(v => v.Index == 1 && v.Action == VisitAction.Matched));
        }
        Assert.Equal([false, false, false, true, true], firsts);
        clock.Ticks += 10_000; // all stamps older than 5 s
        Assert.False(e.Sample(In(Udp) with { State = state }, new Random(0)).Visits.Any(v => v.Index == 1 && v.Action == VisitAction.Matched));
    }

    [Fact]
    public void Recent_update_and_rcheck_never_create_entries()
    {
        var state = new NetfilterState();
        Assert.False(Matches("INPUT", "-m recent --update --name T3", In(Udp) with { State = state }));
        Assert.True(Matches("INPUT", "-m recent ! --rcheck --name T3", In(Udp) with { State = state }));
    }

    public static TheoryData<string, string, Packet, bool> Rows => new()
    {
        // case                                 rule (INPUT)                                   packet                                                   matches
        { "tcp --syn on a SYN", "-p tcp --syn", new Packet(IpProtocol.Tcp, Cli, 1, Srv, 80, TcpFlags.Syn), true },
        { "tcp --syn on a SYN+ACK", "-p tcp --syn", new Packet(IpProtocol.Tcp, Cli, 1, Srv, 80, TcpFlags.Syn | TcpFlags.Ack), false },
        { "tcp ! --syn on an ACK", "-p tcp ! --syn", new Packet(IpProtocol.Tcp, Cli, 1, Srv, 80, TcpFlags.Ack), true },
        { "udp port range", "-p udp --dport 7000:7800", Udp, true },
        { "! --dport on a non-first fragment (§2.7)", "-p udp ! --dport 1", Udp with { FragmentOffset = 185 }, false },
        { "-f on a non-first fragment", "-f", Udp with { FragmentOffset = 185 }, true },
        { "! -f on a first fragment", "! -f", Udp, true },
        { "-p tcp rule never matches UDP even negated port", "-p tcp ! --dport 22", Udp, false },
        { "multiport either side", "-p udp -m multiport --ports 53,7701", Udp, true },
        { "multiport negated list", "-p udp -m multiport ! --dports 1:100,200", Udp, true },
        { "iprange inclusive", "-m iprange --src-range 10.1.0.1-10.1.0.2", Udp, true },
        { "iprange negated", "-m iprange ! --dst-range 10.2.0.1-10.2.0.2", Udp, false },
        { "length = IP total length (§3.8: 20+8+3)", "-m length --length 31", Udp, true },
        { "length range", "-m length --length 32:1500", Udp, false },
        { "ttl-eq", "-m ttl --ttl-eq 64", Udp, true },
        { "ttl-lt is strict", "-m ttl --ttl-lt 64", Udp, false },
        { "ttl-gt", "-m ttl --ttl-gt 63", Udp, true },
        { "icmp echo-request", "-p icmp --icmp-type echo-request", new Packet(IpProtocol.Icmp, Cli, 7, Srv, 0, IcmpType: 8), true },
        { "icmp port-unreachable needs code 3", "-p icmp --icmp-type port-unreachable", new Packet(IpProtocol.Icmp, Cli, 7, Srv, 0, IcmpType: 3, IcmpCode: 1), false },
        { "icmp any", "-p icmp --icmp-type any", new Packet(IpProtocol.Icmp, Cli, 7, Srv, 0, IcmpType: 0), true },
        { "mark value/mask", "-m mark --mark 0x4000/0x4000", Udp with { Mark = 0xc000 }, true },
        { "mark exact", "-m mark --mark 0x4000", Udp with { Mark = 0xc000 }, false },
        { "-i wildcard matches the prefix itself (§2.6)", "-i eth+", Udp, true },
        { "! -i wildcard", "! -i eth+", Udp, false },
        { "comment always matches", "-m comment --comment \"anything\"", Udp, true },
        { "ctstate NEW for a new connection", "-m conntrack --ctstate NEW", Udp, true },
        { "state ESTABLISHED for a new connection", "-m state --state ESTABLISHED", Udp, false },
        { "ctorigdst is the pre-DNAT destination", "-m conntrack --ctorigdst 10.2.0.0/16", Udp, true },
        { "ctdir ORIGINAL", "-m conntrack --ctdir ORIGINAL", Udp, true },
        { "ctdir REPLY", "-m conntrack --ctdir REPLY", Udp, false },
        { "ctstatus NONE on a new entry", "-m conntrack --ctstatus NONE", Udp, true },
        { "ctproto udp", "-m conntrack --ctproto udp", Udp, true },
        { "statistic probability 1 always matches", "-m statistic --mode random --probability 1", Udp, true },
        { "statistic probability 0 never matches", "-m statistic --mode random --probability 0", Udp, false },
        { "limit: the first packet passes (full bucket)", "-m limit --limit 1/hour --limit-burst 1", Udp, true },
    };

    [Theory]
    [MemberData(nameof(Rows))]
    public void Match_rows(string @case, string spec, Packet p, bool expected) =>
        Assert.True(expected == Matches("INPUT", spec, In(p)), @case);

    [Fact]
    public void Conntrack_without_an_entry_is_INVALID_and_connmark_never_matches()
    {
        var ctx = In(Udp) with { Conntrack = null };
        Assert.True(Matches("INPUT", "-m conntrack --ctstate INVALID", ctx));
        Assert.True(Matches("INPUT", "-m state --state INVALID", ctx));
        Assert.False(Matches("INPUT", "-m conntrack --ctorigdst 10.2.0.2", ctx));
        Assert.False(Matches("INPUT", "-m connmark --mark 0x0", ctx));
        Assert.False(Matches("INPUT", "-m connmark ! --mark 0x1", ctx));
    }

    [Fact]
    public void Conntrack_DNAT_and_reply_tuple()
    {
        // facts §3.4: after DNAT 10.1.0.1 → 10.2.0.2 and MASQUERADE to 10.2.0.1.
        var p = new Packet(IpProtocol.Tcp, Cli, 45000, RtrEth0, 80);
        var ct = new ConntrackView(CtState.Established | CtState.Dnat | CtState.Snat, CtStatus.SeenReply | CtStatus.Assured,
            new Core.Conntrack.ConntrackTuple(IpProtocol.Tcp, Cli, RtrEth0, 45000, 80), new Core.Conntrack.ConntrackTuple(IpProtocol.Tcp, Srv, RtrEth1, 80, 45000), 0, CtDirection.Original, 431990);
        var ctx = In(p) with { Conntrack = ct };
        Assert.True(Matches("INPUT", "-m conntrack --ctstate DNAT", ctx));
        Assert.True(Matches("INPUT", "-m conntrack --ctstate ESTABLISHED,SNAT", ctx));
        Assert.False(Matches("INPUT", "-m conntrack --ctstate NEW", ctx));
        Assert.True(Matches("INPUT", "-m conntrack --ctorigdst 10.1.0.1 --ctreplsrc 10.2.0.2 --ctrepldst 10.2.0.1", ctx));
        Assert.True(Matches("INPUT", "-m conntrack --ctstatus ASSURED --ctexpire 431000:432000", ctx));
        Assert.True(Matches("INPUT", "-m conntrack --ctreplsrcport 80 --ctorigsrcport 45000", ctx));
        Assert.False(Matches("INPUT", "-m conntrack ! --ctstatus SEEN_REPLY", ctx));
    }

    [Fact]
    public void Physdev_sees_bridge_ports_only_for_bridged_packets()
    {
        var bridged = new PacketContext { Packet = Udp, Hook = NetfilterHook.Forward, InInterface = "cbr0", OutInterface = "cbr0", Bridged = true, PhysIn = "vethp1", PhysOut = "vethp2" };
        Assert.True(Matches("FORWARD", "-m physdev --physdev-in vethp+ --physdev-is-bridged", bridged));
        Assert.False(Matches("FORWARD", "-m physdev ! --physdev-out vethp2", bridged));
        var routed = bridged with { Bridged = false, PhysIn = null, PhysOut = null };
        Assert.False(Matches("FORWARD", "-m physdev --physdev-is-bridged", routed));
        Assert.True(Matches("FORWARD", "-m physdev ! --physdev-is-bridged", routed));
    }
}
