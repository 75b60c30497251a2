using PacketLife.Lab.Generation;
using PacketLife.Lab.Kernel;
using Xunit.Abstractions;

namespace PacketLife.Lab.Tests;

/// <summary>The random case generator: deterministic by seed, and every ruleset it writes is accepted by the kernel.</summary>
public class GeneratorTests
{
    private readonly RulesetGenerator _gen = new();

    [Fact]
    public void The_same_seed_gives_the_same_case()
    {
        for (int seed = 0; seed < 50; seed++)
        {
            var a = _gen.Generate(seed);
            var b = _gen.Generate(seed);
            Assert.Equal(a.RulesetText, b.RulesetText);
            Assert.Equal(a.Packets, b.Packets);
        }
        Assert.NotEqual(_gen.Generate(1).RulesetText, _gen.Generate(2).RulesetText);
    }

    /// <summary>Over many seeds, every match and target family the generator promises shows up (a generator that
    /// silently stopped producing one would make the differential run blind to it).</summary>
    [Fact]
    public void Covers_every_match_and_target_it_promises()
    {
        var all = string.Join("\n", Enumerable.Range(0, 400).Select(s => _gen.Generate(s).RulesetText));
        string[] expected =
        [
            "-s ", "! -s ", "-d ", "-i ", "-o ", "-p tcp", "-p udp", "-p icmp", "! -p ", "-m tcp", "--sport", "--dport", "--tcp-flags", "--syn",
            "-m udp", "-m icmp --icmp-type", "-m multiport", "-m mark", "-m connmark", "-m conntrack --ctstate", "-m state --state",
            "-m addrtype", "--limit-iface-in", "--limit-iface-out", "-m statistic --mode nth", "-m statistic --mode random", "-m iprange",
            "-m length", "-m ttl", "-m comment", "-j ACCEPT", "-j DROP", "-j REJECT --reject-with icmp", "--reject-with tcp-reset",
            "-j RETURN", "-j U-", "-g U-", "-j MARK", "-j CONNMARK", "-j DNAT", "-j SNAT", "-j MASQUERADE", "-j REDIRECT",
            ":FORWARD DROP", "*raw", "*mangle", "*nat", "*filter",
        ];
        foreach (var e in expected) Assert.Contains(e, all);
        // statistic random only with probability 0 or 1, so outcomes are checkable.
        Assert.DoesNotMatch(@"--probability 0\.[0-9]*[1-9]", all);
    }

    [Fact]
    public void Packets_are_sendable()
    {
        for (int seed = 0; seed < 300; seed++)
            foreach (var p in _gen.Generate(seed).Packets)
            {
                Assert.True(p.Packet.Length >= Agent.RawPacket.MinimumLength(p.Packet.Protocol));
                Assert.Equal(0u, p.Packet.Mark);
            }
    }
}

/// <summary>Every generated ruleset is accepted by the real kernel (iptables-legacy-restore into the oracle's router),
/// including the kernel-side checks that `--test` would not make (table and hook restrictions are enforced at commit).</summary>
[Collection("kernel")]
public class GeneratedRulesetsLoadTests(OracleFixture fixture, ITestOutputHelper output)
{
    [KernelFact]
    public void Two_hundred_generated_rulesets_are_accepted_by_iptables_legacy_restore()
    {
        var gen = new RulesetGenerator();
        var refused = new List<string>();
        for (int seed = 0; seed < 200; seed++)
        {
            var c = gen.Generate(seed);
            var r = fixture.Oracle.Load(c.RulesetText);
            if (!r.Succeeded) refused.Add($"seed {seed}: {r.Stderr.Trim()}\n{c.RulesetText}");
        }
        output.WriteLine($"{200 - refused.Count} of 200 generated rulesets accepted by the kernel");
        Assert.True(refused.Count == 0, string.Join("\n\n", refused.Take(3)));
    }

    /// <summary>Generated cases run end to end through the oracle (a smoke run; the 1,000-case differential run
    /// belongs with the netfilter engine, which supplies the other side).</summary>
    [KernelFact]
    public void Generated_cases_run_through_the_oracle()
    {
        var gen = new RulesetGenerator();
        int withTraffic = 0;
        for (int seed = 1000; seed < 1040; seed++)
        {
            var c = gen.Generate(seed);
            var o = fixture.Oracle.Run(c.ToKernelCase());
            Assert.True(o.Loaded, $"{o.LoadError}\n{c}");
            // Every sent packet from the client left it; the router's wire shows what arrived there.
            if (o.AtServer.Count + o.DeliveredLocally.Count + o.BackAtClient.Count > 0) withTraffic++;
            Assert.NotEmpty(o.Rules.Concat<object>(o.Policies));
        }
        output.WriteLine($"{withTraffic} of 40 generated cases had a visible outcome (server, local or reply)");
        Assert.True(withTraffic > 10, "almost no generated case produced any observable packet: the oracle is not observing");
    }

    /// <summary>The oracle is repeatable: the same case twice gives the same counters and the same packets in the same
    /// places (ports chosen at random by --random-fully and conntrack timers aside), so a disagreement with the engine
    /// is never the oracle's noise.</summary>
    [KernelFact]
    public void The_same_generated_case_twice_gives_the_same_observation()
    {
        var gen = new RulesetGenerator();
        var differing = new List<string>();
        for (int seed = 2000; seed < 2030; seed++)
        {
            var c = gen.Generate(seed).ToKernelCase();
            var a = fixture.Oracle.Run(c);
            var b = fixture.Oracle.Run(c);
            if (Shape(a) != Shape(b)) differing.Add($"seed {seed}:\n{a}\nvs\n{b}");
        }
        Assert.True(differing.Count == 0, string.Join("\n", differing.Take(2)));
    }

    private static string Shape(KernelObservation o) =>
        string.Join(",", o.Rules.Select(r => r.Packets)) + "|" + string.Join(",", o.Policies.Select(p => p.Packets)) + "|"
        + string.Join(",", o.AtServer.Select(s => $"{s.Packet.Protocol} {s.Packet.Dst}:{s.Packet.DstPort} {s.Packet.Flags}")) + "|"
        + string.Join(",", o.DeliveredLocally.Select(s => $"{s.Packet.Protocol} {s.Packet.Dst}:{s.Packet.DstPort}")) + "|"
        + string.Join(",", o.BackAtClient.Select(s => $"{s.Packet.Protocol} {s.Packet.Src} {s.Packet.IcmpType}/{s.Packet.IcmpCode} {s.Packet.Flags}")) + "|"
        + o.Conntrack.Count + "|" + string.Join(",", o.SendErrors);
}
