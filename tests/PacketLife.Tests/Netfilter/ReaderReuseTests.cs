using PacketLife.Core.Netfilter.Matches;
using PacketLife.Core.Netfilter.Text;

namespace PacketLife.Tests.Netfilter;

/// <summary>The reader reuses its option bags and scratch lists rule after rule and shares stateless matches: nothing of
/// one rule (options, errors, unmodelled options, raw arguments) may leak into the next, and sharing only joins matches
/// that iptables-save prints the same.</summary>
public class ReaderReuseTests
{
    static PacketLife.Core.Netfilter.Rule[] Rules(string body, out NetfilterParseResult r)
    {
        r = IptablesSaveReader.Read("*filter\n:INPUT ACCEPT [0:0]\n:X - [0:0]\n" + body + "COMMIT\n", "t");
        return [.. r.RuleSet.Table("filter")!.Chain("X")!.Rules];
    }

    [Theory]
    // first rule (broken or unmodelled in some way)                                   second rule (clean)
    [InlineData("-A X -p tcp -m tcp --dport nope -j ACCEPT",                            "-A X -p tcp -m tcp --dport 80 -j ACCEPT")]
    [InlineData("-A X -p tcp -m tcp --tcp-option 3 -j ACCEPT",                          "-A X -p tcp -m tcp --dport 80 -j ACCEPT")]
    [InlineData("-A X -m frobnicate --level 3 -j ACCEPT",                                "-A X -m comment --comment \"c\" -j ACCEPT")]
    [InlineData("-A X -m comment --comment \"a\" --comment \"b\" -j ACCEPT",              "-A X -m comment --comment \"a\" -j ACCEPT")]
    [InlineData("-A X -m statistic --mode random --probability 2 -j ACCEPT",             "-A X -m statistic --mode random --probability 0.5 -j ACCEPT")]
    [InlineData("-A X -m mark --mark 1/1 --mark 2 -j ACCEPT",                            "-A X -m mark --mark 3 -j ACCEPT")]
    public void Nothing_of_a_rule_leaks_into_the_next(string first, string second)
    {
        var rules = Rules(first + "\n" + second + "\n", out var r);
        Assert.True(rules[0].IsUnsupported);
        Assert.False(rules[1].IsUnsupported, string.Join("; ", rules[1].Unsupported));
        Assert.DoesNotContain(r.Diagnostics, d => d.Location.Line == 5);
        // The second rule reads as it does alone.
        var alone = Rules(second + "\n", out _)[0];
        Assert.Equal(alone.Canonical, rules[1].Canonical);
        Assert.Equal(alone.Matches.Length, rules[1].Matches.Length);
    }

    [Fact]
    public void Stateless_matches_are_shared_only_when_they_print_the_same()
    {
        var rules = Rules(
            "-A X -p tcp -m tcp --dport 80 -j ACCEPT\n-A X -p tcp -m tcp --dport 80 -j ACCEPT\n-A X -p tcp -m tcp ! --dport 80 -j ACCEPT\n" +
            "-A X -p tcp -m tcp --sport 80 -j ACCEPT\n-A X -p udp -m udp --dport 80 -j ACCEPT\n-A X -p tcp -m tcp --dport 80:81 -j ACCEPT\n" +
            "-A X -m statistic --mode random --probability 0.50000000000 -j ACCEPT\n-A X -m statistic --mode random --probability 0.5 -j ACCEPT\n" +
            "-A X -m statistic --mode random ! --probability 0.5 -j ACCEPT\n-A X -m statistic --mode nth --every 2 --packet 0 -j ACCEPT\n" +
            "-A X -m statistic --mode nth --every 2 --packet 0 -j ACCEPT\n-A X -m comment --comment \"ab\" -j ACCEPT\n-A X -m comment --comment \"ab \" -j ACCEPT\n", out var r);
        Assert.False(r.HasErrors, string.Join("\n", r.Diagnostics));
        var m = rules.Select(x => x.Matches[0]).ToArray();
        Assert.Same(m[0], m[1]);
        for (int i = 2; i <= 5; i++) Assert.NotSame(m[0], m[i]);
        Assert.Equal(["-m tcp ! --dport 80", "-m tcp --sport 80", "-m udp --dport 80", "-m tcp --dport 80:81"], m[2..6].Select(x => x.SaveText));
        Assert.Same(m[6], m[7]); // the same probability, written two ways, prints the same
        Assert.NotSame(m[6], m[8]);
        Assert.NotSame(m[9], m[10]); // nth keeps a counter per rule
        Assert.NotSame(m[11], m[12]);
        Assert.Equal("ab ", ((CommentMatch)m[12]).Comment);
    }
}
