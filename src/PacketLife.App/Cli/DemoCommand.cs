using System.CommandLine;
using System.Text.RegularExpressions;

namespace PacketLife.App.Cli;

/// <summary>`packetlife demo`: the seed's day in one go on the embedded default cluster (issue 5 item 5): the pod
/// walkthrough, the deployment walkthrough, the trace of curl's first packet and its reply, and the conntrack lines the
/// connection and the LB's probes left. Every step is a real `packetlife` verb run against a private state file that is
/// deleted afterwards; the clock moves on as it did in the seed (seconds between commands).</summary>
public sealed partial class DemoCommand : ICommandGroup
{
    public int Order => 5;

    public IEnumerable<Command> Commands()
    {
        var seed = new Option<ulong>("--seed") { Description = "Seed of curl's client port and branches", DefaultValueFactory = _ => 7 };
        var full = new Option<bool>("--full") { Description = "Print the traces with every rule visited (default: the hops and the rules that acted)" };
        var cmd = new Command("demo", "The seed's day in the life of a packet, on the embedded AKS kubenet cluster") { seed, full };
        cmd.SetAction(pr =>
        {
            var stdout = pr.InvocationConfiguration.Output;
            var stderr = pr.InvocationConfiguration.Error;
            var dir = Path.Combine(Path.GetTempPath(), "packetlife-demo-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(dir);
            var state = Path.Combine(dir, "cluster.json");
            var s = pr.GetValue(seed);
            // The day runs on its own clock, moved on between commands as the seed's timestamps suggest.
            var clock = new DemoClock(ClusterSession.Clock.GetUtcNow());
            using var scope = ClusterSession.UseClock(clock);
            try
            {
                string Run(string line, bool show = true, Func<string, string>? filter = null)
                {
                    var args = line.Split(' ', StringSplitOptions.RemoveEmptyEntries).ToList();
                    var o = new StringWriter();
                    var e = new StringWriter();
                    var code = Program.Run([.. args, "--cluster", state], o, e);
                    var text = o.ToString() + e.ToString();
                    if (code != 0 && !line.StartsWith("curl", StringComparison.Ordinal)) throw new CliException($"demo: `packetlife {line}` failed ({code}): {e.ToString().Trim()}");
                    if (show)
                    {
                        stdout.Write("$ packetlife " + line + "\n");
                        stdout.Write(filter is null ? text : filter(text));
                        stdout.Write("\n");
                    }
                    return o.ToString();
                }
                Run("cluster init", show: false);
                stdout.Write("# kubenet (cni), external ingress to a pod without an ingress class/controller\n\n");
                Run("kubectl run --image=nginx nginx --port=80");
                Run("kubectl expose po nginx --type=LoadBalancer");
                clock.Advance(16);
                var svc = Run("kubectl get svc");
                Run("kubectl get ep");
                Run("kubectl get po -owide");
                Run("az network lb rule list -g mc_rg_aks_swedencentral --lb-name kubernetes -o table");
                Run("az network lb probe list -g mc_rg_aks_swedencentral --lb-name kubernetes -o table");
                var lbIp = LbIp(svc);
                Run("trace svc/nginx --all", filter: Brief);
                Run($"curl -Iv http://{lbIp}/ --seed {s}");

                stdout.Write("# kubenet (cni), external ingress to a deployment without an ingress class/controller\n\n");
                Run("kubectl delete po nginx");
                Run("kubectl delete svc nginx");
                Run("kubectl create deploy nginx --image=nginx --port=80 --replicas=2");
                Run("kubectl expose deploy nginx --type=LoadBalancer");
                clock.Advance(40);
                svc = Run("kubectl get svc");
                Run("kubectl get ep");
                Run("kubectl get po -owide");
                lbIp = LbIp(svc);
                var nodePort = NodePort(svc);
                Run("trace svc/nginx --all", filter: Brief);
                Run($"curl -Iv http://{lbIp}/ --seed {s}");
                Run($"trace svc/nginx --seed {s}", filter: pr.GetValue(full) ? null : Brief);
                clock.Advance(30);
                Run($"conntrack -L -p tcp --dport {nodePort} --node aks-nodepool1-33086427-vmss000000", filter: t => Tail(t, 4));
                Run($"conntrack -L -s 198.51.100.0/24");
                return 0;
            }
            catch (CliException e)
            {
                stderr.WriteLine(e.Message);
                return e.ExitCode;
            }
            finally
            {
                try { Directory.Delete(dir, true); } catch (IOException) { }
            }
        });
        yield return cmd;
    }

    sealed class DemoClock(DateTimeOffset start) : TimeProvider
    {
        DateTimeOffset _now = start;
        public override DateTimeOffset GetUtcNow() => _now;
        public void Advance(int seconds) => _now += TimeSpan.FromSeconds(seconds);
    }

    static string LbIp(string getSvc) =>
        LbIpRegex().Match(getSvc) is { Success: true } m ? m.Groups[1].Value : throw new CliException("demo: the Service got no load balancer IP");

    static string NodePort(string getSvc) =>
        NodePortRegex().Match(getSvc) is { Success: true } m ? m.Groups[1].Value : throw new CliException("demo: the Service got no NodePort");

    /// <summary>The trace without the rules that only passed the packet on (Policy/Return lines): hops, the rules that
    /// acted, NAT, routes, conntrack, dispositions and explanations.</summary>
    static string Brief(string trace) => string.Join('\n', trace.Split('\n').Where(l =>
        !Regex.IsMatch(l, @"^\s+\S+:\S+:\d+\s+(Policy|Return)\b") && !l.Contains("ttl ", StringComparison.Ordinal)));

    /// <summary>The last <paramref name="n"/> entry lines and the summary (the seed greps a few lines too).</summary>
    static string Tail(string text, int n)
    {
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var entries = lines.Where(l => !l.StartsWith("conntrack v", StringComparison.Ordinal)).ToList();
        var summary = lines.Where(l => l.StartsWith("conntrack v", StringComparison.Ordinal));
        return string.Join('\n', entries.Skip(Math.Max(0, entries.Count - n)).Concat(summary)) + "\n";
    }

    [GeneratedRegex(@"nginx\s+LoadBalancer\s+\S+\s+(\d+\.\d+\.\d+\.\d+)")]
    private static partial Regex LbIpRegex();

    [GeneratedRegex(@"nginx\s+LoadBalancer\s+\S+\s+\S+\s+\d+:(\d+)/TCP")]
    private static partial Regex NodePortRegex();
}
