using System.Collections.Concurrent;
using PacketLife.Core.Netfilter.Targets;

namespace PacketLife.Core.Netfilter.Text;

/// <summary>One chain name of one table of a read, shared by every thread of the read: the name's one string, the
/// jump and goto targets to it (one object each for the whole table), and, for the table walk only, the chain that
/// currently has this name. Rule lines find their chain and their jump's chain here by the text of the name, once,
/// instead of pooling the word, looking it up again to share the jump, and again to check the jump at COMMIT.</summary>
internal sealed class ChainSlot(string name, int ordinal = -1)
{
    public readonly string Name = name;
    /// <summary>Position among the table's chain lines (-1: a name not declared by a chain line).</summary>
    public readonly int Ordinal = ordinal;
    JumpTarget? jump, @goto;

    public JumpTarget Jump => jump ?? Interlocked.CompareExchange(ref jump, new JumpTarget(Name, false), null) ?? jump!;
    public JumpTarget Goto => @goto ?? Interlocked.CompareExchange(ref @goto, new JumpTarget(Name, true), null) ?? @goto!;

    /// <summary>The table walk's chain of this name (null: none now). Written and read by the walk's thread only;
    /// the table checks read it after the walk.</summary>
    internal object? Builder;
}

/// <summary>The chain names of one table (one `*table` header) of a read, by text. The names of the table's chain
/// lines are declared before any thread reads the table (<see cref="Declare"/>), into a plain dictionary that is only
/// read from then on (safe from several threads, and much cheaper to ask than a concurrent one, which measured 16% of
/// a 200k-line read); any other name (a jump to an undeclared chain, `-N`) is made on first use in a concurrent
/// dictionary. A name is in one of the two, never both.</summary>
internal sealed class TableSlots
{
    readonly Dictionary<string, ChainSlot> declared;
    readonly Dictionary<string, ChainSlot>.AlternateLookup<ReadOnlySpan<char>> declaredByText;
    readonly ConcurrentDictionary<string, ChainSlot> others = new(StringComparer.Ordinal);
    readonly ConcurrentDictionary<string, ChainSlot>.AlternateLookup<ReadOnlySpan<char>> othersByText;
    readonly List<ChainSlot> order;

    public TableSlots(int capacity)
    {
        declared = new Dictionary<string, ChainSlot>(capacity, StringComparer.Ordinal);
        order = new List<ChainSlot>(capacity);
        declaredByText = declared.GetAlternateLookup<ReadOnlySpan<char>>();
        othersByText = others.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>Adds a chain line's name; only before any thread reads the table.</summary>
    public void Declare(ReadOnlySpan<char> name)
    {
        if (declaredByText.ContainsKey(name)) return;
        var s = name.ToString();
        var slot = new ChainSlot(s, order.Count);
        declared.Add(s, slot);
        order.Add(slot);
    }

    /// <summary>The slot of <paramref name="name"/> when it is one of the few declared right after <paramref name="after"/>
    /// (null: the table's first), else null. iptables-save prints chain lines and then the chains' rules in the same
    /// order, so the next chain a walk meets is nearly always the next declared one: found without hashing the name,
    /// in memory that was just read.</summary>
    public ChainSlot? Following(ChainSlot? after, ReadOnlySpan<char> name, int reach = 4)
    {
        int from = after is null ? 0 : after.Ordinal + 1;
        if (after is not null && after.Ordinal < 0) return null;
        for (int k = from; k < order.Count && k < from + reach; k++)
            if (name.SequenceEqual(order[k].Name)) return order[k];
        return null;
    }

    /// <summary>The slot of <paramref name="name"/>, made on first use (by whichever thread comes first).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public ChainSlot Get(ReadOnlySpan<char> name)
    {
        if (declaredByText.TryGetValue(name, out var s)) return s;
        if (othersByText.TryGetValue(name, out s)) return s;
        return others.GetOrAdd(name.ToString(), static n => new ChainSlot(n));
    }

    public ChainSlot? Find(string name) => declared.TryGetValue(name, out var s) || others.TryGetValue(name, out s) ? s : null;
}
