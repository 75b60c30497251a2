using System.Net;
using System.Net.Sockets;
using PacketLife.Core.Net;

namespace PacketLife.Core.KubeProxy;

/// <summary>kube-proxy runs one proxier per IP family; each writes its own payload (iptables / ip6tables).</summary>
public enum IpFamily { IPv4, IPv6 }

/// <summary>IP and CIDR text as kube-proxy handles it: parsed "sloppily" (IPv4 octets with leading zeros are
/// decimal, k8s.io/utils/net ParseIPSloppy) and re-printed canonically (Go's net.IP.String / IPNet.String,
/// which masks the address). Which family a string belongs to is decided by its syntax, as
/// utilnet.IsIPv6String does.</summary>
public static class KubeIp
{
    public static bool IsIPv6Text(string s) => s.Contains(':');

    public static IpFamily? FamilyOf(string s) => TryCanonicalIp(s, out _, out var f) ? f : null;

    public static bool TryCanonicalIp(string text, out string canonical, out IpFamily family)
    {
        canonical = "";
        family = IpFamily.IPv4;
        if (string.IsNullOrEmpty(text)) return false;
        if (!IsIPv6Text(text))
        {
            if (!Ip4.TryParse(text, out var ip)) return false;
            // Most addresses arrive canonical: keep the string rather than print an equal one.
            Span<char> printed = stackalloc char[15];
            int n = 0;
            for (int o = 3; o >= 0; o--)
            {
                ((ip.Value >> (8 * o)) & 255).TryFormat(printed[n..], out int w, default, System.Globalization.CultureInfo.InvariantCulture);
                n += w;
                if (o > 0) printed[n++] = '.';
            }
            canonical = printed[..n].SequenceEqual(text) ? text : ip.ToString();
            return true;
        }
        if (!IPAddress.TryParse(text, out var a) || a.AddressFamily != AddressFamily.InterNetworkV6 || text.Contains('%')) return false;
        family = IpFamily.IPv6;
        canonical = a.IsIPv4MappedToIPv6 ? a.MapToIPv4().ToString() : a.ToString();
        if (a.IsIPv4MappedToIPv6) family = IpFamily.IPv4;
        return true;
    }

    /// <summary>A parsed CIDR: canonical text (network address / length) and a containment test.</summary>
    public sealed record Cidr(string Text, IpFamily Family, byte[] Network, int Length)
    {
        public bool Contains(string ip)
        {
            if (!TryCanonicalIp(ip, out var c, out var f) || f != Family) return false;
            var b = Bytes(c, f);
            return Masked(b, Length).AsSpan().SequenceEqual(Network);
        }
    }

    public static bool TryParseCidr(string text, out Cidr cidr)
    {
        cidr = null!;
        int slash = text.IndexOf('/');
        if (slash <= 0) return false;
        if (!TryCanonicalIp(text[..slash], out var ip, out var family)) return false;
        var lenText = text[(slash + 1)..];
        if (lenText.Length is 0 or > 3 || !lenText.All(char.IsAsciiDigit)) return false;
        int len = int.Parse(lenText, System.Globalization.CultureInfo.InvariantCulture);
        int max = family == IpFamily.IPv4 ? 32 : 128;
        if (len > max) return false;
        var net = Masked(Bytes(ip, family), len);
        var netText = new IPAddress(net).ToString();
        cidr = new Cidr($"{netText}/{len}", family, net, len);
        return true;
    }

    static byte[] Bytes(string canonical, IpFamily f) =>
        f == IpFamily.IPv4 ? Ip4.Parse(canonical).ToIPAddress().GetAddressBytes() : IPAddress.Parse(canonical).GetAddressBytes();

    static byte[] Masked(byte[] b, int len)
    {
        var r = (byte[])b.Clone();
        for (int i = 0; i < r.Length; i++)
        {
            int bits = Math.Clamp(len - 8 * i, 0, 8);
            r[i] &= (byte)(0xFF << (8 - bits));
        }
        return r;
    }
}
