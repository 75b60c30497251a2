using PacketLife.Core.Net;

namespace PacketLife.Core.Netfilter;

/// <summary>Protocol names as iptables reads and prints them: iptables-save prints getprotobynumber's name from
/// /etc/protocols (Debian netbase) and falls back to the number. Extends <see cref="IpProtocols"/> with the other
/// names real dumps carry (Calico's `-p ipencap`, VRRP, OSPF, ...).</summary>
public static class ProtocolNames
{
    static readonly (string Name, byte Number)[] Extra =
    [
        ("ipencap", 4), ("ipip", 4), ("st", 5), ("egp", 8), ("igp", 9), ("pup", 12), ("hmp", 20), ("xns-idp", 22), ("rdp", 27),
        ("iso-tp4", 29), ("dccp", 33), ("xtp", 36), ("ddp", 37), ("idpr-cmtp", 38), ("ipv6", 41), ("ipv6-route", 43),
        ("ipv6-frag", 44), ("idrp", 45), ("rsvp", 46), ("skip", 57), ("ipv6-icmp", 58), ("ipv6-nonxt", 59), ("ipv6-opts", 60),
        ("rspf", 73), ("vmtp", 81), ("eigrp", 88), ("ospf", 89), ("ax.25", 93), ("etherip", 97), ("encap", 98), ("pim", 103),
        ("ipcomp", 108), ("vrrp", 112), ("l2tp", 115), ("isis", 124), ("fc", 133), ("mobility-header", 135), ("mpls-in-ip", 137),
        ("manet", 138), ("hip", 139), ("shim6", 140), ("wesp", 141), ("rohc", 142), ("ethernet", 143),
    ];

    public static bool TryParse(string text, out IpProtocol p)
    {
        // Fast path for what nearly every rule says (IpProtocols.TryParse lower-cases first).
        switch (text)
        {
            case "tcp": p = IpProtocol.Tcp; return true;
            case "udp": p = IpProtocol.Udp; return true;
            case "icmp": p = IpProtocol.Icmp; return true;
            case "sctp": p = IpProtocol.Sctp; return true;
        }
        if (IpProtocols.TryParse(text, out p)) return true;
        foreach (var (n, num) in Extra)
            if (n.Equals(text, StringComparison.OrdinalIgnoreCase)) { p = (IpProtocol)num; return true; }
        return false;
    }

    public static string Name(IpProtocol p)
    {
        var n = IpProtocols.Name(p);
        if (!char.IsAsciiDigit(n[0])) return n;
        foreach (var (name, num) in Extra)
            if (num == (byte)p) return name;
        return n;
    }
}
