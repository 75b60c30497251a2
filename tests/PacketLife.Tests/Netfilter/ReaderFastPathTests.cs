using System.Text;
using CsCheck;
using PacketLife.Core.Netfilter;
using PacketLife.Core.Netfilter.Targets;
using PacketLife.Core.Netfilter.Text;

namespace PacketLife.Tests.Netfilter;

/// <summary>The reader's fast paths must read exactly what its plain paths read:
/// <list type="bullet">
/// <item>a jump to a chain with a long name (over 20 characters, as kube-proxy's KUBE-SVC-… names are) is found by its
/// ordinal among the table's chain lines, a shorter one by its slot: a file whose chains are renamed long reads as the
/// same file with short names (diagnostics, rules, chain order, round trip), however it is cut into chunks;</item>
/// <item>a chain's rules appended one after another are kept as a run of the table's log, anything else (an `-I`, an
/// `-A` after another chain's rules, a flush, a delete) as the chain's own list;</item>
/// <item>a file is read in halves (ASCII straight into the text, UTF-8 decoded in two parts) and gives what reading its
/// text gives; anything else falls back to the one-thread read with its diagnostics.</item>
/// </list></summary>
public class ReaderFastPathTests
{
    /// <summary>Lines over chains U, V, W (declared), N (made by -N), Z (never declared), with every command the table
    /// walk applies: jumps and gotos to each, trailing arguments after a jump, `-I` at positions, appends that break a
    /// chain's run, flushes, deletes, duplicate chain lines, policies, and problems the checks report.</summary>
    static readonly string[] Lines =
    [
        ":U - [0:0]", ":V - [0:0]", ":V - [0:0]", ":W - [0:0]",
        "-A U -j V", "-A U -j W", "-A V -j W", "-A W -j U", "-A U -g V", "-A V -g W",
        "-A U -j Z", "-A U -g Z", "-A Z -j U", "-A U -j V --bogus 1", "-A U -j N",
        "-A U -m comment --comment \"to V\" -j V", "-A V -p tcp -m tcp --dport 80 -j W",
        "-I U 1 -j W", "-I U 2 -j V", "-I V -j U", "-I W 9 -j U",
        "-A INPUT -j U", "-A INPUT -j V", "-A OUTPUT -j W",
        "-N N", "-A N -j W", "-X N", "-X W", "-F U", "-F", "-X",
        "-A W -j DNAT --to-destination 10.0.0.1:80", "-A U -j MASQUERADE",
        "# a comment",
    ];

    const string LongSuffix = "-WITH-A-VERY-LONG-NAME";

    /// <summary>The same text with every chain U, V, W, N, Z renamed to a name over 20 characters.</summary>
    static string Lengthen(string text) =>
        System.Text.RegularExpressions.Regex.Replace(text, @"(?<=^|[\s:])([UVWNZ])(?=\s|$)", m => m.Value + LongSuffix, System.Text.RegularExpressions.RegexOptions.Multiline);

    static string Describe(NetfilterParseResult r, bool shorten)
    {
        var sb = new StringBuilder();
        foreach (var d in r.Diagnostics) sb.Append(d.Location.Line).Append(' ').Append(d.Code).Append(' ').Append(d.Severity).Append(' ').Append(d.Message).Append('\n');
        foreach (var t in r.RuleSet.Tables)
            foreach (var c in t.Chains)
            {
                sb.Append(t.Name).Append(':').Append(c.Name).Append(' ').Append(c.Policy).Append('\n');
                foreach (var rule in c.Rules)
                    sb.Append("  ").Append(rule.Location.Line).Append(' ').Append(rule.Canonical).Append(" | ").Append(rule.Target?.GetType().Name)
                      .Append(" | ").Append(string.Join("; ", rule.Unsupported)).Append('\n');
            }
        var s = sb.ToString();
        return shorten ? s.Replace(LongSuffix, "") : s;
    }

    static NetfilterParseResult ReadInChunks(string text, int chunks) => ChunkedReadTests.ReadInChunks(text, chunks);

    [Fact]
    public void Renaming_lengthens_every_chain_name_and_nothing_else()
    {
        Assert.Equal($":U{LongSuffix} - [0:0]\n-A U{LongSuffix} -g V{LongSuffix} -m comment --comment \"to V\"\n-X\n-A INPUT -j Z{LongSuffix}\n",
            Lengthen(":U - [0:0]\n-A U -g V -m comment --comment \"to V\"\n-X\n-A INPUT -j Z\n"));
    }

    [Fact]
    public void Long_chain_names_read_as_the_same_file_with_short_names_in_any_chunks()
    {
        Gen.Select(Gen.Int[0, Lines.Length - 1].Array[0, 60], Gen.Int[1, 12], Gen.Bool.Select(b => b ? "filter" : "nat"))
            .Sample((picks, chunks, table) =>
            {
                var builtins = table == "nat" ? ":PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n"
                                              : ":INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n";
                var text = $"*{table}\n{builtins}" + string.Join("", picks.Select(i => Lines[i] + "\n")) + "COMMIT\n";
                var longText = Lengthen(text);
                var plain = IptablesSaveReader.Read(text, "f");
                var fast = ReadInChunks(longText, chunks);
                Assert.Equal(Describe(plain, false), Describe(fast, true));
                Assert.Equal(longText, IptablesSaveWriter.Write(fast.RuleSet));
            }, iter: 400);
    }

    [Fact]
    public void A_jump_to_a_long_named_chain_is_its_one_jump_object_and_an_undefined_one_is_reported()
    {
        var u = "U" + LongSuffix;
        var v = "V" + LongSuffix;
        var text = $"*filter\n:INPUT ACCEPT [0:0]\n:{u} - [0:0]\n:{v} - [0:0]\n-A INPUT -j {u}\n-A {u} -j {v}\n-A INPUT -j {v}\n-A INPUT -g {v}\n-A INPUT -j MISSING{LongSuffix}\nCOMMIT\n";
        var r = IptablesSaveReader.Read(text, "f");
        var d = Assert.Single(r.Diagnostics);
        Assert.Equal(9, d.Location.Line);
        Assert.Contains("MISSING" + LongSuffix, d.Message);
        var input = r.RuleSet.Table("filter")!.Chain("INPUT")!.Rules;
        var inner = r.RuleSet.Table("filter")!.Chain(u)!.Rules;
        Assert.Same(inner[0].Target, input[1].Target);
        Assert.Equal(v, ((JumpTarget)input[1].Target!).ChainName);
        Assert.False(((JumpTarget)input[1].Target!).IsGoto);
        Assert.True(((JumpTarget)input[2].Target!).IsGoto);
        Assert.NotSame(input[1].Target, input[2].Target);
    }

    [Fact]
    public void Rules_appended_around_other_chains_and_inserted_keep_their_order()
    {
        var text = "*filter\n:INPUT ACCEPT [0:0]\n:A - [0:0]\n:B - [0:0]\n" +
                   "-A A -s 10.0.0.1 -j ACCEPT\n-A A -s 10.0.0.2 -j ACCEPT\n-A B -s 10.0.0.3 -j ACCEPT\n-A A -s 10.0.0.4 -j ACCEPT\n" +
                   "-I A 2 -s 10.0.0.5 -j ACCEPT\n-A B -s 10.0.0.6 -j ACCEPT\n-F B\n-A B -s 10.0.0.7 -j ACCEPT\nCOMMIT\n";
        foreach (var chunks in new[] { 1, 2, 5 })
        {
            var r = ReadInChunks(text, chunks);
            Assert.Empty(r.Diagnostics);
            var t = r.RuleSet.Table("filter")!;
            Assert.Equal(["10.0.0.1/32", "10.0.0.5/32", "10.0.0.2/32", "10.0.0.4/32"], t.Chain("A")!.Rules.Select(x => x.Source!.Value.Prefix.ToString()));
            Assert.Equal(["10.0.0.7/32"], t.Chain("B")!.Rules.Select(x => x.Source!.Value.Prefix.ToString()));
        }
    }

    static string BigDump(int services, string extra = "")
    {
        var sb = new StringBuilder("*nat\n:PREROUTING ACCEPT [0:0]\n:KUBE-SERVICES - [0:0]\n");
        for (int i = 0; i < services; i++) sb.Append($":KUBE-SVC-{i:D16} - [0:0]\n");
        sb.Append("-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n");
        for (int i = 0; i < services; i++)
        {
            sb.Append($"-A KUBE-SERVICES -d 10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}/32 -p tcp -m comment --comment \"ns/svc{i} cluster IP{(i == services / 2 ? extra : "")}\" -m tcp --dport {80 + i % 3} -j KUBE-SVC-{i:D16}\n");
            if (i % 997 == 0) sb.Append($"-A KUBE-SVC-{i:D16} -j KUBE-SVC-MISSING-{i:D12}\n");
            sb.Append($"-A KUBE-SVC-{i:D16} -m comment --comment \"ns/svc{i}\" -m tcp -p tcp -j DNAT --to-destination 10.244.{i >> 8 & 255}.{i & 255}:8080\n");
        }
        return sb.Append("COMMIT\n").ToString();
    }

    static string Summary(NetfilterParseResult r) =>
        string.Join("\n", r.Diagnostics) + "\n" + IptablesSaveWriter.Write(r.RuleSet) + "\n" + r.RuleSet.Table("nat")!.Chains.Sum(c => c.Rules.Length);

    [Theory]
    [InlineData("")]            // ASCII: read in halves straight into the text
    [InlineData(" \u00e9t\u00e9")] // UTF-8 beyond ASCII: read as bytes, decoded in halves
    public void A_large_file_reads_as_its_text(string extra)
    {
        var text = BigDump(30000, extra);
        Assert.True(Encoding.UTF8.GetByteCount(text) >= RulePreparer.ParallelMinChars, "the file must be large enough to be read in halves");
        var path = Path.Combine(Path.GetTempPath(), $"plt-test-{Guid.NewGuid():N}.iptables-save");
        File.WriteAllText(path, text);
        try
        {
            var fromFile = IptablesSaveReader.ReadFile(path);
            var fromBytes = IptablesSaveReader.Read(File.ReadAllBytes(path), path);
            var fromText = IptablesSaveReader.Read(text, path);
            Assert.Equal(Summary(fromText), Summary(fromFile));
            Assert.Equal(Summary(fromText), Summary(fromBytes));
            Assert.Equal((30000 + 996) / 997, fromFile.Diagnostics.Count); // one jump to a missing chain every 997 Services
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void A_large_file_with_invalid_utf8_reports_it_as_the_byte_read_does()
    {
        var bytes = Encoding.UTF8.GetBytes(BigDump(30000));
        int at = Array.IndexOf(bytes, (byte)'"', bytes.Length / 2 + 1000) + 1;
        bytes[at] = 0xFF;
        var path = Path.Combine(Path.GetTempPath(), $"plt-test-{Guid.NewGuid():N}.iptables-save");
        File.WriteAllBytes(path, bytes);
        try
        {
            var fromFile = IptablesSaveReader.ReadFile(path);
            var fromSpan = IptablesSaveReader.Read((ReadOnlySpan<byte>)bytes, path);
            Assert.Equal(fromSpan.Diagnostics.Select(d => d.ToString()), fromFile.Diagnostics.Select(d => d.ToString()));
            Assert.Contains(fromFile.Diagnostics, d => d.Message.Contains("UTF-8"));
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void A_missing_file_is_an_io_error()
    {
        Assert.Throws<FileNotFoundException>(() => IptablesSaveReader.ReadFile(Path.Combine(Path.GetTempPath(), $"plt-missing-{Guid.NewGuid():N}")));
    }
}
