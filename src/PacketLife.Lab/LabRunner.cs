using System.Diagnostics;
using System.Text;
using PacketLife.Core.Diagnostics;

namespace PacketLife.Lab;

/// <summary>The outcome of one command (a failed iptables-restore is an expected result, returned as a value).</summary>
public sealed record CommandResult(string CommandLine, int ExitCode, string Stdout, string Stderr)
{
    public bool Succeeded => ExitCode == 0;

    /// <summary>Returns this result, or throws <see cref="LabException"/> with the command's first stderr line.</summary>
    public CommandResult EnsureSuccess() =>
        Succeeded ? this : throw new LabException(LabMessages.CommandFailed(CommandLine, ExitCode, Stderr.Length > 0 ? Stderr : Stdout));
}

/// <summary>The only way lab code runs anything. It runs
/// <list type="bullet">
/// <item>`ip -n NS ...` and `ip -n NS -batch -` for a namespace this lab's journal owns,</item>
/// <item>`ip netns exec NS PROGRAM ...` for such a namespace (never a shell: a `sh -c "a; b"` line is how a script once
/// leaked chains into the root namespace, netns-lab.md P2),</item>
/// <item>`ip netns add|del|pids NS` for this lab's own namespace names,</item>
/// </list>
/// and refuses anything else with <see cref="LabSafetyException"/> before running it. Every command is written to the
/// verbose log when one is given.</summary>
public sealed class LabRunner
{
    private static readonly HashSet<string> Shells = new(StringComparer.Ordinal)
        { "sh", "bash", "dash", "zsh", "ash", "busybox", "env", "nsenter", "unshare", "ip", "sudo", "su", "xargs" };

    private readonly TextWriter? _log;

    public LabRunner(LabJournal journal, TextWriter? verboseLog = null, TimeSpan? timeout = null)
    {
        Journal = journal;
        _log = verboseLog;
        Timeout = timeout ?? TimeSpan.FromSeconds(30);
    }

    public LabJournal Journal { get; }

    public LabId Id => Journal.Id;

    /// <summary>Longest a single command may run before it is killed (by PID) and reported.</summary>
    public TimeSpan Timeout { get; }

    /// <summary>Creates namespace `plab-&lt;id&gt;-&lt;role&gt;`: journal first, then `ip netns add`, loopback up,
    /// and a check that a program started through `ip netns exec` really is in it (`ip netns identify`).</summary>
    public string CreateNamespace(string role)
    {
        var ns = Id.Namespace(role);
        Journal.RecordNamespace(ns);
        Run("ip", ["netns", "add", ns]).EnsureSuccess();
        Ip(ns, "link", "set", "lo", "up").EnsureSuccess();
        var who = Run("ip", ["netns", "exec", ns, "ip", "netns", "identify"]).EnsureSuccess().Stdout.Trim();
        if (who != ns) throw new LabSafetyException($"`ip netns exec {ns}` runs in namespace \"{who}\", not {ns}");
        return ns;
    }

    /// <summary>`ip netns del NS` for one of this lab's journaled namespaces (a pod that `lab sync` removes). The journal
    /// keeps its line: teardown skips a namespace that is already gone.</summary>
    public void DeleteNamespace(string ns)
    {
        Guard(ns);
        Run("ip", ["netns", "del", ns]).EnsureSuccess();
    }

    /// <summary>Creates a directory for the lab's own files under its state directory (journal first), e.g. per-pod
    /// nginx configs and logs; teardown deletes it.</summary>
    public string CreateDirectory(string relativePath)
    {
        var full = System.IO.Path.GetFullPath(System.IO.Path.Combine(Journal.Directory, relativePath));
        Journal.RecordDirectory(full);
        _log?.WriteLine($"+ mkdir -p {full}");
        System.IO.Directory.CreateDirectory(full);
        return full;
    }

    /// <summary>`ip -n NS ARGS...`.</summary>
    public CommandResult Ip(string ns, params string[] args)
    {
        Guard(ns);
        GuardIpArguments(ns, args);
        return Run("ip", ["-n", ns, .. args]);
    }

    /// <summary>`ip -n NS -batch -` with one `ip` command per line (without the leading `ip`): one process for many
    /// operations, about 3.5× faster than one process each (netns-lab.md §8.1).</summary>
    public CommandResult IpBatch(string ns, IEnumerable<string> lines)
    {
        Guard(ns);
        var text = string.Join("\n", lines) + "\n";
        foreach (var l in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (l.TrimStart().StartsWith("netns", StringComparison.Ordinal))
                throw new LabSafetyException($"`ip netns` inside a batch for {ns} is refused: \"{l}\"");
            GuardIpArguments(ns, l.Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries));
        }
        return Run("ip", ["-n", ns, "-batch", "-"], text);
    }

    /// <summary>`ip netns exec NS PROGRAM ARGS...`, with optional standard input. PROGRAM must be a plain program
    /// (iptables-legacy-restore, conntrack, sysctl, ...), never a shell or another namespace switcher.</summary>
    public CommandResult Exec(string ns, IReadOnlyList<string> argv, string? stdin = null)
    {
        GuardProgram(ns, argv);
        return Run("ip", ["netns", "exec", ns, .. argv], stdin);
    }

    /// <summary>Starts a long-running program in a lab namespace with pipes to its stdin and stdout, and journals
    /// its PID and start time. `ip netns exec` replaces itself with the program (execvp), so the PID is the
    /// program's own.</summary>
    public LabProcess Start(string ns, IReadOnlyList<string> argv)
    {
        GuardProgram(ns, argv);
        var psi = NewStartInfo("ip", ["netns", "exec", ns, .. argv]);
        psi.RedirectStandardInput = true;
        LogCommand(psi);
        var p = Process.Start(psi) ?? throw new LabException(LabMessages.CommandFailed(Describe(psi), -1, "could not start"));
        var start = ProcessControl.StartTime(p.Id) ?? 0;
        Journal.RecordProcess(p.Id, start, ns, string.Join(' ', argv));
        return new LabProcess(p, start, ns, string.Join(' ', argv));
    }

    /// <summary>Removes everything the journal records, in reverse order, and then the state directory. Idempotent:
    /// what is already gone is skipped. Also ends any process still inside a journaled namespace (one started in the
    /// instant between its start and its journal line), by PID.</summary>
    public void Teardown() => Teardown(Journal, _log);

    /// <summary>Teardown from a journal alone (`LabJournal.Load(dir)` after a crash).</summary>
    public static void Teardown(LabJournal journal, TextWriter? log = null)
    {
        var runner = new LabRunner(journal, log, TimeSpan.FromSeconds(20));
        var resources = journal.Resources.Reverse().ToList();
        var left = new List<string>();
        foreach (var p in resources.OfType<ProcessResource>())
        {
            log?.WriteLine($"+ kill {p.Pid} ({p.Command})");
            if (!ProcessControl.Stop(p.Pid, p.StartTime, TimeSpan.FromSeconds(2))) left.Add($"process {p.Pid}");
        }
        foreach (var ns in resources.OfType<NamespaceResource>().Select(r => r.Name))
        {
            if (!NamespaceExists(ns)) continue;
            var pids = runner.Run("ip", ["netns", "pids", ns]);
            foreach (var token in pids.Stdout.Split((char[])['\n', ' '], StringSplitOptions.RemoveEmptyEntries))
            {
                if (!int.TryParse(token, out var pid) || ProcessControl.StartTime(pid) is not { } st) continue;
                log?.WriteLine($"+ kill {pid} (found in {ns})");
                if (!ProcessControl.Stop(pid, st, TimeSpan.FromSeconds(2))) left.Add($"process {pid}");
            }
            var del = runner.Run("ip", ["netns", "del", ns]);
            if (!del.Succeeded && NamespaceExists(ns)) left.Add($"namespace {ns}");
        }
        foreach (var d in resources.OfType<DirectoryResource>())
        {
            log?.WriteLine($"+ rm -r {d.Path}");
            if (System.IO.Directory.Exists(d.Path)) System.IO.Directory.Delete(d.Path, recursive: true);
        }
        if (left.Count > 0) throw new LabException(LabMessages.TeardownLeftovers(string.Join(", ", left)));
        if (System.IO.Directory.Exists(journal.Directory))
        {
            log?.WriteLine($"+ rm -r {journal.Directory}");
            System.IO.Directory.Delete(journal.Directory, recursive: true);
        }
    }

    /// <summary>`ip netns add` creates /run/netns/NAME (ip-netns(8)); its presence is the namespace's existence.</summary>
    public static bool NamespaceExists(string ns) => File.Exists(System.IO.Path.Combine("/run/netns", ns));

    private void Guard(string ns)
    {
        if (!Id.Owns(ns) || !Journal.OwnsNamespace(ns))
            throw new LabSafetyException($"refusing to run in namespace \"{ns}\": it is not a namespace lab {Id} created");
    }

    /// <summary>An `ip` command may name a namespace itself: `link set X netns TARGET` or `... peer name Y netns TARGET`
    /// moves an interface there, and TARGET may be a PID (`netns 1` is the root namespace) or any name. Only this lab's
    /// own journaled namespaces are allowed as TARGET, and no global option may switch the namespace again.</summary>
    private void GuardIpArguments(string ns, IReadOnlyList<string> args)
    {
        // `ip -n NS netns ...` (also abbreviated `net`, `netn`) would add, delete or enter other namespaces.
        if (args.Count > 0 && args[0].Length >= 3 && "netns".StartsWith(args[0], StringComparison.Ordinal))
            throw new LabSafetyException($"refusing `ip {string.Join(' ', args)}` in {ns}: `ip netns` is run by the lab only");
        for (int i = 0; i < args.Count; i++)
        {
            var a = args[i];
            if (a is "-n" or "-netns" or "--netns" or "-all" or "-a" or "-batch" or "-b" or "-force")
                throw new LabSafetyException($"refusing `ip {string.Join(' ', args)}` in {ns}: option {a} could leave the namespace");
            if (a == "netns" && i > 0)
            {
                var target = i + 1 < args.Count ? args[i + 1] : "";
                if (!Id.Owns(target) || !Journal.OwnsNamespace(target))
                    throw new LabSafetyException($"refusing `ip {string.Join(' ', args)}` in {ns}: it moves an interface to \"{target}\", not a namespace of lab {Id}");
            }
        }
    }

    private void GuardProgram(string ns, IReadOnlyList<string> argv)
    {
        Guard(ns);
        if (argv.Count == 0) throw new LabSafetyException("empty command");
        var program = System.IO.Path.GetFileName(argv[0]);
        if (Shells.Contains(program))
            throw new LabSafetyException($"refusing to run \"{program}\" in {ns}: shells and namespace switchers could leave the namespace");
    }

    private CommandResult Run(string file, IReadOnlyList<string> args, string? stdin = null)
    {
        if (file == "ip" && args.Count >= 2 && args[0] == "netns" && args[1] is "add" or "del" or "pids" or "exec")
        {
            if (args.Count < 3 || !Id.Owns(args[2]))
                throw new LabSafetyException($"refusing `ip netns {args[1]}` for \"{(args.Count > 2 ? args[2] : "")}\": not a namespace of lab {Id}");
        }
        else if (!(file == "ip" && args.Count >= 2 && args[0] == "-n" && Id.Owns(args[1])))
        {
            throw new LabSafetyException($"refusing to run `{file} {string.Join(' ', args)}`: not confined to a lab namespace");
        }

        var psi = NewStartInfo(file, args);
        psi.RedirectStandardInput = stdin is not null;
        LogCommand(psi, stdin);
        using var p = Process.Start(psi) ?? throw new LabException(LabMessages.CommandFailed(Describe(psi), -1, "could not start"));
        var outTask = p.StandardOutput.ReadToEndAsync();
        var errTask = p.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            p.StandardInput.Write(stdin);
            p.StandardInput.Close();
        }
        if (!p.WaitForExit(Timeout))
        {
            ProcessControl.KillNow(p.Id, ProcessControl.StartTime(p.Id) ?? 0);
            p.WaitForExit();
            throw new LabException(LabMessages.CommandTimedOut(Describe(psi), Timeout));
        }
        p.WaitForExit();
        var result = new CommandResult(Describe(psi), p.ExitCode, outTask.Result, errTask.Result);
        if (_log is not null && !result.Succeeded) _log.WriteLine($"  exit {result.ExitCode}: {result.Stderr.Trim()}");
        return result;
    }

    private static ProcessStartInfo NewStartInfo(string file, IReadOnlyList<string> args)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        return psi;
    }

    private void LogCommand(ProcessStartInfo psi, string? stdin = null)
    {
        if (_log is null) return;
        lock (_log)
        {
            _log.WriteLine($"+ {Describe(psi)}");
            if (stdin is not null)
                foreach (var line in stdin.Split('\n', StringSplitOptions.RemoveEmptyEntries))
                    _log.WriteLine($"  < {line}");
        }
    }

    private static string Describe(ProcessStartInfo psi) =>
        psi.FileName + " " + string.Join(' ', psi.ArgumentList.Select(a => a.Length == 0 || a.Any(char.IsWhiteSpace) ? $"'{a}'" : a));
}

/// <summary>A long-running program the lab started in one of its namespaces (a packet agent, nginx, a listener).</summary>
public sealed class LabProcess(Process process, ulong startTime, string ns, string command) : IDisposable
{
    public Process Process { get; } = process;
    public int Pid => Process.Id;
    public ulong StartTime { get; } = startTime;
    public string Namespace { get; } = ns;
    public string Command { get; } = command;

    /// <summary>SIGTERM, then SIGKILL after <paramref name="grace"/>; by PID and start time only.</summary>
    public bool Stop(TimeSpan? grace = null)
    {
        var gone = ProcessControl.Stop(Pid, StartTime, grace ?? TimeSpan.FromSeconds(2));
        if (gone) Process.WaitForExit(1000);
        return gone;
    }

    public void Dispose()
    {
        Stop();
        Process.Dispose();
    }
}
