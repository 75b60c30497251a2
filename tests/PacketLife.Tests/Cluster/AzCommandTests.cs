namespace PacketLife.Tests.Cluster;

public class AzCommandTests
{
    // case                              command                                                                                                            stdout
    public static TheoryData<string, string, string> Queries => new()
    {
        { "tsv scalar",                    "az aks show -g rg -n aks --query nodeResourceGroup -o tsv",                                                        "MC_rg_aks_swedencentral\n" },
        { "resource group is case-blind",  "az network lb show -g MC_rg_aks_swedencentral -n kubernetes --query sku.name -o tsv",                            "Standard\n" },
        { "projection",                    "az network lb show -g mc_rg_aks_swedencentral -n kubernetes --query frontendIPConfigurations[].name -o tsv",      "77d48a65-578b-46d1-9425-8e099370353a\n" },
        { "json keeps JSON quoting",       "az network lb show -g mc_rg_aks_swedencentral -n kubernetes --query outboundRules[0].idleTimeoutInMinutes",       "30\n" },
        { "multiselect list",              "az network lb show -g mc_rg_aks_swedencentral -n kubernetes --query backendAddressPools[].[name] -o tsv",         "aksOutboundBackendPool\nkubernetes\n" },
        { "public ip by name",             "az network public-ip show -g mc_rg_aks_swedencentral -n 77d48a65-578b-46d1-9425-8e099370353a --query publicIPAllocationMethod -o tsv", "Static\n" },
        { "empty rule list is an empty table", "az network lb rule list -g mc_rg_aks_swedencentral --lb-name kubernetes -o table",                        "" },
        { "empty list as json",            "az network lb probe list -g mc_rg_aks_swedencentral --lb-name kubernetes",                                          "[]\n" },
    };

    [Theory, MemberData(nameof(Queries))]
    public void Az_output_and_query(string @case, string command, string expected)
    {
        using var h = new CliTestHost();
        var r = h.Run(command);
        Assert.True(r.Code == 0, $"{@case}: {r.Err}");
        Assert.True(expected == r.Out, $"{@case}: got [{r.Out}]");
    }

    [Fact]
    public void Json_output_sorts_keys_with_two_space_indent()
    {
        using var h = new CliTestHost();
        var r = h.Run("az network public-ip show -g mc_rg_aks_swedencentral -n 77d48a65-578b-46d1-9425-8e099370353a --query sku");
        Assert.Equal("{\n  \"name\": \"Standard\",\n  \"tier\": \"Regional\"\n}\n", r.Out);
    }

    [Fact]
    public void Unsupported_query_syntax_is_refused()
    {
        using var h = new CliTestHost();
        var r = h.Run("az network lb show -g mc_rg_aks_swedencentral -n kubernetes --query probes[?port>`1`]");
        Assert.Equal((1, "argument --query: invalid jmespath_type value: 'probes[?port>`1`]'\n"), (r.Code, r.Err));
    }
}
