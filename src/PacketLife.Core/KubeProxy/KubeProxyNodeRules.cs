using PacketLife.Core.Netfilter;
using PacketLife.Core.Netfilter.Text;

namespace PacketLife.Core.KubeProxy;

/// <summary>The rules the netfilter engine runs for a node are the parse of exactly the text the node prints
/// (issue 4 item 4): the `iptables-save` view of the sync, read back with <see cref="IptablesSaveReader"/>.</summary>
public static class KubeProxyNodeRules
{
    /// <param name="source">Names the text in diagnostics and rule locations, e.g. "node/aks-nodepool1-...-vmss000000".</param>
    public static (string SaveText, NetfilterParseResult Parsed) Build(KubeProxySyncResult sync, string source, string? onlyTable = null)
    {
        var text = NodeIptablesView.AfterSync(sync).Save(onlyTable);
        return (text, IptablesSaveReader.Read(text, source));
    }
}
