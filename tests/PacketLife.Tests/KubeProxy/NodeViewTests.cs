using PacketLife.Core.Cluster;
using PacketLife.Core.KubeProxy;
using static PacketLife.Tests.KubeProxy.K8s;

namespace PacketLife.Tests.KubeProxy;

/// <summary>The node's iptables-save around kube-proxy's payload: kubelet starts first (hint chain, KUBE-FIREWALL and
/// its jumps, canary), then kube-proxy prepends its jumps above kubelet's (kubelet_network_linux.go, proxier.go,
/// facts §2.4/§2.5). The kernel proof of every line is in PacketLife.Lab.Tests/KubeProxy.</summary>
public class NodeViewTests
{
    static KubeProxySyncResult One(KubeProxyConfiguration cfg, IpFamily family = IpFamily.IPv4) => IptablesProxier.Sync(new KubeProxySyncInput
    {
        Services = [Svc("ns1/svc1", family == IpFamily.IPv4 ? "172.30.0.41" : "fd00::41", ServiceType.ClusterIP, Port(80, "p80"))],
        Hostname = "n", Configuration = cfg, Family = family,
    });

    static string[] Chain(string save, string table, string chain)
    {
        var lines = save.Split('\n');
        int start = Array.IndexOf(lines, "*" + table);
        return lines[start..].TakeWhile(l => l != "COMMIT").Where(l => l.StartsWith($"-A {chain} ")).ToArray();
    }

    [Fact]
    public void Kube_proxy_jumps_sit_above_kubelets_KUBE_FIREWALL_jumps()
    {
        var save = NodeIptablesView.AfterSync(One(KubeProxyConfiguration.AksKubenet)).Save();
        Assert.Equal(
        [
            "-A INPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes load balancer firewall\" -j KUBE-PROXY-FIREWALL",
            "-A INPUT -m comment --comment \"kubernetes health check service ports\" -j KUBE-NODEPORTS",
            "-A INPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes externally-visible service portals\" -j KUBE-EXTERNAL-SERVICES",
            "-A INPUT -j KUBE-FIREWALL",
        ], Chain(save, "filter", "INPUT"));
        Assert.Equal(
        [
            "-A OUTPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes load balancer firewall\" -j KUBE-PROXY-FIREWALL",
            "-A OUTPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES",
            "-A OUTPUT -j KUBE-FIREWALL",
        ], Chain(save, "filter", "OUTPUT"));
        Assert.Equal(["*nat", "*filter", "*mangle"], save.Split('\n').Where(l => l.StartsWith('*')));
        Assert.Contains(":KUBE-IPTABLES-HINT - [0:0]", save.Split('\n'));
    }

    [Fact]
    public void Without_kubelet_the_clean_host_order_of_the_facts_is_printed()
    {
        var save = NodeIptablesView.AfterSync(One(KubeProxyConfiguration.AksKubenet), withKubelet: false).Save();
        Assert.Equal("-A INPUT -j KUBE-FIREWALL", Chain(save, "filter", "INPUT")[0]);
        Assert.Equal(["*filter", "*nat", "*mangle"], save.Split('\n').Where(l => l.StartsWith('*')));
        Assert.DoesNotContain("KUBE-IPTABLES-HINT", save);
    }

    [Fact]
    public void With_localhost_NodePorts_off_kubelets_martian_rule_stays_though_kube_proxy_does_not_write_it()
    {
        var sync = One(KubeProxyConfiguration.AksKubenet with { Iptables = new() { LocalhostNodePorts = false } });
        Assert.DoesNotContain("KUBE-FIREWALL", sync.RestorePayload);
        var save = NodeIptablesView.AfterSync(sync).Save();
        Assert.Equal(["-A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment \"block incoming localnet connections\" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP"],
            Chain(save, "filter", "KUBE-FIREWALL"));
    }

    [Fact]
    public void IPv6_node_has_an_empty_KUBE_FIREWALL_reached_from_kube_proxys_jumps_only()
    {
        var save = NodeIptablesView.AfterSync(One(new KubeProxyConfiguration { ClusterCIDR = "fd00:10::/64" }, IpFamily.IPv6)).Save();
        Assert.Empty(Chain(save, "filter", "KUBE-FIREWALL"));
        Assert.Equal("-A INPUT -j KUBE-FIREWALL", Chain(save, "filter", "INPUT")[0]);
        Assert.Equal(["*filter", "*nat", "*mangle"], save.Split('\n').Where(l => l.StartsWith('*')));
        Assert.Contains("-A KUBE-SERVICES ! -d ::1/128 -m comment --comment \"kubernetes service nodeports; NOTE: this must be the last rule in this chain\" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS", save.Split('\n'));
    }
}
