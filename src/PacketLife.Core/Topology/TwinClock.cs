namespace PacketLife.Core.Topology;

/// <summary>The twin's timeline: the injected clock, moved back while past events (the LB's probes since the last look)
/// are replayed, so the conntrack entries they leave count down from when they happened.</summary>
public sealed class TwinClock(TimeProvider inner) : TimeProvider
{
    public TimeSpan Offset { get; set; }
    public TimeProvider Inner => inner;
    public override DateTimeOffset GetUtcNow() => inner.GetUtcNow() + Offset;
    public override long GetTimestamp() => inner.GetTimestamp() + (long)(Offset.TotalSeconds * inner.TimestampFrequency);
    public override long TimestampFrequency => inner.TimestampFrequency;

    /// <summary>Runs <paramref name="action"/> as if at <paramref name="at"/>.</summary>
    public void At(DateTimeOffset at, Action action)
    {
        var saved = Offset;
        Offset = at - inner.GetUtcNow();
        try { action(); }
        finally { Offset = saved; }
    }
}
