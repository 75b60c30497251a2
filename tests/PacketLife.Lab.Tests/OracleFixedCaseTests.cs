using System.Text.RegularExpressions;
using PacketLife.Core.Net;
using PacketLife.Lab.Agent;
using PacketLife.Lab.Kernel;

namespace PacketLife.Lab.Tests;

/// <summary>Fixed cases with known kernel results (netfilter-conntrack.md), through the oracle.</summary>
[Collection("kernel")]
public class OracleFixedCaseTests(OracleFixture fixture)
{
    private static readonly Ip4 Cli = KernelTopology.ClientAddress, RtrA = KernelTopology.RouterClientSide,
        RtrB = KernelTopology.RouterServerSide, Srv = KernelTopology.ServerAddress;

    private static Packet Tcp(Ip4 src, ushort sport, Ip4 dst, ushort dport, TcpFlags f = TcpFlags.Syn) =>
        new(IpProtocol.Tcp, src, sport, dst, dport, f, Length: 40);

    private static Packet Udp(ushort sport, ushort dport) =>
        new(IpProtocol.Udp, Cli, sport, Srv, dport, TcpFlags.None, Length: 30);

    private KernelObservation Run(string rules, params PacketSpec[] packets) =>
        fixture.Oracle.Run(new KernelCase(rules, RouterSetup.Default, packets));

    /// <summary>§5.7: DNAT in PREROUTING plus MASQUERADE on the way out; the server sees the router's address and the
    /// client's port kept (it was free); conntrack holds both tuples.</summary>
    [KernelFact]
    public void Dnat_plus_masquerade_rewrites_both_ends_and_records_both_tuples()
    {
        var o = Run("""
            *nat
            :PREROUTING ACCEPT [0:0]
            :INPUT ACCEPT [0:0]
            :OUTPUT ACCEPT [0:0]
            :POSTROUTING ACCEPT [0:0]
            -A PREROUTING -d 198.51.100.1/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination 203.0.113.2:8080
            -A POSTROUTING -o eth1 -j MASQUERADE
            COMMIT

            """, new PacketSpec(Tcp(Cli, 50672, RtrA, 80)));

        Assert.True(o.Loaded, o.LoadError);
        var at = Assert.Single(o.AtServer);
        Assert.Equal(Tcp(RtrB, 50672, Srv, 8080) with { Ttl = 63 }, at.Packet);
        Assert.Equal(1, o.Rule("nat", "PREROUTING", 1)!.Packets);
        Assert.Equal(40, o.Rule("nat", "PREROUTING", 1)!.Bytes);
        Assert.Equal(1, o.Rule("nat", "POSTROUTING", 1)!.Packets);
        var ct = Assert.Single(o.Conntrack);
        Assert.Matches(new Regex(@"^tcp      6 1[12]\d SYN_SENT src=198\.51\.100\.2 dst=198\.51\.100\.1 sport=50672 dport=80 \[UNREPLIED\] " +
                                 @"src=203\.0\.113\.2 dst=203\.0\.113\.1 sport=8080 dport=50672 mark=0 use=1$"), ct);
        Assert.Empty(o.BackAtClient);
        Assert.Empty(o.DeliveredLocally);
    }

    public static TheoryData<string, string, ushort, string> Rejects => new()
    {
        // case                     --reject-with              dport  what the client gets back
        { "default port-unreach",   "icmp-port-unreachable",   7101,  "icmp 3/3 from 198.51.100.1" },
        { "host-prohibited",        "icmp-host-prohibited",    7102,  "icmp 3/10 from 198.51.100.1" },
        { "tcp-reset",              "tcp-reset",               7109,  "tcp RST+ACK from 203.0.113.2:7109" },
    };

    /// <summary>§2.4: REJECT in FORWARD; the ICMP error comes from the router's address on the way back and quotes the
    /// packet with its TTL already decremented; a tcp-reset comes from the rejected destination.</summary>
    [KernelTheory]
    [MemberData(nameof(Rejects))]
    public void Reject_answers_the_client_and_nothing_reaches_the_server(string @case, string with, ushort dport, string expected)
    {
        var o = Run($"""
            *filter
            :INPUT ACCEPT [0:0]
            :FORWARD ACCEPT [0:0]
            :OUTPUT ACCEPT [0:0]
            -A FORWARD -p tcp -m tcp --dport {dport} -j REJECT --reject-with {with}
            COMMIT

            """, new PacketSpec(Tcp(Cli, 55534, Srv, dport)));

        Assert.True(o.Loaded, o.LoadError);
        Assert.Empty(o.AtServer);
        Assert.Equal(1, o.Rule("filter", "FORWARD", 1)!.Packets);
        var back = Assert.Single(o.BackAtClient).Packet;
        var got = back.Protocol == IpProtocol.Icmp
            ? $"icmp {back.IcmpType}/{back.IcmpCode} from {back.Src}"
            : $"tcp {(back.Flags == (TcpFlags.Rst | TcpFlags.Ack) ? "RST+ACK" : back.Flags.ToString())} from {back.Src}:{back.SrcPort}";
        Assert.Equal(expected, got);
        if (back.Protocol == IpProtocol.Icmp)
        {
            var quoted = Assert.Single(o.BackAtClient).Quoted!;
            Assert.Equal(Tcp(Cli, 55534, Srv, dport) with { Ttl = 63 }, quoted);
        }
        _ = @case;
    }

    /// <summary>§2.2: DROP ends everything; the policy counter is untouched and no conntrack entry is made (there is
    /// no conntrack-dependent rule, §1.3).</summary>
    [KernelFact]
    public void Drop_in_forward_stops_the_packet_silently()
    {
        var o = Run("""
            *filter
            :INPUT ACCEPT [0:0]
            :FORWARD ACCEPT [0:0]
            :OUTPUT ACCEPT [0:0]
            -A FORWARD -p udp -m udp --dport 7401 -j DROP
            COMMIT

            """, new PacketSpec(Udp(46001, 7401)), new PacketSpec(Udp(46002, 7402)));

        Assert.True(o.Loaded, o.LoadError);
        Assert.Equal(7402, Assert.Single(o.AtServer).Packet.DstPort);
        Assert.Equal(1, o.Rule("filter", "FORWARD", 1)!.Packets);
        Assert.Equal(1, o.Policy("filter", "FORWARD")!.Packets);
        Assert.Empty(o.BackAtClient);
        Assert.Empty(o.Conntrack);
    }

    /// <summary>§3.2: `--every 3 --packet 0` matches packets 0, 3, 6, ... (0-based) of those that reach it.</summary>
    [KernelFact]
    public void Statistic_nth_drops_every_third_packet_starting_with_the_first()
    {
        var packets = Enumerable.Range(0, 7).Select(i => new PacketSpec(Udp((ushort)(47000 + i), 7500))).ToArray();
        var o = Run("""
            *filter
            :INPUT ACCEPT [0:0]
            :FORWARD ACCEPT [0:0]
            :OUTPUT ACCEPT [0:0]
            -A FORWARD -p udp -m statistic --mode nth --every 3 --packet 0 -j DROP
            COMMIT

            """, packets);

        Assert.True(o.Loaded, o.LoadError);
        Assert.Equal(3, o.Rule("filter", "FORWARD", 1)!.Packets);
        Assert.Equal([47001, 47002, 47004, 47005], o.AtServer.Select(s => (int)s.Packet.SrcPort).Order());
    }

    /// <summary>The counters reset between cases: the same case twice gives the same observation.</summary>
    [KernelFact]
    public void Cases_do_not_leak_state_into_each_other()
    {
        const string rules = """
            *filter
            :INPUT ACCEPT [0:0]
            :FORWARD ACCEPT [0:0]
            :OUTPUT ACCEPT [0:0]
            -A FORWARD -m statistic --mode nth --every 2 --packet 1 -j DROP
            -A FORWARD -m conntrack --ctstate NEW -j ACCEPT
            COMMIT

            """;
        var first = Run(rules, new PacketSpec(Udp(48000, 7600)));
        var second = Run(rules, new PacketSpec(Udp(48000, 7600)));
        Assert.Equal(first.Rules.Select(r => (r.Chain, r.Index, r.Packets)), second.Rules.Select(r => (r.Chain, r.Index, r.Packets)));
        Assert.Single(first.AtServer);
        Assert.Single(second.AtServer);
        Assert.Single(first.Conntrack);
        Assert.Single(second.Conntrack);
    }

    /// <summary>Locally generated packets walk nat OUTPUT (DNAT) and POSTROUTING; a packet to the router's own address
    /// is delivered locally (after INPUT).</summary>
    [KernelFact]
    public void Output_path_dnat_and_local_delivery()
    {
        var o = Run("""
            *nat
            :PREROUTING ACCEPT [0:0]
            :INPUT ACCEPT [0:0]
            :OUTPUT ACCEPT [0:0]
            :POSTROUTING ACCEPT [0:0]
            -A OUTPUT -d 10.96.0.10/32 -p udp -m udp --dport 53 -j DNAT --to-destination 203.0.113.2:5353
            COMMIT
            *filter
            :INPUT ACCEPT [0:0]
            :FORWARD ACCEPT [0:0]
            :OUTPUT ACCEPT [0:0]
            -A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
            COMMIT

            """,
            new PacketSpec(new Packet(IpProtocol.Udp, RtrB, 41000, Ip4.Parse("10.96.0.10"), 53, TcpFlags.None, Length: 30), PacketOrigin.Router),
            new PacketSpec(Tcp(Cli, 41001, RtrB, 22)));

        Assert.True(o.Loaded, o.LoadError);
        Assert.Equal(new Packet(IpProtocol.Udp, RtrB, 41000, Srv, 5353, TcpFlags.None, Length: 30), Assert.Single(o.AtServer).Packet);
        Assert.Equal(1, o.Rule("nat", "OUTPUT", 1)!.Packets);
        Assert.Equal(1, o.Rule("filter", "INPUT", 1)!.Packets);
        Assert.Contains(o.DeliveredLocally, s => s.Packet == Tcp(Cli, 41001, RtrB, 22));
    }

    /// <summary>§4.7: REDIRECT sends the packet to the router's own address on the incoming interface; a real listener
    /// answers, and the answer leaves un-NATed (from the original destination) with conntrack in SYN_RECV.</summary>
    [KernelFact]
    public void Redirect_to_a_local_listener_is_answered_from_the_original_destination()
    {
        var setup = new RouterSetup([], [new LocalListener(IpProtocol.Tcp, 8080)]);
        var o = fixture.Oracle.Run(new KernelCase("""
            *nat
            :PREROUTING ACCEPT [0:0]
            :INPUT ACCEPT [0:0]
            :OUTPUT ACCEPT [0:0]
            :POSTROUTING ACCEPT [0:0]
            -A PREROUTING -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 8080
            COMMIT

            """, setup, [new PacketSpec(Tcp(Cli, 43210, Srv, 80))]));

        Assert.True(o.Loaded, o.LoadError);
        Assert.Empty(o.AtServer);
        Assert.Contains(o.DeliveredLocally, s => s.Packet == Tcp(Cli, 43210, RtrA, 8080));
        var synAck = Assert.Single(o.BackAtClient).Packet;
        Assert.Equal((Srv, (ushort)80, Cli, (ushort)43210, TcpFlags.Syn | TcpFlags.Ack), (synAck.Src, synAck.SrcPort, synAck.Dst, synAck.DstPort, synAck.Flags));
        Assert.Matches(@"^tcp      6 \d+ SYN_RECV src=198\.51\.100\.2 dst=203\.0\.113\.2 sport=43210 dport=80 src=198\.51\.100\.1 dst=198\.51\.100\.2 sport=8080 dport=43210 mark=0 use=1$",
            Assert.Single(o.Conntrack));
        // Back to the default setup: the listener is closed again.
        var after = Run("*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n", new PacketSpec(Tcp(Cli, 43211, RtrA, 8080)));
        Assert.DoesNotContain(after.BackAtClient, s => s.Packet.Flags == (TcpFlags.Syn | TcpFlags.Ack));
    }

    /// <summary>§3.13: `-m set --match-set S dst` against a set loaded from an `ipset save` dump.</summary>
    [KernelIpsetFact]
    public void Ipset_match_drops_the_destinations_in_the_set()
    {
        var o = fixture.Oracle.Run(new KernelCase("""
            *filter
            :INPUT ACCEPT [0:0]
            :FORWARD ACCEPT [0:0]
            :OUTPUT ACCEPT [0:0]
            -A FORWARD -m set --match-set BLOCKED dst -j DROP
            COMMIT

            """, RouterSetup.Default,
            [new PacketSpec(Udp(49000, 7700)), new PacketSpec(new Packet(IpProtocol.Udp, Cli, 49001, Ip4.Parse("10.96.0.10"), 7700, TcpFlags.None, Length: 30))],
            IpsetText: "create BLOCKED hash:ip family inet hashsize 1024 maxelem 65536\nadd BLOCKED 203.0.113.2\n"));

        Assert.True(o.Loaded, o.LoadError);
        Assert.Equal(1, o.Rule("filter", "FORWARD", 1)!.Packets);
        Assert.Equal(Ip4.Parse("10.96.0.10"), Assert.Single(o.AtServer).Packet.Dst);
        // The next case without sets must load although the old rules referenced BLOCKED.
        Assert.True(Run("*filter\n:FORWARD ACCEPT [0:0]\nCOMMIT\n").Loaded);
    }

    /// <summary>A locally sent packet dropped in OUTPUT: sendto(2) fails with EPERM, which the oracle reports as an
    /// outcome; the next send is not blamed for it.</summary>
    [KernelFact]
    public void A_drop_in_output_is_reported_as_the_send_error_the_kernel_gave()
    {
        var o = Run("""
            *filter
            :INPUT ACCEPT [0:0]
            :FORWARD ACCEPT [0:0]
            :OUTPUT ACCEPT [0:0]
            -A OUTPUT -p udp -m udp --dport 9 -j DROP
            COMMIT

            """,
            new PacketSpec(new Packet(IpProtocol.Udp, RtrB, 40000, Srv, 9, TcpFlags.None, Length: 30), PacketOrigin.Router),
            new PacketSpec(new Packet(IpProtocol.Udp, RtrB, 40001, Srv, 10, TcpFlags.None, Length: 30), PacketOrigin.Router));

        Assert.True(o.Loaded, o.LoadError);
        var err = Assert.Single(o.SendErrors);
        // The kernel returns EPERM for a netfilter drop; .NET maps EPERM and EACCES alike to AccessDenied.
        Assert.Equal("packet 1: AccessDenied: Permission denied", err);
        Assert.Equal(10, Assert.Single(o.AtServer).Packet.DstPort);
    }

    /// <summary>§1.7 and §1.3: a forwarded packet with TTL 1 expires after PREROUTING (counted there) and before
    /// FORWARD; the router answers ICMP time exceeded (11/0) from its address towards the client, and no conntrack
    /// entry is confirmed although conntrack is active.</summary>
    [KernelFact]
    public void Ttl_1_expires_before_forward_with_time_exceeded_and_no_conntrack_entry()
    {
        var o = Run("""
            *mangle
            :PREROUTING ACCEPT [0:0]
            :INPUT ACCEPT [0:0]
            :FORWARD ACCEPT [0:0]
            :OUTPUT ACCEPT [0:0]
            :POSTROUTING ACCEPT [0:0]
            -A PREROUTING -m conntrack --ctstate NEW
            -A FORWARD
            COMMIT

            """, new PacketSpec(Tcp(Cli, 42000, Srv, 80) with { Ttl = 1 }));

        Assert.True(o.Loaded, o.LoadError);
        Assert.Equal(1, o.Rule("mangle", "PREROUTING", 1)!.Packets);
        Assert.Equal(0, o.Rule("mangle", "FORWARD", 1)!.Packets);
        Assert.Empty(o.AtServer);
        var back = Assert.Single(o.BackAtClient);
        Assert.Equal((IpProtocol.Icmp, RtrA, (byte)11, (byte)0), (back.Packet.Protocol, back.Packet.Src, back.Packet.IcmpType, back.Packet.IcmpCode));
        Assert.Empty(o.Conntrack);
    }

    [KernelIpsetFact]
    public void A_set_dump_ipset_refuses_is_reported_not_thrown()
    {
        var o = fixture.Oracle.Run(new KernelCase("*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n", RouterSetup.Default, [],
            IpsetText: "create S1 hash:nonsense family inet\n"));
        Assert.False(o.Loaded);
        Assert.StartsWith("lab: ipset restore refused the set dump:", o.LoadError);
    }

    [KernelFact]
    public void The_router_host_is_available_as_ip_json_with_extra_addresses()
    {
        var setup = new RouterSetup([new RouterAddress("lo", Ip4Prefix.Parse("203.0.113.77/32"))], []);
        var (addr, route) = fixture.Oracle.RouterHost(setup);
        using var a = System.Text.Json.JsonDocument.Parse(addr);
        var pairs = a.RootElement.EnumerateArray()
            .SelectMany(i => i.GetProperty("addr_info").EnumerateArray().Select(x => $"{i.GetProperty("ifname").GetString()} {x.GetProperty("local").GetString()}/{x.GetProperty("prefixlen").GetInt32()}"))
            .ToList();
        Assert.Contains("eth0 198.51.100.1/24", pairs);
        Assert.Contains("eth1 203.0.113.1/24", pairs);
        Assert.Contains("lo 203.0.113.77/32", pairs);
        using var r = System.Text.Json.JsonDocument.Parse(route);
        Assert.Contains(r.RootElement.EnumerateArray(), x => x.GetProperty("dst").GetString() == "default" && x.GetProperty("gateway").GetString() == "203.0.113.2");
        Assert.Contains(r.RootElement.EnumerateArray(), x => x.TryGetProperty("table", out var t) && t.GetString() == "local" && x.GetProperty("dst").GetString() == "203.0.113.77");
        fixture.Oracle.RouterHost(RouterSetup.Default);
    }

    [KernelFact]
    public void A_ruleset_the_kernel_refuses_is_reported_not_thrown()
    {
        var o = Run("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j NO-SUCH-CHAIN\nCOMMIT\n", new PacketSpec(Udp(1, 2)));
        Assert.False(o.Loaded);
        Assert.StartsWith("lab: iptables-legacy-restore refused the ruleset:", o.LoadError);
    }
}

/// <summary>Rulesets the kernel itself refuses at commit time (not iptables' parser), reported as values: the
/// generator's restrictions mirror these (netfilter-conntrack.md §2.5).</summary>
[Collection("kernel")]
public class OracleRefusalTests(OracleFixture fixture)
{
    public static TheoryData<string, string> KernelRefusals => new()
    {
        // case                                        ruleset
        { "DNAT from POSTROUTING via a user chain",    "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n:U - [0:0]\n-A POSTROUTING -j U\n-A U -j DNAT --to-destination 203.0.113.2\nCOMMIT\n" },
        { "REJECT in mangle",                          "*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n-A FORWARD -j REJECT --reject-with icmp-port-unreachable\nCOMMIT\n" },
        { "tcp-reset for UDP",                         "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A FORWARD -p udp -j REJECT --reject-with tcp-reset\nCOMMIT\n" },
        { "a jump loop",                               "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:A - [0:0]\n:B - [0:0]\n-A FORWARD -j A\n-A A -j B\n-A B -j A\nCOMMIT\n" },
        { "--limit-iface-out in PREROUTING",           "*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n-A PREROUTING -m addrtype --dst-type LOCAL --limit-iface-out\nCOMMIT\n" },
    };

    [KernelTheory]
    [MemberData(nameof(KernelRefusals))]
    public void The_kernel_refuses_and_the_oracle_reports_it(string @case, string ruleset)
    {
        var o = fixture.Oracle.Run(new KernelCase(ruleset, RouterSetup.Default, []));
        Assert.False(o.Loaded, @case);
        Assert.StartsWith("lab: iptables-legacy-restore refused the ruleset:", o.LoadError);
    }
}
