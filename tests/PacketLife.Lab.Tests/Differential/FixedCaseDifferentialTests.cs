using PacketLife.Core.Net;
using PacketLife.Lab.Kernel;

namespace PacketLife.Lab.Tests.Differential;

/// <summary>Fixed differential cases, one or more per match and target the engine models (issue 2, Proof): each row is
/// a small ruleset and the packets to send; the kernel and the host walk must agree in every category.</summary>
[Collection("kernel")]
public sealed class FixedCaseDifferentialTests(OracleFixture fixture)
{
    static readonly Ip4 Cli = KernelTopology.ClientAddress, Srv = KernelTopology.ServerAddress, RtrA = KernelTopology.RouterClientSide;

    static PacketSpec Tcp(ushort sport, Ip4 dst, ushort dport, TcpFlags f = TcpFlags.Syn, byte ttl = 64, PacketOrigin from = PacketOrigin.Client, Ip4? src = null) =>
        new(new Packet(IpProtocol.Tcp, src ?? (from == PacketOrigin.Router ? KernelTopology.RouterServerSide : Cli), sport, dst, dport, f, Ttl: ttl, Length: 40), from, Ack: (f & TcpFlags.Ack) != 0 ? 5000u : 0u);
    static PacketSpec Udp(ushort sport, Ip4 dst, ushort dport, ushort len = 28) =>
        new(new Packet(IpProtocol.Udp, Cli, sport, dst, dport, TcpFlags.None, Length: len));
    static PacketSpec Ping(Ip4 dst, ushort id = 77, byte type = 8) =>
        new(new Packet(IpProtocol.Icmp, Cli, id, dst, 0, TcpFlags.None, Length: 28, IcmpType: type));

    /// <summary>A ruleset with one table: its built-in chains ACCEPT (or the given policy) and the rules.</summary>
    static string T(string table, string rules, string? userChains = null, string forwardPolicy = "ACCEPT")
    {
        var chains = KernelOracle.BuiltinChains(table).Select(c => $":{c} {(c == "FORWARD" ? forwardPolicy : "ACCEPT")} [0:0]\n");
        var users = userChains is null ? "" : string.Concat(userChains.Split(',').Select(u => $":{u} - [0:0]\n"));
        return $"*{table}\n{string.Concat(chains)}{users}{rules.Replace("; ", "\n")}\nCOMMIT\n";
    }

    public static TheoryData<string, string, PacketSpec[]> Cases => new()
    {
        // Built-in matches.
        { "-s/-d/!", T("filter", "-A FORWARD -s 198.51.100.0/24 ! -d 203.0.113.9/32 -j ACCEPT", forwardPolicy: "DROP"), [Tcp(40000, Srv, 80)] },
        { "-i/-o wildcard", T("filter", "-A FORWARD -i eth+ -o eth1 -j DROP"), [Tcp(40001, Srv, 80)] },
        { "-p number", T("filter", "-A FORWARD -p 17 -j DROP"), [Udp(40002, Srv, 53), Tcp(40002, Srv, 53)] },
        // Match modules.
        { "tcp ports and flags", T("filter", "-A FORWARD -p tcp -m tcp --sport 40000:40010 --dport 80 --tcp-flags SYN,ACK SYN -j DROP"), [Tcp(40003, Srv, 80), Tcp(40004, Srv, 80, TcpFlags.Ack)] },
        { "tcp --syn", T("filter", "-A FORWARD -p tcp -m tcp ! --syn -j DROP"), [Tcp(40005, Srv, 80), Tcp(40005, Srv, 80, TcpFlags.Ack)] },
        { "udp", T("filter", "-A FORWARD -p udp -m udp --dport 53 -j DROP"), [Udp(40006, Srv, 53), Udp(40006, Srv, 54)] },
        { "icmp type", T("filter", "-A FORWARD -p icmp -m icmp --icmp-type echo-request -j DROP"), [Ping(Srv), Ping(Srv, 78, 13)] },
        { "multiport", T("filter", "-A FORWARD -p tcp -m multiport --dports 22,80:90 -j DROP"), [Tcp(40007, Srv, 85), Tcp(40007, Srv, 443)] },
        { "mark + MARK", T("mangle", "-A PREROUTING -p tcp -j MARK --set-xmark 0x4000/0x4000; -A FORWARD -m mark --mark 0x4000/0x4000 -j DROP"), [Tcp(40008, Srv, 80)] },
        { "conntrack ctstate", T("filter", "-A FORWARD -m conntrack --ctstate NEW -j ACCEPT; -A FORWARD -m conntrack --ctstate ESTABLISHED,INVALID -j DROP"), [Tcp(40009, Srv, 80), Tcp(40009, Srv, 80, TcpFlags.Ack), Tcp(40010, Srv, 80, TcpFlags.Ack)] },
        { "state", T("filter", "-A INPUT -m state --state NEW -j ACCEPT"), [Tcp(40011, RtrA, 22)] },
        { "connmark + CONNMARK", T("mangle", "-A PREROUTING -p udp -j CONNMARK --set-xmark 0x7/0xff; -A FORWARD -m connmark --mark 0x7/0xff -j MARK --set-xmark 0x1/0xffffffff"), [Udp(40012, Srv, 53), Udp(40012, Srv, 53)] },
        { "CONNMARK save/restore", T("mangle", "-A PREROUTING -j CONNMARK --restore-mark; -A PREROUTING -m mark --mark 0x0 -j MARK --set-xmark 0x3/0xffffffff; -A POSTROUTING -j CONNMARK --save-mark"), [Udp(40013, Srv, 53), Udp(40013, Srv, 53)] },
        { "addrtype", T("filter", "-A INPUT -m addrtype --dst-type LOCAL --limit-iface-in -j DROP"), [Tcp(40014, RtrA, 22), Tcp(40014, KernelTopology.RouterServerSide, 22)] },
        { "statistic nth", T("filter", "-A FORWARD -m statistic --mode nth --every 2 --packet 1 -j DROP"), [Udp(40015, Srv, 53), Udp(40015, Srv, 53), Udp(40015, Srv, 53)] },
        { "statistic random 0/1", T("filter", "-A FORWARD -m statistic --mode random --probability 1 -j DROP"), [Udp(40016, Srv, 53)] },
        { "iprange", T("filter", "-A FORWARD -m iprange --src-range 198.51.100.1-198.51.100.5 -j DROP"), [Udp(40017, Srv, 53)] },
        { "length", T("filter", "-A FORWARD -m length --length 29:65535 -j DROP"), [Udp(40018, Srv, 53), Udp(40018, Srv, 53, 100)] },
        { "ttl", T("filter", "-A FORWARD -m ttl --ttl-lt 63 -j DROP"), [Tcp(40019, Srv, 80, ttl: 63), Tcp(40020, Srv, 80, ttl: 64)] },
        { "comment", T("filter", "-A FORWARD -m comment --comment \"kube-proxy style\" -j DROP"), [Tcp(40021, Srv, 80)] },
        // Targets.
        { "DROP policy", T("filter", "", forwardPolicy: "DROP"), [Tcp(40022, Srv, 80)] },
        { "REJECT port-unreachable", T("filter", "-A FORWARD -j REJECT --reject-with icmp-port-unreachable"), [Udp(40023, Srv, 53)] },
        { "REJECT tcp-reset", T("filter", "-A FORWARD -p tcp -j REJECT --reject-with tcp-reset"), [Tcp(40024, Srv, 80), Tcp(40025, Srv, 80, TcpFlags.Ack)] },
        { "REJECT in INPUT", T("filter", "-A INPUT -p tcp -j REJECT --reject-with icmp-host-prohibited"), [Tcp(40026, RtrA, 22)] },
        { "jump/goto/RETURN", T("filter", "-A FORWARD -j U1; -A U1 -p udp -g U2; -A U1 -j RETURN; -A U2 -j DROP", "U1,U2"), [Udp(40027, Srv, 53), Tcp(40027, Srv, 80)] },
        { "DNAT", T("nat", "-A PREROUTING -d 10.96.0.10/32 -p tcp -j DNAT --to-destination 203.0.113.2:8080"), [Tcp(40028, Ip4.Parse("10.96.0.10"), 80), Tcp(40028, Ip4.Parse("10.96.0.10"), 80, TcpFlags.Ack)] },
        { "DNAT port range", T("nat", "-A PREROUTING -d 10.96.0.10/32 -p udp -j DNAT --to-destination 203.0.113.2:9000-9010"), [Udp(40029, Ip4.Parse("10.96.0.10"), 53)] },
        { "SNAT", T("nat", "-A POSTROUTING -o eth1 -j SNAT --to-source 203.0.113.1"), [Tcp(40030, Srv, 80)] },
        { "MASQUERADE", T("nat", "-A POSTROUTING -o eth1 -j MASQUERADE"), [Udp(40031, Srv, 53), Udp(40031, Srv, 53)] },
        { "MASQUERADE --random-fully", T("nat", "-A POSTROUTING -o eth1 -j MASQUERADE --random-fully"), [Tcp(40032, Srv, 80)] },
        { "DNAT + MASQUERADE (facts 5.7)", T("nat", "-A PREROUTING -d 198.51.100.1/32 -p tcp --dport 80 -j DNAT --to-destination 203.0.113.2:8080; -A POSTROUTING -o eth1 -j MASQUERADE"), [Tcp(40033, RtrA, 80)] },
        { "REDIRECT", T("nat", "-A PREROUTING -p tcp --dport 80 -j REDIRECT --to-ports 8080"), [Tcp(40034, Srv, 80)] },
        { "NOTRACK", T("raw", "-A PREROUTING -p udp -j NOTRACK") + T("filter", "-A FORWARD -m state --state UNTRACKED -j DROP"), [Udp(40035, Srv, 53)] },
        { "CT --notrack", T("raw", "-A PREROUTING -p udp -j CT --notrack") + T("nat", "-A PREROUTING -p udp -j DNAT --to-destination 203.0.113.2:9999"), [Udp(40036, Srv, 53)] },
        { "OUTPUT DNAT re-route", T("nat", "-A OUTPUT -d 10.96.0.10/32 -p tcp -j DNAT --to-destination 203.0.113.2:8080"), [Tcp(40037, Ip4.Parse("10.96.0.10"), 80, from: PacketOrigin.Router)] },
        { "OUTPUT DROP", T("filter", "-A OUTPUT -p tcp -j DROP"), [Tcp(40038, Srv, 80, from: PacketOrigin.Router)] },
        { "TTL 1 time exceeded", T("filter", "-A FORWARD -j ACCEPT"), [Tcp(40039, Srv, 80, ttl: 1)] },
        { "local UDP port unreachable", T("filter", "-A INPUT -m conntrack --ctstate NEW -j ACCEPT"), [Udp(40040, RtrA, 9)] },
        { "local echo", T("filter", "-A INPUT -m state --state NEW -j ACCEPT"), [Ping(RtrA)] },
    };

    [KernelTheory]
    [MemberData(nameof(Cases))]
    public void Engine_agrees_with_the_kernel(string name, string ruleset, PacketSpec[] packets)
    {
        var oracle = fixture.Oracle;
        var (addr, route) = oracle.RouterHost(RouterSetup.Default);
        var engine = new EngineCaseRunner(addr, route);
        var kc = new KernelCase(ruleset, RouterSetup.Default, packets);
        var kernel = oracle.Run(kc);
        Assert.True(kernel.Loaded, $"{name}: the kernel refused the ruleset: {kernel.LoadError}");
        var model = engine.Run(kc);
        var diffs = KernelComparison.Compare(kernel, model, EngineCaseRunner.MaskRandomPorts(engine.RandomPorts, kc));
        Assert.True(diffs.Count == 0, $"{name}:\n{string.Join("\n", diffs)}\nkernel:\n{kernel}\nengine:\n{string.Join("\n", engine.Log)}");
        // Not vacuous: every row makes the kernel count or deliver something.
        Assert.True(kernel.Rules.Any(r => r.Packets > 0) || kernel.Policies.Any(p => p.Packets > 0));
    }
}
