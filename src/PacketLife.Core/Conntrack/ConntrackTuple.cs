using PacketLife.Core.Net;

namespace PacketLife.Core.Conntrack;

/// <summary>Which tuple of an entry a packet matched: the one of the connection's first packet, or the
/// expected reply (kernel <c>enum ip_conntrack_dir</c>).</summary>
public enum ConntrackDirection : byte
{
    Original = 0,
    Reply = 1,
}

/// <summary>A conntrack tuple (kernel <c>struct nf_conntrack_tuple</c>) plus the zone it is looked up in.
/// For ports protocols <see cref="SrcPort"/>/<see cref="DstPort"/> are the ports. For ICMP the kernel keeps
/// the echo id on the source side and type/code on the destination side; so does this struct:
/// <see cref="SrcPort"/> = id, <see cref="DstPort"/> = type &lt;&lt; 8 | code. Other protocols have no ports (0).</summary>
public readonly record struct ConntrackTuple(IpProtocol Protocol, Ip4 Src, Ip4 Dst, ushort SrcPort, ushort DstPort, ushort Zone = 0) : ISpanFormattable
{
    public static ConntrackTuple Icmp(Ip4 src, Ip4 dst, byte type, byte code, ushort id, ushort zone = 0) =>
        new(IpProtocol.Icmp, src, dst, id, (ushort)(type << 8 | code), zone);

    public bool IsIcmp => Protocol == IpProtocol.Icmp;
    public byte IcmpType => (byte)(DstPort >> 8);
    public byte IcmpCode => (byte)DstPort;
    public ushort IcmpId => SrcPort;

    /// <summary>The tuple a packet carries (before any NAT of this host), as <c>nf_ct_get_tuple</c> builds it.</summary>
    public static ConntrackTuple FromPacket(Packet p, ushort zone = 0) => p.Protocol switch
    {
        IpProtocol.Icmp => Icmp(p.Src, p.Dst, p.IcmpType, p.IcmpCode, p.SrcPort, zone),
        _ when IpProtocols.HasPorts(p.Protocol) => new(p.Protocol, p.Src, p.Dst, p.SrcPort, p.DstPort, zone),
        _ => new(p.Protocol, p.Src, p.Dst, 0, 0, zone),
    };

    /// <summary>The tuple a reply to this one carries (<c>nf_ct_invert_tuple</c>): addresses and ports swapped;
    /// for ICMP the request type becomes its reply type (echo 8→0, timestamp 13→14, info 15→16, mask 17→18)
    /// and the id stays. Returns false for an ICMP type that has no inverse (the kernel refuses to track it).</summary>
    public bool TryInvert(out ConntrackTuple inverse)
    {
        if (Protocol == IpProtocol.Icmp)
        {
            inverse = default;
            int inv = IcmpInverse(IcmpType);
            if (inv < 0) return false;
            inverse = Icmp(Dst, Src, (byte)inv, IcmpCode, IcmpId, Zone);
            return true;
        }
        inverse = this with { Src = Dst, Dst = Src, SrcPort = DstPort, DstPort = SrcPort };
        return true;
    }

    public ConntrackTuple Invert() =>
        TryInvert(out var t) ? t : throw new InvalidOperationException($"ICMP type {IcmpType} has no reply type");

    // kernel nf_conntrack_proto_icmp.c, invmap[]: the request/reply pairs conntrack can invert.
    internal static int IcmpInverse(byte type) => type switch
    {
        8 => 0, 0 => 8,
        13 => 14, 14 => 13,
        15 => 16, 16 => 15,
        17 => 18, 18 => 17,
        _ => -1,
    };

    /// <summary>The tuple in <c>conntrack -L</c> notation: <c>src=… dst=… sport=… dport=…</c>.</summary>
    public override string ToString()
    {
        Span<char> buffer = stackalloc char[96];
        return TryFormat(buffer, out int n, default, null) ? new string(buffer[..n]) : throw new System.Diagnostics.UnreachableException();
    }

    /// <summary>The same notation written straight into a buffer (entries in trace steps and `conntrack -L` lines).</summary>
    public bool TryFormat(Span<char> destination, out int charsWritten, ReadOnlySpan<char> format, IFormatProvider? provider)
    {
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        return Protocol switch
        {
            IpProtocol.Icmp => destination.TryWrite(inv, $"src={Src} dst={Dst} type={IcmpType} code={IcmpCode} id={IcmpId}", out charsWritten),
            _ when IpProtocols.HasPorts(Protocol) => destination.TryWrite(inv, $"src={Src} dst={Dst} sport={SrcPort} dport={DstPort}", out charsWritten),
            _ => destination.TryWrite(inv, $"src={Src} dst={Dst}", out charsWritten),
        };
    }

    string IFormattable.ToString(string? format, IFormatProvider? formatProvider) => ToString();
}
