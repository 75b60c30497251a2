using CsCheck;
using PacketLife.Core.Netfilter;
using PacketLife.Core.Netfilter.Text;

namespace PacketLife.Tests.Netfilter;

/// <summary>Rule lines are parsed ahead of the table walk, in chunks (in parallel for large inputs), each chunk with its
/// own pool, caches and diagnostics list. However a file is cut, the read must be the one a single pass gives: the same
/// diagnostics in the same order (line, column, wording), the same rules in the same chains, the same text back.</summary>
public class ChunkedReadTests
{
    /// <summary>Everything a read can meet, good and bad: tables, chain lines, rules with counters, `-I` positions,
    /// quotes, negations, unknown modules and targets, bad values, lines outside a table, jumps to undefined chains,
    /// hook and table restrictions, DROP in nat, a stray COMMIT, unterminated quotes.</summary>
    static readonly string[] Lines =
    [
        "*nat", "*filter", "*mangle", "*fliter", "COMMIT", "# a comment", "", "   ",
        ":PREROUTING ACCEPT [0:0]", ":INPUT DROP [1:2]", ":OUTPUT ACCEPT [3:4]", ":POSTROUTING ACCEPT [0:0]", ":U - [0:0]", ":V - [0:0]", ":V - [0:0]", ":W DROP [0:0]", ":X - [x:y]",
        "-A PREROUTING -m comment --comment \"kubernetes service portals\" -j U",
        "-A U -d 10.0.0.1/32 -p tcp -m comment --comment \"ns/a cluster IP\" -m tcp --dport 80 -j V",
        "-A V -m comment --comment \"ns/a -> 10.244.0.5:80\" -m statistic --mode random --probability 0.50000000000 -j W",
        "-A W -s 10.244.0.5/32 -m comment --comment \"ns/a\" -j MARK --set-xmark 0x4000/0x4000",
        "-A W -p tcp -m comment --comment \"ns/a\" -m tcp -j DNAT --to-destination 10.244.0.5:80",
        "-A POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN",
        "-A POSTROUTING -j MASQUERADE --random-fully",
        "-A POSTROUTING -p tcp -j DNAT --to-destination 10.0.0.1:80",
        "-A PREROUTING -j DROP",
        "-A OUTPUT -i eth0 -j ACCEPT",
        "-A PREROUTING -o eth0 -j ACCEPT",
        "-A INPUT -m owner --uid-owner 0 -j U",
        "-A U -m addrtype --dst-type LOCAL --limit-iface-in -j ACCEPT",
        "[5:300] -A INPUT -s 192.0.2.0/24 -j ACCEPT",
        "[5:x] -A INPUT -s 192.0.2.0/24 -j ACCEPT",
        "[1:2]",
        "-I U 1 -p udp -m udp --sport 53 -j ACCEPT",
        "-I U 99 -j RETURN",
        "-I V -j RETURN",
        "-A NOPE -j ACCEPT",
        "-A U -j NOWHERE",
        "-A U -j PREROUTING",
        "-A U -s 10.0.0.300 -j DROP",
        "-A U -p tpc -j DROP",
        "-A U ! ! -s 1.2.3.4 -j DROP",
        "-A U -s ! 1.2.3.4 -j DROP",
        "-A U -p tcp --dport 70000 -j DROP",
        "-A U -m rpfilter --invert -j DROP",
        "-A U -j CLASSIFY --set-class 1:1",
        "-A U -m comment --comment \"unterminated",
        "-A U -m comment --comment \"esc \\\" aped\" -j ACCEPT",
        "-A U -m statistic --mode nth --every 2 --packet 0 -j ACCEPT",
        "-A U -m tcp --dport 80 -j DROP",
        "-A U -m mark --mark 1/1 --mark 2 -j ACCEPT",
        "-A",
        "-A U",
        "-N Y", "-X Y", "-F U", "-P INPUT DROP", "-Z", "-Q U",
    ];

    static string Describe(NetfilterParseResult r)
    {
        var sb = new System.Text.StringBuilder();
        foreach (var d in r.Diagnostics) sb.Append(d).Append('\n');
        foreach (var t in r.RuleSet.Tables)
            foreach (var c in t.Chains)
            {
                sb.Append(t.Name).Append(':').Append(c.Name).Append(' ').Append(c.Policy).Append(' ').Append(c.Counters).Append('\n');
                foreach (var rule in c.Rules)
                    sb.Append("  ").Append(rule.Location).Append(" @").Append(rule.TargetColumn).Append(' ').Append(rule.Canonical)
                      .Append(" | ").Append(string.Join("; ", rule.Unsupported)).Append('\n');
            }
        return sb.Append(IptablesSaveWriter.Write(r.RuleSet)).ToString();
    }

    /// <summary>A read cut into exactly this many chunks (at least one background worker).</summary>
    internal static NetfilterParseResult ReadInChunks(string text, int chunks)
    {
        RulePreparer.ForcedChunks = chunks;
        try { return IptablesSaveReader.Read(text, "f"); }
        finally { RulePreparer.ForcedChunks = 0; }
    }

    [Fact]
    public void Any_file_of_these_lines_reads_the_same_in_any_number_of_chunks()
    {
        Gen.Select(Gen.Int[0, Lines.Length - 1].Array[0, 120], Gen.Int[1, 40], Gen.Bool)
            .Sample((picks, chunks, finalNewline) =>
            {
                var text = string.Join('\n', picks.Select(i => Lines[i])) + (finalNewline ? "\n" : "");
                var single = Describe(IptablesSaveReader.Read(text, "f"));
                var chunked = Describe(ReadInChunks(text, chunks));
                Assert.Equal(single, chunked);
            }, iter: 400);
    }

    [Theory]
    [InlineData("kube-proxy-like dump of every golden file", 1)]
    [InlineData("kube-proxy-like dump of every golden file", 2)]
    [InlineData("kube-proxy-like dump of every golden file", 7)]
    [InlineData("kube-proxy-like dump of every golden file", 1000)]
    public void The_golden_dumps_read_the_same_in_chunks(string what, int chunks)
    {
        var dir = Path.Combine(AppContext.BaseDirectory, "Golden", "Netfilter");
        foreach (var file in Directory.GetFiles(dir))
        {
            var text = File.ReadAllText(file);
            Assert.True(text.Length > 0, what);
            var chunked = ReadInChunks(text, chunks);
            Assert.Equal(Describe(IptablesSaveReader.Read(text, "f")), Describe(chunked));
            Assert.Equal(text, IptablesSaveWriter.Write(chunked.RuleSet));
        }
    }

    [Fact]
    public void A_large_read_uses_chunks_on_its_own_and_equals_the_single_pass()
    {
        // Over RulePreparer.ParallelMinChars: the reader cuts it itself (on a machine with more than one core).
        var sb = new System.Text.StringBuilder("*nat\n:PREROUTING ACCEPT [0:0]\n:KUBE-SERVICES - [0:0]\n");
        int services = 30000;
        for (int i = 0; i < services; i++) sb.Append($":KUBE-SVC-{i:D8} - [0:0]\n");
        sb.Append("-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n");
        for (int i = 0; i < services; i++)
        {
            sb.Append($"-A KUBE-SERVICES -d 10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}/32 -p tcp -m comment --comment \"ns/svc{i} cluster IP\" -m tcp --dport {80 + i % 3} -j KUBE-SVC-{i:D8}\n");
            // A problem now and then, so that diagnostics come from every chunk.
            if (i % 997 == 0) sb.Append($"-A KUBE-SVC-{i:D8} -s 10.0.0.{256 + i % 7} -j KUBE-SVC-MISSING{i}\n");
            sb.Append($"-A KUBE-SVC-{i:D8} -m comment --comment \"ns/svc{i} -> 10.244.{i >> 8 & 255}.{i & 255}:8080\" -j DNAT --to-destination 10.244.{i >> 8 & 255}.{i & 255}:8080\n");
        }
        sb.Append("COMMIT\n");
        var text = sb.ToString();
        Assert.True(text.Length >= RulePreparer.ParallelMinChars, "the input must be large enough for the reader to cut it");
        var auto = IptablesSaveReader.Read(text, "f");
        var single = ReadInChunks(text, 1);
        Assert.Equal(Describe(single), Describe(auto));
        Assert.Equal(2 * ((services + 996) / 997), auto.Diagnostics.Count);
    }
}
