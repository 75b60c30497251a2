using PacketLife.Core.Diagnostics;
using PacketLife.Core.KubeProxy;
using PacketLife.Manifests;

namespace PacketLife.Tests.KubeProxy;

public class ConfigReaderTests
{
    [Fact]
    public void Reads_every_modelled_field()
    {
        var (cfg, diags) = KubeProxyConfigReader.Read("""
            apiVersion: kubeproxy.config.k8s.io/v1alpha1
            kind: KubeProxyConfiguration
            mode: iptables
            clusterCIDR: 10.244.0.0/16
            detectLocalMode: InterfaceNamePrefix
            detectLocal:
              interfaceNamePrefix: azv
              bridgeInterface: ""
            iptables:
              masqueradeBit: 14
              masqueradeAll: true
              localhostNodePorts: false
              syncPeriod: 30s
              minSyncPeriod: 1s
            nodePortAddresses: [10.224.0.0/16]
            conntrack:
              maxPerCore: 0
              min: 0
              tcpEstablishedTimeout: 86400s
              tcpCloseWaitTimeout: 1h0m0s
              tcpBeLiberal: true
            """, "kp.yaml");
        Assert.Empty(diags);
        Assert.Equal("10.244.0.0/16", cfg.ClusterCIDR);
        Assert.Equal(DetectLocalMode.InterfaceNamePrefix, cfg.DetectLocalMode);
        Assert.Equal("azv", cfg.DetectLocal.InterfaceNamePrefix);
        Assert.True(cfg.Iptables.MasqueradeAll);
        Assert.False(cfg.Iptables.LocalhostNodePorts);
        Assert.Equal(["10.224.0.0/16"], cfg.NodePortAddresses);
        Assert.Equal(TimeSpan.FromSeconds(86400), cfg.Conntrack.TcpEstablishedTimeout);
        Assert.Equal(TimeSpan.FromHours(1), cfg.Conntrack.TcpCloseWaitTimeout);
        Assert.True(cfg.Conntrack.TcpBeLiberal);
        Assert.Equal(0, cfg.Conntrack.MaxPerCore);
    }

    [Fact]
    public void Missing_fields_take_kube_proxy_defaults()
    {
        var (cfg, diags) = KubeProxyConfigReader.Read("apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n", "kp.yaml");
        Assert.Empty(diags);
        Assert.Equal(KubeProxyConfiguration.Default, cfg with { });
        Assert.Equal(14, cfg.Iptables.MasqueradeBit);
        Assert.True(cfg.Iptables.LocalhostNodePorts);
        Assert.Equal(DetectLocalMode.ClusterCIDR, cfg.DetectLocalMode);
    }

    public static TheoryData<string, string, Severity, string> Problems => new()
    {
        { "iptables:\n  masqueradeBit: x\n", "KP034", Severity.Error, "kp.yaml:4:18" },
        { "detectLocalMode: Nope\n", "KP034", Severity.Error, "kp.yaml:3:18" },
        { "conntrack:\n  tcpEstablishedTimeout: 1 day\n", "KP034", Severity.Error, "kp.yaml:4:26" },
        { "iptable:\n  masqueradeBit: 1\n", "KP032", Severity.Warning, "kp.yaml:3:1" },
        { "bindAddress: 0.0.0.0\n", "KP033", Severity.Info, "kp.yaml:3:1" },
        { "iptables:\n  masqueradeBitt: 1\n", "KP032", Severity.Warning, "kp.yaml:4:3" },
    };

    [Theory, MemberData(nameof(Problems))]
    public void Problems_are_reported_with_location(string body, string code, Severity severity, string at)
    {
        var (_, diags) = KubeProxyConfigReader.Read("apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n" + body, "kp.yaml");
        var d = Assert.Single(diags);
        Assert.Equal(code, d.Code);
        Assert.Equal(severity, d.Severity);
        Assert.Equal(at, d.Location.ToString());
    }

    [Fact]
    public void Wrong_kind_and_broken_yaml_are_errors()
    {
        var (_, d1) = KubeProxyConfigReader.Read("apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n", "k.yaml");
        Assert.Equal("KP031", Assert.Single(d1).Code);
        var (_, d2) = KubeProxyConfigReader.Read("a: [\n", "k.yaml");
        Assert.Equal("KP030", Assert.Single(d2).Code);
    }

    [Theory]
    [InlineData("24h0m0s", 86400)]
    [InlineData("1h", 3600)]
    [InlineData("1.5h", 5400)]
    [InlineData("90m", 5400)]
    [InlineData("3600s", 3600)]
    [InlineData("0", 0)]
    [InlineData("1m30s", 90)]
    public void Go_durations(string text, double seconds)
    {
        Assert.True(GoDuration.TryParse(text, out var d));
        Assert.Equal(seconds, d.TotalSeconds);
    }
}
