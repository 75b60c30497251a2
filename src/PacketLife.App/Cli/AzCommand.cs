using System.CommandLine;
using System.Text.Json.Nodes;
using PacketLife.App.Rendering;
using PacketLife.Core.Cluster;

namespace PacketLife.App.Cli;

/// <summary>`packetlife az ...`: the azure-cli commands of the seed walkthrough against the twin's Azure
/// objects: `aks show`, `network lb show`, `network lb frontend-ip list|show`, `network lb rule list|show`,
/// `network lb probe list|show`, `network public-ip show|list`.</summary>
public sealed class AzCommandGroup : ICommandGroup
{
    public int Order => 40;

    public IEnumerable<Command> Commands()
    {
        var cmd = new Command("az", "azure-cli views of the cluster twin's AKS cluster and load balancer. Add --cluster PATH to choose the state file.")
        {
            TreatUnmatchedTokensAsErrors = false,
        };
        cmd.SetAction(pr => CliRun.Guard(pr, tokens => Az.Run(tokens, pr.InvocationConfiguration.Output)));
        yield return cmd;
    }
}

internal static class Az
{
    static readonly string[] Formats = ["json", "jsonc", "yaml", "yamlc", "table", "tsv", "none"];

    /// <summary>argparse-style options: `--name value`, `--name=value`, short `-g`, `-n`, `-o`.</summary>
    sealed class AzArgs
    {
        public Dictionary<string, string> Values { get; } = new(StringComparer.Ordinal);
        public List<string> Positional { get; } = [];
    }

    static readonly Dictionary<string, string> Aliases = new(StringComparer.Ordinal)
    {
        ["-g"] = "--resource-group", ["-n"] = "--name", ["-o"] = "--output", ["--ids"] = "--id",
    };

    static AzArgs Parse(IReadOnlyList<string> tokens, ISet<string> allowed)
    {
        var a = new AzArgs();
        var unknown = new List<string>();
        for (var i = 0; i < tokens.Count; i++)
        {
            var t = tokens[i];
            if (!t.StartsWith('-') || t == "-") { a.Positional.Add(t); continue; }
            var eq = t.IndexOf('=');
            var name = eq > 0 ? t[..eq] : t;
            name = Aliases.GetValueOrDefault(name, name);
            if (name is "--only-show-errors" or "--debug" or "--verbose") continue;
            if (name == "--subscription") { if (eq < 0) i++; continue; }
            if (!allowed.Contains(name)) { unknown.Add(t); if (eq < 0 && i + 1 < tokens.Count && !tokens[i + 1].StartsWith('-')) unknown.Add(tokens[++i]); continue; }
            string value;
            if (eq > 0) value = t[(eq + 1)..];
            else if (i + 1 < tokens.Count) value = tokens[++i];
            else throw new CliException($"argument {Display(name)}: expected one argument");
            a.Values[name] = value;
        }
        if (unknown.Count > 0) throw new CliException("unrecognized arguments: " + string.Join(" ", unknown));
        return a;
    }

    static string Display(string name) => name switch
    {
        "--resource-group" => "--resource-group/-g",
        "--name" => "--name/-n",
        "--output" => "--output/-o",
        "--id" => "--ids",
        _ => name,
    };

    static void Require(AzArgs a, params string[] names)
    {
        var missing = names.Where(n => !a.Values.ContainsKey(n)).Select(Display).ToList();
        if (missing.Count > 0) throw new CliException("the following arguments are required: " + string.Join(", ", missing));
    }

    public static int Run(IReadOnlyList<string> raw, TextWriter stdout)
    {
        var (tokens, cluster) = ClusterSession.TakeClusterFlag(raw);
        var words = new List<string>();
        var i = 0;
        while (i < tokens.Count && !tokens[i].StartsWith('-')) words.Add(tokens[i++]);
        var rest = tokens.Skip(i).ToList();
        var group = string.Join(" ", words);
        HashSet<string> Opts(params string[] extra) => ["--output", "--query", .. extra];
        JsonNode? result;
        AzArgs a;
        var state = (Func<ClusterState>)(() => ClusterSession.Read(cluster));
        bool tableTransformer = false;
        switch (group)
        {
            case "aks show":
                a = Parse(rest, Opts("--resource-group", "--name"));
                Require(a, "--resource-group", "--name");
                {
                    var s = state();
                    if (!a.Values["--resource-group"].Equals(s.Profile.ResourceGroup, StringComparison.OrdinalIgnoreCase))
                        throw new CliException($"(ResourceGroupNotFound) Resource group '{a.Values["--resource-group"]}' could not be found.");
                    if (!a.Values["--name"].Equals(s.Profile.Name, StringComparison.OrdinalIgnoreCase))
                        throw new CliException($"(ResourceNotFound) The Resource 'Microsoft.ContainerService/managedClusters/{a.Values["--name"]}' under resource group '{a.Values["--resource-group"]}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix");
                    var mc = AzOutput.ManagedCluster(s);
                    result = mc;
                    if (!a.Values.ContainsKey("--query") && a.Values.GetValueOrDefault("--output") == "table") { result = AzOutput.ManagedClusterTableRow(mc); tableTransformer = true; }
                }
                break;
            case "network lb show":
                a = Parse(rest, Opts("--resource-group", "--name"));
                Require(a, "--resource-group", "--name");
                result = Lb(state(), a.Values["--resource-group"], a.Values["--name"]);
                break;
            case "network lb frontend-ip list":
            case "network lb rule list":
            case "network lb probe list":
                a = Parse(rest, Opts("--resource-group", "--lb-name"));
                Require(a, "--resource-group", "--lb-name");
                {
                    var s = state();
                    var lb = Lb(s, a.Values["--resource-group"], a.Values["--lb-name"]);
                    result = group switch
                    {
                        "network lb frontend-ip list" => lb["frontendIPConfigurations"]!.DeepClone(),
                        "network lb rule list" => lb["loadBalancingRules"]!.DeepClone(),
                        _ => lb["probes"]!.DeepClone(),
                    };
                }
                break;
            case "network lb frontend-ip show":
            case "network lb rule show":
            case "network lb probe show":
                a = Parse(rest, Opts("--resource-group", "--lb-name", "--name"));
                Require(a, "--resource-group", "--lb-name", "--name");
                {
                    var s = state();
                    var lb = Lb(s, a.Values["--resource-group"], a.Values["--lb-name"]);
                    var (key, what) = group switch
                    {
                        "network lb frontend-ip show" => ("frontendIPConfigurations", "Frontend IP Configuration"),
                        "network lb rule show" => ("loadBalancingRules", "Load Balancing Rule"),
                        _ => ("probes", "Probe"),
                    };
                    var name = a.Values["--name"];
                    result = ((JsonArray)lb[key]!).FirstOrDefault(x => (string?)x!["name"] == name)?.DeepClone()
                        ?? throw new CliException($"(NotFound) {what} '{name}' not found in load balancer '{a.Values["--lb-name"]}'.");
                }
                break;
            case "network public-ip show":
                a = Parse(rest, Opts("--resource-group", "--name", "--id"));
                {
                    var s = state();
                    string rg, name;
                    if (a.Values.TryGetValue("--id", out var id))
                    {
                        var parts = id.Split('/', StringSplitOptions.RemoveEmptyEntries);
                        if (parts.Length < 8 || !parts[0].Equals("subscriptions", StringComparison.OrdinalIgnoreCase) || !parts[6].Equals("publicIPAddresses", StringComparison.OrdinalIgnoreCase))
                            throw new CliException($"(InvalidResourceId) '{id}' is not a valid resource ID of a public IP address.");
                        rg = parts[3]; name = parts[7];
                    }
                    else
                    {
                        if (!a.Values.ContainsKey("--resource-group") || !a.Values.ContainsKey("--name"))
                            throw new CliException("(--resource-group --name | --ids) are required");
                        rg = a.Values["--resource-group"]; name = a.Values["--name"];
                    }
                    CheckNodeRg(s, rg);
                    var pip = s.Azure.PublicIpAddresses.FirstOrDefault(p => p.Name.Equals(name, StringComparison.OrdinalIgnoreCase))
                        ?? throw new CliException($"(ResourceNotFound) The Resource 'Microsoft.Network/publicIPAddresses/{name}' under resource group '{rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix");
                    result = AzOutput.PublicIp(s, pip);
                }
                break;
            case "network public-ip list":
                a = Parse(rest, Opts("--resource-group"));
                {
                    var s = state();
                    if (a.Values.TryGetValue("--resource-group", out var rg)) CheckNodeRg(s, rg);
                    result = new JsonArray([.. s.Azure.PublicIpAddresses.Select(p => (JsonNode)AzOutput.PublicIp(s, p))]);
                }
                break;
            case "":
                throw new CliException("the following arguments are required: _command_package");
            default:
                throw new CliException($"'{words[^1]}' is misspelled or not recognized by the system.");
        }
        var output = a.Values.GetValueOrDefault("--output") ?? "json";
        if (!Formats.Contains(output))
            throw new CliException($"argument --output/-o: invalid choice: '{output}' (choose from {string.Join(", ", Formats.Select(f => $"'{f}'"))})");
        var hasQuery = a.Values.TryGetValue("--query", out var query);
        if (hasQuery) result = AzQuery.Apply(result, query!);
        stdout.Write(output switch
        {
            "table" => AzOutput.Table(result, sortKeys: !hasQuery && !tableTransformer),
            "tsv" => AzOutput.Tsv(result),
            "none" => "",
            "yaml" or "yamlc" => KubectlObjects.Yaml(result ?? JsonValue.Create("null")),
            _ => AzOutput.Json(result),
        });
        return 0;
    }

    static void CheckNodeRg(ClusterState s, string rg)
    {
        if (!rg.Equals(s.Profile.NodeResourceGroup, StringComparison.OrdinalIgnoreCase))
            throw new CliException($"(ResourceGroupNotFound) Resource group '{rg}' could not be found.");
    }

    static JsonObject Lb(ClusterState s, string rg, string name)
    {
        CheckNodeRg(s, rg);
        if (!name.Equals(s.Azure.LoadBalancer.Name, StringComparison.OrdinalIgnoreCase))
            throw new CliException($"(ResourceNotFound) The Resource 'Microsoft.Network/loadBalancers/{name}' under resource group '{rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix");
        return AzOutput.LoadBalancer(s);
    }
}
