using System.CommandLine;
using PacketLife.App.Rendering;
using PacketLife.Core.Net;
using PacketLife.Core.Topology;
using PacketLife.Core.Tracing.Cluster;

namespace PacketLife.App.Cli;

/// <summary>`packetlife trace [--from SRC] TO [-p tcp|udp] [--all | --seed N] [-o text|json]`: a packet's whole path
/// through the cluster twin (issue 5 item 2). Bad input: one line on stderr, exit 2.</summary>
public sealed class TraceCommand : ICommandGroup
{
    public int Order => 50;

    public IEnumerable<Command> Commands()
    {
        var to = new Argument<string>("TO") { Description = "IP:PORT, svc/NAME[:PORT] (LB IP from the internet, ClusterIP from inside) or pod/NAME[:PORT]" };
        var from = new Option<string?>("--from") { Description = "internet (default; a client in 198.51.100.0/24), probe, a node name, pod/NAME or an IP" };
        var proto = new Option<string>("--protocol", "-p") { Description = "tcp or udp", DefaultValueFactory = _ => "tcp" };
        var all = new Option<bool>("--all") { Description = "Every path with its exact probability (default)" };
        var seed = new Option<ulong?>("--seed") { Description = "Follow one path: the LB's flow hash and a seeded draw at statistic rules" };
        var output = new Option<string>("--output", "-o") { Description = "text or json", DefaultValueFactory = _ => "text" };
        var ns = new Option<string>("--namespace", "-n") { Description = "Namespace of svc/ and pod/ names", DefaultValueFactory = _ => "default" };
        var sport = new Option<ushort>("--sport") { Description = "Client source port (default: from the seed)" };
        var live = new Option<bool>("--live") { Description = "Start from the nodes' conntrack entries (what curl and the probes left) instead of empty tables" };
        var cluster = new Option<string?>("--cluster") { Description = "Cluster state file (default: $PACKETLIFE_CLUSTER or .packetlife/cluster.json; none: the seed's cluster)" };
        var nodeRules = new Option<string[]>("--node-rules")
        {
            Description = "NODE=FILE: that node runs the rules of FILE (its real iptables-save output) instead of the generated ones (repeatable)",
            AllowMultipleArgumentsPerToken = false,
        };
        var cmd = new Command("trace", "Follow a packet through the cluster: LB, nodes, rules, routes, conntrack, pod, and the reply")
            { to, from, proto, all, seed, output, ns, sport, live, cluster, nodeRules };
        cmd.SetAction(pr =>
        {
            var stdout = pr.InvocationConfiguration.Output;
            var stderr = pr.InvocationConfiguration.Error;
            try
            {
                var p = pr.GetValue(proto)!.ToLowerInvariant();
                if (p is not ("tcp" or "udp")) throw new CliException($"error: unknown protocol \"{p}\": use tcp or udp", 2);
                var o = pr.GetValue(output)!;
                if (o is not ("text" or "json")) throw new CliException($"error: unknown output format \"{o}\": use text or json", 2);
                if (pr.GetValue(all) && pr.GetValue(seed) is not null) throw new CliException("error: --all and --seed exclude each other: --all lists every path, --seed follows one", 2);
                var session = TwinSession.Open(pr.GetValue(cluster), persist: pr.GetValue(live), runProbes: pr.GetValue(live),
                    NodeRuleSpecs(pr.GetValue(nodeRules) ?? []), file => ReadNodeDump(file, stderr));
                var topo = session.Topology;
                var s = pr.GetValue(seed);
                var ip = p == "udp" ? IpProtocol.Udp : IpProtocol.Tcp;
                var (resolved, error) = TraceTargets.Resolve(topo, pr.GetValue(from), pr.GetValue(to)!, ip, pr.GetValue(ns)!, s ?? 1);
                if (resolved is null) throw new CliException(error!, 2);
                var tracer = session.Tracer;
                tracer.StartFromLiveConntrack = pr.GetValue(live);
                var trace = s is { } sv ? tracer.Sample(resolved.From, resolved.To, ip, sv, sourcePort: pr.GetValue(sport))
                    : tracer.Explain(resolved.From, resolved.To, ip, pr.GetValue(sport));
                Timings.Mark(s is null ? "explain" : "sample");
                if (o == "json") stdout.Write(TraceText.Json(trace));
                else TraceText.Render(trace, stdout);
                stdout.Flush();
                Timings.Mark("output");
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

    /// <summary>The `NODE=FILE` pairs of --node-rules, each node once.</summary>
    static List<(string Node, string File)> NodeRuleSpecs(string[] specs)
    {
        var list = new List<(string Node, string File)>();
        foreach (var spec in specs)
        {
            var eq = spec.IndexOf('=');
            if (eq <= 0 || eq == spec.Length - 1)
                throw new CliException($"error: --node-rules \"{spec}\": expected NODE=FILE, e.g. aks-nodepool1-33086427-vmss000000=node0.rules", 2);
            var (node, file) = (spec[..eq], spec[(eq + 1)..]);
            if (list.Any(l => l.Node == node)) throw new CliException($"error: --node-rules names node \"{node}\" twice", 2);
            list.Add((node, file));
        }
        return list;
    }

    /// <summary>Reads a node's dump. Every diagnostic is printed (file:line:column); an error ends the command with
    /// exit 2, warnings (a module the engine does not model) let the trace run, marked uncertain where it meets them.</summary>
    static NodeDump ReadNodeDump(string file, TextWriter stderr)
    {
        var bytes = IptablesCheckCommand.ReadFile(file);
        var parsed = Core.Netfilter.Text.IptablesSaveReader.Read(bytes, file);
        foreach (var d in parsed.Diagnostics) stderr.WriteLine(d.ToString());
        var errors = parsed.Diagnostics.Count(d => d.Severity == Core.Diagnostics.Severity.Error);
        if (errors > 0) throw new CliException($"error: {file}: {errors} error{(errors == 1 ? "" : "s")} (above); check it with `packetlife iptables check {file}`", 2);
        return new NodeDump(System.Text.Encoding.UTF8.GetString(bytes), parsed);
    }
}
