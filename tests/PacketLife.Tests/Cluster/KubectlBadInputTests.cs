namespace PacketLife.Tests.Cluster;

/// <summary>Bad input: kubectl's/az's wording on one stderr line, exit 1, state file byte-for-byte unchanged.</summary>
public class KubectlBadInputTests
{
    // case                         setup (may be empty)                               command                                                   stderr
    public static TheoryData<string, string, string, string> Cases => new()
    {
        { "unknown verb",            "", "kubectl frobnicate po",                               "error: unknown command \"frobnicate\" for \"kubectl\"" },
        { "unknown resource",        "", "kubectl get widgets",                                 "error: the server doesn't have a resource type \"widgets\"" },
        { "unknown flag",            "", "kubectl get po --foo",                                "error: unknown flag: --foo" },
        { "unknown shorthand",       "", "kubectl get po -x",                                   "error: unknown shorthand flag: 'x' in -x" },
        { "flag without value",      "", "kubectl get po -o",                                   "error: flag needs an argument: 'o' in -o" },
        { "unknown output format",   "", "kubectl get po -o xml",                               "error: unable to match a printer suitable for the output format \"xml\", allowed formats are: custom-columns,custom-columns-file,go-template,go-template-file,json,jsonpath,jsonpath-as-json,jsonpath-file,name,template,templatefile,wide,yaml" },
        { "get missing object",      "", "kubectl get po nginx",                                "Error from server (NotFound): pods \"nginx\" not found" },
        { "delete missing service",  "", "kubectl delete svc nginx",                            "Error from server (NotFound): services \"nginx\" not found" },
        { "delete missing deploy",   "", "kubectl delete deploy nginx",                         "Error from server (NotFound): deployments.apps \"nginx\" not found" },
        { "existing pod",            "kubectl run nginx --image=nginx", "kubectl run nginx --image=nginx", "Error from server (AlreadyExists): pods \"nginx\" already exists" },
        { "existing deployment",     "kubectl create deploy web --image=nginx", "kubectl create deploy web --image=nginx", "Error from server (AlreadyExists): deployments.apps \"web\" already exists" },
        { "existing service",        "kubectl run nginx --image=nginx --port=80|kubectl expose po nginx", "kubectl expose po nginx", "Error from server (AlreadyExists): services \"nginx\" already exists" },
        { "invalid container port",  "", "kubectl run nginx --image=nginx --port=70000",        "The Pod \"nginx\" is invalid: spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive" },
        { "non-numeric port",        "", "kubectl create deploy web --image=nginx --port=http", "error: invalid argument \"http\" for \"--port\" flag: strconv.ParseInt: parsing \"http\": invalid syntax" },
        { "negative replicas",       "", "kubectl create deploy web --image=nginx --replicas=-1", "The Deployment \"web\" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0" },
        { "scale without replicas",  "kubectl create deploy web --image=nginx", "kubectl scale deploy web", "error: The --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0" },
        { "expose without port",     "kubectl run bare --image=nginx", "kubectl expose po bare",      "error: couldn't find port via --port flag or introspection" },
        { "bad service type",        "kubectl run nginx --image=nginx --port=80", "kubectl expose po nginx --type=Balanced", "The Service \"nginx\" is invalid: spec.type: Unsupported value: \"Balanced\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\"" },
        { "bad selector",            "", "kubectl get po -l 'a b=c'",                           "error: unable to parse requirement: <nil>: Invalid value: \"a b\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')" },
        { "bad pod name",            "", "kubectl run Nginx --image=nginx",                     "The Pod \"Nginx\" is invalid: metadata.name: Invalid value: \"Nginx\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')" },
        { "run without image",       "", "kubectl run nginx",                                   "error: required flag(s) \"image\" not set" },
        { "apply missing file",      "", "kubectl apply -f /nonexistent/x.yaml",                "error: the path \"/nonexistent/x.yaml\" does not exist" },
        { "az unknown command",      "", "az network lb frobnicate",                            "'frobnicate' is misspelled or not recognized by the system." },
        { "az unknown argument",     "", "az network lb rule list -g mc_rg_aks_swedencentral --lb-name kubernetes --bogus",  "unrecognized arguments: --bogus" },
        { "az bad output",           "", "az network lb rule list -g mc_rg_aks_swedencentral --lb-name kubernetes -o xml",   "argument --output/-o: invalid choice: 'xml' (choose from 'json', 'jsonc', 'yaml', 'yamlc', 'table', 'tsv', 'none')" },
        { "az missing argument",     "", "az network lb probe list -g mc_rg_aks_swedencentral",  "the following arguments are required: --lb-name" },
        { "az unknown lb",           "", "az network lb show -g mc_rg_aks_swedencentral -n other", "(ResourceNotFound) The Resource 'Microsoft.Network/loadBalancers/other' under resource group 'mc_rg_aks_swedencentral' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix" },
        { "az unknown group",        "", "az aks show -g nope -n aks",                          "(ResourceGroupNotFound) Resource group 'nope' could not be found." },
    };

    [Theory, MemberData(nameof(Cases))]
    public void Bad_input_fails_with_one_line_and_leaves_state_unchanged(string @case, string setup, string command, string message)
    {
        using var host = new CliTestHost();
        foreach (var s in setup.Split('|', StringSplitOptions.RemoveEmptyEntries)) Assert.Equal(0, host.Run(s).Code);
        var before = File.ReadAllBytes(host.StatePath);
        var (code, stdout, stderr) = host.Run(command);
        Assert.True(code == 1, $"{@case}: exit {code}, stderr {stderr}");
        Assert.Equal(message + "\n", stderr.Replace("\r\n", "\n"));
        Assert.Equal("", stdout);
        Assert.Equal(before, File.ReadAllBytes(host.StatePath));
    }

    [Fact]
    public void Exhausted_nodeport_range_is_reported_and_changes_nothing()
    {
        using var host = new CliTestHost();
        // A NodePort range of one port: the second NodePort Service cannot get one.
        var state = PacketLife.Manifests.StateFile.Load(host.StatePath)!;
        state.Profile = state.Profile with { NodePortMin = 30000, NodePortMax = 30000 };
        PacketLife.Manifests.StateFile.Save(host.StatePath, state);
        Assert.Equal(0, host.Run("kubectl run a --image=nginx --port=80").Code);
        Assert.Equal(0, host.Run("kubectl expose po a --type=NodePort").Code);
        var before = File.ReadAllBytes(host.StatePath);
        var (code, _, err) = host.Run("kubectl expose po a --type=NodePort --name=b");
        Assert.Equal(1, code);
        Assert.Equal("The Service \"b\" is invalid: spec.ports[0].nodePort: Internal error occurred: failed to allocate a nodePort: range is full\n", err);
        Assert.Equal(before, File.ReadAllBytes(host.StatePath));
    }

    [Fact]
    public void Malformed_manifest_is_reported_with_its_line_and_applies_nothing()
    {
        using var host = new CliTestHost();
        var f = host.File("bad.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec:\n  ports:\n  - port: eighty\n");
        var before = File.ReadAllBytes(host.StatePath);
        var (code, _, err) = host.Run($"kubectl apply -f {f}");
        Assert.Equal(1, code);
        Assert.Contains("bad.yaml:6:11: error PL3004: spec.ports[0].port: expected an integer, got eighty", err);
        Assert.Equal(before, File.ReadAllBytes(host.StatePath));
    }
}
