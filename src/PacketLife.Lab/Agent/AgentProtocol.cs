using System.Text.Json;
using System.Text.Json.Serialization;
using PacketLife.Core.Net;

namespace PacketLife.Lab.Agent;

/// <summary>Where a captured packet was seen: arriving on an interface, leaving it, or handed to the local stack
/// (a raw socket of that protocol got a copy, which the kernel does only after the INPUT hook accepted it).</summary>
public enum PacketDirection { In, Out, Local }

/// <summary>One IPv4 packet a packet agent saw, as it was at that point (after any NAT done before it).
/// <paramref name="Quoted"/> is the header an ICMP error quotes (the offending packet), when there is one.</summary>
public sealed record SeenPacket(string Interface, PacketDirection Direction, Packet Packet, Packet? Quoted = null)
{
    public override string ToString() =>
        $"{Interface} {Direction.ToString().ToLowerInvariant()} {Packet}{FlagText(Packet)} ttl={Packet.Ttl}" + (Quoted is null ? "" : $" quoting [{Quoted}]");

    private static string FlagText(Packet p) => p.Protocol == IpProtocol.Tcp ? $" [{TcpFlagText.Format(p.Flags)}]" : "";
}

/// <summary>TCP flags as tcpdump letters (S, A, F, R, P, U, E, C) and back.</summary>
public static class TcpFlagText
{
    private static readonly (TcpFlags Flag, char Letter)[] Letters =
        [(TcpFlags.Syn, 'S'), (TcpFlags.Ack, 'A'), (TcpFlags.Fin, 'F'), (TcpFlags.Rst, 'R'), (TcpFlags.Psh, 'P'),
         (TcpFlags.Urg, 'U'), (TcpFlags.Ece, 'E'), (TcpFlags.Cwr, 'C')];

    public static string Format(TcpFlags f)
    {
        var s = new string(Letters.Where(l => (f & l.Flag) != 0).Select(l => l.Letter).ToArray());
        return s.Length == 0 ? "none" : s;
    }

    public static TcpFlags Parse(string text)
    {
        if (text is "none" or "") return TcpFlags.None;
        TcpFlags f = 0;
        foreach (var c in text)
        {
            var l = Letters.FirstOrDefault(x => x.Letter == char.ToUpperInvariant(c));
            if (l.Letter == 0) throw new FormatException($"unknown TCP flag letter '{c}' (use S A F R P U E C)");
            f |= l.Flag;
        }
        return f;
    }
}

/// <summary>A packet on the agent's wire protocol (JSON). Flat numbers and strings so a line is readable in a log.</summary>
public sealed record WirePacket(
    string Proto, string Src, int Sport, string Dst, int Dport, string Flags = "S", int Ttl = 64, int Length = 0,
    int IcmpType = 8, int IcmpCode = 0, int FragmentOffset = 0, uint Seq = 1000, uint Ack = 0)
{
    public static WirePacket From(Packet p, uint seq = 1000, uint ack = 0) => new(
        IpProtocols.Name(p.Protocol), p.Src.ToString(), p.SrcPort, p.Dst.ToString(), p.DstPort, TcpFlagText.Format(p.Flags),
        p.Ttl, p.Length, p.IcmpType, p.IcmpCode, p.FragmentOffset, seq, ack);

    public Packet ToPacket()
    {
        if (!IpProtocols.TryParse(Proto, out var proto)) throw new FormatException($"unknown protocol \"{Proto}\"");
        return new Packet(proto, Ip4.Parse(Src), checked((ushort)Sport), Ip4.Parse(Dst), checked((ushort)Dport),
            TcpFlagText.Parse(Flags), 0, checked((byte)Ttl), checked((ushort)Length), checked((ushort)FragmentOffset),
            checked((byte)IcmpType), checked((byte)IcmpCode));
    }
}

/// <summary>A seen packet on the wire protocol.</summary>
public sealed record WireSeen(string Iface, string Dir, WirePacket Packet, WirePacket? Quoted = null)
{
    public SeenPacket ToSeen() => new(Iface, Enum.Parse<PacketDirection>(Dir, ignoreCase: true), Packet.ToPacket(), Quoted?.ToPacket());
}

/// <summary>One request line. Ops: `ping`; `send` (<see cref="Packet"/>); `capture` (start capturing on every
/// interface of the namespace, and with <see cref="Local"/> also what the local stack receives); `collect` (return
/// and forget what was seen, once nothing new arrived for <see cref="QuietMs"/>, at most <see cref="MaxMs"/>);
/// `listen` (a TCP or UDP socket on <see cref="Port"/> that accepts and closes); `quit`.</summary>
public sealed record AgentRequest(
    string Op, WirePacket? Packet = null, bool Local = false, int QuietMs = 15, int MaxMs = 500,
    string? Proto = null, int Port = 0);

/// <summary>One response line per request, in order. <see cref="SendError"/> is the error sendto(2) returned for a
/// packet (the kernel refused it locally, e.g. EPERM for a DROP in OUTPUT): an outcome, so <see cref="Ok"/> stays true.</summary>
public sealed record AgentResponse(bool Ok, string? Error = null, IReadOnlyList<WireSeen>? Seen = null, string? SendError = null);
