using System.Text.Json;
using PacketLife.Core.Net;
using PacketLife.Core.Tracing.Host;

namespace PacketLife.Tests.Tracing.Host;

/// <summary>`packetlife iptables trace` (issue 2 item 6): text and JSON output, explain and sample, bad input.</summary>
public sealed class IptablesTraceCliTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("pl-trace-").FullName;

    public void Dispose() => Directory.Delete(dir, true);

    string File(string name, string text)
    {
        var p = Path.Combine(dir, name);
        System.IO.File.WriteAllText(p, text);
        return p;
    }

    static (int Code, string Out, string Err) Run(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = PacketLife.App.Program.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    const string Rules = """
        *nat
        :PREROUTING ACCEPT [0:0]
        :INPUT ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        :POSTROUTING ACCEPT [0:0]
        :KUBE-SVC-X - [0:0]
        -A PREROUTING -d 198.51.100.1/32 -p tcp -m tcp --dport 80 -j KUBE-SVC-X
        -A POSTROUTING -o eth1 -j MASQUERADE
        -A KUBE-SVC-X -m statistic --mode random --probability 0.50000000000 -j DNAT --to-destination 203.0.113.2:8080
        -A KUBE-SVC-X -j DNAT --to-destination 203.0.113.3:8080
        COMMIT
        """;

    [Fact]
    public void Explain_json_lists_every_outcome_with_the_issue_fields()
    {
        var rules = File("rules", Rules);
        var host = File("host", HostWalkTests.Router);
        var (code, stdout, stderr) = Run("iptables", "trace", "--rules", rules, "--host", host, "--packet", "tcp 198.51.100.2:50672 -> 198.51.100.1:80 in eth0", "-o", "json");
        Assert.True(code == 0, stderr);
        using var doc = JsonDocument.Parse(stdout);
        var outcomes = doc.RootElement.GetProperty("outcomes");
        Assert.Equal(2, outcomes.GetArrayLength());
        var dsts = new HashSet<string>();
        foreach (var o in outcomes.EnumerateArray())
        {
            Assert.Equal(0.5, o.GetProperty("probability").GetDouble(), 12);
            Assert.Equal("forward", o.GetProperty("disposition").GetString());
            var p = o.GetProperty("packet");
            Assert.Equal("tcp", p.GetProperty("proto").GetString());
            Assert.Equal("203.0.113.1", p.GetProperty("src").GetString());
            Assert.Equal(50672, p.GetProperty("sport").GetInt32());
            Assert.Equal(8080, p.GetProperty("dport").GetInt32());
            Assert.Equal("0x0", p.GetProperty("mark").GetString());
            dsts.Add(p.GetProperty("dst").GetString()!);
            var rule = o.GetProperty("rules").EnumerateArray().First(r => r.GetProperty("chain").GetString() == "KUBE-SVC-X");
            Assert.Equal("nat", rule.GetProperty("table").GetString());
            Assert.True(rule.GetProperty("index").GetInt32() is 1 or 2);
            Assert.Contains("DNAT", rule.GetProperty("text").GetString());
            Assert.Equal(0, o.GetProperty("uncertain").GetArrayLength());
        }
        Assert.Equal(["203.0.113.2", "203.0.113.3"], dsts.Order());
        Assert.Equal(0, doc.RootElement.GetProperty("diagnostics").GetArrayLength());
    }

    [Fact]
    public void Text_shows_rules_rewrites_and_the_conntrack_entry()
    {
        var rules = File("rules", Rules);
        var host = File("host", HostWalkTests.Router);
        var (code, stdout, stderr) = Run("iptables", "trace", "--rules", rules, "--host", host, "--packet", "tcp 198.51.100.2:50672 -> 198.51.100.1:80 in eth0", "--seed", "7");
        Assert.True(code == 0, stderr);
        Assert.Contains("mode: sample, seed 7", stdout);
        Assert.Contains("nat:PREROUTING:1 -A PREROUTING -d 198.51.100.1/32 -p tcp -m tcp --dport 80 -j KUBE-SVC-X => JUMP KUBE-SVC-X", stdout);
        Assert.Contains("before: tcp 198.51.100.2:50672 -> 198.51.100.1:80", stdout);
        Assert.Contains(" SYN_SENT src=198.51.100.2 dst=198.51.100.1 sport=50672 dport=80 [UNREPLIED] src=203.0.113.", stdout);
        // The same seed gives the same output.
        Assert.Equal(stdout, Run("iptables", "trace", "--rules", rules, "--host", host, "--packet", "tcp 198.51.100.2:50672 -> 198.51.100.1:80 in eth0", "--seed", "7").Out);
    }

    [Fact]
    public void Without_host_the_documented_default_host_is_used()
    {
        var rules = File("rules", "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n");
        var (code, stdout, _) = Run("iptables", "trace", "--rules", rules, "--packet", "udp 198.51.100.2:5000 -> 8.8.8.8:53 in eth3");
        Assert.Equal(0, code);
        Assert.Contains("filter:FORWARD:policy:1 => DROP", stdout);
        Assert.Contains("drop: filter FORWARD policy DROP", stdout);
    }

    [Theory]
    [InlineData("tcp 198.51.100.2 -> 198.51.100.1:80 in eth0", "--packet:1:5: bad packet: tcp needs ports")]
    [InlineData("tcp 198.51.100.2:1 => 198.51.100.1:80 in eth0", "--packet:1:20: bad packet: expected \"->\"")]
    [InlineData("tcp 198.51.100.2:1 -> 198.51.100.300:80 in eth0", "--packet:1:23: bad packet: \"198.51.100.300\" is not an IPv4 address")]
    [InlineData("tcp 198.51.100.2:1 -> 198.51.100.1:80", "--packet:1:38: bad packet: say where the packet comes from")]
    [InlineData("foo 198.51.100.2:1 -> 198.51.100.1:80 in eth0", "--packet:1:1: bad packet: unknown protocol")]
    public void Bad_packet_is_one_line_with_column_and_hint_exit_2(string packet, string start)
    {
        var rules = File("rules", Rules);
        var (code, stdout, stderr) = Run("iptables", "trace", "--rules", rules, "--packet", packet);
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        var line = Assert.Single(stderr.TrimEnd().Split('\n'));
        Assert.StartsWith(start, line.Replace("error: ", "").Replace("error PL-T001: ", ""));
        Assert.Contains("hint", line);
    }

    [Fact]
    public void Bad_rules_and_missing_files_exit_2_without_a_trace()
    {
        var bad = File("bad", "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -s 1.2.3.999 -j DROP\nCOMMIT\n");
        var (code, _, stderr) = Run("iptables", "trace", "--rules", bad, "--packet", "tcp 1.1.1.1:1 -> 2.2.2.2:2 in eth0");
        Assert.Equal(2, code);
        Assert.Contains(":3:", stderr);
        Assert.DoesNotContain("   at ", stderr);
        var missing = Run("iptables", "trace", "--rules", Path.Combine(dir, "nope"), "--packet", "tcp 1.1.1.1:1 -> 2.2.2.2:2 in eth0");
        Assert.Equal(2, missing.Code);
        Assert.Contains("no such file or directory", missing.Err);
    }

    [Theory]
    [InlineData("icmp 10.0.0.1 -> 10.0.0.2 in eth0 type 8 id 7", IpProtocol.Icmp, 7)]
    [InlineData("tcp 10.0.0.1:1 -> 10.0.0.2:2 local flags SA ttl 3 len 100 mark 0x4000", IpProtocol.Tcp, 1)]
    public void Packet_notation(string text, IpProtocol proto, int sport)
    {
        Assert.True(PacketSpec.TryParse(text, "p", out var p, out var origin, out var err), err?.ToString());
        Assert.Equal(proto, p.Protocol);
        Assert.Equal(sport, p.SrcPort);
        if (proto == IpProtocol.Tcp)
        {
            Assert.IsType<HostPacketOrigin.Local>(origin);
            Assert.Equal(TcpFlags.Syn | TcpFlags.Ack, p.Flags);
            Assert.Equal(3, p.Ttl);
            Assert.Equal(100, p.Length);
            Assert.Equal(0x4000u, p.Mark);
        }
        else Assert.Equal("eth0", Assert.IsType<HostPacketOrigin.Wire>(origin).Interface);
    }
}
