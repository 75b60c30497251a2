using PacketLife.App.Cli;
using PacketLife.Manifests;

namespace PacketLife.Tests.Cluster;

public class ClusterCommandTests
{
    [Fact]
    public void Init_refuses_to_overwrite_reset_returns_to_the_embedded_default()
    {
        using var h = new CliTestHost();
        var r = h.Run("cluster init");
        Assert.Equal(1, r.Code);
        Assert.Equal($"error: {h.StatePath} already exists; use --force to overwrite it or `packetlife cluster reset`\n", r.Err);
        Assert.Equal(0, h.Run("kubectl run nginx --image=nginx").Code);
        Assert.Equal((0, $"cluster state {h.StatePath} removed; the embedded default cluster applies\n", ""), h.Run("cluster reset"));
        Assert.False(File.Exists(h.StatePath));
        Assert.Equal("Error from server (NotFound): pods \"nginx\" not found\n", h.Run("kubectl get po nginx").Err);
    }

    [Fact]
    public void Init_with_a_public_prefix_and_nodes_builds_that_cluster()
    {
        using var h = new CliTestHost(init: false);
        var r = h.Run("cluster init --nodes 3 --seed 9 --public-ip-prefix 203.0.113.0/24");
        Assert.Equal(0, r.Code);
        var s = StateFile.Load(h.StatePath)!;
        Assert.Equal(3, s.Nodes.Count);
        Assert.Equal(["10.224.0.4", "10.224.0.5", "10.224.0.6"], s.Nodes.Select(n => n.InternalIP));
        Assert.Equal(3, s.Nodes.Select(n => n.PodCIDR).Distinct().Count());
        Assert.Equal(["203.0.113.0/24"], s.Profile.PublicIpPrefixes);
        Assert.Equal(0, h.Run("kubectl run web --image=nginx --port=80").Code);
        Assert.Equal(0, h.Run("kubectl expose po web --type=LoadBalancer").Code);
        Assert.Matches(@"203\.0\.113\.\d+", h.Run("kubectl get svc web").Out);
        Assert.Equal("error: invalid --public-ip-prefix \"nope\": expected an IPv4 CIDR such as 203.0.113.0/24\n", h.Run("cluster init --force --public-ip-prefix nope").Err);
        Assert.Equal("error: unknown preset \"gke\"; known presets: aks-kubenet\n", h.Run("cluster init --force --preset gke").Err);
    }

    [Fact]
    public void Init_node_kernel_settings_reach_the_trace_hairpin_off_drops_and_cbr0_global_masquerades_to_the_bridge()
    {
        using var h = new CliTestHost(init: false);
        Assert.Equal(0, h.Run("cluster init --bridge-hairpin off --cbr0-scope global").Code);
        var s = StateFile.Load(h.StatePath)!;
        Assert.False(s.Profile.BridgeHairpin);
        Assert.Equal("global", s.Profile.Cbr0AddressScope);
        Assert.Equal(0, h.Run("kubectl run nginx --image=nginx --port=80").Code);
        Assert.Equal(0, h.Run("kubectl expose po nginx --type=LoadBalancer").Code);
        var hairpin = h.Run("trace --from pod/nginx svc/nginx");
        Assert.Contains("PLT012", hairpin.Out);
        Assert.Contains("DROPPED", hairpin.Out);
        // From the internet to the pod's own node: MASQUERADE picks cbr0's global address, 10.244.x.1.
        Assert.Matches(@"=>  tcp 10\.244\.\d+\.1:\d+ -> 10\.244\.", h.Run("trace svc/nginx").Out);

        Assert.Equal(0, h.Run("cluster init --force").Code);
        Assert.Equal(0, h.Run("kubectl run nginx --image=nginx --port=80").Code);
        Assert.Equal(0, h.Run("kubectl expose po nginx --type=LoadBalancer").Code);
        Assert.DoesNotContain("PLT012", h.Run("trace --from pod/nginx svc/nginx").Out);
        var seed = h.Run("trace svc/nginx").Out;
        Assert.DoesNotMatch(@"=>  tcp 10\.244\.\d+\.1:\d+ -> 10\.244\.", seed);
        Assert.Matches(@"=>  tcp 10\.224\.0\.\d+:\d+ -> 10\.244\.", seed);

        Assert.Equal("error: invalid --bridge-hairpin \"maybe\": expected on or off\n", h.Run("cluster init --force --bridge-hairpin maybe").Err);
        Assert.Equal("error: invalid --cbr0-scope \"host\": expected link or global\n", h.Run("cluster init --force --cbr0-scope host").Err);
    }

    [Fact]
    public void State_file_resolution_flag_then_environment_then_working_directory()
    {
        Assert.Equal("/x/c.json", ClusterSession.ResolvePath("/x/c.json"));
        var old = Environment.GetEnvironmentVariable("PACKETLIFE_CLUSTER");
        try
        {
            Environment.SetEnvironmentVariable("PACKETLIFE_CLUSTER", "/env/c.json");
            Assert.Equal("/env/c.json", ClusterSession.ResolvePath(null));
            Assert.Equal("/x/c.json", ClusterSession.ResolvePath("/x/c.json"));
            Environment.SetEnvironmentVariable("PACKETLIFE_CLUSTER", null);
            Assert.Equal(Path.Combine(Environment.CurrentDirectory, ".packetlife", "cluster.json"), ClusterSession.ResolvePath(null));
        }
        finally
        {
            Environment.SetEnvironmentVariable("PACKETLIFE_CLUSTER", old);
        }
    }
}

public class VersionBehaviourTests
{
    // case                        version   VIP in describe   Endpoints warning
    public static TheoryData<string, string, bool, bool> Versions => new()
    {
        { "1.29: bare ingress IP",   "1.29.7", false, false },
        { "1.30 (the seed)",         "1.30.6", true,  false },
        { "1.33: Endpoints warning", "1.33.2", true,  true },
    };

    [Theory, MemberData(nameof(Versions))]
    public void Version_dependent_output(string @case, string version, bool vip, bool warning)
    {
        using var h = new CliTestHost();
        var s = PacketLife.Manifests.StateFile.Load(h.StatePath)!;
        s.Profile = s.Profile with { KubernetesVersion = version };
        PacketLife.Manifests.StateFile.Save(h.StatePath, s);
        Assert.Equal(0, h.Run("kubectl run nginx --image=nginx --port=80").Code);
        Assert.Equal(0, h.Run("kubectl expose po nginx --type=LoadBalancer").Code);
        var ingress = h.Run("kubectl describe svc nginx").Out.Split('\n').Single(l => l.StartsWith("LoadBalancer Ingress:"));
        Assert.True(ingress.EndsWith(" (VIP)") == vip, $"{@case}: {ingress}");
        var ep = h.Run("kubectl get ep nginx");
        Assert.True((ep.Err == "Warning: v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice\n") == warning, $"{@case}: [{ep.Err}]");
    }
}
