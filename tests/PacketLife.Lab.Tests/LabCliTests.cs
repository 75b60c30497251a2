using PacketLife.Core.Diagnostics;
using PacketLife.Lab;

namespace PacketLife.Lab.Tests;

/// <summary>`packetlife lab ...` verbs: one line on stderr and exit code 2 for expected failures, no stack trace.</summary>
public class LabCliTests
{
    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        var code = PacketLife.App.Program.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    public static TheoryData<string, string, string> MissingTools => new()
    {
        // case                      missing program             the one line
        { "conntrack missing",       "conntrack",                "lab: 'conntrack' is not installed (install it with: apt-get install -y conntrack)" },
        { "iptables missing",        "iptables-legacy-restore",  "lab: 'iptables-legacy-restore' is not installed (install it with: apt-get install -y iptables)" },
        { "ip missing",              "ip",                       "lab: 'ip' is not installed (install it with: apt-get install -y iproute2)" },
    };

    // Root and Linux only: elsewhere the first problem is "not Linux"/"not root" (tested below).
    [KernelTheory]
    [MemberData(nameof(MissingTools))]
    public void A_missing_tool_is_one_line_naming_the_package(string @case, string missing, string line)
    {
        var problems = LabPrerequisites.Problems(LabTool.ForOracle, p => p != missing);
        Assert.Equal([line], problems);
        _ = @case;
    }

    [Fact]
    public void Not_root_or_not_linux_comes_first_and_alone()
    {
        var problems = LabPrerequisites.Problems(LabTool.ForOracle, _ => false);
        if (!OperatingSystem.IsLinux()) Assert.Equal([LabMessages.NotLinux], problems);
        else if (!Environment.IsPrivilegedProcess) Assert.Equal([LabMessages.NotRoot], problems);
        else Assert.Equal(LabTool.ForOracle.Count, problems.Count);
    }

    [KernelFact]
    public void Down_on_a_directory_that_does_not_exist_is_a_no_op()
    {
        var (code, output, err) = Run("lab", "down", "--state", Path.Combine(LabEnvironment.StateRoot, "never-" + Guid.NewGuid().ToString("N")));
        Assert.Equal(0, code);
        Assert.Equal("lab: nothing to remove", output.Trim());
        Assert.Equal("", err);
    }

    [KernelFact]
    public void Down_on_a_damaged_journal_is_one_line_and_exit_2()
    {
        var dir = Path.Combine(LabEnvironment.StateRoot, "bad-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, LabJournal.FileName), "lab\t0badc0de\tx\nnetns\tplab-0badc0de-a\nwhat is this\nnetns\tplab-0badc0de-b\n");
        var (code, _, err) = Run("lab", "down", "--state", dir);
        Assert.Equal(2, code);
        Assert.Single(err.Trim().Split('\n'));
        Assert.Contains(":3: unreadable journal line \"what is this\"", err);
        Directory.Delete(dir, true);
    }

    [KernelFact]
    public void Down_removes_a_lab_from_its_journal()
    {
        var runner = new LabRunner(LabJournal.Create(LabId.New(), LabEnvironment.StateRoot));
        var ns = runner.CreateNamespace("cli");
        var (code, output, _) = Run("lab", "down", "--state", runner.Journal.Directory);
        Assert.Equal(0, code);
        Assert.Equal("lab: removed", output.Trim());
        Assert.False(LabRunner.NamespaceExists(ns));
        Assert.DoesNotContain(ns, JournalTests.NetnsList());
    }

    [KernelFact]
    public void Down_without_state_removes_the_labs_under_the_root_and_is_idempotent()
    {
        // Without --state, `lab down` removes every finished lab under the state root and every half-built one whose
        // builder is gone (LifecycleTests builds and kills real ones); an empty root has nothing to remove.
        var root = Path.Combine(LabEnvironment.StateRoot, "empty-" + Guid.NewGuid().ToString("N")[..8]);
        for (int i = 0; i < 2; i++)
        {
            var (code, output, err) = Run("lab", "down", "--state-root", root);
            Assert.Equal(0, code);
            Assert.Equal("lab: nothing to remove", output.Trim());
            Assert.Equal("", err);
        }
    }

    [Fact]
    public void Check_says_ready_or_names_the_first_missing_package()
    {
        var (code, output, err) = Run("lab", "check");
        if (code == 0) Assert.Equal("lab: ready", output.Trim());
        else
        {
            Assert.Equal(2, code);
            Assert.Single(err.Trim().Split('\n'));
            Assert.StartsWith("lab: ", err);
        }
    }

    [Fact]
    public void Generate_prints_the_same_case_for_the_same_seed()
    {
        var a = Run("lab", "generate", "--seed", "42");
        var b = Run("lab", "generate", "--seed", "42");
        Assert.Equal(0, a.Code);
        Assert.Equal(a.Out, b.Out);
        Assert.StartsWith("# packet from ", a.Out);
        Assert.Contains("COMMIT", a.Out);
    }
}
