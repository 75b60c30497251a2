using System.CommandLine;
using PacketLife.App.Rendering;
using PacketLife.Core.Conntrack;
using PacketLife.Core.Conntrack.Text;
using PacketLife.Core.Diagnostics;
using PacketLife.Core.Netfilter.Evaluation;
using PacketLife.Core.Netfilter.Text;
using PacketLife.Core.Routing;
using PacketLife.Core.Tracing.Host;

namespace PacketLife.App.Cli;

/// <summary>`packetlife iptables trace --rules FILE [--conntrack FILE] [--ipset FILE] [--host FILE [--host-routes FILE]]
/// --packet "tcp 198.51.100.7:53108 -> 20.240.25.37:80 in eth0" [--all | --seed N] [-o text|json]`: walks one packet
/// through one host (<see cref="HostWalker"/>). `--all` (the default) lists every outcome with its probability and
/// changes nothing; `--seed N` follows one branch drawn from a Random seeded with N. Without `--host` the host is
/// <see cref="DefaultHost"/>. Bad input: one line `file:line:col: ...` (with a hint) on stderr, exit 2.</summary>
public static class IptablesTraceCommand
{
    /// <summary>The host used without `--host`: one interface (the packet's input interface, or eth0) with
    /// 192.0.2.1/24 and a default route via 192.0.2.254, ip_forward=1, rp_filter=0.</summary>
    public static string DefaultHost(string iface) => $"""
        host node
        sysctl net.ipv4.ip_forward = 1
        interface {iface} ethernet
        address 192.0.2.1/24
        route default via 192.0.2.254 dev {iface}
        """;

    public static Command Build()
    {
        var rules = new Option<string>("--rules") { Description = "iptables-save output of the host", Required = true };
        var conntrack = new Option<string?>("--conntrack") { Description = "`conntrack -L` output: the starting conntrack table" };
        var ipset = new Option<string?>("--ipset") { Description = "`ipset save` output, for -m set rules" };
        var host = new Option<string?>("--host") { Description = "the host: a PacketLife host file, or `ip -j addr` JSON (default: one interface, 192.0.2.1/24, default via 192.0.2.254, ip_forward=1)" };
        var hostRoutes = new Option<string?>("--host-routes") { Description = "`ip -j route show table all` JSON, with an `ip -j addr` --host" };
        var packet = new Option<string>("--packet") { Description = "the packet: " + HostTraceMessages.PacketGrammar, Required = true };
        var all = new Option<bool>("--all") { Description = "every outcome with its exact probability (the default); nothing is changed" };
        var seed = new Option<int?>("--seed") { Description = "follow one random branch, drawn with this seed (reproducible)" };
        var output = new Option<string>("--output", "-o") { Description = "text or json", DefaultValueFactory = _ => "text" };
        output.AcceptOnlyFromAmong("text", "json");
        var cmd = new Command("trace", "Walk one packet through one host's iptables rules, conntrack, NAT and routing, as the kernel does.")
            { rules, conntrack, ipset, host, hostRoutes, packet, all, seed, output };
        cmd.SetAction(pr =>
        {
            var stdout = pr.InvocationConfiguration.Output;
            var stderr = pr.InvocationConfiguration.Error;
            try
            {
                if (pr.GetValue(all) && pr.GetValue(seed) is not null) throw new CliException("error: --all and --seed exclude each other", 2);
                return Run(pr.GetValue(rules)!, pr.GetValue(conntrack), pr.GetValue(ipset), pr.GetValue(host), pr.GetValue(hostRoutes),
                    pr.GetValue(packet)!, pr.GetValue(seed), pr.GetValue(output) == "json", stdout, stderr);
            }
            catch (CliException e)
            {
                stderr.WriteLine(e.Message);
                return e.ExitCode;
            }
        });
        return cmd;
    }

    static int Run(string rulesPath, string? conntrackPath, string? ipsetPath, string? hostPath, string? routesPath, string packetText,
        int? seed, bool json, TextWriter stdout, TextWriter stderr)
    {
        if (!PacketSpec.TryParse(packetText, "--packet", out var packet, out var origin, out var bad))
            throw new CliException(bad!.ToString(), 2);

        var diags = new List<Diagnostic>();
        var parsed = IptablesCheckCommand.ReadRules(rulesPath);
        diags.AddRange(parsed.Diagnostics);
        if (parsed.HasErrors) return Fail(diags, stderr);

        Host? h;
        if (hostPath is null)
        {
            var iface = origin is HostPacketOrigin.Wire w ? w.Interface : "eth0";
            h = HostFile.Read(DefaultHost(iface), "(default host)").Host;
        }
        else
        {
            var text = System.Text.Encoding.UTF8.GetString(ReadFile(hostPath));
            var read = text.TrimStart().StartsWith('[')
                ? IpJson.ReadHost(text, routesPath is null ? null : System.Text.Encoding.UTF8.GetString(ReadFile(routesPath)), hostPath)
                : HostFile.Read(text, hostPath);
            diags.AddRange(read.Diagnostics);
            if (read.HasErrors) return Fail(diags, stderr);
            h = read.Host;
        }

        var sets = new IpSetCollection();
        if (ipsetPath is not null)
        {
            var (s, setDiags) = IpSetCollection.Read(System.Text.Encoding.UTF8.GetString(ReadFile(ipsetPath)), ipsetPath);
            diags.AddRange(setDiags);
            if (setDiags.Any(d => d.Severity == Severity.Error)) return Fail(diags, stderr);
            sets = s;
        }
        var state = new NetfilterState { IpSets = sets };
        var table = new ConntrackTable(state.Clock, h!.Conntrack);
        if (conntrackPath is not null)
        {
            var ct = ConntrackText.Read(System.Text.Encoding.UTF8.GetString(ReadFile(conntrackPath)), conntrackPath);
            diags.AddRange(ct.Diagnostics);
            if (ct.HasErrors) return Fail(diags, stderr);
            var load = ct.LoadInto(table, conntrackPath);
            diags.AddRange(load);
            if (load.Any(d => d.Severity == Severity.Error)) return Fail(diags, stderr);
        }
        var runtime = new HostRuntime(h, parsed.RuleSet, state, table);
        var walker = new HostWalker(runtime);
        var outcomes = seed is { } n
            ? [walker.Sample(packet, origin, new Random(n))]
            : walker.Explain(packet, origin);
        if (json) HostTraceRender.Json(stdout, packet, origin, outcomes, diags, runtime, seed);
        else
        {
            foreach (var d in diags) stderr.WriteLine(d.ToString());
            HostTraceRender.Text(stdout, packet, origin, outcomes, runtime, seed);
        }
        return 0;
    }

    static int Fail(List<Diagnostic> diags, TextWriter stderr)
    {
        foreach (var d in diags) stderr.WriteLine(d.ToString());
        return 2;
    }

    static byte[] ReadFile(string path) => IptablesCheckCommand.ReadFile(path);
}
