using PacketLife.Core.Diagnostics;
using PacketLife.Core.Netfilter;
using PacketLife.Core.Netfilter.Text;

namespace PacketLife.Tests.Netfilter;

/// <summary>Reading then writing gives back the same bytes, and every rule of a real iptables-save dump is already in
/// the canonical form the writer produces.</summary>
public class RoundTripTests
{
    public static TheoryData<string, string[]> Dumps => new()
    {
        // dump file                         warnings expected (codes); no errors in any
        { "aks-node.legacy.iptables-save", [] },
        { "docker.nft.iptables-save", [] },
        { "calico.iptables-save", ["NF0021"] }, // -m rpfilter is not modelled
        { "seed-deployment.payload", [] },
        { "seed-pod.payload", [] },
    };

    [Theory]
    [MemberData(nameof(Dumps))]
    public void Write_of_read_is_byte_identical(string file, string[] warnings)
    {
        var text = Nf.Golden(file);
        var r = IptablesSaveReader.Read(text, file);
        Assert.DoesNotContain(r.Diagnostics, d => d.Severity == Severity.Error);
        Assert.Equal(warnings, r.Diagnostics.Select(d => d.Code).Distinct().ToArray());
        Assert.Equal(text, IptablesSaveWriter.Write(r.RuleSet));
    }

    [Theory]
    [InlineData("aks-node.legacy.iptables-save")]
    [InlineData("docker.nft.iptables-save")]
    [InlineData("calico.iptables-save")]
    public void Rules_of_an_iptables_save_dump_are_canonical(string file)
    {
        var r = IptablesSaveReader.Read(Nf.Golden(file), file);
        var rules = r.RuleSet.Tables.SelectMany(t => t.Lines.OfType<RuleLine>()).ToList();
        Assert.NotEmpty(rules);
        foreach (var l in rules) Assert.Equal(l.Text, l.Rule.Canonical);
    }

    [Fact]
    public void The_model_holds_tables_chains_and_comments_in_file_order()
    {
        var r = IptablesSaveReader.Read(Nf.Golden("aks-node.legacy.iptables-save"), "aks");
        Assert.Equal(["mangle", "filter", "nat"], r.RuleSet.Tables.Select(t => t.Name));
        Assert.IsType<CommentLine>(r.RuleSet.Lines[0]);
        var nat = r.RuleSet.Table("nat")!;
        var pre = nat.Chain("PREROUTING")!;
        Assert.True(pre.IsBuiltin);
        Assert.Equal("ACCEPT", pre.Policy);
        Assert.Equal(new Counters(21, 1260), pre.Counters);
        var svc = nat.Chain("KUBE-SVC-2CMXP7HKUVJN7L6M")!;
        Assert.False(svc.IsBuiltin);
        Assert.Null(svc.Policy);
        Assert.Equal(3, svc.Rules.Length);
        Assert.Equal(new Counters(1, 60), svc.Rules[1].Counters);
        Assert.Equal(new SourceLocation("aks", 96, 1), svc.Rules[1].Location);
    }

    [Theory]
    [InlineData("*filter\r\n:INPUT ACCEPT [0:0]\r\n-A INPUT -j ACCEPT\r\nCOMMIT\r\n")]
    [InlineData("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT   -s 10.0.0.1  -j ACCEPT\nCOMMIT")]
    [InlineData("# header\n\n*filter\n  # indented comment\n:INPUT DROP [5:300]\nCOMMIT\n# trailer\n")]
    [InlineData("\uFEFF*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n")]
    public void Odd_spacing_and_line_endings_round_trip(string text)
    {
        var r = IptablesSaveReader.Read(text, "t");
        Assert.False(r.HasErrors, string.Join("\n", r.Diagnostics));
        Assert.Equal(text, IptablesSaveWriter.Write(r.RuleSet));
    }
}
