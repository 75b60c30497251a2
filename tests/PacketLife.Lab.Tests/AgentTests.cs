using PacketLife.Core.Net;
using PacketLife.Lab;
using PacketLife.Lab.Agent;

namespace PacketLife.Lab.Tests;

/// <summary>The packet agent's send/capture round trip between two lab namespaces joined by a veth.</summary>
public class AgentTests
{
    public static TheoryData<string, Packet> Crafted => new()
    {
        // case                                   packet as sent (and as it must arrive)
        { "TCP SYN from a spoofed source",        new Packet(IpProtocol.Tcp, Ip4.Parse("198.51.100.77"), 40001, Ip4.Parse("198.51.100.1"), 80, TcpFlags.Syn, Ttl: 17, Length: 40) },
        { "TCP lone ACK with payload",            new Packet(IpProtocol.Tcp, Ip4.Parse("198.51.100.2"), 40002, Ip4.Parse("198.51.100.1"), 443, TcpFlags.Ack | TcpFlags.Psh, Ttl: 64, Length: 100) },
        { "TCP SYN+FIN (invalid on purpose)",     new Packet(IpProtocol.Tcp, Ip4.Parse("198.51.100.2"), 40003, Ip4.Parse("198.51.100.1"), 22, TcpFlags.Syn | TcpFlags.Fin, Ttl: 3, Length: 40) },
        { "UDP datagram, 3 bytes of payload",     new Packet(IpProtocol.Udp, Ip4.Parse("198.51.100.2"), 5353, Ip4.Parse("198.51.100.1"), 53, TcpFlags.None, Ttl: 200, Length: 31) },
        { "ICMP echo request",                    new Packet(IpProtocol.Icmp, Ip4.Parse("198.51.100.2"), 4660, Ip4.Parse("198.51.100.1"), 0, TcpFlags.None, Ttl: 64, Length: 84, IcmpType: 8, IcmpCode: 0) },
    };

    [KernelTheory]
    [MemberData(nameof(Crafted))]
    public void A_crafted_packet_arrives_exactly_as_sent(string @case, Packet packet)
    {
        var runner = new LabRunner(LabJournal.Create(LabId.New(), LabEnvironment.StateRoot));
        try
        {
            var a = runner.CreateNamespace("a");
            var b = runner.CreateNamespace("b");
            runner.IpBatch(a, [$"link add eth0 type veth peer name eth0 netns {b}", "addr add 198.51.100.2/24 dev eth0", "link set eth0 up",
                               "route add default via 198.51.100.1"]).EnsureSuccess();
            runner.IpBatch(b, ["addr add 198.51.100.1/24 dev eth0", "link set eth0 up"]).EnsureSuccess();
            // b only observes: its stack must not answer (a RST or port-unreachable would be captured too).
            runner.Exec(b, ["iptables-legacy-restore"], "*filter\n:INPUT DROP [0:0]\nCOMMIT\n").EnsureSuccess();
            using var sender = AgentClient.Start(runner, a, LabEnvironment.AgentDll);
            using var receiver = AgentClient.Start(runner, b, LabEnvironment.AgentDll);
            receiver.StartCapture(local: false);
            sender.StartCapture(local: false);

            sender.Send(packet, seq: 1000, ack: 77);
            var all = receiver.Collect(quietMs: 30);
            var sent = sender.Collect(quietMs: 0);
            var arrived = all.Where(s => s.Direction == PacketDirection.In).ToList();
            var left = sent.Where(s => s.Direction == PacketDirection.Out).ToList();
            Assert.True(arrived.Count == 1 && left.Count == 1, $"{@case}: receiver saw [{string.Join("; ", all)}], sender saw [{string.Join("; ", sent)}]");

            var seen = Assert.Single(arrived);
            Assert.Equal("eth0", seen.Interface);
            Assert.Equal(packet, seen.Packet);
            Assert.Equal(packet, Assert.Single(left).Packet);
        }
        finally { runner.Teardown(); }
        Assert.DoesNotContain(runner.Journal.Namespaces, LabRunner.NamespaceExists);
        _ = @case;
    }
}
