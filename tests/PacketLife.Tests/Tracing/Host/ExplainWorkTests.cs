using System.Globalization;
using PacketLife.Core.Conntrack;
using PacketLife.Core.Conntrack.Text;
using PacketLife.Core.Net;
using PacketLife.Core.Netfilter;
using PacketLife.Core.Netfilter.Evaluation;
using PacketLife.Core.Netfilter.Text;
using PacketLife.Core.Tracing.Host;

namespace PacketLife.Tests.Tracing.Host;

/// <summary>The work-saving paths of a host explain give what the plain walk gives: an explain that records no steps,
/// a commit that replays the explained branches instead of explaining each table again, a table that cannot fork or
/// whose chain is empty walked once or not at all. One row per rule set, in the kernel's words.</summary>
public class ExplainWorkTests
{
    // Every row: a node's nat table with statistic branches (one stateful: nth), MASQUERADE --random-fully on the way
    // out, an empty mangle table, and a filter FORWARD that accepts, drops or rejects part of the traffic.
    const string Nat = """
        *nat
        :PREROUTING ACCEPT [0:0]
        :INPUT ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        :POSTROUTING ACCEPT [0:0]
        :SVC - [0:0]
        :SEP1 - [0:0]
        :SEP2 - [0:0]
        :SEP3 - [0:0]
        -A PREROUTING -d 198.51.100.1/32 -p tcp -m tcp --dport 80 -j SVC
        -A SVC -m statistic --mode random --probability 0.33333333349 -j SEP1
        -A SVC -m statistic --mode random --probability 0.50000000000 -j SEP2
        -A SVC -j SEP3
        -A SEP1 -p tcp -j DNAT --to-destination 203.0.113.2:8080
        -A SEP2 -p tcp -j DNAT --to-destination 203.0.113.3:8080
        -A SEP3 -p tcp -j DNAT --to-destination 203.0.113.4:8080
        -A POSTROUTING -o eth1 -j MASQUERADE --random-fully
        COMMIT
        *mangle
        :PREROUTING ACCEPT [0:0]
        :INPUT ACCEPT [0:0]
        :FORWARD ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        :POSTROUTING ACCEPT [0:0]
        COMMIT

        """;

    public static TheoryData<string, string, string> Rows => new()
    {
        // case                     filter table                                                                        packet to
        { "forwarded",              "-A FORWARD -m conntrack --ctstate NEW -j ACCEPT",                                     "198.51.100.1:80" },
        { "one backend dropped",    "-A FORWARD -d 203.0.113.3/32 -j DROP",                                                "198.51.100.1:80" },
        { "one backend rejected",   "-A FORWARD -d 203.0.113.4/32 -p tcp -j REJECT --reject-with tcp-reset",               "198.51.100.1:80" },
        { "nth: stateful rule",     "-A FORWARD -m statistic --mode nth --every 2 --packet 0 -j ACCEPT",                   "198.51.100.1:80" },
        { "no Service: no fork",    "-A FORWARD -j ACCEPT",                                                                "198.51.100.1:81" },
    };

    static HostRuntime Runtime(string filter) =>
        HostWalkTests.Runtime(Nat + "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n" + filter + "\nCOMMIT\n");

    /// <summary>Everything an outcome says, steps included, and the conntrack table it left.</summary>
    static string Show(HostWalkOutcome o, HostRuntime rt) => string.Join("\n",
    [
        $"{o.Probability.ToString("R", CultureInfo.InvariantCulture)} {HostWalkOutcome.DispositionName(o.Disposition)} at {o.Where}: {o.Reason}",
        $"{o.PacketBefore} => {o.PacketAfter} out {o.OutInterface} via {o.Nexthop} reply {o.Reply} committed {o.Committed} choices {string.Join(",", o.Choices)}",
        $"conntrack {o.Conntrack} created {o.ConntrackCreated} ports {string.Join(",", o.RandomPorts)} uncertain {string.Join(";", o.Uncertain)}",
        .. o.Steps.Select(s => $"  [{s.Hook}] {s.Text}"),
        .. rt.Conntrack.List().Select(e => "  table: " + ConntrackText.Write(ConntrackLine.FromEntry(e, rt.Conntrack.Now))),
    ]);

    [Theory]
    [MemberData(nameof(Rows))]
    public void An_explain_without_steps_gives_the_same_outcomes(string _, string filter, string to)
    {
        var rt = Runtime(filter);
        var w = new HostWalker(rt);
        var packet = HostWalkTests.Tcp("198.51.100.2:1000", to);
        var recorded = w.Explain(packet, new HostPacketOrigin.Wire("eth0"));
        var bare = w.Explain(packet, new HostPacketOrigin.Wire("eth0"), recordSteps: false);
        Assert.Equal(recorded.Count, bare.Count);
        Assert.All(bare, o => Assert.Empty(o.Steps));
        for (int i = 0; i < recorded.Count; i++)
            Assert.Equal(Show(recorded[i] with { Steps = [] }, rt), Show(bare[i], rt));
        Assert.Contains(recorded, o => o.Steps.Length > 0);
    }

    [Theory]
    [MemberData(nameof(Rows))]
    public void Committing_by_the_explained_branches_is_committing(string _, string filter, string to)
    {
        var packet = HostWalkTests.Tcp("198.51.100.2:1000", to);
        var outcomes = new HostWalker(Runtime(filter)).Explain(packet, new HostPacketOrigin.Wire("eth0"), recordSteps: false);
        Assert.NotEmpty(outcomes);
        foreach (var o in outcomes)
        {
            // Two identical runtimes, each committing the same outcome with the same random source.
            var (a, b) = (Runtime(filter), Runtime(filter));
            var plain = new HostWalker(a).Commit(o, new Random(7));
            var replayed = new HostWalker(b).CommitExplained(o, new Random(7));
            Assert.Equal(Show(plain, a), Show(replayed, b));
            Assert.Equal(o.Probability, replayed.Probability, 12);
        }
    }

    [Fact]
    public void A_table_forks_only_at_the_hooks_whose_chains_reach_a_random_statistic_rule()
    {
        var nat = new TableEvaluator(IptablesSaveReader.Read(Nat, "rules").RuleSet.Tables.Single(t => t.Name == "nat"));
        Assert.True(nat.CanBranch(NetfilterHook.Prerouting));
        Assert.False(nat.CanBranch(NetfilterHook.Postrouting));
        Assert.False(nat.CanBranch(NetfilterHook.Output));
        Assert.False(nat.CanBranch(NetfilterHook.Forward)); // nat has no FORWARD chain
        // Where it cannot fork, explain has one outcome: the plain walk's.
        var ctx = PacketLife.Tests.Netfilter.TraversalTests.Ctx(new Packet(IpProtocol.Tcp, Ip4.Parse("198.51.100.2"), 1000, Ip4.Parse("203.0.113.9"), 80), NetfilterHook.Postrouting);
        var one = Assert.Single(nat.Explain(ctx));
        Assert.Equal(1, one.Probability);
        Assert.Equal("nat:POSTROUTING:1 Verdict MASQUERADE  -A POSTROUTING -o eth1 -j MASQUERADE --random-fully", Assert.Single(one.Visits).ToString());
    }

    [Theory]
    // chain                                                                  empty ACCEPT?
    [InlineData("*mangle\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n", true)]
    [InlineData("*mangle\n:PREROUTING DROP [0:0]\nCOMMIT\n", false)]
    [InlineData("*mangle\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j MARK --set-mark 0x1\nCOMMIT\n", false)]
    public void An_empty_built_in_chain_with_policy_accept_needs_no_walk(string rules, bool empty)
    {
        var mangle = new TableEvaluator(IptablesSaveReader.Read(rules, "rules").RuleSet.Tables.Single());
        Assert.Equal(empty, mangle.IsEmptyAccept(NetfilterHook.Prerouting, out var visit));
        var walked = mangle.Sample(PacketLife.Tests.Netfilter.TraversalTests.Ctx(new Packet(IpProtocol.Tcp, Ip4.Parse("198.51.100.2"), 1000, Ip4.Parse("203.0.113.9"), 80), NetfilterHook.Prerouting), new Random(1));
        if (!empty) return;
        // The visit given is the one the walk records, and the walk accepts without touching the packet.
        Assert.Equal(Assert.Single(walked.Visits), visit);
        Assert.Equal(VerdictKind.Accept, walked.Verdict.Kind);
        Assert.Empty(walked.Requests);
    }

    [Fact]
    public void A_rule_visit_step_writes_its_text_when_read_and_compares_by_what_it_says()
    {
        var v = new RuleVisit("nat", "SVC", 1, "-A SVC -j SEP1", VisitAction.Jump, "SEP1");
        var lazy = HostStepOf(v);
        var eager = new HostStep(HostStepKind.Rule, "PREROUTING", v.ToString(), v);
        Assert.Equal(eager, lazy);
        Assert.Equal(eager.GetHashCode(), lazy.GetHashCode());
        Assert.Equal("nat:SVC:1 Jump SEP1  -A SVC -j SEP1", lazy.Text);
        Assert.Equal("  nat:SVC:1 Jump SEP1  -A SVC -j SEP1", (lazy with { Text = "  " + lazy.Text }).Text);
    }

    static HostStep HostStepOf(RuleVisit v) =>
        (HostStep)typeof(HostStep).GetConstructor(System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance, [typeof(HostStepKind), typeof(string), typeof(RuleVisit)])!
            .Invoke([HostStepKind.Rule, "PREROUTING", v]);

    [Fact]
    public void A_walk_notes_a_step_as_hook_and_text_and_cuts_the_text_from_it()
    {
        var rt = Runtime("-A FORWARD -j ACCEPT");
        var o = new HostWalker(rt).Sample(HostWalkTests.Tcp("198.51.100.2:1000", "203.0.113.9:81"), new HostPacketOrigin.Wire("eth0"), new Random(1));
        var ttl = Assert.Single(o.Steps, s => s.Kind == HostStepKind.Ttl);
        Assert.Equal("FORWARD", ttl.Hook);
        Assert.Equal("ttl 64 -> 63", ttl.Text);
        Assert.Equal("FORWARD: ttl 64 -> 63", ttl.ToString());
        var fresh = Assert.Single(o.Steps, s => s.Kind == HostStepKind.Conntrack);
        Assert.StartsWith("new entry: tcp SYN_SENT src=198.51.100.2 dst=203.0.113.9 sport=1000 dport=81 ", fresh.Text);
    }

    [Fact]
    public void A_flush_removes_every_entry_as_removing_each_would()
    {
        var rt = Runtime("-A FORWARD -j ACCEPT");
        var w = new HostWalker(rt);
        for (ushort port = 1000; port < 1004; port++)
            w.Sample(HostWalkTests.Tcp($"198.51.100.2:{port}", "198.51.100.1:80"), new HostPacketOrigin.Wire("eth0"), new Random(port));
        var entries = rt.Conntrack.List().ToList();
        Assert.Equal(4, entries.Count);
        Assert.Equal(4, rt.Conntrack.Flush());
        Assert.Equal(0, rt.Conntrack.Count);
        Assert.Empty(rt.Conntrack.List());
        Assert.All(entries, e => Assert.True(e.Has(ConntrackStatus.Dying)));
        Assert.All(entries, e => Assert.False(rt.Conntrack.TryLookup(e.Original, out _, out _)));
        Assert.Equal(0, rt.Conntrack.Flush());
        // The emptied table takes the same connections again, listed in their new order.
        w.Sample(HostWalkTests.Tcp("198.51.100.2:1003", "198.51.100.1:80"), new HostPacketOrigin.Wire("eth0"), new Random(1));
        w.Sample(HostWalkTests.Tcp("198.51.100.2:1000", "198.51.100.1:80"), new HostPacketOrigin.Wire("eth0"), new Random(1));
        Assert.Equal([(ushort)1003, (ushort)1000], rt.Conntrack.List().Select(e => e.Original.SrcPort));
    }

    [Fact]
    public void A_copy_of_the_rule_state_is_its_own()
    {
        var state = new NetfilterState();
        var copy = state.Clone();
        Assert.Same(state.IpSets, copy.IpSets);
        var m = new Core.Netfilter.Matches.StatisticMatch { Mode = Core.Netfilter.Matches.StatisticMode.Nth, Every = 2 };
        copy.NthCounters[m] = 1;
        copy.Recent["SEEN"] = new RecentTable("SEEN", 0xFFFFFFFF);
        Assert.Empty(state.NthCounters);
        Assert.Empty(state.Recent);
        state.NthCounters[m] = 5;
        var again = state.Clone();
        Assert.Equal(5u, again.NthCounters[m]);
        again.NthCounters[m] = 6;
        Assert.Equal(5u, state.NthCounters[m]);
        state.ResetRuleState();
        Assert.Empty(state.NthCounters);
    }
}
