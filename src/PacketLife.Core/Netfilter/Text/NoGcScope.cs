using System.Runtime;

namespace PacketLife.Core.Netfilter.Text;

/// <summary>Runs the read of a large file in a no-GC region (GC.TryStartNoGCRegion) sized from the file. Nearly
/// everything a read keeps lives as long as the rule set, so a collection during the read finds little garbage and
/// copies the new model from generation to generation instead: on a 200k-line kube-proxy dump that copying was about a
/// third of the reading time. The region begins with one full collection of what the process already holds, so small
/// inputs (where that costs more than it saves) skip it.
/// <para>Safe by construction: one reader at a time uses a region (others read normally); a budget overrun simply ends
/// the region with an ordinary collection (the runtime's documented behaviour), which <see cref="Dispose"/> tolerates;
/// nothing is left changed after the read.</para></summary>
internal readonly struct NoGcScope : IDisposable
{
    /// <summary>Below this input size the region's opening collection is not worth it.</summary>
    public const long MinInputBytes = 4 << 20;
    /// <summary>A read allocates about 6.5 bytes per input byte (the text as UTF-16 included; measured 2026-11-27 with
    /// `netfilter-read-allocations`, it was 11 before): the budget leaves room for dumps that allocate more per byte.</summary>
    const long BytesPerInputByte = 12;
    /// <summary>Upper bound of the region (larger inputs overrun it and continue with ordinary collections).</summary>
    const long MaxBudget = 1L << 30;

    static int active;
    readonly bool started;

    NoGcScope(bool started) => this.started = started;

    public static NoGcScope Enter(long inputBytes)
    {
        if (inputBytes < MinInputBytes || Environment.GetEnvironmentVariable("PACKETLIFE_READ_NOGC") == "0") return default;
        if (Interlocked.CompareExchange(ref active, 1, 0) != 0) return default;
        try
        {
            if (GCSettings.LatencyMode != GCLatencyMode.NoGCRegion && GC.TryStartNoGCRegion(Math.Min(inputBytes * BytesPerInputByte, MaxBudget)))
                return new NoGcScope(true);
        }
        catch (ArgumentOutOfRangeException) { } // budget above what this GC configuration allows: read normally
        catch (InvalidOperationException) { }   // another region is in progress (started outside the reader)
        Volatile.Write(ref active, 0);
        return default;
    }

    public void Dispose()
    {
        if (!started) return;
        try
        {
            if (GCSettings.LatencyMode == GCLatencyMode.NoGCRegion) GC.EndNoGCRegion();
        }
        catch (InvalidOperationException) { } // the region already ended (budget overrun or an induced collection)
        finally { Volatile.Write(ref active, 0); }
    }
}
