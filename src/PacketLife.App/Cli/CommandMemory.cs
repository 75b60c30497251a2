using System.Runtime;

namespace PacketLife.App.Cli;

/// <summary>A command on a big cluster runs in one no-GC region (GC.TryStartNoGCRegion). Such a command builds its
/// model once (the state's objects, the hosts, each node's rules and their indexes), walks packets, prints and exits:
/// nearly everything it allocates lives until the end, so a collection finds little garbage and copies the model from
/// generation to generation instead. On the 500-node `trace --all` (~600 MB allocated) collections were a third of
/// the process's CPU time; in a region sized from the state file they are none, for a larger peak footprint (the
/// pages the command touched: ~570 MB instead of ~340 MB there).
/// <para>Safe by construction: small state files (every command on a seed-sized cluster) never start one; the budget is
/// at most a quarter of the memory the GC may use; a command that allocates more than its budget simply continues
/// with ordinary collections (the runtime ends the region with a collection, its documented behaviour).
/// `PACKETLIFE_NOGC=0` turns it off.</para></summary>
internal static class CommandMemory
{
    /// <summary>Below this state file size collections cost little and a region's opening collection is not worth it.</summary>
    public const long MinStateBytes = 1 << 20;
    /// <summary>Measured on the 500-node cluster: `trace --all` allocates ~25 bytes per state file byte; headroom to 40.</summary>
    public const long BytesPerStateByte = 40;
    public const long MaxBudget = 4L << 30;
    const long MinBudget = 64L << 20;

    /// <summary>The region's size for a state file of <paramref name="stateBytes"/> when the GC may use
    /// <paramref name="availableBytes"/>, or null for none.</summary>
    public static long? Budget(long stateBytes, long availableBytes)
    {
        if (stateBytes < MinStateBytes) return null;
        var budget = Math.Min(Math.Min(stateBytes * BytesPerStateByte, MaxBudget), availableBytes / 4);
        return budget >= MinBudget ? budget : null;
    }

    /// <summary>Starts the region for a command on the state file at <paramref name="statePath"/>; true when it started.</summary>
    public static bool ReserveFor(string statePath)
    {
        if (Environment.GetEnvironmentVariable("PACKETLIFE_NOGC") == "0") return false;
        var size = File.Exists(statePath) ? new FileInfo(statePath).Length : 0;
        // The GC's memory figure is asked only for a state file that may get a region (not on every small command).
        if (size < MinStateBytes || Budget(size, GC.GetGCMemoryInfo().TotalAvailableMemoryBytes) is not { } budget) return false;
        try
        {
            return GCSettings.LatencyMode != GCLatencyMode.NoGCRegion && GC.TryStartNoGCRegion(budget);
        }
        catch (ArgumentOutOfRangeException) { return false; } // more than this GC configuration allows: collect as usual
        catch (InvalidOperationException) { return false; }   // a region is already in progress
    }
}
