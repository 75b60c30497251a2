using System.CommandLine;
using PacketLife.Core.Conntrack;
using PacketLife.Core.Conntrack.Text;
using PacketLife.Core.Net;

namespace PacketLife.App.Cli;

/// <summary>`packetlife conntrack -L [--node NAME] [-s IP] [-d IP] [-p PROTO] [--sport N] [--dport N]`: a node's conntrack
/// table in the twin, as conntrack(8) lists it (the summary line on stderr), with what curl and the LB's probes left.</summary>
public sealed class ConntrackCommand : ICommandGroup
{
    public int Order => 52;

    public IEnumerable<Command> Commands()
    {
        var list = new Option<bool>("--dump", "-L") { Description = "List the connection tracking table" };
        var node = new Option<string?>("--node") { Description = "The node (default: every node, each after a `# node NAME` line)" };
        var src = new Option<string?>("--orig-src", "-s", "--src") { Description = "Original source address" };
        var dst = new Option<string?>("--orig-dst", "-d", "--dst") { Description = "Original destination address" };
        var proto = new Option<string?>("--proto", "-p") { Description = "tcp, udp or icmp" };
        var sport = new Option<ushort?>("--sport", "--orig-port-src") { Description = "Original source port" };
        var dport = new Option<ushort?>("--dport", "--orig-port-dst") { Description = "Original destination port" };
        var cluster = new Option<string?>("--cluster") { Description = "Cluster state file" };
        var cmd = new Command("conntrack", "The twin's conntrack tables, as conntrack -L prints them") { list, node, src, dst, proto, sport, dport, cluster };
        cmd.SetAction(pr =>
        {
            var stdout = pr.InvocationConfiguration.Output;
            var stderr = pr.InvocationConfiguration.Error;
            try
            {
                if (!pr.GetValue(list)) throw new CliException("error: only -L (list) is modelled: use packetlife conntrack -L", 2);
                var filter = new ConntrackFilter
                {
                    OrigSrc = Prefix(pr.GetValue(src), "-s"), OrigDst = Prefix(pr.GetValue(dst), "-d"),
                    Protocol = pr.GetValue(proto) switch
                    {
                        null => null, "tcp" => IpProtocol.Tcp, "udp" => IpProtocol.Udp, "icmp" => IpProtocol.Icmp,
                        var p => throw new CliException($"conntrack v{ConntrackText.Version} (conntrack-tools): unknown protocol \"{p}\": use tcp, udp or icmp", 2),
                    },
                    OrigSrcPort = pr.GetValue(sport), OrigDstPort = pr.GetValue(dport),
                };
                if ((filter.OrigSrcPort is not null || filter.OrigDstPort is not null) && filter.Protocol is null)
                    throw new CliException($"conntrack v{ConntrackText.Version} (conntrack-tools): missing protocol: --sport/--dport need -p tcp or -p udp", 2);
                var session = TwinSession.Open(pr.GetValue(cluster));
                var nodes = session.Topology.Nodes.ToList();
                if (pr.GetValue(node) is { } name)
                {
                    var n = session.Topology.NodeByName(name)
                        ?? throw new CliException($"error: unknown node \"{name}\": nodes are {string.Join(", ", nodes.Take(5).Select(x => x.Name))}", 2);
                    nodes = [n];
                }
                int count = 0;
                foreach (var n in nodes)
                {
                    if (nodes.Count > 1) stdout.Write($"# node {n.Name}\n");
                    var text = ConntrackText.WriteTable(n.Conntrack, filter);
                    count += text.Count(c => c == '\n');
                    stdout.Write(text);
                }
                stderr.WriteLine(ConntrackText.Summary(count));
                session.Save();
                return 0;
            }
            catch (CliException e)
            {
                stderr.WriteLine(e.Message);
                return e.ExitCode;
            }
        });
        yield return cmd;
    }

    static Ip4Prefix? Prefix(string? text, string flag)
    {
        if (text is null) return null;
        if (Ip4.TryParse(text, out var ip)) return Ip4Prefix.Host(ip);
        if (Ip4Prefix.TryParse(text, out var p)) return p;
        throw new CliException($"conntrack v{ConntrackText.Version} (conntrack-tools): Bad parameter `{flag} {text}': not an IPv4 address", 2);
    }
}
