namespace PacketLife.Core.Cluster;

/// <summary>The cluster's injected randomness: SplitMix64 (Steele, Lea, Flood 2014), chosen because its whole
/// state is one 64-bit word that the state file stores, so a run continued in the next invocation draws
/// exactly what one long run would have drawn. `--seed S` sets the word.</summary>
public sealed class ClusterRandom(ulong state)
{
    public ulong State { get; private set; } = state;

    public ulong NextUInt64()
    {
        var z = State += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in [0, maxExclusive) by rejection (no modulo bias).</summary>
    public int Next(int maxExclusive)
    {
        if (maxExclusive <= 0) throw new ArgumentOutOfRangeException(nameof(maxExclusive));
        var bound = (ulong)maxExclusive;
        var limit = ulong.MaxValue - ulong.MaxValue % bound;
        ulong r;
        do r = NextUInt64(); while (r >= limit);
        return (int)(r % bound);
    }

    /// <summary>A random (version 4, RFC 9562 §5.4) UUID, as Kubernetes assigns object UIDs.</summary>
    public string NewUid()
    {
        Span<byte> b = stackalloc byte[16];
        BitConverter.TryWriteBytes(b, NextUInt64());
        BitConverter.TryWriteBytes(b[8..], NextUInt64());
        b[6] = (byte)((b[6] & 0x0F) | 0x40);
        b[8] = (byte)((b[8] & 0x3F) | 0x80);
        var hex = Convert.ToHexStringLower(b);
        return $"{hex[..8]}-{hex[8..12]}-{hex[12..16]}-{hex[16..20]}-{hex[20..]}";
    }
}
