using System.Runtime.CompilerServices;

namespace PacketLife.Core.KubeProxy;

/// <summary>A growable array of structs. Used instead of List&lt;T&gt; on the ~100k-line paths because a List of a
/// struct of this assembly is not precompiled in the framework: in a one-shot process its Add would run as
/// unoptimized tier-0 code for the whole sync, while this one is compiled optimized at its first call.</summary>
internal sealed class ValueList<T>(int capacity) where T : struct
{
    T[] items = new T[Math.Max(capacity, 4)];

    public int Count { get; private set; }

    public ReadOnlySpan<T> AsSpan() => items.AsSpan(0, Count);

    public T this[int i] => i < Count ? items[i] : throw new ArgumentOutOfRangeException(nameof(i));

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Add(T item)
    {
        if (Count == items.Length) Array.Resize(ref items, items.Length * 2);
        items[Count++] = item;
    }

    public void Insert0(T item)
    {
        Add(item);
        Array.Copy(items, 0, items, 1, Count - 1);
        items[0] = item;
    }

    public void Clear() => Count = 0;
}
