using System.Diagnostics;
using System.Globalization;

namespace PacketLife.Core.Net;

/// <summary>TCP header flags, bit values as on the wire.</summary>
[Flags]
public enum TcpFlags : byte
{
    None = 0,
    Fin = 0x01,
    Syn = 0x02,
    Rst = 0x04,
    Psh = 0x08,
    Ack = 0x10,
    Urg = 0x20,
    Ece = 0x40,
    Cwr = 0x80,
}

/// <summary>An IPv4 packet as netfilter sees it: the header fields matches can test, plus the
/// skb metadata that travels with it on one host (<see cref="Mark"/>). Immutable: a NAT or MARK
/// produces a new packet, so every hop can show "before" and "after".</summary>
/// <param name="Length">IP total length (header + payload), what `-m length` and the byte counters use.</param>
/// <param name="FragmentOffset">Non-zero for second and later fragments (`-f`).</param>
/// <param name="IcmpType">For ICMP: type; <see cref="IcmpCode"/> its code; the echo id travels in <see cref="SrcPort"/>.</param>
public sealed record Packet(
    IpProtocol Protocol,
    Ip4 Src,
    ushort SrcPort,
    Ip4 Dst,
    ushort DstPort,
    TcpFlags Flags = TcpFlags.Syn,
    uint Mark = 0,
    byte Ttl = 64,
    ushort Length = 60,
    ushort FragmentOffset = 0,
    byte IcmpType = 8,
    byte IcmpCode = 0) : ISpanFormattable
{
    public bool HasPorts => IpProtocols.HasPorts(Protocol);

    /// <summary>`tcp 198.51.100.7:53108 -> 20.240.25.37:80`, the packet notation used across PacketLife.</summary>
    public override string ToString()
    {
        Span<char> buffer = stackalloc char[128];
        return TryFormat(buffer, out int n, default, null) ? new string(buffer[..n]) : throw new UnreachableException();
    }

    /// <summary>The same notation written straight into a buffer (trace text holds two packets per hop).</summary>
    public bool TryFormat(Span<char> destination, out int charsWritten, ReadOnlySpan<char> format, IFormatProvider? provider) =>
        Protocol == IpProtocol.Icmp
            ? destination.TryWrite(CultureInfo.InvariantCulture, $"icmp {Src} -> {Dst} type={IcmpType} code={IcmpCode} id={SrcPort}", out charsWritten)
            : destination.TryWrite(CultureInfo.InvariantCulture, $"{IpProtocols.Name(Protocol)} {Src}:{SrcPort} -> {Dst}:{DstPort}", out charsWritten);

    string IFormattable.ToString(string? format, IFormatProvider? formatProvider) => ToString();
}
