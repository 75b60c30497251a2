using CsCheck;
using PacketLife.Core.Cluster;

namespace PacketLife.Tests.Cluster;

/// <summary>Generated names (facts azure-aks.md §1.1, §3, §4.6) and kubectl AGE text (§4.3).</summary>
public class NamingSpecTests
{
    // case                                 uid                                      LB base name
    public static TheoryData<string, string, string> LbNames => new()
    {
        { "observed (OBS-A)",                "3ec62707-b798-4263-9e55-00b53b299d0f", "a3ec62707b79842639e5500b53b299d0" },
        { "last hex digit of the UID dropped", "af1bcd8b-ddd3-04b0-98c1-3de27b0f922b", "aaf1bcd8bddd304b098c13de27b0f922" },
    };

    [Theory, MemberData(nameof(LbNames))]
    public void LoadBalancer_base_name_is_a_plus_uid_cut_to_32(string @case, string uid, string expected)
    {
        Assert.True(Naming.AzureLoadBalancerBaseName(uid) == expected, @case);
    }

    // case                   decimal hash    encoded
    public static TheoryData<string, string, string> SafeEncode => new()
    {
        { "digits map to 456789bcdf", "0123456789", "456789bcdf" },
        { "observed 7cd7f56848",       "3783912404", "7cd7f56848" },
    };

    [Theory, MemberData(nameof(SafeEncode))]
    public void Pod_template_hash_uses_SafeEncodeString(string @case, string input, string expected) =>
        Assert.True(Naming.SafeEncodeString(input) == expected, @case);

    [Fact]
    public void Pod_template_hash_depends_on_the_template_only()
    {
        var t1 = new PodTemplate { Labels = new Dictionary<string, string> { ["app"] = "nginx" }, Spec = new PodSpec { Containers = [new Container { Name = "nginx", Image = "nginx" }] } };
        var t2 = t1 with { Spec = new PodSpec { Containers = [new Container { Name = "nginx", Image = "nginx:1.27" }] } };
        Assert.Equal(Naming.PodTemplateHash(t1), Naming.PodTemplateHash(t1 with { }));
        Assert.NotEqual(Naming.PodTemplateHash(t1), Naming.PodTemplateHash(t2));
        Assert.Matches("^[5-9bcdf][4-9bcdf]{0,9}$", Naming.PodTemplateHash(t1));
        Assert.NotEqual(Naming.PodTemplateHash(t1), Naming.PodTemplateHash(t1, collisionCount: 1));
    }

    [Fact]
    public void Generated_names_add_five_characters_of_the_27_letter_alphabet()
    {
        Gen.ULong.Sample(seed =>
        {
            var n = Naming.GenerateName("nginx-6cfb64b7c5-", new ClusterRandom(seed));
            return n.Length == "nginx-6cfb64b7c5-".Length + 5 && n[^5..].All(c => Naming.Alphanums.Contains(c)) && !n[^5..].Any(c => "aeiou013".Contains(c));
        });
        Assert.Equal(58 + 5, Naming.GenerateName(new string('x', 70), new ClusterRandom(1)).Length);
    }

    // case               instance  name
    public static TheoryData<string, int, string> NodeNames => new()
    {
        { "first",          0,        "aks-nodepool1-33086427-vmss000000" },
        { "second",         1,        "aks-nodepool1-33086427-vmss000001" },
        { "11th is base 36", 10,      "aks-nodepool1-33086427-vmss00000a" },
        { "37th",           36,       "aks-nodepool1-33086427-vmss000010" },
    };

    [Theory, MemberData(nameof(NodeNames))]
    public void AKS_node_names_count_instances_in_base_36(string @case, int instance, string expected) =>
        Assert.True(Naming.AksNodeName("nodepool1", "33086427", instance) == expected, @case);

    // case                        seconds       kubectl AGE
    public static TheoryData<string, long, string> Ages => new()
    {
        { "just created",           0,            "0s" },
        { "seconds up to 119s",     119,          "119s" },
        { "2 minutes",              120,          "2m" },
        { "5m22s",                  322,          "5m22s" },
        { "72m (minutes to 3h)",    72 * 60 + 5,  "72m" },
        { "179m",                   179 * 60,     "179m" },
        { "3h4m",                   (3 * 60 + 4) * 60, "3h4m" },
        { "5h",                     5 * 3600,     "5h" },
        { "23h",                    23 * 3600 + 59, "23h" },
        { "2d3h",                   51 * 3600,    "2d3h" },
        { "198d",                   198L * 86400, "198d" },
        { "3y12d",                  (3 * 365 + 12) * 86400L, "3y12d" },
        { "clock skew",             -5,           "<invalid>" },
    };

    [Theory, MemberData(nameof(Ages))]
    public void Age_is_printed_as_kubectl_HumanDuration(string @case, long seconds, string expected) =>
        Assert.True(HumanDuration.Format(TimeSpan.FromSeconds(seconds)) == expected, $"{@case}: {HumanDuration.Format(TimeSpan.FromSeconds(seconds))}");

    [Fact]
    public void Uids_are_version_4()
    {
        Gen.ULong.Sample(seed => System.Text.RegularExpressions.Regex.IsMatch(new ClusterRandom(seed).NewUid(), "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"));
    }

    // case                selector                matches app=web,tier=fe
    public static TheoryData<string, string, bool> Selectors => new()
    {
        { "equality",        "app=web",              true },
        { "double equals",   "app==web",             true },
        { "inequality",      "app!=web",             false },
        { "exists",          "tier",                 true },
        { "does not exist",  "!tier",                false },
        { "in",              "app in (web,api)",     true },
        { "notin",           "tier notin (fe)",      false },
        { "conjunction",     "app=web,tier=be",      false },
    };

    [Theory, MemberData(nameof(Selectors))]
    public void Label_selectors_follow_apimachinery(string @case, string text, bool expected)
    {
        var sel = LabelSelector.TryParse(text, out var err);
        Assert.True(sel is not null, $"{@case}: {err}");
        Assert.True(sel!.Matches(new Dictionary<string, string> { ["app"] = "web", ["tier"] = "fe" }) == expected, @case);
    }

    [Fact]
    public void Bad_selector_is_rejected_with_apimachinery_wording()
    {
        Assert.Null(LabelSelector.TryParse("a b=c", out var err));
        Assert.StartsWith("unable to parse requirement: <nil>: Invalid value: \"a b\"", err);
    }
}
