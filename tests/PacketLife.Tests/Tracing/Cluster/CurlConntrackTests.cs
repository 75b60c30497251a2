using System.Text.RegularExpressions;

namespace PacketLife.Tests.Tracing.Cluster;

/// <summary>`packetlife curl` runs a whole connection through the twin and `packetlife conntrack -L` shows what it and
/// the LB's probes left, in the seed's shapes (issue 5 Proof).</summary>
public class CurlConntrackTests
{
    const string Node0 = "aks-nodepool1-33086427-vmss000000", Node1 = "aks-nodepool1-33086427-vmss000001";

    static (string LbIp, string NodePort) Svc(TwinScenario s)
    {
        var svc = s.Service();
        return (svc.Status.LoadBalancerIngress[0].Ip!, svc.Spec.Ports[0].NodePort.ToString());
    }

    [Fact]
    public void Curl_Iv_prints_what_curl_prints_for_nginx()
    {
        using var s = TwinScenario.SeedDeployment();
        s.Host.Clock.Advance(TimeSpan.FromSeconds(40));
        var (lb, _) = Svc(s);
        var (code, output, err) = s.Host.Run($"curl -Iv http://{lb}/ --seed 7");
        Assert.True(code == 0, err);
        var date = "Date: " + s.Host.Clock.Now.UtcDateTime.ToString("ddd, dd MMM yyyy HH:mm:ss 'GMT'", System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(
            "HTTP/1.1 200 OK\r\nServer: nginx/1.27.3\r\n" + date + "\r\nContent-Type: text/html\r\nContent-Length: 615\r\n" +
            "Last-Modified: Tue, 26 Nov 2024 15:55:00 GMT\r\nConnection: keep-alive\r\nETag: \"6745ef54-267\"\r\nAccept-Ranges: bytes\r\n\r\n", output);
        var lines = err.Split('\n');
        Assert.Equal($"*   Trying {lb}:80...", lines[0]);
        Assert.Equal($"* Connected to {lb} ({lb}) port 80", lines[1]);
        Assert.Equal("> HEAD / HTTP/1.1", lines[2]);
        Assert.Contains("< Server: nginx/1.27.3", lines);
        Assert.Contains($"* Connection #0 to host {lb} left intact", lines);
    }

    [Fact]
    public void Curl_leaves_time_wait_entries_in_the_seed_shape_counting_down_on_the_clock()
    {
        using var s = TwinScenario.SeedDeployment();
        s.Host.Clock.Advance(TimeSpan.FromSeconds(40));
        var (lb, nodePort) = Svc(s);
        Assert.Equal(0, s.Host.Run($"curl -I http://{lb}/ --seed 11").Code);
        var (code, all, err) = s.Host.Run("conntrack -L -s 198.51.100.0/24");
        Assert.True(code == 0, err);
        // The entry node: client -> LB IP, reply from the pod to the masquerade address (the node IP), closed: TIME_WAIT 120.
        var entry = Assert.Single(all.Split('\n'), l => l.StartsWith("tcp", StringComparison.Ordinal));
        var m = Regex.Match(entry, $@"^tcp      6 120 TIME_WAIT src=198\.51\.100\.\d+ dst={Regex.Escape(lb)} sport=\d+ dport=80 src=(10\.244\.\d+\.\d+) dst=(10\.224\.0\.[45]) sport=80 dport=\d+ \[ASSURED\] mark=0 use=1$");
        Assert.True(m.Success, entry);
        Assert.EndsWith("conntrack v1.4.7 (conntrack-tools): 1 flow entries have been shown.\n", err);
        s.Host.Clock.Advance(TimeSpan.FromSeconds(30));
        var later = s.Host.Run("conntrack -L -s 198.51.100.0/24").Out;
        Assert.Contains("tcp      6 90 TIME_WAIT src=198.51.100.", later);
        s.Host.Clock.Advance(TimeSpan.FromSeconds(91));
        Assert.DoesNotContain("TIME_WAIT src=198.51.100.", s.Host.Run("conntrack -L -s 198.51.100.0/24").Out);
    }

    [Fact]
    public void The_lb_probes_leave_the_seeds_nodeport_entries_on_every_node()
    {
        using var s = TwinScenario.SeedDeployment();
        s.Host.Clock.Advance(TimeSpan.FromSeconds(60));
        var (_, nodePort) = Svc(s);
        foreach (var (node, ip) in new[] { (Node0, "10.224.0.4"), (Node1, "10.224.0.5") })
        {
            var (code, output, err) = s.Host.Run($"conntrack -L --node {node} -p tcp --dport {nodePort}");
            Assert.True(code == 0, err);
            var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            // One probe every IntervalInSeconds (5) since the Service exists (60 s).
            Assert.Equal(12, lines.Length);
            Assert.All(lines, l => Assert.Matches(
                $@"^tcp      6 \d+ TIME_WAIT src=168\.63\.129\.16 dst={Regex.Escape(ip)} sport=\d+ dport={nodePort} src=10\.244\.\d+\.\d+ dst={Regex.Escape(ip)} sport=80 dport=\d+ \[ASSURED\] mark=0 use=1$", l));
            Assert.Contains(lines, l => l.StartsWith("tcp      6 119 TIME_WAIT", StringComparison.Ordinal) || l.StartsWith("tcp      6 120 TIME_WAIT", StringComparison.Ordinal));
        }
    }

    [Fact]
    public void The_endpoint_node_keeps_the_un_natted_second_leg_like_the_seed()
    {
        using var s = TwinScenario.SeedDeployment();
        s.Host.Clock.Advance(TimeSpan.FromSeconds(1));
        var (lb, _) = Svc(s);
        // Several connections: some land on a node whose chosen pod is on the other node.
        for (ulong seed = 1; seed <= 8; seed++) Assert.Equal(0, s.Host.Run($"curl -I http://{lb}/ --seed {seed}").Code);
        var found = false;
        foreach (var pod in s.Pods())
        {
            var output = s.Host.Run($"conntrack -L --node {pod.Spec.NodeName} -d {pod.Status.PodIP}").Out;
            foreach (var l in output.Split('\n'))
            {
                var m = Regex.Match(l, $@"^tcp      6 120 TIME_WAIT src=(10\.224\.0\.\d+) dst={Regex.Escape(pod.Status.PodIP!)} sport=(\d+) dport=80 src={Regex.Escape(pod.Status.PodIP!)} dst=\1 sport=80 dport=\2 \[ASSURED\] mark=0 use=1$");
                if (m.Success && m.Groups[1].Value != s.NodeIp(pod.Spec.NodeName!)) found = true;
            }
        }
        Assert.True(found, "no second-leg entry src=<other node> dst=<pod> with identical ports");
    }

    [Fact]
    public void Curl_to_a_port_without_lb_rule_times_out_and_to_a_pod_port_nobody_listens_on_is_refused()
    {
        using var s = TwinScenario.SeedPod();
        var (lb, _) = Svc(s);
        var (code, _, err) = s.Host.Run($"curl -I http://{lb}:81/");
        Assert.Equal(7, code);
        Assert.Equal($"curl: (7) Failed to connect to {lb} port 81 after 127000 ms: Couldn't connect to server\n", err);
        var pod = s.Pods()[0];
        (code, _, err) = s.Host.Run($"curl -I http://{pod.Status.PodIP}:8080/ --from node/{pod.Spec.NodeName}");
        Assert.Equal(7, code);
        Assert.Equal($"curl: (7) Failed to connect to {pod.Status.PodIP} port 8080 after 0 ms: Couldn't connect to server\n", err);
    }
}
