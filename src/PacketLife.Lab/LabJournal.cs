using System.Globalization;
using System.Text;
using PacketLife.Core.Diagnostics;

namespace PacketLife.Lab;

/// <summary>One thing a lab created, as recorded in its journal.</summary>
public abstract record LabResource;

/// <summary>A network namespace (`ip netns add NAME`).</summary>
public sealed record NamespaceResource(string Name) : LabResource;

/// <summary>A process the lab started, with the kernel's start time to guard against PID reuse.</summary>
public sealed record ProcessResource(int Pid, ulong StartTime, string Namespace, string Command) : LabResource;

/// <summary>A directory the lab created for its own files (nginx configs, logs).</summary>
public sealed record DirectoryResource(string Path) : LabResource;

/// <summary>The lab's record of everything it created, written to disk *before* each creation (and, for a process,
/// right after it started, when its PID exists). Teardown reads only this record: it removes exactly what the lab
/// made, also from another process after a crash or SIGKILL (<see cref="Load"/>), and never by pattern.</summary>
/// <remarks>Format: one record per line, tab-separated, append-only; each append is flushed to disk (fsync) before
/// the creation it announces, so a crash at any point leaves a journal that covers everything that exists.</remarks>
public sealed class LabJournal
{
    public const string FileName = "journal";
    private readonly object _gate = new();
    private readonly List<LabResource> _resources = [];

    public LabId Id { get; }

    /// <summary>The state directory holding the journal (default `/run/packetlife/labs/&lt;id&gt;/`).</summary>
    public string Directory { get; }

    public string Path => System.IO.Path.Combine(Directory, FileName);

    public IReadOnlyList<LabResource> Resources { get { lock (_gate) return [.. _resources]; } }

    public IEnumerable<string> Namespaces => Resources.OfType<NamespaceResource>().Select(r => r.Name);

    /// <summary>The process that created the lab (PID and start time), when the journal records it.</summary>
    public (int Pid, ulong StartTime)? Owner { get; private set; }

    /// <summary>True when the journal names its owner and that process no longer runs: the lab was left behind by a
    /// crash (or a SIGKILL) and nobody will tear it down but a sweep.
    /// A cluster lab that `lab up` finished (it wrote lab.json) is meant to outlive its creator and is not an orphan:
    /// only `lab down` removes it.</summary>
    public bool IsOrphaned => Owner is { } o && !ProcessControl.IsAlive(o.Pid, o.StartTime)
        && !File.Exists(System.IO.Path.Combine(Directory, Cluster.LabPlan.FileName));

    /// <summary>Journals under <paramref name="stateRoot"/> whose owner is gone. Labs whose owner still runs (another
    /// test run, another user's lab) are never returned; unreadable journals are skipped.</summary>
    public static IReadOnlyList<LabJournal> FindOrphans(string stateRoot)
    {
        if (!System.IO.Directory.Exists(stateRoot)) return [];
        var found = new List<LabJournal>();
        foreach (var dir in System.IO.Directory.GetDirectories(stateRoot))
        {
            if (!LabId.TryParse(System.IO.Path.GetFileName(dir), out _) || !File.Exists(System.IO.Path.Combine(dir, FileName))) continue;
            try
            {
                var j = Load(dir);
                if (j.IsOrphaned) found.Add(j);
            }
            catch (LabException) { }
        }
        return found;
    }

    private LabJournal(LabId id, string directory)
    {
        Id = id;
        Directory = directory;
    }

    /// <summary>The default parent of state directories. /run is a tmpfs: a reboot clears it, as it clears the
    /// namespaces themselves.</summary>
    public static string DefaultRoot => "/run/packetlife/labs";

    /// <summary>Starts a new journal for <paramref name="id"/> in <paramref name="stateRoot"/>/&lt;id&gt;/.</summary>
    public static LabJournal Create(LabId id, string? stateRoot = null)
    {
        var dir = System.IO.Path.Combine(stateRoot ?? DefaultRoot, id.Value);
        System.IO.Directory.CreateDirectory(dir);
        var journal = new LabJournal(id, dir);
        // The owner (this process, with its start time) lets a later run tell a crashed lab from a live one.
        var self = Environment.ProcessId;
        journal.Owner = (self, ProcessControl.StartTime(self) ?? 0);
        journal.Append($"lab\t{id.Value}\t{DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture)}\t{self}\t{journal.Owner.Value.StartTime}");
        return journal;
    }

    /// <summary>Reads the journal a (possibly crashed) lab left in <paramref name="directory"/>.</summary>
    /// <exception cref="LabException">No journal there, or a line that is not one this class writes.</exception>
    public static LabJournal Load(string directory)
    {
        var path = System.IO.Path.Combine(directory, FileName);
        if (!File.Exists(path)) throw new LabException(LabMessages.StateDirMissing(directory));
        var lines = File.ReadAllLines(path);
        LabJournal? journal = null;
        for (int i = 0; i < lines.Length; i++)
        {
            var line = lines[i];
            if (line.Length == 0) continue; // a crash can leave the last line cut at a newline boundary only
            var f = line.Split('\t');
            LabResource? r = null;
            switch (f[0])
            {
                case "lab" when f.Length >= 2 && i == 0 && LabId.TryParse(f[1], out var id):
                    journal = new LabJournal(id, directory);
                    if (f.Length >= 5 && int.TryParse(f[3], CultureInfo.InvariantCulture, out var opid)
                                      && ulong.TryParse(f[4], CultureInfo.InvariantCulture, out var ostart))
                        journal.Owner = (opid, ostart);
                    continue;
                case "netns" when f.Length == 2:
                    r = new NamespaceResource(f[1]);
                    break;
                case "proc" when f.Length == 5 && int.TryParse(f[1], CultureInfo.InvariantCulture, out var pid)
                                 && ulong.TryParse(f[2], CultureInfo.InvariantCulture, out var start):
                    r = new ProcessResource(pid, start, f[3], f[4]);
                    break;
                case "dir" when f.Length == 2:
                    r = new DirectoryResource(f[1]);
                    break;
            }
            // A torn last line (SIGKILL during a write) is ignored: the creation it announced had not started yet.
            if (r is null && i == lines.Length - 1 && journal is not null) break;
            if (r is null || journal is null) throw new LabException(LabMessages.JournalCorrupt(path, i + 1, line));
            if (r is NamespaceResource ns && !journal.Id.Owns(ns.Name))
                throw new LabException(LabMessages.JournalCorrupt(path, i + 1, line));
            journal._resources.Add(r);
        }
        return journal ?? throw new LabException(LabMessages.JournalCorrupt(path, 1, lines.FirstOrDefault() ?? ""));
    }

    /// <summary>Records a namespace about to be created. The name must be this lab's.</summary>
    public void RecordNamespace(string name)
    {
        if (!Id.Owns(name)) throw new LabSafetyException($"namespace \"{name}\" is not a name of lab {Id}");
        Record(new NamespaceResource(name), $"netns\t{name}");
    }

    public void RecordProcess(int pid, ulong startTime, string ns, string command) =>
        Record(new ProcessResource(pid, startTime, ns, command),
               $"proc\t{pid.ToString(CultureInfo.InvariantCulture)}\t{startTime.ToString(CultureInfo.InvariantCulture)}\t{ns}\t{Clean(command)}");

    /// <summary>Records a directory about to be created (it must lie inside the state directory, so teardown
    /// never deletes anything the lab did not make).</summary>
    public void RecordDirectory(string path)
    {
        var full = System.IO.Path.GetFullPath(path);
        if (!full.StartsWith(System.IO.Path.GetFullPath(Directory) + System.IO.Path.DirectorySeparatorChar, StringComparison.Ordinal))
            throw new LabSafetyException($"directory \"{path}\" is outside the lab's state directory {Directory}");
        Record(new DirectoryResource(full), $"dir\t{full}");
    }

    public bool OwnsNamespace(string ns)
    {
        lock (_gate) return _resources.Any(r => r is NamespaceResource n && n.Name == ns);
    }

    private void Record(LabResource r, string line)
    {
        lock (_gate)
        {
            Append(line);
            _resources.Add(r);
        }
    }

    private void Append(string line)
    {
        using var fs = new FileStream(Path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
        var bytes = Encoding.UTF8.GetBytes(line + "\n");
        fs.Write(bytes);
        fs.Flush(flushToDisk: true);
    }

    private static string Clean(string s) => s.Replace('\t', ' ').Replace('\n', ' ').Replace('\r', ' ');
}
