using System.Runtime.CompilerServices;
namespace PacketLife.Core.KubeProxy;

/// <summary>A growable char buffer that hands out slices of what was written. Slices stay valid after the buffer
/// grows (growth copies into a new array and leaves the old one to the slices that point at it). Written instead
/// of StringBuilder because the node view keeps ~100k rule texts as slices of one buffer rather than ~100k
/// strings, and StringBuilder gives no stable slice of its content.</summary>
internal sealed class SaveBuffer(int capacity)
{
    // Uninitialized: every char handed out was written first, and zeroing megabytes is measurable.
    char[] chars = GC.AllocateUninitializedArray<char>(Math.Max(capacity, 64));

    public int Length { get; private set; }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Append(char c)
    {
        if (Length == chars.Length) Grow(1);
        chars[Length++] = c;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Append(scoped ReadOnlySpan<char> s)
    {
        if (Length + s.Length > chars.Length) Grow(s.Length);
        s.CopyTo(chars.AsSpan(Length));
        Length += s.Length;
    }

    /// <summary>Room for <paramref name="n"/> more characters, to be written with <see cref="Advance"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public Span<char> Reserve(int n)
    {
        if (Length + n > chars.Length) Grow(n);
        return chars.AsSpan(Length, n);
    }

    public void Advance(int n) => Length += n;

    public ReadOnlyMemory<char> Slice(int start) => new(chars, start, Length - start);

    public ReadOnlySpan<char> AsSpan() => chars.AsSpan(0, Length);

    public void Truncate(int length) => Length = length;

    public override string ToString() => new(chars, 0, Length);

    void Grow(int need)
    {
        var bigger = GC.AllocateUninitializedArray<char>(Math.Max(chars.Length * 2, Length + need));
        chars.AsSpan(0, Length).CopyTo(bigger);
        chars = bigger;
    }
}
