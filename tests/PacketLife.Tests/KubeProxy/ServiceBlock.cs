using System.Text.RegularExpressions;
using PacketLife.Core.KubeProxy;

namespace PacketLife.Tests.KubeProxy;

/// <summary>Extracts what a sync wrote beyond the fixed chains and rules (the per-service block), as
/// "filter: LINE" / "nat: LINE" in payload order, and expands the chain-name placeholders of expectations:
/// {SVC} {SVL} {EXT} {FW} of the case's service port and {SEP:ip:port}.</summary>
static partial class ServiceBlock
{
    static readonly HashSet<string> Fixed = new(StringComparer.Ordinal);

    public static string[] Of(KubeProxySyncResult r)
    {
        var lines = new List<string>();
        foreach (var table in new[] { "filter", "nat" })
            foreach (var l in K8s.Table(r.RestorePayload, table))
                if (!IsFixed(l)) lines.Add($"{table}: {l}");
        return lines.ToArray();
    }

    static bool IsFixed(string l) =>
        l is ":KUBE-SERVICES - [0:0]" or ":KUBE-EXTERNAL-SERVICES - [0:0]" or ":KUBE-FORWARD - [0:0]" or ":KUBE-NODEPORTS - [0:0]"
            or ":KUBE-PROXY-FIREWALL - [0:0]" or ":KUBE-FIREWALL - [0:0]" or ":KUBE-POSTROUTING - [0:0]" or ":KUBE-MARK-MASQ - [0:0]"
        || l.StartsWith("-A KUBE-FORWARD ", StringComparison.Ordinal) || l.StartsWith("-A KUBE-FIREWALL ", StringComparison.Ordinal)
        || l.StartsWith("-A KUBE-POSTROUTING ", StringComparison.Ordinal) || l.StartsWith("-A KUBE-MARK-MASQ ", StringComparison.Ordinal)
        || l.Contains("NOTE: this must be the last rule in this chain", StringComparison.Ordinal);

    public static string[] Expand(string svcPortName, string proto, IEnumerable<string> expected)
    {
        string h = ChainNames.PortProtoHash(svcPortName, proto);
        return expected.Select(e => SepRx().Replace(e, m => ChainNames.EndpointChain(svcPortName, proto, m.Groups[1].Value))
            .Replace("{SVC}", "KUBE-SVC-" + h).Replace("{SVL}", "KUBE-SVL-" + h)
            .Replace("{EXT}", "KUBE-EXT-" + h).Replace("{FW}", "KUBE-FW-" + h)).ToArray();
    }

    [GeneratedRegex(@"\{SEP:([^}]+)\}")]
    private static partial Regex SepRx();
}
