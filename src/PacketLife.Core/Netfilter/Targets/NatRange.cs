using System.Text;
using PacketLife.Core.Net;
using PacketLife.Core.Netfilter.Evaluation;
using PacketLife.Core.Netfilter.Matches;

namespace PacketLife.Core.Netfilter.Targets;

/// <summary>A NAT target's `[ipaddr[-ipaddr]][:port[-port]]` (iptables-extensions(8) DNAT/SNAT), printed back the
/// same way (libxt_DNAT.c print_range).</summary>
public readonly record struct NatRange(Ip4Range? Addresses, PortRange? Ports)
{
    public static bool TryParse(string s, out NatRange range, out string? error)
    {
        range = default;
        error = null;
        string ip = s, port = "";
        int colon = s.IndexOf(':');
        if (colon >= 0) { ip = s[..colon]; port = s[(colon + 1)..]; }
        Ip4Range? addrs = null;
        if (ip.Length > 0)
        {
            if (!Ip4Range.TryParse(ip, out var r)) { error = $"Bad IP address \"{ip}\""; return false; }
            addrs = r;
        }
        PortRange? ports = null;
        if (colon >= 0)
        {
            if (!Matches.Ports.TryParseRange(port, out var pr, '-') || port.Length == 0) { error = $"Port \"{port}\" not valid"; return false; }
            ports = pr;
        }
        if (addrs is null && ports is null) { error = $"Bad IP address \"{s}\""; return false; }
        range = new NatRange(addrs, ports);
        return true;
    }

    public override string ToString()
    {
        var sb = new StringBuilder();
        if (Addresses is { } a) sb.Append(a.First.ToString()).Append(a.First == a.Last ? "" : "-" + a.Last);
        if (Ports is { } p) sb.Append(':').Append(p.ToNatString());
        return sb.ToString();
    }
}
