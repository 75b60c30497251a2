using System.Globalization;
using PacketLife.Core.Diagnostics;
using PacketLife.Core.Net;

namespace PacketLife.Core.Tracing.Host;

/// <summary>The packet notation of `packetlife iptables trace --packet`:
/// <c>tcp 198.51.100.7:53108 -> 20.240.25.37:80 in eth0</c>; <c>in cbr0 port vethp1</c> for a frame entering a bridge
/// port; <c>local</c> for a packet a local process sends (src 0.0.0.0 lets routing choose it). Options: TCP
/// <c>flags</c> in tcpdump letters (default S), <c>ttl</c> (64), <c>len</c> (IP total length; default the smallest
/// packet), <c>mark</c>, and for ICMP <c>type</c> (8), <c>code</c>, <c>id</c>.</summary>
public static class PacketSpec
{
    public static bool TryParse(string text, string source, out Packet packet, out HostPacketOrigin origin, out Diagnostic? error)
    {
        packet = null!;
        origin = null!;
        error = Body(text, source, ref packet, ref origin);
        return error is null;
    }

    static Diagnostic? Body(string text, string source, ref Packet packet, ref HostPacketOrigin origin)
    {
        var toks = new List<(string Text, int Col)>();
        for (int i = 0; i < text.Length;)
        {
            if (char.IsWhiteSpace(text[i])) { i++; continue; }
            int start = i;
            while (i < text.Length && !char.IsWhiteSpace(text[i])) i++;
            toks.Add((text[start..i], start + 1));
        }
        int k = 0;
        Diagnostic Fail(int col, string what) => HostTraceMessages.BadPacket(new SourceLocation(source, 1, col), what);
        (string Text, int Col)? Next() => k < toks.Count ? toks[k++] : null;
        int EndCol = text.Length + 1;

        if (Next() is not { } protoTok) return Fail(1, "empty");
        if (!IpProtocols.TryParse(protoTok.Text, out var proto)) return Fail(protoTok.Col, $"unknown protocol \"{protoTok.Text}\"");
        if (Next() is not { } srcTok) return Fail(EndCol, "missing source address");
        if (!Endpoint(srcTok, out var src, out var sport, out var why)) return Fail(srcTok.Col, why!);
        var arrowTok = Next();
        if (arrowTok is not { } arrow || arrow.Text != "->") return Fail(arrowTok?.Col ?? EndCol, "expected \"->\" after the source");
        if (Next() is not { } dstTok) return Fail(EndCol, "missing destination address");
        if (!Endpoint(dstTok, out var dst, out var dport, out why)) return Fail(dstTok.Col, why!);
        if (IpProtocols.HasPorts(proto) && (sport is null || dport is null))
            return Fail((sport is null ? srcTok : dstTok).Col, $"{IpProtocols.Name(proto)} needs ports: ADDRESS:PORT");
        if (!IpProtocols.HasPorts(proto) && (sport is not null || dport is not null))
            return Fail((sport is not null ? srcTok : dstTok).Col, $"{IpProtocols.Name(proto)} has no ports");

        HostPacketOrigin? o = null;
        var p = new Packet(proto, src, sport ?? 0, dst, dport ?? 0, proto == IpProtocol.Tcp ? TcpFlags.Syn : TcpFlags.None, Length: 0);
        bool lenSet = false;
        while (Next() is { } t)
        {
            switch (t.Text)
            {
                case "in":
                    if (Next() is not { } dev) return Fail(EndCol, "expected an interface name after \"in\"");
                    string? port = null;
                    if (k < toks.Count && toks[k].Text == "port")
                    {
                        k++;
                        if (Next() is not { } pt) return Fail(EndCol, "expected a bridge port name after \"port\"");
                        port = pt.Text;
                    }
                    o = new HostPacketOrigin.Wire(dev.Text, port);
                    break;
                case "local":
                    o = new HostPacketOrigin.Local();
                    break;
                case "flags":
                    if (Next() is not { } f) return Fail(EndCol, "expected TCP flags after \"flags\"");
                    if (proto != IpProtocol.Tcp) return Fail(t.Col, "flags are for tcp only");
                    TcpFlags flags = 0;
                    foreach (var c in f.Text)
                    {
                        var bit = char.ToUpperInvariant(c) switch
                        {
                            'S' => TcpFlags.Syn, 'A' => TcpFlags.Ack, 'F' => TcpFlags.Fin, 'R' => TcpFlags.Rst,
                            'P' => TcpFlags.Psh, 'U' => TcpFlags.Urg, 'E' => TcpFlags.Ece, 'C' => TcpFlags.Cwr, _ => TcpFlags.None,
                        };
                        if (bit == TcpFlags.None) return Fail(f.Col, $"unknown TCP flag letter '{c}' (use S A F R P U E C)");
                        flags |= bit;
                    }
                    p = p with { Flags = flags };
                    break;
                case "ttl" or "len" or "mark" or "type" or "code" or "id":
                    if (Next() is not { } v) return Fail(EndCol, $"expected a number after \"{t.Text}\"");
                    if (!Number(v.Text, out var n)) return Fail(v.Col, $"\"{v.Text}\" is not a number");
                    uint max = t.Text switch { "ttl" or "type" or "code" => 255, "len" or "id" => 65535, _ => uint.MaxValue };
                    if (n > max) return Fail(v.Col, $"{t.Text} {v.Text} is out of range (at most {max})");
                    if (t.Text is "type" or "code" or "id" && proto != IpProtocol.Icmp) return Fail(t.Col, $"{t.Text} is for icmp only");
                    p = t.Text switch
                    {
                        "ttl" => p with { Ttl = (byte)n },
                        "len" => p with { Length = (ushort)n },
                        "mark" => p with { Mark = n },
                        "type" => p with { IcmpType = (byte)n },
                        "code" => p with { IcmpCode = (byte)n },
                        _ => p with { SrcPort = (ushort)n },
                    };
                    if (t.Text == "len") lenSet = true;
                    break;
                default:
                    return Fail(t.Col, $"unexpected \"{t.Text}\"");
            }
        }
        if (o is null) return Fail(EndCol, "say where the packet comes from: \"in IFACE\" or \"local\"");
        if (!lenSet) p = p with { Length = (ushort)(20 + (proto switch { IpProtocol.Tcp => 20, IpProtocol.Udp or IpProtocol.Icmp => 8, _ => 0 })) };
        packet = p;
        origin = o;
        return null;
    }

    static bool Number(string s, out uint n) =>
        s.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? uint.TryParse(s.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out n)
            : uint.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out n);

    static bool Endpoint((string Text, int Col) tok, out Ip4 ip, out ushort? port, out string? why)
    {
        port = null;
        why = null;
        var s = tok.Text;
        int c = s.IndexOf(':');
        var addr = c < 0 ? s : s[..c];
        if (!Ip4.TryParse(addr, out ip)) { why = $"\"{addr}\" is not an IPv4 address"; return false; }
        if (c >= 0)
        {
            if (!ushort.TryParse(s.AsSpan(c + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var pt))
            {
                why = $"\"{s[(c + 1)..]}\" is not a port (0-65535)";
                return false;
            }
            port = pt;
        }
        return true;
    }
}
