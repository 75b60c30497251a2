namespace PacketLife.Core.Net;

/// <summary>IP protocol numbers (IANA), with the names iptables and /etc/protocols use.</summary>
public enum IpProtocol : byte
{
    Icmp = 1,
    Igmp = 2,
    Tcp = 6,
    Udp = 17,
    Gre = 47,
    Esp = 50,
    Ah = 51,
    Sctp = 132,
    Udplite = 136,
}

public static class IpProtocols
{
    /// <summary>Lower-case protocol name as iptables-save prints it (`tcp`), or the number for others.</summary>
    public static string Name(IpProtocol p) => p switch
    {
        IpProtocol.Icmp => "icmp",
        IpProtocol.Igmp => "igmp",
        IpProtocol.Tcp => "tcp",
        IpProtocol.Udp => "udp",
        IpProtocol.Gre => "gre",
        IpProtocol.Esp => "esp",
        IpProtocol.Ah => "ah",
        IpProtocol.Sctp => "sctp",
        IpProtocol.Udplite => "udplite",
        _ => ((byte)p).ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    /// <summary>Reads a protocol name (case-insensitive) or number. `all` and `0` are not protocols: callers
    /// handle them.</summary>
    public static bool TryParse(string text, out IpProtocol protocol)
    {
        protocol = default;
        switch (text.ToLowerInvariant())
        {
            case "icmp": protocol = IpProtocol.Icmp; return true;
            case "igmp": protocol = IpProtocol.Igmp; return true;
            case "tcp": protocol = IpProtocol.Tcp; return true;
            case "udp": protocol = IpProtocol.Udp; return true;
            case "gre": protocol = IpProtocol.Gre; return true;
            case "esp": protocol = IpProtocol.Esp; return true;
            case "ah": protocol = IpProtocol.Ah; return true;
            case "sctp": protocol = IpProtocol.Sctp; return true;
            case "udplite": protocol = IpProtocol.Udplite; return true;
        }
        if (byte.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) && n != 0)
        {
            protocol = (IpProtocol)n;
            return true;
        }
        return false;
    }

    /// <summary>Protocols whose header starts with 16-bit source and destination ports.</summary>
    public static bool HasPorts(IpProtocol p) => p is IpProtocol.Tcp or IpProtocol.Udp or IpProtocol.Sctp or IpProtocol.Udplite;
}
