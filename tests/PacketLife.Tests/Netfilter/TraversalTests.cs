using PacketLife.Core.Net;
using PacketLife.Core.Netfilter;
using PacketLife.Core.Netfilter.Evaluation;
using PacketLife.Core.Netfilter.Text;

namespace PacketLife.Tests.Netfilter;

/// <summary>Chain traversal as the kernel does it (netfilter-conntrack.md §2.1-§2.3), one row per case; the expected
/// walk is written like the kernel's TRACE lines `chain:index action`.</summary>
public class TraversalTests
{
    static readonly Packet Udp7002 = new(IpProtocol.Udp, Ip4.Parse("10.1.0.2"), 40000, Ip4.Parse("10.2.0.2"), 7002, TcpFlags.None);

    internal static TableEvaluator Eval(string table, string body)
    {
        var r = IptablesSaveReader.Read($"*{table}\n{body}\nCOMMIT\n", "t");
        Assert.False(r.HasErrors, string.Join("\n", r.Diagnostics));
        return new TableEvaluator(r.RuleSet.Table(table)!);
    }

    internal static PacketContext Ctx(Packet p, NetfilterHook hook, string? iif = "eth0", string? oif = "eth1") =>
        new() { Packet = p, Hook = hook, InInterface = iif, OutInterface = oif, Conntrack = ConntrackView.NewFor(p) };

    static string Walk(EvaluationOutcome o) => string.Join(", ", o.Visits.Select(v => $"{v.Chain}:{v.Index} {v.Action.ToString().ToLowerInvariant()}"));

    public static TheoryData<string, string, string, string> Rows => new()
    {
        // case, filter table body, expected walk, verdict
        {
            "goto then RETURN resumes after the last -j (facts §2.2)",
            ":FORWARD ACCEPT [0:0]\n:A - [0:0]\n:B - [0:0]\n-A FORWARD -j A\n-A FORWARD -p udp\n-A A -g B\n-A A -j DROP\n-A B -p udp\n-A B -j RETURN\n-A B -j DROP",
            "FORWARD:1 jump, A:1 goto, B:1 matched, B:2 return, FORWARD:2 matched, FORWARD:3 policy", "ACCEPT"
        },
        {
            "goto from a built-in chain into a returning chain applies the policy",
            ":FORWARD DROP [0:0]\n:B2 - [0:0]\n-A FORWARD -p udp --dport 7002 -g B2\n-A FORWARD -j ACCEPT",
            "FORWARD:1 goto, B2:1 return, FORWARD:3 policy", "DROP"
        },
        {
            "falling off a user chain returns (return:N)",
            ":FORWARD ACCEPT [0:0]\n:U - [0:0]\n-A FORWARD -j U\n-A FORWARD -j DROP\n-A U -p tcp -j ACCEPT\n-A U -p icmp -j ACCEPT",
            "FORWARD:1 jump, U:3 return, FORWARD:2 verdict", "DROP"
        },
        {
            "ACCEPT deep in a user chain ends the table",
            ":FORWARD DROP [0:0]\n:U - [0:0]\n:V - [0:0]\n-A FORWARD -j U\n-A FORWARD -j DROP\n-A U -j V\n-A V -j ACCEPT",
            "FORWARD:1 jump, U:1 jump, V:1 verdict", "ACCEPT"
        },
        {
            "RETURN in a built-in chain applies the policy",
            ":FORWARD DROP [0:0]\n-A FORWARD -j RETURN\n-A FORWARD -j ACCEPT",
            "FORWARD:1 return, FORWARD:3 policy", "DROP"
        },
        {
            "a rule without target only counts",
            ":FORWARD ACCEPT [0:0]\n-A FORWARD -s 10.1.0.0/24\n-A FORWARD -j REJECT",
            "FORWARD:1 matched, FORWARD:2 verdict", "REJECT icmp-port-unreachable"
        },
        {
            "non-matching rules are skipped (-p, -d, ! -i, -o)",
            ":FORWARD ACCEPT [0:0]\n-A FORWARD -p tcp -j DROP\n-A FORWARD -d 10.9.0.0/16 -j DROP\n-A FORWARD ! -i eth0 -j DROP\n-A FORWARD -o eth0 -j DROP\n-A FORWARD -i eth+ -o eth1 -j DROP",
            "FORWARD:5 verdict", "DROP"
        },
        {
            "matches short-circuit left to right",
            ":FORWARD ACCEPT [0:0]\n-A FORWARD -p udp -m udp --dport 1 -m statistic --mode nth --every 2 --packet 0 -j DROP\n-A FORWARD -p udp -m udp ! --dport 1 -m mark --mark 0x0 -j DROP",
            "FORWARD:2 verdict", "DROP"
        },
    };

    [Theory]
    [MemberData(nameof(Rows))]
    public void Walks_like_the_kernel(string @case, string body, string walk, string verdict)
    {
        var o = Assert.Single(Eval("filter", body).Explain(Ctx(Udp7002, NetfilterHook.Forward)));
        Assert.True(walk == Walk(o), $"{@case}: {Walk(o)}");
        Assert.Equal(verdict, o.Verdict.ToString());
        Assert.Equal(1.0, o.Probability);
        Assert.False(o.IsUncertain);
    }

    [Fact]
    public void Non_terminating_targets_continue_and_change_the_packet()
    {
        var e = Eval("mangle", ":PREROUTING ACCEPT [0:0]\n-A PREROUTING -j MARK --set-xmark 0x8/0xc\n-A PREROUTING -j LOG --log-prefix \"seen \"\n-A PREROUTING -m mark --mark 0xb -j CONNMARK --save-mark");
        var o = Assert.Single(e.Explain(Ctx(Udp7002 with { Mark = 0xf }, NetfilterHook.Prerouting) with { Conntrack = ConntrackView.NewFor(Udp7002) with { Mark = 0xf00 } }));
        Assert.Equal(0xbu, o.Packet.Mark); // (0xf & ~0xc) ^ 0x8 = 0xb (facts §4.1)
        Assert.Equal(TableVerdict.Accept, o.Verdict);
        Assert.Equal("seen ", Assert.Single(o.Requests.OfType<LogRequest>()).Prefix);
        var cm = Assert.Single(o.Requests.OfType<ConnmarkRequest>());
        Assert.Equal((0xf00u, 0xbu), (cm.OldMark, cm.NewMark)); // save-mark: ctmark = (0xf00 & 0) ^ (0xb & ~0)
        Assert.Equal("-A PREROUTING -m mark --mark 0xb -j CONNMARK --save-mark", cm.Rule);
        Assert.Equal("PREROUTING:1 matched, PREROUTING:2 matched, PREROUTING:3 matched, PREROUTING:4 policy", Walk(o));
    }

    [Fact]
    public void Nat_targets_end_the_nat_table_and_return_a_request()
    {
        var e = Eval("nat", ":PREROUTING ACCEPT [0:0]\n-A PREROUTING -p udp -j DNAT --to-destination 10.2.0.10-10.2.0.13:9000\n-A PREROUTING -j DNAT --to-destination 10.9.9.9");
        var o = Assert.Single(e.Explain(Ctx(Udp7002, NetfilterHook.Prerouting)));
        var nat = Assert.IsType<NatRequest>(Assert.Single(o.Requests));
        Assert.Equal(NatKind.Dnat, nat.Kind);
        Assert.Equal(new Ip4Range(Ip4.Parse("10.2.0.10"), Ip4.Parse("10.2.0.13")), nat.Addresses);
        Assert.Equal(new PortRange(9000, 9000), nat.Ports);
        Assert.Equal("PREROUTING:1 verdict", Walk(o));
    }

    [Fact]
    public void Unsupported_rules_make_the_outcome_uncertain_only_when_reached()
    {
        var body = ":INPUT ACCEPT [0:0]\n-A INPUT -p tcp -m rpfilter --invert -j DROP\n-A INPUT -p udp -m rpfilter --invert -j DROP";
        var r = IptablesSaveReader.Read($"*filter\n{body}\nCOMMIT\n", "t");
        var e = new TableEvaluator(r.RuleSet.Table("filter")!);
        var o = Assert.Single(e.Explain(Ctx(Udp7002, NetfilterHook.Input)));
        Assert.Equal(VerdictKind.Uncertain, o.Verdict.Kind);
        Assert.Equal("filter:INPUT:2: match module \"rpfilter\" is not modelled", Assert.Single(o.Uncertain));
        var tcp = Udp7002 with { Protocol = IpProtocol.Tcp };
        Assert.Equal(VerdictKind.Uncertain, Assert.Single(e.Explain(Ctx(tcp, NetfilterHook.Input))).Verdict.Kind);
        var icmp = Udp7002 with { Protocol = IpProtocol.Icmp };
        var certain = Assert.Single(e.Explain(Ctx(icmp, NetfilterHook.Input)));
        Assert.False(certain.IsUncertain);
        Assert.Equal(TableVerdict.Accept, certain.Verdict);
    }

    [Fact]
    public void Statistic_branches_enumerate_with_exact_probabilities()
    {
        var e = Eval("nat", ":PREROUTING ACCEPT [0:0]\n:S - [0:0]\n-A PREROUTING -j S\n" +
            "-A S -m statistic --mode random --probability 0.3333333333 -j DNAT --to-destination 10.0.0.1\n" +
            "-A S -m statistic --mode random --probability 0.5 -j DNAT --to-destination 10.0.0.2\n" +
            "-A S -j DNAT --to-destination 10.0.0.3");
        var outs = e.Explain(Ctx(Udp7002, NetfilterHook.Prerouting));
        Assert.Equal(3, outs.Count);
        double p1 = 715827883 / 2147483648.0; // lround(0.3333333333 * 2^31) / 2^31 (facts §3.1)
        var byDst = outs.ToDictionary(o => o.Nat!.Addresses!.Value.First.ToString(), o => o.Probability);
        Assert.Equal(p1, byDst["10.0.0.1"], 15);
        Assert.Equal((1 - p1) * 0.5, byDst["10.0.0.2"], 15);
        Assert.Equal((1 - p1) * 0.5, byDst["10.0.0.3"], 15);
        Assert.Equal(1.0, outs.Sum(o => o.Probability), 12);
    }

    [Fact]
    public void Sample_mode_is_reproducible_from_the_seed_and_follows_the_probabilities()
    {
        var e = Eval("nat", ":PREROUTING ACCEPT [0:0]\n-A PREROUTING -m statistic --mode random --probability 0.25 -j DNAT --to-destination 10.0.0.1\n-A PREROUTING -j DNAT --to-destination 10.0.0.2");
        var ctx = Ctx(Udp7002, NetfilterHook.Prerouting);
        string Run(int seed) { var rng = new Random(seed); return string.Join(",", Enumerable.Range(0, 50).Select(_ => e.Sample(ctx, rng).Nat!.Addresses!.Value.First.ToString()[^1])); }
        Assert.Equal(Run(42), Run(42));
        var rng2 = new Random(7);
        int first = Enumerable.Range(0, 20000).Count(_ => e.Sample(ctx, rng2).Nat!.Addresses!.Value.First == Ip4.Parse("10.0.0.1"));
        Assert.InRange(first / 20000.0, 0.23, 0.27);
    }

    [Fact]
    public void Nth_counters_are_per_rule_and_advance_only_when_evaluated()
    {
        // facts §3.2: --every 3 --packet 0/1/2 → cumulative matches 1,1,1,2,2,2,3 / 0,1,1,1,2,2,2 / 0,0,1,1,1,2,2
        var e = Eval("filter", ":INPUT ACCEPT [0:0]\n-A INPUT -m statistic --mode nth --every 3 --packet 0\n-A INPUT -m statistic --mode nth --every 3 --packet 1\n-A INPUT -m statistic --mode nth --every 3 --packet 2\n-A INPUT -m statistic --mode nth --every 3 --packet 0");
        var state = new NetfilterState();
        var counts = new int[4];
        var seen = new List<string>();
        for (int n = 0; n < 7; n++)
        {
            var o = e.Sample(Ctx(Udp7002, NetfilterHook.Input) with { State = state }, new Random(0));
            foreach (var v in o.Visits.Where(v => v.Action == VisitAction.Matched)) counts[v.Index - 1]++;
            seen.Add(string.Join("", counts));
        }
        Assert.Equal(["1001", "1101", "1111", "2112", "2212", "2222", "3223"], seen);
    }

    [Fact]
    public void Explain_leaves_the_state_alone_and_sample_changes_it()
    {
        var e = Eval("filter", ":INPUT ACCEPT [0:0]\n-A INPUT -m recent --set --name SEEN\n-A INPUT -m statistic --mode nth --every 2 --packet 0 -j DROP");
        var state = new NetfilterState();
        var ctx = Ctx(Udp7002, NetfilterHook.Input) with { State = state };
        Assert.Equal(TableVerdict.Drop, Assert.Single(e.Explain(ctx)).Verdict);
        Assert.Equal(TableVerdict.Drop, Assert.Single(e.Explain(ctx)).Verdict); // same answer: nothing was counted
        Assert.Empty(state.Recent);
        Assert.Empty(state.NthCounters);
        Assert.Equal(TableVerdict.Drop, e.Sample(ctx, new Random(1)).Verdict);
        Assert.Equal(TableVerdict.Accept, e.Sample(ctx, new Random(1)).Verdict); // the nth counter moved on
        Assert.Single(state.Recent["SEEN"].Entries);
    }

    [Fact]
    public void A_table_without_the_hooks_chain_accepts_without_visits()
    {
        var e = Eval("raw", ":OUTPUT ACCEPT [0:0]\n-A OUTPUT -j DROP");
        var o = Assert.Single(e.Explain(Ctx(Udp7002, NetfilterHook.Prerouting)));
        Assert.Equal(TableVerdict.Accept, o.Verdict);
        Assert.Empty(o.Visits);
    }
}
