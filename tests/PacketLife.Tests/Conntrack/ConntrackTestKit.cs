using PacketLife.Core.Conntrack;
using PacketLife.Core.Conntrack.Nat;
using PacketLife.Core.Net;

namespace PacketLife.Tests.Conntrack;

/// <summary>A clock the test moves by hand (the product injects <see cref="TimeProvider"/>; no package offers a fake here).</summary>
public sealed class ManualClock(DateTimeOffset start) : TimeProvider
{
    public DateTimeOffset Now { get; private set; } = start;
    public override DateTimeOffset GetUtcNow() => Now;
    public void Advance(double seconds) => Now += TimeSpan.FromSeconds(seconds);
    public static ManualClock Start() => new(new DateTimeOffset(2026, 11, 26, 12, 0, 0, TimeSpan.Zero));
}

/// <summary>Shorthands for packets in PacketLife's notation and a tracker on a manual clock.</summary>
public sealed class Lab
{
    public Lab(ConntrackSettings? settings = null, int seed = 1)
    {
        Clock = ManualClock.Start();
        Table = new ConntrackTable(Clock, settings);
        Tracker = new ConntrackTracker(Table);
        Nat = new NatEngine(Table, new Random(seed));
    }

    public ManualClock Clock { get; }
    public ConntrackTable Table { get; }
    public ConntrackTracker Tracker { get; }
    public NatEngine Nat { get; }

    /// <summary>`tcp 10.1.0.2:50672 -> 10.1.0.1:80` with flags.</summary>
    public static Packet Tcp(string from, string to, TcpFlags flags) => P(IpProtocol.Tcp, from, to) with { Flags = flags };

    public static Packet Udp(string from, string to) => P(IpProtocol.Udp, from, to) with { Flags = TcpFlags.None };

    public static Packet Icmp(string from, string to, byte type, ushort id, byte code = 0) =>
        new(IpProtocol.Icmp, Ip4.Parse(from), id, Ip4.Parse(to), 0, TcpFlags.None, IcmpType: type, IcmpCode: code);

    private static Packet P(IpProtocol proto, string from, string to)
    {
        var (s, sp) = Split(from);
        var (d, dp) = Split(to);
        return new Packet(proto, s, sp, d, dp);
    }

    private static (Ip4, ushort) Split(string ep)
    {
        int c = ep.IndexOf(':');
        return (Ip4.Parse(ep[..c]), ushort.Parse(ep[(c + 1)..]));
    }

    /// <summary>Runs a packet through conntrack-in and, for a new entry, confirm (no NAT): the whole path of an unNATed packet.</summary>
    public ConntrackResult Pass(Packet p)
    {
        var r = Tracker.Track(p);
        Assert.True(Tracker.Confirm(r));
        return r;
    }

    public static TcpFlags F(string flags) => flags switch
    {
        "SYN" => TcpFlags.Syn,
        "SYN+ACK" => TcpFlags.Syn | TcpFlags.Ack,
        "ACK" => TcpFlags.Ack,
        "FIN+ACK" => TcpFlags.Fin | TcpFlags.Ack,
        "RST" => TcpFlags.Rst,
        "RST+ACK" => TcpFlags.Rst | TcpFlags.Ack,
        "FIN" => TcpFlags.Fin,
        "SYN+FIN" => TcpFlags.Syn | TcpFlags.Fin,
        "PSH+ACK" => TcpFlags.Psh | TcpFlags.Ack,
        "NONE" => TcpFlags.None,
        _ => throw new ArgumentException(flags),
    };
}
