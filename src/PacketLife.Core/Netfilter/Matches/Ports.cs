using System.Globalization;
using PacketLife.Core.Netfilter.Evaluation;

namespace PacketLife.Core.Netfilter.Matches;

/// <summary>Port and port-range parsing as libxtables does it (xtables_parse_port / xtables_parse_multi_ports):
/// decimal numbers or /etc/services names, ranges `a:b`, `:b` (from 0) and `a:` (to 65535).</summary>
public static class Ports
{
    // The /etc/services names kube-proxy, Docker and CNI dumps use; iptables-save always prints numbers.
    static readonly Dictionary<string, ushort> Services = new(StringComparer.Ordinal)
    {
        ["ftp"] = 21, ["ssh"] = 22, ["telnet"] = 23, ["smtp"] = 25, ["domain"] = 53, ["bootps"] = 67, ["bootpc"] = 68,
        ["http"] = 80, ["www"] = 80, ["kerberos"] = 88, ["pop3"] = 110, ["ntp"] = 123, ["imap"] = 143, ["snmp"] = 161,
        ["bgp"] = 179, ["ldap"] = 389, ["https"] = 443, ["submission"] = 587, ["ldaps"] = 636, ["imaps"] = 993,
        ["pop3s"] = 995, ["mysql"] = 3306, ["postgresql"] = 5432, ["domain-s"] = 853, ["nfs"] = 2049,
    };

    public static bool TryParsePort(string s, out ushort port)
    {
        if (s.Length > 0 && char.IsAsciiDigit(s[0]))
            return ushort.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out port);
        return Services.TryGetValue(s, out port);
    }

    /// <summary>`a`, `a:b`, `:b`, `a:`. A reversed range is refused (iptables: "invalid portrange (min &gt; max)").</summary>
    public static bool TryParseRange(string s, out PortRange range, char sep = ':')
    {
        range = default;
        int i = s.IndexOf(sep);
        if (i < 0)
        {
            if (!TryParsePort(s, out var p)) return false;
            range = new PortRange(p, p);
            return true;
        }
        ushort lo = 0, hi = 65535;
        if (i > 0 && !TryParsePort(s[..i], out lo)) return false;
        if (i < s.Length - 1 && !TryParsePort(s[(i + 1)..], out hi)) return false;
        if (lo > hi) return false;
        range = new PortRange(lo, hi);
        return true;
    }
}
