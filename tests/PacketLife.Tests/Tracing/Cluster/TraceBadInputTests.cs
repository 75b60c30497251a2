namespace PacketLife.Tests.Tracing.Cluster;

/// <summary>Bad input: one line naming what is unknown and what exists, exit code 2, nothing else printed.</summary>
public class TraceBadInputTests
{
    public static TheoryData<string, string> Cases => new()
    {
        // command line                                       the one line on stderr starts with
        { "trace svc/nope",                                   "Error from server (NotFound): services \"nope\" not found in namespace \"default\" (Services there: kubernetes, nginx)" },
        { "trace svc/nginx:443",                              "error: Service default/nginx has no port 443/tcp; its ports: 80/tcp" },
        { "trace svc/nginx -p udp",                           "error: Service default/nginx has no port /udp; its ports: 80/tcp" },
        { "trace --from mars svc/nginx",                      "error: unknown source \"mars\": use internet, probe, a node (aks-nodepool1-33086427-vmss000000, aks-nodepool1-33086427-vmss000001)" },
        { "trace --from pod/ghost svc/nginx",                 "Error from server (NotFound): pods \"ghost\" not found in namespace \"default\" (pods there: nginx)" },
        { "trace 8.8.8.8:53",                                 "error: 8.8.8.8 is outside every network of the cluster (internet clients 198.51.100.0/24" },
        { "trace nonsense",                                   "error: unknown destination \"nonsense\": use IP:PORT, svc/NAME[:PORT] or pod/NAME[:PORT]; Services: kubernetes, nginx" },
        { "trace svc/nginx -p sctp",                          "error: unknown protocol \"sctp\": use tcp or udp" },
        { "trace svc/nginx --all --seed 3",                   "error: --all and --seed exclude each other" },
        { "trace --from probe svc/kubernetes",                "error: Service default/kubernetes has no load balancer IP" },
        { "trace svc/nginx --node-rules nope=x.rules",          "error: --node-rules names node \"nope\", which the cluster does not have; nodes: aks-nodepool1-33086427-vmss000000, aks-nodepool1-33086427-vmss000001" },
        { "trace svc/nginx --node-rules x.rules",              "error: --node-rules \"x.rules\": expected NODE=FILE" },
        { "trace svc/nginx --node-rules aks-nodepool1-33086427-vmss000000=/nonexistent/x.rules", "error: open /nonexistent/x.rules: no such file or directory" },
        { "conntrack -L --node nope",                         "error: unknown node \"nope\": nodes are aks-nodepool1-33086427-vmss000000, aks-nodepool1-33086427-vmss000001" },
        { "conntrack -L --dport 80",                          "conntrack v1.4.7 (conntrack-tools): missing protocol" },
    };

    [Theory, MemberData(nameof(Cases))]
    public void Bad_input_is_one_line_and_exit_2(string commandLine, string expected)
    {
        using var s = TwinScenario.SeedPod();
        var (code, output, err) = s.Host.Run(commandLine);
        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.StartsWith(expected, err);
        Assert.Equal(1, err.Count(c => c == '\n'));
    }

    [Fact]
    public void Curl_without_dns_names_the_reason()
    {
        using var s = TwinScenario.SeedPod();
        var (code, _, err) = s.Host.Run("curl http://example.com/");
        Assert.Equal(6, code);
        Assert.StartsWith("curl: (6) Could not resolve host: example.com", err);
    }
}
