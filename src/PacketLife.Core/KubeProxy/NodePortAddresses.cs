using PacketLife.Core.Diagnostics;

namespace PacketLife.Core.KubeProxy;

/// <summary>`nodePortAddresses` for one family (pkg/proxy/util/nodeport_addresses.go): the CIDRs of this family;
/// none, or a zero CIDR among them, means "match all local addresses". ContainsIPv4Loopback decides whether
/// localhost NodePorts can work at all.</summary>
public sealed record NodePortAddresses(IReadOnlyList<KubeIp.Cidr> Cidrs, bool MatchAll, bool ContainsIPv4Loopback)
{
    public bool Contains(string ip) => MatchAll || Cidrs.Any(c => c.Contains(ip));

    public static NodePortAddresses Parse(IReadOnlyList<string> entries, IpFamily family, SourceLocation at, List<Diagnostic> diags)
    {
        var cidrs = new List<KubeIp.Cidr>();
        foreach (var e in entries)
        {
            if (!KubeIp.TryParseCidr(e.Trim(), out var c))
            {
                diags.Add(KubeProxyMessages.InvalidConfig(at, "nodePortAddresses entry", e, "nothing for this entry",
                    "CIDRs such as 10.224.0.0/16 (the \"primary\" keyword is not modelled)"));
                continue;
            }
            if (c.Family == family) cidrs.Add(c);
        }
        if (cidrs.Count == 0 || cidrs.Any(c => c.Length == 0))
            return new NodePortAddresses([], true, family == IpFamily.IPv4);
        bool loop = family == IpFamily.IPv4 && cidrs.Any(c => c.Contains("127.0.0.1"));
        return new NodePortAddresses(cidrs, false, loop);
    }
}
