using System.Runtime.CompilerServices;

namespace PacketLife.Tests.KubeProxy;

/// <summary>The seed's two clusters through the CLI (`kube-proxy sync --format save`): every line the seed's
/// `iptables-save | grep` shows is printed exactly (with the `-m tcp --dport 80` its author trimmed restored,
/// facts §7), in the seed's order within each chain; and the whole outputs match the golden files
/// (rewritten only on purpose, with PACKETLIFE_UPDATE_GOLDEN=1).</summary>
public class SeedGoldenTests
{
    const string Node0 = "aks-nodepool1-33086427-vmss000000", Node1 = "aks-nodepool1-33086427-vmss000001";

    public static TheoryData<string, string> Cases => new()
    {
        { "seed-pod", Node1 },
        { "seed-deployment", Node0 },
        { "seed-deployment", Node1 },
    };

    static string Dir(string scenario, [CallerFilePath] string here = "") =>
        Path.Combine(Path.GetDirectoryName(here)!, "..", "Golden", "KubeProxy", scenario);

    static (int Code, string Out, string Err) Run(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = PacketLife.App.Program.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    [Theory, MemberData(nameof(Cases))]
    public void Every_seed_grep_line_is_printed_in_save_form(string scenario, string node)
    {
        var dir = Dir(scenario);
        var (code, save, err) = Run("kube-proxy", "sync", "--objects", Path.Combine(dir, "objects.yaml"), "--hostname", node, "--format", "save");
        Assert.True(code == 0, err);
        var lines = save.Split('\n');
        var expected = File.ReadAllLines(Path.Combine(dir, "seed-grep-lines.txt"));
        foreach (var l in expected) Assert.Contains(l, lines);
        // within a chain, the seed's order is the printed order
        foreach (var chain in expected.Select(l => l.Split(' ')[1]).Distinct())
        {
            var mine = lines.Where(l => l.StartsWith($"-A {chain} ") && expected.Contains(l)).ToArray();
            Assert.Equal(expected.Where(l => l.StartsWith($"-A {chain} ")).ToArray(), mine);
        }
        // `iptables-save | grep loadbal` prints exactly the seed's one line
        Assert.Equal([expected[0]], lines.Where(l => l.Contains("loadbal")).ToArray());
    }

    [Theory, MemberData(nameof(Cases))]
    public void Whole_outputs_match_golden_files(string scenario, string node)
    {
        var dir = Dir(scenario);
        foreach (var format in new[] { "restore", "save" })
        {
            var (code, output, err) = Run("kube-proxy", "sync", "--objects", Path.Combine(dir, "objects.yaml"), "--hostname", node, "--format", format);
            Assert.True(code == 0, err);
            var golden = Path.Combine(dir, $"{node}.{format}.txt");
            if (Environment.GetEnvironmentVariable("PACKETLIFE_UPDATE_GOLDEN") == "1") File.WriteAllText(golden, output);
            Assert.True(File.Exists(golden), $"missing golden file {golden}");
            Assert.Equal(File.ReadAllText(golden), output);
        }
    }
}
