using CsCheck;
using PacketLife.Core.Netfilter;
using PacketLife.Core.Netfilter.Matches;
using PacketLife.Core.Netfilter.Text;

namespace PacketLife.Tests.Netfilter;

/// <summary>The reader shares built matches by the text of their options (`tcp --dport 80`, a comment), chain names and
/// jump targets by the text of the name. Sharing must never change what a rule reads as: a line read among thousands
/// (warm caches) gives the rule and the diagnostics the same line gives read on its own; a stateful match (nth,
/// limit, recent) is never shared; a diagnostic a module's options give is reported on every line that has it.</summary>
public class ReaderSharingTests
{
    /// <summary>Rule bodies (after `-A X`) over every module and target path: repeated modules, the protocol check a
    /// shared match still needs, options joining an earlier module, duplicates, stateful matches, long comments.</summary>
    static readonly string[] Bodies =
    [
        "-p tcp -m comment --comment \"ns/a cluster IP\" -m tcp --dport 80 -j Y",
        "-m comment --comment \"ns/a\" -j KUBE-MARK-MASQ-LONG-NAME-X",
        "-m comment --comment ns/a -j Y",
        "-m comment --comment \"esc \\\" aped\" -j Y",
        "-m comment --comment \"\" -j Y",
        "-m comment --comment \"ns/a\" --comment \"again\" -j Y",
        "-m comment ! --comment \"ns/a\" -j Y",
        "-m comment --comment \"" + new string('c', 300) + "\" -j Y",
        "-m tcp --dport 80 -j Y",
        "-p udp -m tcp --dport 80 -j Y",
        "-p tcp -m tcp --dport 80 -m comment --comment \"x\" --sport 1 -j Y",
        "-p tcp -m tcp --dport 80 --dport 81 -j Y",
        "-p tcp -m tcp ! --dport 80 -j Y",
        "-p tcp -m tcp --dport ! 80 -j Y",
        "-p tcp -m tcp --dport 70000 -j Y",
        "-p tcp -m tcp --dport",
        "-m multiport --dports 80,443 -j Y",
        "-p tcp -m multiport --dports 80,443 -j Y",
        "-m statistic --mode random --probability 0.50000000000 -j Y",
        "-m statistic --mode nth --every 2 --packet 0 -j Y",
        "-m limit --limit 1/s -j Y",
        "-m recent --name r --rcheck --seconds 5 -j Y",
        "-m conntrack --ctstate NEW -m comment --comment \"ns/a\" -j Y",
        "-m addrtype --dst-type LOCAL -j Y",
        "-m mark --mark 0x4000/0x4000 -j Y",
        "-m set --match-set s src -j Y",
        "-m owner --uid-owner 0 -j Y",
        "-m rpfilter --invert -j Y",
        "-p tcp --dport 80 -j Y",
        "-j DNAT --to-destination 10.244.0.5:80",
        "-p tcp -j DNAT --to-destination 10.244.0.5:80",
        "-j MARK --set-xmark 0x4000/0x4000",
        "-j KUBE-MARK-MASQ-LONG-NAME-X",
        "-j KUBE-MARK-MASQ-LONG-NAME-X --bogus 1",
        "-g KUBE-MARK-MASQ-LONG-NAME-X",
        "-j Y",
        "-j NOWHERE-AT-ALL-IN-THIS-TABLE",
        "-j ACCEPT",
        "-j CLASSIFY --set-class 1:1",
    ];

    const string Header = "*filter\n:INPUT ACCEPT [0:0]\n:X - [0:0]\n:Y - [0:0]\n:KUBE-MARK-MASQ-LONG-NAME-X - [0:0]\n";

    /// <summary>Everything the read says of the rule on one line, minus the line number.</summary>
    static string Describe(NetfilterParseResult r, int line)
    {
        var sb = new System.Text.StringBuilder();
        foreach (var d in r.Diagnostics.Where(d => d.Location.Line == line))
            sb.Append(d.Severity).Append(' ').Append(d.Code).Append(" @").Append(d.Location.Column).Append(' ').Append(d.Message).Append(" | ").Append(d.Hint).Append('\n');
        var rule = r.RuleSet.Table("filter")!.Chains.SelectMany(c => c.Rules).SingleOrDefault(x => x.Location.Line == line);
        if (rule is not null)
            sb.Append(rule.Chain).Append(" @").Append(rule.TargetColumn).Append(' ').Append(rule.Canonical).Append(" | ")
              .Append(string.Join("; ", rule.Unsupported)).Append(" | ").Append(rule.Text);
        return sb.ToString();
    }

    static string Alone(string line)
    {
        var text = Header + line + "\nCOMMIT\n";
        return Describe(IptablesSaveReader.Read(text, "f"), 6);
    }

    [Fact]
    public void Every_line_read_among_many_reads_as_it_does_alone()
    {
        var alone = Bodies.Select(b => Alone("-A X " + b)).ToArray();
        Gen.Int[0, Bodies.Length - 1].Array[1, 200].Select(Gen.Int[1, 6]).Sample((picks, chunks) =>
        {
            var text = Header + string.Join("", picks.Select(p => "-A X " + Bodies[p] + "\n")) + "COMMIT\n";
            RulePreparer.ForcedChunks = chunks;
            NetfilterParseResult r;
            try { r = IptablesSaveReader.Read(text, "f"); }
            finally { RulePreparer.ForcedChunks = 0; }
            for (int k = 0; k < picks.Length; k++)
                Assert.Equal(alone[picks[k]], Describe(r, 6 + k));
            Assert.Equal(text, IptablesSaveWriter.Write(r.RuleSet));
        }, iter: 300);
    }

    static IEnumerable<Rule> Rules(string text) => IptablesSaveReader.Read(text, "f").RuleSet.Table("filter")!.Chains.SelectMany(c => c.Rules);

    [Theory]
    [InlineData("-m statistic --mode nth --every 2 --packet 0 -j Y")]
    [InlineData("-m limit --limit 1/s -j Y")]
    [InlineData("-m recent --name r --rcheck --seconds 5 -j Y")]
    public void A_stateful_match_is_never_shared_between_rules(string body)
    {
        var rules = Rules(Header + $"-A X {body}\n-A X {body}\n-A INPUT {body}\nCOMMIT\n").ToList();
        Assert.Equal(3, rules.Count);
        Assert.NotSame(rules[0].Matches[0], rules[1].Matches[0]);
        Assert.NotSame(rules[0].Matches[0], rules[2].Matches[0]);
        Assert.NotSame(rules[1].Matches[0], rules[2].Matches[0]);
    }

    [Theory]
    [InlineData("-p tcp -m tcp --dport 80 -j Y", 0)]
    [InlineData("-m statistic --mode random --probability 0.50000000000 -j Y", 0)]
    [InlineData("-m comment --comment \"ns/a\" -j Y", 0)]
    [InlineData("-m conntrack --ctstate NEW -j Y", 0)]
    [InlineData("-m mark --mark 0x4000/0x4000 -j Y", 0)]
    public void A_stateless_match_written_the_same_is_one_object(string body, int index)
    {
        var rules = Rules(Header + $"-A X {body}\n-A Y {body}\n-A X -j ACCEPT\n-A X {body}\nCOMMIT\n").Where(r => r.Matches.Length > 0).ToList();
        Assert.Equal(3, rules.Count);
        Assert.Same(rules[0].Matches[index], rules[1].Matches[index]);
        Assert.Same(rules[0].Matches[index], rules[2].Matches[index]);
    }

    [Fact]
    public void A_jump_target_and_a_chain_name_are_one_object_per_chain_of_the_table()
    {
        var rules = Rules(Header + "-A X -j KUBE-MARK-MASQ-LONG-NAME-X\n-A Y -j ACCEPT\n-A X -j KUBE-MARK-MASQ-LONG-NAME-X\n-A X -g KUBE-MARK-MASQ-LONG-NAME-X\nCOMMIT\n").ToList();
        // Chain X holds the two jumps and the goto, in that order; Y holds the ACCEPT.
        Assert.Same(rules[0].Target, rules[1].Target);
        Assert.NotSame(rules[0].Target, rules[2].Target);
        Assert.True(((PacketLife.Core.Netfilter.Targets.JumpTarget)rules[2].Target!).IsGoto);
        Assert.Same(rules[0].Chain, rules[2].Chain);
    }

    [Fact]
    public void A_comment_read_as_a_slice_is_the_comment_and_equals_one_made_from_its_text()
    {
        var rules = Rules(Header + "-A X -m comment --comment \"ns/a -> 10.0.0.1:80\" -j Y\n-A X -m comment --comment \"a \\\"b\\\"\" -j Y\nCOMMIT\n").ToList();
        var sliced = (CommentMatch)rules[0].Matches[0];
        var escaped = (CommentMatch)rules[1].Matches[0];
        Assert.Equal("ns/a -> 10.0.0.1:80", sliced.Comment);
        Assert.Equal("a \"b\"", escaped.Comment);
        Assert.Equal(new CommentMatch("ns/a -> 10.0.0.1:80"), sliced);
        Assert.Equal("-m comment --comment \"ns/a -> 10.0.0.1:80\"", sliced.SaveText);
        Assert.Same(sliced.Comment, sliced.Comment);
    }

    [Fact]
    public void A_module_warning_is_reported_on_every_line_that_has_it()
    {
        var body = "-m comment --comment \"" + new string('c', 300) + "\" -j Y";
        var r = IptablesSaveReader.Read(Header + $"-A X {body}\n-A X {body}\n-A X {body}\nCOMMIT\n", "f");
        var lines = r.Diagnostics.Where(d => d.Message.Contains("255")).Select(d => d.Location.Line).ToList();
        Assert.Equal([6, 7, 8], lines);
    }

    [Fact]
    public void A_shared_match_without_its_protocol_is_reported_where_it_is_used()
    {
        // The first rule builds `tcp --dport 80` with -p tcp; the second writes the same options without it.
        var r = IptablesSaveReader.Read(Header + "-A X -p tcp -m tcp --dport 80 -j Y\n-A X -m tcp --dport 80 -j Y\nCOMMIT\n", "f");
        var d = Assert.Single(r.Diagnostics);
        Assert.Equal(7, d.Location.Line);
        Assert.Contains("only valid for protocol 6", d.Message);
    }

    [Fact]
    public void An_option_after_a_shared_module_joins_it_as_the_parse_would()
    {
        var r = IptablesSaveReader.Read(Header + "-A X -p tcp -m tcp --dport 80 -j Y\n-A X -p tcp -m tcp --dport 80 -m comment --comment x --sport 1 -j Y\nCOMMIT\n", "f");
        Assert.Empty(r.Diagnostics);
        var rules = r.RuleSet.Table("filter")!.Chain("X")!.Rules;
        var tcp = (TcpMatch)rules[1].Matches[0];
        Assert.NotSame(rules[0].Matches[0], tcp);
        Assert.Equal("-A X -p tcp -m tcp --sport 1 --dport 80 -m comment --comment x -j Y", rules[1].Canonical);
    }

    [Fact]
    public void Tables_do_not_share_chain_slots()
    {
        // The same chain name in two tables: each table's jump resolves in its own chains.
        var text = "*nat\n:PREROUTING ACCEPT [0:0]\n:KUBE-SERVICES-LONG-NAME-X - [0:0]\n-A PREROUTING -j KUBE-SERVICES-LONG-NAME-X\nCOMMIT\n" +
                   "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j KUBE-SERVICES-LONG-NAME-X\nCOMMIT\n";
        foreach (var chunks in new[] { 1, 3 })
        {
            RulePreparer.ForcedChunks = chunks;
            try
            {
                var r = IptablesSaveReader.Read(text, "f");
                var d = Assert.Single(r.Diagnostics);
                Assert.Equal(8, d.Location.Line);
                Assert.NotSame(r.RuleSet.Table("nat")!.Chain("PREROUTING")!.Rules[0].Target, r.RuleSet.Table("filter")!.Chain("INPUT")!.Rules[0].Target);
            }
            finally { RulePreparer.ForcedChunks = 0; }
        }
    }
}
