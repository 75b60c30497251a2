using System.Text;
using PacketLife.Core.Net;
using PacketLife.Core.Netfilter;
using PacketLife.Core.Netfilter.Evaluation;
using PacketLife.Core.Netfilter.Text;

namespace PacketLife.Tests.Netfilter;

/// <summary>The seed's flows through the AKS node's nat table (explain mode), and the kube-proxy index giving the same
/// answers as a plain scan.</summary>
public class SeedTraceTests
{
    static readonly RuleSetEvaluator Aks = new(IptablesSaveReader.Read(Nf.Golden("aks-node.legacy.iptables-save"), "aks").RuleSet);

    // Local addresses of node vmss000000 (10.224.0.4) for addrtype; everything else is unicast.
    static AddressType AddrType(Ip4 ip, string? dev) =>
        ip == Ip4.Parse("10.224.0.4") || ip.IsLoopback ? AddressType.Local : AddressType.Unicast;

    public static TheoryData<string, string, string, string[]> Flows => new()
    {
        // case                   src:port                dst:port               pods reached (DNAT)
        { "internet to LB IP", "198.51.100.7:53108", "4.225.83.202:80", ["10.244.0.113:80", "10.244.1.136:80"] },
        { "probe to NodePort", "168.63.129.16:53108", "10.224.0.4:32670", ["10.244.0.113:80", "10.244.1.136:80"] },
        { "pod to cluster IP", "10.244.0.9:40000", "10.0.42.82:80", ["10.244.0.113:80", "10.244.1.136:80"] },
        { "to the API server", "10.244.0.9:40000", "10.0.0.1:443", ["10.224.0.4:443"] },
    };

    [Theory]
    [MemberData(nameof(Flows))]
    public void Seed_flows_reach_the_pods_with_exact_probabilities(string @case, string src, string dst, string[] pods)
    {
        var (s, sp) = (Ip4.Parse(src.Split(':')[0]), ushort.Parse(src.Split(':')[1]));
        var (d, dp) = (Ip4.Parse(dst.Split(':')[0]), ushort.Parse(dst.Split(':')[1]));
        var p = new Packet(IpProtocol.Tcp, s, sp, d, dp);
        var ctx = new PacketContext { Packet = p, Hook = NetfilterHook.Prerouting, InInterface = s.Value >> 24 == 10 && s.Value >> 16 == 0x0AF4 ? "cbr0" : "eth0", Conntrack = ConntrackView.NewFor(p), AddressTypeOf = AddrType };
        var outs = Aks.Explain("nat", ctx);
        Assert.Equal(pods, outs.Select(o => $"{o.Nat!.Addresses!.Value.First}:{o.Nat.Ports!.Value.Min}").Order().ToArray());
        Assert.All(outs, o => Assert.Equal(1.0 / pods.Length, o.Probability, 12));
        Assert.All(outs, o => Assert.False(o.IsUncertain, @case));
        // The external flows pass KUBE-MARK-MASQ: mark 0x4000 for KUBE-POSTROUTING's MASQUERADE.
        if (@case != "to the API server" && @case != "pod to cluster IP") Assert.All(outs, o => Assert.Equal(0x4000u, o.Packet.Mark));
    }

    [Fact]
    public void The_trace_lists_every_rule_in_kernel_terms()
    {
        var p = new Packet(IpProtocol.Tcp, Ip4.Parse("198.51.100.7"), 53108, Ip4.Parse("4.225.83.202"), 80);
        var ctx = new PacketContext { Packet = p, Hook = NetfilterHook.Prerouting, InInterface = "eth0", Conntrack = ConntrackView.NewFor(p), AddressTypeOf = AddrType };
        var o = Aks.Explain("nat", ctx).First(x => x.Nat!.Addresses!.Value.First == Ip4.Parse("10.244.0.113"));
        Assert.Equal(
        [
            "PREROUTING:1 Jump KUBE-SERVICES",
            "KUBE-SERVICES:4 Jump KUBE-EXT-2CMXP7HKUVJN7L6M",
            "KUBE-EXT-2CMXP7HKUVJN7L6M:1 Jump KUBE-MARK-MASQ",
            "KUBE-MARK-MASQ:1 Matched MARK",
            "KUBE-MARK-MASQ:2 Return",
            "KUBE-EXT-2CMXP7HKUVJN7L6M:2 Jump KUBE-SVC-2CMXP7HKUVJN7L6M",
            "KUBE-SVC-2CMXP7HKUVJN7L6M:2 Branch statistic matched (p=0.5)",
            "KUBE-SVC-2CMXP7HKUVJN7L6M:2 Jump KUBE-SEP-ESQ56IRPPG5O3T2M",
            "KUBE-SEP-ESQ56IRPPG5O3T2M:2 Verdict DNAT 10.244.0.113:80",
        ], o.Visits.Select(v => $"{v.Chain}:{v.Index} {v.Action}{(v.Detail is null ? "" : " " + v.Detail)}").ToArray());
        Assert.All(o.Visits, v => Assert.Equal("nat", v.Table));
        Assert.StartsWith("[1:60] -A KUBE-SEP-ESQ56IRPPG5O3T2M -p tcp", o.Visits[^1].Rule);
    }

    /// <summary>A KUBE-SERVICES chain large enough to be indexed answers exactly like the same rules in a chain too
    /// short to be indexed, for packets that hit, miss, or hit only the scanned rules.</summary>
    [Fact]
    public void Indexed_dispatch_gives_the_same_walk_as_scanning()
    {
        var sb = new StringBuilder("*nat\n:PREROUTING ACCEPT [0:0]\n:KUBE-SERVICES - [0:0]\n:T - [0:0]\n-A PREROUTING -j KUBE-SERVICES\n");
        for (int i = 0; i < 40; i++)
        {
            sb.Append($"-A KUBE-SERVICES -d 10.0.0.{i % 20}/32 -p {(i % 3 == 0 ? "udp" : "tcp")} -m comment --comment \"s{i}\" -m {(i % 3 == 0 ? "udp" : "tcp")} --dport {80 + i % 4} -j T\n");
            if (i % 7 == 0) sb.Append($"-A KUBE-SERVICES -s 10.9.0.0/16 -p tcp -m tcp --dport 80 -j T\n");
            if (i % 9 == 0) sb.Append($"-A KUBE-SERVICES -p tcp -m tcp --dport {81 + i % 3} -j T\n");
        }
        sb.Append("-A KUBE-SERVICES -m addrtype --dst-type LOCAL -j T\n-A T -j RETURN\nCOMMIT\n");
        var table = IptablesSaveReader.Read(sb.ToString(), "big").RuleSet.Table("nat")!;
        var indexed = new TableEvaluator(table);
        foreach (var proto in new[] { IpProtocol.Tcp, IpProtocol.Udp, IpProtocol.Icmp })
            for (uint d = 0; d < 22; d++)
                for (ushort port = 79; port < 85; port++)
                    foreach (var src in new[] { "10.9.1.1", "192.0.2.1" })
                    {
                        var p = new Packet(proto, Ip4.Parse(src), 1234, new Ip4(0x0A000000 + d), port);
                        var ctx = new PacketContext { Packet = p, Hook = NetfilterHook.Prerouting, AddressTypeOf = (_, _) => AddressType.Unicast };
                        var got = indexed.Explain(ctx).Single().Visits.Select(v => $"{v.Chain}:{v.Index}").ToList();
                        var want = NaiveWalk(table, p);
                        Assert.Equal(want, got);
                    }
    }

    /// <summary>Reference: every rule of KUBE-SERVICES tested in order (all jump to T, which returns).</summary>
    static List<string> NaiveWalk(Table table, Packet p)
    {
        var walk = new List<string> { "PREROUTING:1" };
        var rules = table.Chain("KUBE-SERVICES")!.Rules;
        for (int i = 0; i < rules.Length; i++)
        {
            var r = rules[i];
            bool m = (r.Source?.Test(p.Src) ?? true) && (r.Destination?.Test(p.Dst) ?? true) && (r.Protocol?.Test(p.Protocol) ?? true)
                && r.Matches.All(x => x.Evaluate(new EvalContext(new PacketContext { Packet = p, Hook = NetfilterHook.Prerouting, AddressTypeOf = (_, _) => AddressType.Unicast }, "nat")).Outcome == Core.Netfilter.Matches.MatchOutcome.Match);
            if (m) { walk.Add($"KUBE-SERVICES:{i + 1}"); walk.Add("T:1"); }
        }
        walk.Add($"KUBE-SERVICES:{rules.Length + 1}");
        walk.Add("PREROUTING:2");
        return walk;
    }
}
