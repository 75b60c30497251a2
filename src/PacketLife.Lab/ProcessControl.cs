using System.Globalization;
using System.Runtime.InteropServices;

namespace PacketLife.Lab;

/// <summary>Ends processes by PID only, guarded against PID reuse by the start time the kernel reports in
/// /proc/PID/stat (field 22, clock ticks since boot; proc(5)). A PID whose start time differs is another
/// process that got the same number after ours ended, and is left alone.</summary>
public static partial class ProcessControl
{
    private const int SIGTERM = 15;
    private const int SIGKILL = 9;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int sig);

    /// <summary>The process's start time from /proc/PID/stat, or null if there is no such process.</summary>
    public static ulong? StartTime(int pid)
    {
        string stat;
        try { stat = File.ReadAllText($"/proc/{pid}/stat"); }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
        // The command name (field 2) is in parentheses and may contain spaces or ')': fields resume after the last ')'.
        int close = stat.LastIndexOf(')');
        if (close < 0) return null;
        var fields = stat[(close + 2)..].Split(' ');
        // fields[0] is field 3 (state); field 22 (starttime) is fields[19].
        return fields.Length > 19 && ulong.TryParse(fields[19], NumberStyles.None, CultureInfo.InvariantCulture, out var t) ? t : null;
    }

    /// <summary>True while the process exists and is not a zombie. A zombie has ended; only its parent's wait is missing.</summary>
    public static bool IsAlive(int pid, ulong? startTime = null)
    {
        var t = StartTime(pid);
        if (t is null || (startTime is not null && t != startTime)) return false;
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            int close = stat.LastIndexOf(')');
            return close >= 0 && close + 2 < stat.Length && stat[close + 2] != 'Z';
        }
        catch (IOException) { return false; }
    }

    /// <summary>Ends one process: SIGTERM, up to <paramref name="grace"/> to exit, then SIGKILL. Does nothing when
    /// the PID is gone or now belongs to a process with another start time. Returns true when it is gone.</summary>
    public static bool Stop(int pid, ulong startTime, TimeSpan grace)
    {
        if (!IsAlive(pid, startTime)) return true;
        Kill(pid, SIGTERM);
        var deadline = DateTime.UtcNow + grace;
        while (DateTime.UtcNow < deadline)
        {
            if (!IsAlive(pid, startTime)) return true;
            Thread.Sleep(10);
        }
        if (StartTime(pid) == startTime) Kill(pid, SIGKILL);
        deadline = DateTime.UtcNow + TimeSpan.FromSeconds(2);
        while (DateTime.UtcNow < deadline)
        {
            if (!IsAlive(pid, startTime)) return true;
            Thread.Sleep(10);
        }
        return !IsAlive(pid, startTime);
    }

    /// <summary>Sends <paramref name="signal"/> (e.g. 1, SIGHUP: nginx re-reads its configuration) when the PID still
    /// has the journaled start time.</summary>
    public static bool Signal(int pid, ulong startTime, int signal) => StartTime(pid) == startTime && Kill(pid, signal) == 0;

    /// <summary>SIGKILL at once (tests use it to simulate a crash of a building process they started).</summary>
    public static void KillNow(int pid, ulong startTime)
    {
        if (StartTime(pid) == startTime) Kill(pid, SIGKILL);
    }
}
