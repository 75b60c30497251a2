using System.CommandLine;
using System.Globalization;
using PacketLife.Core.Cluster;
using PacketLife.Core.Diagnostics;
using PacketLife.Core.Net;
using PacketLife.Manifests;

namespace PacketLife.App.Cli;

/// <summary>`packetlife cluster init|reset|import`: create, forget or fill the cluster state file.</summary>
public sealed class ClusterCommandGroup : ICommandGroup
{
    public int Order => 20;

    public IEnumerable<Command> Commands()
    {
        var clusterOpt = new Option<string?>("--cluster") { Description = "State file (default: $PACKETLIFE_CLUSTER, else .packetlife/cluster.json)", Recursive = true };
        var root = new Command("cluster", "Create, reset or import the cluster twin's state.");
        root.Options.Add(clusterOpt);

        var preset = new Option<string>("--preset") { Description = "Cluster preset", DefaultValueFactory = _ => "aks-kubenet" };
        var nodes = new Option<int>("--nodes") { Description = "Number of nodes", DefaultValueFactory = _ => 2 };
        var seed = new Option<ulong?>("--seed") { Description = "Seed for every random choice (UIDs, IPs, ports, names)" };
        var prefixes = new Option<string[]>("--public-ip-prefix") { Description = "CIDR(s) for LoadBalancer public IPs (repeatable)", AllowMultipleArgumentsPerToken = true };
        var force = new Option<bool>("--force") { Description = "Overwrite an existing state file" };
        var hairpin = new Option<string?>("--bridge-hairpin") { Description = "Node kernel: hairpin mode of the pods' bridge ports, on (kernel 5.15, the seed) or off (AKS's template on kernels >= 6.8)" };
        var scope = new Option<string?>("--cbr0-scope") { Description = "Node kernel: scope of cbr0's gateway address, link (MASQUERADE to a local pod uses the node IP, as the seed shows) or global (it uses the cbr0 address)" };
        var init = new Command("init", "Write a fresh cluster (the seed's AKS kubenet cluster by default) to the state file.") { preset, nodes, seed, prefixes, force, hairpin, scope };
        init.SetAction(pr => Guard(pr, () => Init(pr.GetValue(clusterOpt), pr.GetValue(preset)!, pr.GetValue(nodes), pr.GetValue(seed), pr.GetValue(prefixes), pr.GetValue(force), pr.GetValue(hairpin), pr.GetValue(scope), pr.InvocationConfiguration.Output)));
        root.Subcommands.Add(init);

        var reset = new Command("reset", "Remove the state file: the embedded default cluster applies again.");
        reset.SetAction(pr => Guard(pr, () =>
        {
            var path = ClusterSession.ResolvePath(pr.GetValue(clusterOpt));
            var existed = File.Exists(path);
            if (existed) File.Delete(path);
            pr.InvocationConfiguration.Output.WriteLine(existed ? $"cluster state {path} removed; the embedded default cluster applies" : $"no cluster state at {path}; the embedded default cluster applies");
            return 0;
        }));
        root.Subcommands.Add(reset);

        var files = new Argument<string[]>("file") { Description = "kubectl get -o yaml|json output (List or multi-document YAML)", Arity = ArgumentArity.OneOrMore };
        var replace = new Option<bool>("--replace") { Description = "Start from an empty cluster instead of adding to the current one" };
        var import = new Command("import", "Read a real cluster's objects (Nodes, Pods, Services, EndpointSlices, Deployments, ReplicaSets) into the state.") { files, replace };
        import.SetAction(pr => Guard(pr, () => Import(pr.GetValue(clusterOpt), pr.GetValue(files)!, pr.GetValue(replace), pr.InvocationConfiguration.Output, pr.InvocationConfiguration.Error)));
        root.Subcommands.Add(import);
        yield return root;
    }

    static int Guard(ParseResult pr, Func<int> run)
    {
        try { return run(); }
        catch (CliException e)
        {
            pr.InvocationConfiguration.Error.WriteLine(e.Message);
            return e.ExitCode;
        }
    }

    static int Init(string? cluster, string preset, int nodeCount, ulong? seed, string[]? prefixes, bool force, string? hairpin, string? scope, TextWriter stdout)
    {
        if (preset != "aks-kubenet") throw new CliException($"error: unknown preset \"{preset}\"; known presets: aks-kubenet");
        if (nodeCount is < 1 or > 100) throw new CliException($"error: --nodes must be between 1 and 100, got {nodeCount}");
        var profile = new ClusterProfile();
        if (prefixes is { Length: > 0 })
        {
            foreach (var p in prefixes)
                if (!Ip4Prefix.TryParse(p, out _)) throw new CliException($"error: invalid --public-ip-prefix \"{p}\": expected an IPv4 CIDR such as 203.0.113.0/24");
            profile = profile with { PublicIpPrefixes = prefixes };
        }
        if (hairpin is not null)
            profile = profile with
            {
                BridgeHairpin = hairpin switch
                {
                    "on" => true,
                    "off" => false,
                    _ => throw new CliException($"error: invalid --bridge-hairpin \"{hairpin}\": expected on or off"),
                },
            };
        if (scope is not null)
            profile = profile with
            {
                Cbr0AddressScope = scope is "link" or "global" ? scope : throw new CliException($"error: invalid --cbr0-scope \"{scope}\": expected link or global"),
            };
        var path = ClusterSession.ResolvePath(cluster);
        if (File.Exists(path) && !force) throw new CliException($"error: {path} already exists; use --force to overwrite it or `packetlife cluster reset`");
        // The default (no --seed, 2 nodes) is exactly the embedded default: the seed's cluster.
        var state = seed is null && nodeCount == 2
            ? EmbeddedCluster.Build(profile, ClusterSession.Clock, EmbeddedCluster.DefaultSeed, 2, [1, 0])
            : EmbeddedCluster.Build(profile, ClusterSession.Clock, seed ?? EmbeddedCluster.DefaultSeed, nodeCount, null, seed is null ? EmbeddedCluster.SeedOutboundFrontend : null);
        try { StateFile.Update(path, () => state, s => { StateFile.Save(path, state); return (false, 0); }); }
        catch (StateFileException e) { throw new CliException(e.Message); }
        stdout.WriteLine($"cluster/{state.Profile.Name} initialised in {path}: {state.Nodes.Count} nodes, pod CIDR {state.Profile.PodCidr}, service CIDR {state.Profile.ServiceCidr}, public IPs from {string.Join(",", state.Profile.PublicIpPrefixes)}"
            + (hairpin is null && scope is null ? "" : $", bridge hairpin {(state.Profile.BridgeHairpin ?? true ? "on" : "off")}, cbr0 scope {state.Profile.Cbr0AddressScope ?? "link"}"));
        return 0;
    }

    static int Import(string? cluster, string[] files, bool replace, TextWriter stdout, TextWriter stderr)
    {
        var read = ManifestReader.ReadFiles(files);
        foreach (var d in read.Diagnostics.Where(d => d.Severity != Severity.Error)) stderr.WriteLine(d.ToString());
        var errors = read.Diagnostics.Where(d => d.Severity == Severity.Error).ToList();
        if (errors.Count > 0)
        {
            foreach (var e in errors.Skip(1)) stderr.WriteLine(e.ToString());
            throw new CliException($"error: {errors[0]}");
        }
        var counts = ClusterSession.Change(cluster, api =>
        {
            if (replace)
            {
                var s = api.State;
                s.Nodes.Clear(); s.Pods.Clear(); s.Services.Clear(); s.EndpointSlices.Clear(); s.Deployments.Clear(); s.ReplicaSets.Clear();
                s.Azure = s.Azure with { LoadBalancer = s.Azure.LoadBalancer with { LoadBalancingRules = [], Probes = [] } };
            }
            var byKind = new SortedDictionary<string, int>(StringComparer.Ordinal);
            foreach (var o in read.Objects)
            {
                ClusterSession.Check(api.Import(o));
                var k = o.GetType().Name;
                byKind[k] = byKind.GetValueOrDefault(k) + 1;
            }
            return byKind;
        });
        var ignored = read.Diagnostics.Count(d => d.Code == ClusterMessages.UnknownField);
        stdout.WriteLine("imported " + (counts.Count == 0 ? "nothing" : string.Join(", ", counts.Select(kv => $"{kv.Value.ToString(CultureInfo.InvariantCulture)} {kv.Key}"))) +
            (ignored > 0 ? $" ({ignored.ToString(CultureInfo.InvariantCulture)} fields not modelled, listed above)" : ""));
        return 0;
    }
}
