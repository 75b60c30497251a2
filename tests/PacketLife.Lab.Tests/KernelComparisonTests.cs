using PacketLife.Core.Net;
using PacketLife.Lab.Agent;
using PacketLife.Lab.Kernel;

namespace PacketLife.Lab.Tests;

/// <summary>The comparison a differential run uses: deterministic aspects compared, timers masked, order ignored.</summary>
public class KernelComparisonTests
{
    private static readonly Packet P = new(IpProtocol.Tcp, Ip4.Parse("203.0.113.1"), 50672, Ip4.Parse("203.0.113.2"), 8080, TcpFlags.Syn, Ttl: 63, Length: 40);

    private static KernelObservation Obs(long dnatPackets = 1, string timeout = "119", Packet? atServer = null, params string[] extraCt) => new(
        true, null,
        [new RuleCounter("nat", "PREROUTING", 1, dnatPackets, 40 * dnatPackets, "-A PREROUTING -j DNAT --to-destination 203.0.113.2:8080")],
        [new PolicyCounter("nat", "PREROUTING", "ACCEPT", 0, 0), new PolicyCounter("nat", "KUBE-X", "-", 0, 0)],
        [$"tcp      6 {timeout} SYN_SENT src=198.51.100.2 dst=198.51.100.1 sport=50672 dport=80 [UNREPLIED] src=203.0.113.2 dst=203.0.113.1 sport=8080 dport=50672 mark=0 use=1", .. extraCt],
        [new SeenPacket("eth0", PacketDirection.In, atServer ?? P)], [], [], [], []);

    [Fact]
    public void Identical_up_to_conntrack_timers_agree()
    {
        Assert.Empty(KernelComparison.Compare(Obs(timeout: "120"), Obs(timeout: "118")));
    }

    public static TheoryData<string, KernelObservation, string> Disagreements => new()
    {
        // case                             the other observation                                     category that differs
        { "a rule counted twice",           Obs(dnatPackets: 2),                                        "counters" },
        { "another NAT port at the server", Obs(atServer: P with { DstPort = 8081 }),                   "server" },
        { "an extra conntrack entry",       Obs(extraCt: "udp      17 29 src=198.51.100.2 dst=203.0.113.2 sport=1 dport=2 [UNREPLIED] src=203.0.113.2 dst=198.51.100.2 sport=2 dport=1 mark=0 use=1"), "conntrack" },
        { "not loaded at all",              new KernelObservation(false, "refused", [], [], [], [], [], [], [], []), "load" },
    };

    [Theory]
    [MemberData(nameof(Disagreements))]
    public void A_difference_is_named_by_its_category(string @case, KernelObservation other, string category)
    {
        var d = Assert.Single(KernelComparison.Compare(Obs(), other));
        Assert.Equal(category, d.Category);
        _ = @case;
    }

    [Fact]
    public void Random_ports_can_be_masked_by_the_caller()
    {
        var normalize = (string s) => System.Text.RegularExpressions.Regex.Replace(s, @":50672\b", ":*");
        Assert.NotEmpty(KernelComparison.Compare(Obs(), Obs(atServer: P with { SrcPort = 2641 })));
        var masked = (string s) => System.Text.RegularExpressions.Regex.Replace(normalize(s), @":2641\b", ":*");
        Assert.Empty(KernelComparison.Compare(Obs(), Obs(atServer: P with { SrcPort = 2641 }), masked));
    }

    [Fact]
    public void The_tally_counts_agreement_per_category()
    {
        var t = new DifferentialTally();
        t.Add([]);
        t.Add(KernelComparison.Compare(Obs(), Obs(dnatPackets: 2)));
        Assert.StartsWith("2 cases, 1 agreed; load 2/2, counters 1/2, policies 2/2, conntrack 2/2, server 2/2", t.ToString());
    }
}
