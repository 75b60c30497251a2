using PacketLife.Core.Diagnostics;

namespace PacketLife.Tests.Tracing.Cluster;

/// <summary>`trace --node-rules NODE=FILE`: a node runs its real iptables-save dump instead of the generated rules
/// (issue 5 item 1), and what that changes is explained.</summary>
public class NodeDumpTraceTests
{
    const string Node0 = "aks-nodepool1-33086427-vmss000000";

    static string Dump(TwinScenario s, Func<string, bool> keep)
    {
        var (code, text, err) = s.Host.Run($"iptables-save --node {Node0}");
        Assert.True(code == 0, err);
        Assert.Contains("-j MASQUERADE", text);
        return string.Concat(text.Split('\n').Where(keep).Select(l => l + "\n")).TrimEnd('\n') + "\n";
    }

    [Fact]
    public void The_unchanged_dump_gives_the_same_trace_as_the_generated_rules()
    {
        using var s = TwinScenario.SeedDeployment();
        var file = s.Host.File("n0.rules", Dump(s, _ => true));
        var generated = s.Host.Run("trace svc/nginx");
        var dumped = s.Host.Run($"trace svc/nginx --node-rules {Node0}={file}");
        Assert.Equal((0, ""), (dumped.Code, dumped.Err));
        Assert.Equal(generated.Out, dumped.Out);
    }

    [Fact]
    public void A_dump_without_kube_proxys_MASQUERADE_loses_the_reply_of_the_path_to_the_other_nodes_pod()
    {
        using var s = TwinScenario.SeedDeployment();
        var file = s.Host.File("n0.rules", Dump(s, l => !l.Contains("-j MASQUERADE", StringComparison.Ordinal)));
        var (code, output, err) = s.Host.Run($"trace svc/nginx --node-rules {Node0}={file}");
        Assert.Equal((0, ""), (code, err));
        // LB → node0 → DNAT to the pod on node1 with the client's address kept: the pod answers through node1, which
        // never translated the request, so the answer reaches the client from the pod's own address.
        var lost = Assert.Single(output.Split('\n'), l => l.StartsWith("path ", StringComparison.Ordinal) && l.Contains("REPLYLOST", StringComparison.Ordinal));
        Assert.Contains("on aks-nodepool1-33086427-vmss000001", lost);
        Assert.Contains($"[{TraceMessages.AsymmetricReturn}] asymmetric return path", output);
        Assert.Contains($"[{TraceMessages.SourceIpKept}] the client's source IP is kept although default/nginx is externalTrafficPolicy Cluster", output);
        // node1 still runs kube-proxy's rules: its two paths are masqueraded and answered.
        Assert.Equal(2, output.Split('\n').Count(l => l.StartsWith("path ", StringComparison.Ordinal) && l.EndsWith("(masqueraded)", StringComparison.Ordinal)));
    }

    [Fact]
    public void A_rule_the_engine_does_not_model_is_reported_with_its_place_and_the_paths_through_it_are_uncertain()
    {
        using var s = TwinScenario.SeedDeployment();
        var dump = Dump(s, _ => true).Replace("-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES",
            "-A PREROUTING -m quota --quota 1000 -j ACCEPT\n-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES", StringComparison.Ordinal);
        Assert.Contains("-m quota", dump);
        var file = s.Host.File("n0.rules", dump);
        var (code, output, err) = s.Host.Run($"trace svc/nginx --node-rules {Node0}={file}");
        Assert.Equal(0, code);
        Assert.Matches(@"n0\.rules:\d+:\d+: warning", err);
        Assert.Contains("quota", err);
        Assert.Matches(@"(?m)^path .*UNCERTAIN", output);
    }

    [Fact]
    public void A_dump_with_errors_prints_each_with_its_place_and_exits_2()
    {
        using var s = TwinScenario.SeedDeployment();
        var file = s.Host.File("bad.rules", "*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -s 10.0.0.300 -j ACCEPT\n");
        var (code, output, err) = s.Host.Run($"trace svc/nginx --node-rules {Node0}={file}");
        Assert.Equal(2, code);
        Assert.Equal("", output);
        var lines = err.TrimEnd('\n').Split('\n');
        Assert.True(lines.Length >= 3, err);
        Assert.All(lines[..^1], l => Assert.Matches(@"bad\.rules:\d+:\d+: error", l));
        Assert.StartsWith("error: ", lines[^1]);
        Assert.Contains("packetlife iptables check", lines[^1]);
    }
}
