using PacketLife.Core.Netfilter.Text;

namespace PacketLife.Tests.Netfilter;

/// <summary>The seed's `iptables-save | grep` lines are reproduced exactly from the lines kube-proxy writes in restore
/// order (kube-proxy-iptables.md §6.1 payload, §7 print-back).</summary>
public class SeedGoldenTests
{
    [Theory]
    [InlineData("seed-deployment")]
    [InlineData("seed-pod")]
    public void Seed_lines_are_what_iptables_save_prints_after_restore(string scenario)
    {
        var payload = IptablesSaveReader.Read(Nf.Golden(scenario + ".payload"), scenario + ".payload");
        Assert.False(payload.HasErrors, string.Join("\n", payload.Diagnostics));
        var saved = IptablesSaveWriter.Write(SaveView.AfterRestore(payload.RuleSet)).Split('\n');
        var expected = Nf.Golden(scenario + ".seed-lines").Split('\n').Where(l => l.StartsWith("-A", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(expected);
        foreach (var line in expected) Assert.Contains(line, saved);
        // and in the seed's order within each chain
        var positions = expected.Select(l => Array.IndexOf(saved, l)).ToList();
        foreach (var chain in expected.Select(l => l.Split(' ')[1]).Distinct())
        {
            var p = expected.Select((l, i) => (l, i)).Where(x => x.l.Split(' ')[1] == chain).Select(x => positions[x.i]).ToList();
            Assert.Equal(p.Order(), p);
        }
    }

    [Fact]
    public void After_restore_the_whole_table_is_printed_as_iptables_save_would() =>
        Assert.Equal(Nf.Golden("seed-deployment.after-restore"), IptablesSaveWriter.Write(SaveView.AfterRestore(
            IptablesSaveReader.Read(Nf.Golden("seed-deployment.payload"), "p").RuleSet)));
}
