using System.CommandLine;
using PacketLife.Core.Cluster;
using PacketLife.Core.KubeProxy;
using PacketLife.Manifests;

namespace PacketLife.App.Cli;

/// <summary>`packetlife iptables-save [--node NAME] [-t TABLE]`: the twin's node prints what iptables-save prints
/// on the real node: kube-proxy's rules (AKS kubenet profile) for the cluster state as it is now, so a Service
/// created with `packetlife kubectl` shows up at once.</summary>
public sealed class IptablesSaveCommands : ICommandGroup
{
    public int Order => 41;

    public IEnumerable<Command> Commands()
    {
        var node = new Option<string?>("--node") { Description = "The node (default: the first node of the cluster)" };
        var table = new Option<string?>("--table", "-t") { Description = "Only this table" };
        table.AcceptOnlyFromAmong("filter", "nat", "mangle");
        var cluster = new Option<string?>("--cluster") { Description = "Cluster state file (default: $PACKETLIFE_CLUSTER or .packetlife/cluster.json; none: the seed's cluster)" };
        var cmd = new Command("iptables-save", "Print a node's iptables rules as iptables-save does") { node, table, cluster };
        cmd.SetAction(pr =>
        {
            var stderr = pr.InvocationConfiguration.Error;
            ClusterState state;
            try
            {
                state = ClusterSession.Read(pr.GetValue(cluster)); // the same file and default as the kubectl verbs
            }
            catch (CliException e)
            {
                stderr.WriteLine(e.Message);
                return e.ExitCode;
            }
            var nodeName = pr.GetValue(node) ?? state.Nodes.FirstOrDefault()?.Metadata.Name;
            var n = nodeName is null ? null : state.FindNode(nodeName);
            if (n is null)
            {
                stderr.WriteLine($"Error from server (NotFound): nodes \"{nodeName}\" not found");
                return 1;
            }
            var result = SyncNode(state, n);
            pr.InvocationConfiguration.Output.Write(NodeIptablesView.AfterSync(result).Save(pr.GetValue(table)));
            return 0;
        });
        yield return cmd;
    }

    /// <summary>kube-proxy on a node of the twin: the AKS kubenet profile with the cluster's pod CIDR, the
    /// release line of the cluster's Kubernetes version, the node's InternalIP.</summary>
    public static KubeProxySyncResult SyncNode(ClusterState state, Node node)
    {
        return IptablesProxier.Sync(new KubeProxySyncInput
        {
            Services = state.Services,
            EndpointSlices = state.EndpointSlices,
            Nodes = state.Nodes,
            Hostname = node.Metadata.Name,
            Configuration = KubeProxyConfiguration.AksKubenet with { ClusterCIDR = state.Profile.PodCidr },
            Environment = new KubeProxyEnvironment { Version = KubeProxyCommands.ParseVersion(state.Profile.KubernetesVersion) },
        });
    }
}
