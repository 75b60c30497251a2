using System.Diagnostics;
using System.Globalization;

namespace PacketLife.App.Cli;

/// <summary>`PACKETLIFE_TIMINGS=1`: each stage of a command (state load, topology build, trace, output) prints its wall
/// time to stderr, the first one counted from the process's start (runtime start-up included). For finding where a
/// slow command spends its time on a user's own cluster; off by default, and never on stdout.</summary>
internal static class Timings
{
    static readonly bool On = Environment.GetEnvironmentVariable("PACKETLIFE_TIMINGS") is { Length: > 0 } v && v != "0";
    static DateTime _last;

    public static void Mark(string stage)
    {
        if (!On) return;
        var now = DateTime.UtcNow;
        if (_last == default) _last = Process.GetCurrentProcess().StartTime.ToUniversalTime();
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"timing: {stage,-22} {(now - _last).TotalMilliseconds,8:F1} ms"));
        _last = now;
    }
}
