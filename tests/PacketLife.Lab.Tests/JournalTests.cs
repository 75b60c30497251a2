using System.Diagnostics;
using PacketLife.Lab;

namespace PacketLife.Lab.Tests;

/// <summary>The journal and teardown: what a lab records is exactly what it removes, also after a SIGKILL.</summary>
public sealed class JournalTests : IDisposable
{
    private readonly List<string> _roots = [];

    private string TempRoot()
    {
        var r = Path.Combine(LabEnvironment.StateRoot, "j-" + Guid.NewGuid().ToString("N")[..8]);
        _roots.Add(r);
        return r;
    }

    public void Dispose()
    {
        foreach (var r in _roots.Where(Directory.Exists)) Directory.Delete(r, recursive: true);
    }

    [Fact]
    public void Journal_round_trips_through_load()
    {
        var root = TempRoot();
        var id = LabId.New(new Random(7));
        var j = LabJournal.Create(id, root);
        j.RecordNamespace(id.Namespace("rtr"));
        j.RecordProcess(4242, 99, id.Namespace("rtr"), "sleep 600");
        j.RecordDirectory(Path.Combine(j.Directory, "pods"));

        var back = LabJournal.Load(j.Directory);

        Assert.Equal(id, back.Id);
        Assert.Equal((Environment.ProcessId, ProcessControl.StartTime(Environment.ProcessId)!.Value), back.Owner);
        Assert.False(back.IsOrphaned); // its owner, this test process, is alive
        Assert.Empty(LabJournal.FindOrphans(root));
        Assert.Equal(j.Resources, back.Resources);
        Directory.Delete(root, recursive: true);
    }

    [Fact]
    public void A_torn_last_line_is_ignored_but_a_torn_middle_line_is_an_error()
    {
        var root = TempRoot();
        var id = LabId.New(new Random(8));
        var j = LabJournal.Create(id, root);
        j.RecordNamespace(id.Namespace("a"));
        File.AppendAllText(j.Path, "proc\t12");                  // SIGKILL in the middle of a write
        Assert.Single(LabJournal.Load(j.Directory).Resources);
        File.AppendAllText(j.Path, "\nnetns\t" + id.Namespace("b") + "\n");
        var e = Assert.Throws<LabException>(() => LabJournal.Load(j.Directory));
        Assert.Contains(":3: unreadable journal line", e.Message);
        Directory.Delete(root, recursive: true);
    }

    [Theory]
    [InlineData("plab-00000000-x")]      // another lab's namespace
    [InlineData("plt-12345678")]         // not a lab name at all
    public void The_journal_refuses_a_namespace_of_another_lab(string ns)
    {
        var j = LabJournal.Create(LabId.Parse("abcdef01"), TempRoot());
        Assert.Throws<LabSafetyException>(() => j.RecordNamespace(ns));
    }

    [Fact]
    public void Loading_a_directory_without_journal_says_so()
    {
        var e = Assert.Throws<LabException>(() => LabJournal.Load(TempRoot()));
        Assert.StartsWith("lab: no lab journal in", e.Message);
    }

    [KernelFact]
    public void Teardown_removes_the_namespaces_and_processes_it_created_and_is_idempotent()
    {
        var runner = new LabRunner(LabJournal.Create(LabId.New(), TempRoot()));
        var a = runner.CreateNamespace("a");
        var b = runner.CreateNamespace("b");
        var p = runner.Start(a, ["sleep", "600"]);
        Assert.True(LabRunner.NamespaceExists(a) && LabRunner.NamespaceExists(b));
        Assert.True(ProcessControl.IsAlive(p.Pid, p.StartTime));

        runner.Teardown();

        Assert.False(LabRunner.NamespaceExists(a));
        Assert.False(LabRunner.NamespaceExists(b));
        Assert.DoesNotContain(a, NetnsList());
        Assert.False(ProcessControl.IsAlive(p.Pid, p.StartTime));
        Assert.False(Directory.Exists(runner.Journal.Directory));
        LabRunner.Teardown(runner.Journal); // again: nothing left, no error
    }

    [KernelFact]
    public void A_process_started_but_not_yet_journaled_is_still_ended_because_it_is_inside_a_lab_namespace()
    {
        var runner = new LabRunner(LabJournal.Create(LabId.New(), TempRoot()));
        var a = runner.CreateNamespace("a");
        // Start a process in the namespace without journaling it: the window between fork and the journal line.
        var psi = new ProcessStartInfo("ip") { ArgumentList = { "netns", "exec", a, "sleep", "600" } };
        using var stray = Process.Start(psi)!;
        var start = ProcessControl.StartTime(stray.Id)!.Value;
        Thread.Sleep(100);

        runner.Teardown();

        Assert.False(ProcessControl.IsAlive(stray.Id, start));
        Assert.False(LabRunner.NamespaceExists(a));
    }

    /// <summary>The crash test of the brief: a separate building process (`packetlife lab scratch`) is SIGKILLed in
    /// the middle of building; a later teardown from its journal leaves no namespace and no process behind.</summary>
    [KernelFact]
    public void Teardown_after_SIGKILL_midway_through_building_leaves_nothing()
    {
        var root = TempRoot();
        var psi = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { LabEnvironment.AgentDll, "lab", "scratch", "--state-root", root, "--namespaces", "6", "--pause-ms", "150" },
            RedirectStandardOutput = true,
        };
        using var builder = Process.Start(psi)!;
        var builderStart = ProcessControl.StartTime(builder.Id)!.Value;
        var dir = builder.StandardOutput.ReadLine()!;
        // Wait until it is midway: at least 3 namespaces journaled, fewer than 6.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline && CountNamespaces(dir) < 3) Thread.Sleep(20);
        ProcessControl.KillNow(builder.Id, builderStart);
        builder.WaitForExit();
        var journal = LabJournal.Load(dir);
        var names = journal.Namespaces.ToList();
        var procs = journal.Resources.OfType<ProcessResource>().ToList();
        Assert.InRange(names.Count, 3, 5);
        Assert.Contains(names, n => LabRunner.NamespaceExists(n));
        Assert.True(journal.IsOrphaned);
        Assert.Contains(LabJournal.FindOrphans(root), j => j.Directory == dir);

        LabRunner.Teardown(journal);

        var listed = NetnsList();
        foreach (var n in names) Assert.DoesNotContain(n, listed);
        foreach (var p in procs) Assert.False(ProcessControl.IsAlive(p.Pid, p.StartTime), $"process {p.Pid} ({p.Command}) survived");
        Assert.False(Directory.Exists(dir));
    }

    [KernelFact]
    public void Directories_the_lab_creates_are_journaled_and_removed_and_must_lie_in_its_state_directory()
    {
        var runner = new LabRunner(LabJournal.Create(LabId.New(), TempRoot()));
        var d = runner.CreateDirectory("pods/nginx-1");
        File.WriteAllText(Path.Combine(d, "nginx.conf"), "events {}");
        Assert.Contains(new DirectoryResource(d), LabJournal.Load(runner.Journal.Directory).Resources);
        Assert.Throws<LabSafetyException>(() => runner.CreateDirectory("../../escape"));

        runner.Teardown();

        Assert.False(Directory.Exists(d));
    }

    private static int CountNamespaces(string dir)
    {
        var path = Path.Combine(dir, LabJournal.FileName);
        if (!File.Exists(path)) return 0;
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        return new StreamReader(fs).ReadToEnd().Split('\n').Count(l => l.StartsWith("netns\t", StringComparison.Ordinal));
    }

    /// <summary>`ip netns list` names (the first word of each line), read without any lab code.</summary>
    internal static HashSet<string> NetnsList()
    {
        using var p = Process.Start(new ProcessStartInfo("ip", "netns list") { RedirectStandardOutput = true })!;
        var text = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')[0]).ToHashSet();
    }
}
