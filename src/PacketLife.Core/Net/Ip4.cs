using System.Diagnostics.CodeAnalysis;
using System.Net;

namespace PacketLife.Core.Net;

/// <summary>An IPv4 address held as a host-order 32-bit number, so that prefix tests and ranges
/// are integer operations on the hot path. Converts to and from <see cref="IPAddress"/> at the edges.</summary>
public readonly record struct Ip4(uint Value) : IComparable<Ip4>, ISpanFormattable
{
    public static readonly Ip4 Any = new(0);

    public static Ip4 Parse(string text) =>
        TryParse(text, out var ip) ? ip : throw new FormatException($"invalid IPv4 address \"{text}\"");

    /// <summary>Strict dotted-quad parse (four decimal octets 0..255). Leading zeros are accepted and read
    /// as decimal, as iptables and kube-proxy's sloppy parser do.</summary>
    public static bool TryParse(ReadOnlySpan<char> s, out Ip4 ip)
    {
        ip = default;
        uint value = 0;
        int octets = 0, i = 0;
        while (octets < 4)
        {
            int start = i, octet = 0;
            while (i < s.Length && s[i] >= '0' && s[i] <= '9' && i - start < 4)
            {
                octet = octet * 10 + (s[i] - '0');
                i++;
            }
            if (i == start || i - start > 3 || octet > 255) return false;
            value = (value << 8) | (uint)octet;
            octets++;
            if (octets < 4)
            {
                if (i >= s.Length || s[i] != '.') return false;
                i++;
            }
        }
        if (i != s.Length) return false;
        ip = new Ip4(value);
        return true;
    }

    public static Ip4 FromIPAddress(IPAddress address)
    {
        Span<byte> b = stackalloc byte[4];
        if (!address.TryWriteBytes(b, out var n) || n != 4) throw new ArgumentException("not an IPv4 address", nameof(address));
        return new Ip4((uint)(b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3]));
    }

    public IPAddress ToIPAddress() => new([(byte)(Value >> 24), (byte)(Value >> 16), (byte)(Value >> 8), (byte)Value]);

    public byte this[int octet] => (byte)(Value >> (8 * (3 - octet)));

    public Ip4 Add(long delta) => new((uint)(Value + delta));

    public bool IsLoopback => (Value >> 24) == 127;

    public int CompareTo(Ip4 other) => Value.CompareTo(other.Value);

    public override string ToString() => $"{Value >> 24}.{(Value >> 16) & 255}.{(Value >> 8) & 255}.{Value & 255}";

    /// <summary>The dotted quad written straight into a buffer: interpolated strings and string builders that hold
    /// addresses (packets, conntrack tuples, trace text) then make no string per address. No format applies.</summary>
    public bool TryFormat(Span<char> destination, out int charsWritten, ReadOnlySpan<char> format, IFormatProvider? provider) =>
        destination.TryWrite(System.Globalization.CultureInfo.InvariantCulture, $"{Value >> 24}.{(Value >> 16) & 255}.{(Value >> 8) & 255}.{Value & 255}", out charsWritten);

    string IFormattable.ToString(string? format, IFormatProvider? formatProvider) => ToString();

    public static bool operator <(Ip4 a, Ip4 b) => a.Value < b.Value;
    public static bool operator >(Ip4 a, Ip4 b) => a.Value > b.Value;
    public static bool operator <=(Ip4 a, Ip4 b) => a.Value <= b.Value;
    public static bool operator >=(Ip4 a, Ip4 b) => a.Value >= b.Value;
}

/// <summary>An IPv4 prefix (address/length). <see cref="Address"/> keeps the bits as written so that
/// iptables' and kube-proxy's printing can be reproduced; <see cref="Network"/> is the masked address.</summary>
public readonly record struct Ip4Prefix(Ip4 Address, int Length)
{
    public static readonly Ip4Prefix All = new(Ip4.Any, 0);

    public uint Mask => Length == 0 ? 0u : uint.MaxValue << (32 - Length);

    public Ip4 Network => new(Address.Value & Mask);

    public Ip4 Last => new((Address.Value & Mask) | ~Mask);

    public bool Contains(Ip4 ip) => ((ip.Value ^ Address.Value) & Mask) == 0;

    public bool Contains(Ip4Prefix other) => other.Length >= Length && Contains(other.Address);

    public static Ip4Prefix Host(Ip4 ip) => new(ip, 32);

    public static Ip4Prefix Parse(string text) =>
        TryParse(text, out var p) ? p : throw new FormatException($"invalid IPv4 prefix \"{text}\"");

    /// <summary>Accepts <c>a.b.c.d</c>, <c>a.b.c.d/len</c> and iptables' dotted mask form
    /// <c>a.b.c.d/255.255.0.0</c> (contiguous masks only).</summary>
    public static bool TryParse(ReadOnlySpan<char> s, out Ip4Prefix prefix)
    {
        prefix = default;
        int slash = s.IndexOf('/');
        if (slash < 0)
        {
            if (!Ip4.TryParse(s, out var host)) return false;
            prefix = new Ip4Prefix(host, 32);
            return true;
        }
        if (!Ip4.TryParse(s[..slash], out var ip)) return false;
        var rest = s[(slash + 1)..];
        if (rest.Length is > 0 and <= 3 && int.TryParse(rest, out var len) && len is >= 0 and <= 32 && rest[0] != '+' && rest[0] != '-')
        {
            prefix = new Ip4Prefix(ip, len);
            return true;
        }
        if (Ip4.TryParse(rest, out var mask))
        {
            uint m = mask.Value;
            int ones = System.Numerics.BitOperations.PopCount(m);
            uint expect = ones == 0 ? 0 : uint.MaxValue << (32 - ones);
            if (m != expect) return false;
            prefix = new Ip4Prefix(ip, ones);
            return true;
        }
        return false;
    }

    /// <summary>The canonical text: masked network and length (<c>10.0.0.0/8</c>).</summary>
    public override string ToString() => $"{Network}/{Length}";
}

/// <summary>An inclusive range of IPv4 addresses (iprange, NAT ranges).</summary>
public readonly record struct Ip4Range(Ip4 First, Ip4 Last)
{
    public bool Contains(Ip4 ip) => ip.Value >= First.Value && ip.Value <= Last.Value;
    public ulong Count => (ulong)Last.Value - First.Value + 1;
    public override string ToString() => First == Last ? First.ToString() : $"{First}-{Last}";

    public static bool TryParse(ReadOnlySpan<char> s, [NotNullWhen(true)] out Ip4Range? range)
    {
        range = null;
        int dash = s.IndexOf('-');
        if (dash < 0)
        {
            if (!Ip4.TryParse(s, out var one)) return false;
            range = new Ip4Range(one, one);
            return true;
        }
        if (!Ip4.TryParse(s[..dash], out var a) || !Ip4.TryParse(s[(dash + 1)..], out var b) || b < a) return false;
        range = new Ip4Range(a, b);
        return true;
    }
}
