using PacketLife.Core.Conntrack;
using PacketLife.Core.Net;

namespace PacketLife.Tests.Conntrack;

/// <summary>Addresses, packets, conntrack tuples and entries format straight into a buffer (interpolated strings and
/// the trace text's builder) exactly as their ToString writes them. One row per notation.</summary>
public class InPlaceFormattingTests
{
    public static TheoryData<string, Packet, string> Packets => new()
    {
        // case             packet                                                                                                   text
        { "tcp",            new Packet(IpProtocol.Tcp, Ip4.Parse("198.51.100.7"), 53108, Ip4.Parse("4.225.83.202"), 80),              "tcp 198.51.100.7:53108 -> 4.225.83.202:80" },
        { "udp, zero net",  new Packet(IpProtocol.Udp, Ip4.Parse("0.0.0.0"), 0, Ip4.Parse("255.255.255.255"), 65535),                "udp 0.0.0.0:0 -> 255.255.255.255:65535" },
        { "icmp",           new Packet(IpProtocol.Icmp, Ip4.Parse("10.244.0.1"), 77, Ip4.Parse("10.224.0.4"), 0, IcmpType: 3, IcmpCode: 13), "icmp 10.244.0.1 -> 10.224.0.4 type=3 code=13 id=77" },
        { "other protocol", new Packet((IpProtocol)47, Ip4.Parse("10.0.0.1"), 0, Ip4.Parse("10.0.0.2"), 0),                          "gre 10.0.0.1:0 -> 10.0.0.2:0" },
        { "by number",      new Packet((IpProtocol)253, Ip4.Parse("10.0.0.1"), 1, Ip4.Parse("10.0.0.2"), 2),                          "253 10.0.0.1:1 -> 10.0.0.2:2" },
    };

    [Theory]
    [MemberData(nameof(Packets))]
    public void A_packet_writes_the_same_text_into_a_buffer(string _, Packet p, string text)
    {
        Assert.Equal(text, p.ToString());
        Assert.Equal(text, $"{p}");
        Assert.Equal($"[{p.Src}|{p.Dst}]", $"[{p.Src.ToString()}|{p.Dst.ToString()}]");
        var sb = new System.Text.StringBuilder().Append($"<{p}>");
        Assert.Equal($"<{text}>", sb.ToString());
        // Too small a buffer: nothing claimed written.
        Assert.False(p.TryFormat(new char[text.Length - 1].AsSpan(), out int written, default, null));
    }

    [Fact]
    public void A_conntrack_entry_writes_the_same_text_into_a_buffer()
    {
        var original = new ConntrackTuple(IpProtocol.Tcp, Ip4.Parse("198.51.100.2"), Ip4.Parse("20.240.25.37"), 53798, 80);
        var reply = new ConntrackTuple(IpProtocol.Tcp, Ip4.Parse("10.244.0.2"), Ip4.Parse("10.224.0.4"), 80, 1310);
        var e = new ConntrackEntry(original, reply) { TcpState = TcpConntrackState.SynSent, Status = ConntrackStatus.Confirmed | ConntrackStatus.SrcNat };
        const string text = "tcp SYN_SENT src=198.51.100.2 dst=20.240.25.37 sport=53798 dport=80 src=10.244.0.2 dst=10.224.0.4 sport=80 dport=1310 status=Confirmed, SrcNat";
        Assert.Equal(text, e.ToString());
        Assert.Equal("new entry: " + text, $"new entry: {e}");
        var icmp = ConntrackTuple.Icmp(Ip4.Parse("10.0.0.1"), Ip4.Parse("10.0.0.2"), 8, 0, 9);
        Assert.Equal("src=10.0.0.1 dst=10.0.0.2 type=8 code=0 id=9", icmp.ToString());
        Assert.Equal("icmp src=10.0.0.1 dst=10.0.0.2 type=8 code=0 id=9 src=10.0.0.1 dst=10.0.0.2 type=8 code=0 id=9 status=None",
            new ConntrackEntry(icmp, icmp).ToString());
        var gre = new ConntrackTuple((IpProtocol)47, Ip4.Parse("10.0.0.1"), Ip4.Parse("10.0.0.2"), 0, 0);
        Assert.Equal("src=10.0.0.1 dst=10.0.0.2", $"{gre}");
    }
}
