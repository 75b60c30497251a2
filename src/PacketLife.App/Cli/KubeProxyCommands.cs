using System.CommandLine;
using PacketLife.Core.Cluster;
using PacketLife.Core.Diagnostics;
using PacketLife.Core.KubeProxy;
using PacketLife.Manifests;

namespace PacketLife.App.Cli;

/// <summary>`packetlife kube-proxy sync`: what kube-proxy (iptables mode) programs on one node for the given
/// Services and EndpointSlices: the restore payload (`--format restore`, default) or the node's
/// `iptables-save` afterwards (`--format save`). Diagnostics go to stderr; bad objects are skipped as kube-proxy
/// skips them, and the exit code is 1 when any error was reported.</summary>
public sealed class KubeProxyCommands : ICommandGroup
{
    public int Order => 40;

    public IEnumerable<Command> Commands()
    {
        var objects = new Option<string[]>("--objects") { Description = "Kubernetes YAML/JSON files (Services, EndpointSlices, optionally Nodes)", Required = true, AllowMultipleArgumentsPerToken = true };
        var config = new Option<string?>("--config") { Description = "KubeProxyConfiguration file (kubeproxy.config.k8s.io/v1alpha1); default: the AKS kubenet profile" };
        var hostname = new Option<string>("--hostname") { Description = "The node kube-proxy runs on", Required = true };
        var nodeIp = new Option<string[]>("--node-ip") { Description = "The node's IP address(es); default: the Node object's InternalIP", AllowMultipleArgumentsPerToken = true };
        var format = new Option<string>("--format") { Description = "restore: the iptables-restore payload; save: the node's iptables-save afterwards", DefaultValueFactory = _ => "restore" };
        format.AcceptOnlyFromAmong("restore", "save");
        var sorted = new Option<bool>("--sorted") { Description = "Normalise as kube-proxy's unit tests do (sortIPTablesRules)" };
        var family = new Option<string>("--ip-family") { Description = "The proxier's IP family", DefaultValueFactory = _ => "ipv4" };
        family.AcceptOnlyFromAmong("ipv4", "ipv6");
        var version = new Option<string>("--kube-proxy-version") { Description = "kube-proxy release line (output differs at 1.29, 1.30, 1.31)", DefaultValueFactory = _ => "1.30" };
        version.AcceptOnlyFromAmong("1.28", "1.29", "1.30", "1.31", "1.32", "1.33", "1.34");
        var nfacct = new Option<bool>("--nfacct") { Description = "Model a node where kube-proxy could create its nfacct counters (1.30+)" };
        var existing = new Option<string?>("--existing") { Description = "The node's iptables-save before the sync: stale KUBE-SVC/SVL/EXT/FW/SEP chains are flushed and deleted, and --format save applies on top of it" };

        var sync = new Command("sync", "Print the rules kube-proxy (iptables mode) programs on a node")
            { objects, config, hostname, nodeIp, format, sorted, family, version, nfacct, existing };
        sync.SetAction(pr =>
        {
            var stdout = pr.InvocationConfiguration.Output;
            var stderr = pr.InvocationConfiguration.Error;
            var paths = pr.GetValue(objects)!;
            // A file that is not there is a usage error (kubectl's wording), not a bad object: nothing is printed.
            foreach (var path in paths.Concat(pr.GetValue(config) is { } c0 ? [c0] : []).Concat(pr.GetValue(existing) is { } e0 ? [e0] : []))
                if (!File.Exists(path))
                {
                    stderr.WriteLine($"error: the path \"{path}\" does not exist");
                    return 1;
                }
            var read = ManifestReader.ReadFiles(paths);
            var diags = new List<Diagnostic>(read.Diagnostics);
            var cfg = KubeProxyConfiguration.AksKubenet;
            var cfgAt = new SourceLocation("KubeProxyConfiguration (AKS kubenet profile)", 0, 0);
            if (pr.GetValue(config) is { } cfgPath)
            {
                if (!File.Exists(cfgPath))
                {
                    stderr.WriteLine($"error: the path \"{cfgPath}\" does not exist");
                    return 1;
                }
                var (c, cd) = KubeProxyConfigReader.ReadFile(cfgPath);
                cfg = c;
                cfgAt = new SourceLocation(cfgPath, 0, 0);
                diags.AddRange(cd);
            }
            string? existingSave = null;
            if (pr.GetValue(existing) is { } existingPath)
            {
                if (!File.Exists(existingPath))
                {
                    stderr.WriteLine($"error: the path \"{existingPath}\" does not exist");
                    return 1;
                }
                existingSave = File.ReadAllText(existingPath);
            }
            var env = new KubeProxyEnvironment { Version = ParseVersion(pr.GetValue(version)!), NfacctCountersAvailable = pr.GetValue(nfacct) };
            var result = IptablesProxier.Sync(new KubeProxySyncInput
            {
                Services = read.Objects.OfType<Service>().ToList(),
                EndpointSlices = read.Objects.OfType<EndpointSlice>().ToList(),
                Nodes = read.Objects.OfType<Node>().ToList(),
                Hostname = pr.GetValue(hostname)!,
                NodeIPs = pr.GetValue(nodeIp) ?? [],
                Configuration = cfg,
                ConfigurationLocation = cfgAt,
                Environment = env,
                Family = pr.GetValue(family) == "ipv6" ? IpFamily.IPv6 : IpFamily.IPv4,
                ExistingNatChains = existingSave is null ? [] : NodeIptablesView.NatChains(existingSave),
            });
            diags.AddRange(result.Diagnostics);
            stdout.Write(Render(result, pr.GetValue(format) == "save", pr.GetValue(sorted), null, existingSave));
            foreach (var d in diags) stderr.WriteLine(d.ToString());
            return diags.Any(d => d.Severity == Severity.Error) ? 1 : 0;
        });
        var group = new Command("kube-proxy", "kube-proxy's iptables mode: the rules it writes for Services and EndpointSlices") { sync };
        yield return group;
    }

    /// <summary>"1.30" or "v1.30.6" → the release line whose output it has (≤1.28 as 1.28, ≥1.31 as 1.31).</summary>
    internal static KubeProxyVersion ParseVersion(string v)
    {
        var parts = v.TrimStart('v').Split('.');
        int minor = parts.Length >= 2 && int.TryParse(parts[1], out var m) ? m : 30;
        return minor switch
        {
            <= 28 => KubeProxyVersion.V1_28,
            29 => KubeProxyVersion.V1_29,
            30 => KubeProxyVersion.V1_30,
            _ => KubeProxyVersion.V1_31,
        };
    }

    /// <summary>The payload, or the node's iptables-save; `sorted` first normalises the payload (facts §6).</summary>
    internal static string Render(KubeProxySyncResult result, bool save, bool sorted, string? table, string? existingSave = null)
    {
        var payload = sorted ? RestoreSorter.Sort(result.RestorePayload) : result.RestorePayload;
        if (!save) return payload;
        return NodeIptablesView.AfterSync(result with { RestorePayload = payload }, existingSave).Save(table);
    }
}
