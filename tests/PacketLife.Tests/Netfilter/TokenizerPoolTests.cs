using CsCheck;
using PacketLife.Core.Netfilter.Text;

namespace PacketLife.Tests.Netfilter;

/// <summary>The reader's pooled tokenizer (strings shared per read, numbers left as ranges of the text) splits every line
/// exactly as the plain one does (xshared.c add_param_to_argv), and sharing never merges two different texts.</summary>
public class TokenizerPoolTests
{
    static (bool Ok, int Col, List<(string, int)> Tokens) Plain(string line)
    {
        var l = new List<Token>();
        bool ok = Tokenizer.Split(line, l, out var col);
        return (ok, col, l.Select(t => (t.Value, t.Column)).ToList());
    }

    static (bool Ok, int Col, List<(string, int)> Tokens) Pooled(string line, StringPool pool, string prefix = "xx\n")
    {
        // The line sits inside a larger text, as in a file: columns stay relative to the line.
        var text = prefix + line + "\ntail";
        var l = new TokenList();
        bool ok = Tokenizer.Split(text, prefix.Length, line.Length, l, pool, out var col);
        return (ok, col, l.Select(t => (t.Value, t.Column)).ToList());
    }

    [Theory]
    [InlineData("-A KUBE-SVC-X -d 10.0.0.1/32 -p tcp -m comment --comment \"ns/a cluster IP\" -m tcp --dport 80 -j KUBE-SEP-Y")]
    [InlineData("-A X -m comment --comment \"a \\\"quoted\\\" word\" -j ACCEPT")]
    [InlineData("-A X -m comment --comment pre\"fix part\"after -j ACCEPT")]
    [InlineData("-A X -m comment --comment \"\" -j ACCEPT")]
    [InlineData("[12:345] -A X -s 1.2.3.4 -j DROP")]
    [InlineData("  -A\tX  -m statistic --mode random --probability 0.33333333349 -j Y  ")]
    [InlineData("-A X -m comment --comment \"back\\\\slash\"")]
    [InlineData("-A X -m comment --comment \"left open")]
    [InlineData("-A X -m comment --comment \"left open\\\"")]
    [InlineData("-A X 9chain \"a\"\"b\" c\\d")]
    public void Pooled_split_equals_plain_split(string line)
    {
        var plain = Plain(line);
        var pooled = Pooled(line, new StringPool());
        Assert.Equal(plain.Ok, pooled.Ok);
        Assert.Equal(plain.Col, pooled.Col);
        if (plain.Ok) Assert.Equal(plain.Tokens, pooled.Tokens);
    }

    [Fact]
    public void Pooled_split_equals_plain_split_for_generated_lines()
    {
        Gen.Char["ab -\"\\1.:/ \t!["].Array[0, 40].Select(a => new string(a)).Sample(line =>
        {
            var plain = Plain(line);
            var pooled = Pooled(line, new StringPool());
            return plain.Ok == pooled.Ok && plain.Col == pooled.Col && (!plain.Ok || plain.Tokens.SequenceEqual(pooled.Tokens));
        }, iter: 5000);
    }

    [Fact]
    public void Pool_shares_equal_texts_and_never_merges_different_ones()
    {
        var pool = new StringPool();
        var a = pool.Get("KUBE-SEP-AAAA".AsSpan());
        var a2 = pool.Get(new string("KUBE-SEP-AAAA".ToCharArray()).AsSpan());
        var b = pool.Get("KUBE-SEP-AAAB".AsSpan());
        var c = pool.Get("kube-sep-aaaa".AsSpan());
        Assert.Same(a, a2);
        Assert.Equal("KUBE-SEP-AAAB", b);
        Assert.Equal("kube-sep-aaaa", c);
        Assert.NotSame(a, b);
        Assert.NotSame(a, c);
        Assert.Equal(3, pool.Count);
    }

    [Fact]
    public void Reader_shares_a_chain_name_and_a_comment_across_lines()
    {
        var text = "*nat\n:KUBE-SEP-A - [0:0]\n-A KUBE-SEP-A -m comment --comment \"ns/a\" -j ACCEPT\n-A KUBE-SEP-A -m comment --comment \"ns/a\" -j ACCEPT\n" +
                   "-A KUBE-SEP-A -m comment --comment \"ns/b\" -j ACCEPT\nCOMMIT\n";
        var r = IptablesSaveReader.Read(text, "t");
        Assert.False(r.HasErrors, string.Join("\n", r.Diagnostics));
        var rules = r.RuleSet.Table("nat")!.Chain("KUBE-SEP-A")!.Rules;
        Assert.Equal(3, rules.Length);
        Assert.Same(rules[0].Chain, rules[1].Chain);
        var c0 = (PacketLife.Core.Netfilter.Matches.CommentMatch)rules[0].Matches[0];
        var c1 = (PacketLife.Core.Netfilter.Matches.CommentMatch)rules[1].Matches[0];
        var c2 = (PacketLife.Core.Netfilter.Matches.CommentMatch)rules[2].Matches[0];
        Assert.Same(c0, c1);
        Assert.Equal("ns/b", c2.Comment);
        Assert.Equal(text, IptablesSaveWriter.Write(r.RuleSet));
    }

    [Fact]
    public void Numeric_tokens_are_ranges_of_the_text_and_read_back_exactly()
    {
        var pool = new StringPool();
        var (ok, _, tokens) = Pooled("-s 10.0.0.1/32 --dport 8080 [1:2]", pool);
        Assert.True(ok);
        Assert.Equal([("-s", 1), ("10.0.0.1/32", 4), ("--dport", 16), ("8080", 24), ("[1:2]", 29)], tokens);
        Assert.Equal(2, pool.Count); // only the option names were pooled
    }

    [Fact]
    public void The_pool_gives_each_text_one_instance_and_never_another_text_even_when_its_recent_cache_collides()
    {
        // A tiny alphabet and short words: many texts share a slot of the pool's direct-mapped front cache.
        Gen.Char["ab-"].Array[0, 4].Select(a => new string(a)).Array[1, 200].Sample(words =>
        {
            var pool = new StringPool(4);
            var first = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var w in words)
            {
                var got = pool.Get(w.AsSpan());
                Assert.Equal(w, got);
                if (first.TryGetValue(w, out var earlier)) Assert.Same(earlier, got);
                else first[w] = got;
            }
            Assert.Equal(first.Count, pool.Count);
        }, iter: 300);
    }
}
