using PacketLife.Tests.Cluster;

namespace PacketLife.Tests.KubeProxy;

/// <summary>The seed's first walkthrough typed into the twin: after `kubectl run` and `kubectl expose`, the node's
/// `iptables-save` prints the seed's rule shapes at once.</summary>
public class TwinIptablesSaveTests
{
    [Fact]
    public void Kubectl_expose_shows_up_in_iptables_save_at_once()
    {
        using var host = new CliTestHost();
        Assert.Equal(0, host.Run("kubectl run --image=nginx nginx --port=80").Code);
        var before = host.Run("iptables-save --node aks-nodepool1-33086427-vmss000001");
        Assert.True(before.Code == 0, before.Err);
        Assert.DoesNotContain("default/nginx", before.Out);
        Assert.Equal(0, host.Run("kubectl expose po nginx --type=LoadBalancer").Code);
        var (code, save, err) = host.Run("iptables-save --node aks-nodepool1-33086427-vmss000001 -t nat");
        Assert.True(code == 0, err);
        var lines = save.Split('\n');
        var lb = Assert.Single(lines, l => l.Contains("loadbal"));
        Assert.Matches(@"^-A KUBE-SERVICES -d \d+\.\d+\.\d+\.\d+/32 -p tcp -m comment --comment ""default/nginx loadbalancer IP"" -m tcp --dport 80 -j KUBE-EXT-2CMXP7HKUVJN7L6M$", lb);
        Assert.Contains("-A KUBE-EXT-2CMXP7HKUVJN7L6M -j KUBE-SVC-2CMXP7HKUVJN7L6M", lines);
        Assert.Contains(lines, l => System.Text.RegularExpressions.Regex.IsMatch(l,
            @"^-A KUBE-SVC-2CMXP7HKUVJN7L6M -d 10\.0\.\d+\.\d+/32 ! -i azv\+ -p tcp -m comment --comment ""default/nginx cluster IP"" -m tcp --dport 80 -j KUBE-MARK-MASQ$"));
        Assert.Contains(lines, l => System.Text.RegularExpressions.Regex.IsMatch(l,
            @"^-A KUBE-SEP-[A-Z2-7]{16} -p tcp -m comment --comment ""default/nginx"" -m tcp -j DNAT --to-destination 10\.244\.\d+\.\d+:80$"));
    }
}
