using System.Buffers.Binary;
using PacketLife.Core.Net;

namespace PacketLife.Lab.Agent;

/// <summary>Builds and reads IPv4 packets byte for byte (RFC 791 header, RFC 793 TCP, RFC 768 UDP, RFC 792 ICMP),
/// for a raw socket with IP_HDRINCL. Hand-written because no allowed package does it and the formats are small.</summary>
public static class RawPacket
{
    public const int IpHeader = 20;

    /// <summary>Smallest total length for the protocol: IP header plus the transport header we write.</summary>
    public static int MinimumLength(IpProtocol p) => IpHeader + p switch
    {
        IpProtocol.Tcp => 20,
        IpProtocol.Udp or IpProtocol.Udplite => 8,
        IpProtocol.Icmp => 8,
        IpProtocol.Sctp => 12,
        _ => 0,
    };

    /// <summary>The bytes of <paramref name="p"/>; <see cref="Packet.Length"/> 0 means the minimum. The payload is
    /// zeros. The IP checksum is left 0: Linux always fills it in for IP_HDRINCL (raw(7)).</summary>
    public static byte[] Build(Packet p, ushort ipId, uint seq = 1000, uint ack = 0)
    {
        int min = MinimumLength(p.Protocol);
        int len = p.Length == 0 ? min : p.Length;
        if (len < min) throw new ArgumentException($"length {len} is below the {min} bytes a {IpProtocols.Name(p.Protocol)} packet needs");
        var b = new byte[len];
        b[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(2), (ushort)len);
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(4), ipId);
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(6), (ushort)(p.FragmentOffset & 0x1fff));
        b[8] = p.Ttl;
        b[9] = (byte)p.Protocol;
        BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(12), p.Src.Value);
        BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(16), p.Dst.Value);
        var l4 = b.AsSpan(IpHeader);
        if (p.FragmentOffset != 0) return b; // a non-first fragment carries no transport header
        switch (p.Protocol)
        {
            case IpProtocol.Tcp:
                BinaryPrimitives.WriteUInt16BigEndian(l4, p.SrcPort);
                BinaryPrimitives.WriteUInt16BigEndian(l4[2..], p.DstPort);
                BinaryPrimitives.WriteUInt32BigEndian(l4[4..], seq);
                BinaryPrimitives.WriteUInt32BigEndian(l4[8..], (p.Flags & TcpFlags.Ack) != 0 ? ack : 0);
                l4[12] = 5 << 4;
                l4[13] = (byte)p.Flags;
                BinaryPrimitives.WriteUInt16BigEndian(l4[14..], 64240);
                BinaryPrimitives.WriteUInt16BigEndian(l4[16..], TransportChecksum(p, l4));
                break;
            case IpProtocol.Udp:
            case IpProtocol.Udplite:
                BinaryPrimitives.WriteUInt16BigEndian(l4, p.SrcPort);
                BinaryPrimitives.WriteUInt16BigEndian(l4[2..], p.DstPort);
                BinaryPrimitives.WriteUInt16BigEndian(l4[4..], (ushort)l4.Length);
                var c = TransportChecksum(p, l4);
                BinaryPrimitives.WriteUInt16BigEndian(l4[6..], c == 0 ? (ushort)0xffff : c);
                break;
            case IpProtocol.Icmp:
                l4[0] = p.IcmpType;
                l4[1] = p.IcmpCode;
                BinaryPrimitives.WriteUInt16BigEndian(l4[4..], p.SrcPort); // echo identifier (PacketLife keeps it in SrcPort)
                BinaryPrimitives.WriteUInt16BigEndian(l4[6..], 1);
                BinaryPrimitives.WriteUInt16BigEndian(l4[2..], Fold(Sum(l4, 0)));
                break;
            case IpProtocol.Sctp:
                BinaryPrimitives.WriteUInt16BigEndian(l4, p.SrcPort);
                BinaryPrimitives.WriteUInt16BigEndian(l4[2..], p.DstPort);
                break;
        }
        return b;
    }

    /// <summary>Reads an IPv4 packet (from an AF_PACKET SOCK_DGRAM socket or a raw socket: IP header first).
    /// For an ICMP error, also the quoted header. Returns false for anything that is not a complete IPv4 header.</summary>
    public static bool TryParse(ReadOnlySpan<byte> b, out Packet packet, out Packet? quoted)
    {
        quoted = null;
        if (!TryParseOne(b, out packet, out int ihl)) return false;
        if (packet.Protocol == IpProtocol.Icmp && packet.FragmentOffset == 0 && packet.IcmpType is 3 or 4 or 5 or 11 or 12
            && b.Length >= ihl + 8 + IpHeader && TryParseOne(b[(ihl + 8)..], out var inner, out _))
            quoted = inner;
        return true;
    }

    private static bool TryParseOne(ReadOnlySpan<byte> b, out Packet packet, out int ihl)
    {
        packet = null!;
        ihl = 0;
        if (b.Length < IpHeader || b[0] >> 4 != 4) return false;
        ihl = (b[0] & 0xf) * 4;
        if (ihl < IpHeader || b.Length < ihl) return false;
        var totalLen = BinaryPrimitives.ReadUInt16BigEndian(b[2..]);
        var frag = (ushort)(BinaryPrimitives.ReadUInt16BigEndian(b[6..]) & 0x1fff);
        var proto = (IpProtocol)b[9];
        var src = new Ip4(BinaryPrimitives.ReadUInt32BigEndian(b[12..]));
        var dst = new Ip4(BinaryPrimitives.ReadUInt32BigEndian(b[16..]));
        var l4 = b[ihl..];
        ushort sport = 0, dport = 0;
        TcpFlags flags = TcpFlags.None;
        // Non-ICMP packets keep Packet's defaults for the ICMP fields (type 8, code 0), so a parsed packet equals the
        // Packet it was built from.
        byte icmpType = 8, icmpCode = 0;
        if (frag == 0)
        {
            if (IpProtocols.HasPorts(proto) && l4.Length >= 4)
            {
                sport = BinaryPrimitives.ReadUInt16BigEndian(l4);
                dport = BinaryPrimitives.ReadUInt16BigEndian(l4[2..]);
                if (proto == IpProtocol.Tcp && l4.Length >= 14) flags = (TcpFlags)l4[13];
            }
            else if (proto == IpProtocol.Icmp && l4.Length >= 2)
            {
                icmpType = l4[0];
                icmpCode = l4[1];
                if (l4.Length >= 6 && icmpType is 0 or 8 or 13 or 14) sport = BinaryPrimitives.ReadUInt16BigEndian(l4[4..]);
            }
        }
        packet = new Packet(proto, src, sport, dst, dport, flags, 0, b[8], totalLen, frag, icmpType, icmpCode);
        return true;
    }

    /// <summary>TCP/UDP checksum over the pseudo-header (src, dst, zero, protocol, length) and the segment.</summary>
    private static ushort TransportChecksum(Packet p, ReadOnlySpan<byte> segment)
    {
        uint sum = (p.Src.Value >> 16) + (p.Src.Value & 0xffff) + (p.Dst.Value >> 16) + (p.Dst.Value & 0xffff)
                   + (uint)p.Protocol + (uint)segment.Length;
        return Fold(Sum(segment, sum));
    }

    private static uint Sum(ReadOnlySpan<byte> data, uint sum)
    {
        int i = 0;
        for (; i + 1 < data.Length; i += 2) sum += (uint)(data[i] << 8 | data[i + 1]);
        if (i < data.Length) sum += (uint)(data[i] << 8);
        return sum;
    }

    private static ushort Fold(uint sum)
    {
        while (sum >> 16 != 0) sum = (sum & 0xffff) + (sum >> 16);
        return (ushort)~sum;
    }
}
