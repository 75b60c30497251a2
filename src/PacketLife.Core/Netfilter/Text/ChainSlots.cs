using System.Collections.Concurrent;
using PacketLife.Core.Netfilter.Targets;

namespace PacketLife.Core.Netfilter.Text;

/// <summary>One chain name of one table of a read, shared by every thread of the read: the name's one string, the
/// jump and goto targets to it (one object each for the whole table), and, for the table walk only, the chain that
/// currently has this name. Rule lines find their chain and their jump's chain here by the text of the name, once,
/// instead of pooling the word, looking it up again to share the jump, and again to check the jump at COMMIT.</summary>
internal sealed class ChainSlot(string name)
{
    public readonly string Name = name;
    JumpTarget? jump, @goto;

    public JumpTarget Jump => jump ?? Interlocked.CompareExchange(ref jump, new JumpTarget(Name, false), null) ?? jump!;
    public JumpTarget Goto => @goto ?? Interlocked.CompareExchange(ref @goto, new JumpTarget(Name, true), null) ?? @goto!;

    /// <summary>The table walk's chain of this name (null: none now). Written and read by the walk's thread only;
    /// the table checks read it after the walk.</summary>
    internal object? Builder;
}

/// <summary>The chain names of one table (one `*table` header) of a read, by text.</summary>
internal sealed class TableSlots
{
    readonly ConcurrentDictionary<string, ChainSlot> slots;
    readonly ConcurrentDictionary<string, ChainSlot>.AlternateLookup<ReadOnlySpan<char>> byText;

    public TableSlots(int capacity)
    {
        slots = new ConcurrentDictionary<string, ChainSlot>(Environment.ProcessorCount, Math.Max(capacity, 31), StringComparer.Ordinal);
        byText = slots.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>The slot of <paramref name="name"/>, made on first use (by whichever thread comes first).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public ChainSlot Get(ReadOnlySpan<char> name)
    {
        if (byText.TryGetValue(name, out var s)) return s;
        var str = name.ToString();
        return slots.GetOrAdd(str, static n => new ChainSlot(n));
    }

    public ChainSlot? Find(string name) => slots.TryGetValue(name, out var s) ? s : null;
}
