using System.Collections.Concurrent;
using PacketLife.Core.Netfilter.Targets;

namespace PacketLife.Core.Netfilter.Text;

/// <summary>One chain name of one table of a read, shared by every thread of the read: the name's one string, the
/// jump and goto targets to it (one object each for the whole table), and, for the table walk only, the chain that
/// currently has this name. Rule lines find their chain and their jump's chain here by the text of the name, once,
/// instead of pooling the word, looking it up again to share the jump, and again to check the jump at COMMIT.</summary>
internal sealed class ChainSlot(string name, int ordinal = -1, TableSlots? declaredIn = null)
{
    public readonly string Name = name;
    /// <summary>Position among the table's chain lines (-1: a name not declared by a chain line).</summary>
    public readonly int Ordinal = ordinal;
    JumpTarget? jump, @goto;

    // A declared name's targets live in its table's arrays (found there by ordinal without touching this object).
    public JumpTarget Jump => declaredIn?.JumpAt(Ordinal, false) ?? jump ?? Interlocked.CompareExchange(ref jump, new JumpTarget(Name, false), null) ?? jump!;
    public JumpTarget Goto => declaredIn?.JumpAt(Ordinal, true) ?? @goto ?? Interlocked.CompareExchange(ref @goto, new JumpTarget(Name, true), null) ?? @goto!;

    /// <summary>The table walk's chain of this name (null: none now). Written and read by the walk's thread only;
    /// the table checks read it after the walk.</summary>
    internal object? Builder;
    /// <summary>The index among its table's chains of the chain that has this name when the table is finished (-1: none).
    /// Set by the table walk at COMMIT; read by the table checks.</summary>
    internal int Index = -1;
}

/// <summary>The chain names of one table (one `*table` header) of a read, by text. The names of the table's chain
/// lines are declared before any thread reads the table (<see cref="Declare"/>) into a table that is only read from
/// then on (safe from several threads); any other name (a jump to an undeclared chain, `-N`) is made on first use in a
/// concurrent dictionary. A name is in one of the two, never both.
/// <para>A declared name is a range of the file's text: it is found through an open-addressing table of (hash,
/// ordinal) pairs, 8 bytes each, and compared with that range; its string, its slot and the jump and goto targets to
/// it sit in arrays by ordinal and are made on first use by whichever thread asks first. A 200k-line kube-proxy dump
/// looks up ~110k mostly distinct jump targets among ~50k names: through a <see cref="Dictionary{TKey, TValue}"/> of
/// slots each lookup touched a bucket, an entry, the key string, the slot and its jump object, most of them cache
/// misses (12% of the read), and declaring every name up front (a string and a slot each) held up every thread.</para></summary>
internal sealed class TableSlots
{
    // Declared names by ordinal (ranges of `text`, and their strings once made), and (hash << 32 | ordinal + 1) pairs by
    // hash (0: empty), at most half full.
    readonly string text;
    int[] starts, lengths;
    string?[] names;
    ChainSlot?[] slots;
    JumpTarget?[] jumps, gotos;
    ulong[] table;
    int count;
    readonly ConcurrentDictionary<string, ChainSlot> others = new(StringComparer.Ordinal);
    readonly ConcurrentDictionary<string, ChainSlot>.AlternateLookup<ReadOnlySpan<char>> othersByText;

    /// <param name="text">The text the declared names are ranges of.</param>
    public TableSlots(string text, int capacity)
    {
        this.text = text;
        capacity = Math.Max(capacity, 4);
        starts = new int[capacity];
        lengths = new int[capacity];
        names = new string?[capacity];
        slots = new ChainSlot?[capacity];
        jumps = new JumpTarget?[capacity];
        gotos = new JumpTarget?[capacity];
        table = new ulong[TableSize(capacity)];
        othersByText = others.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    static int TableSize(int names) => (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Max(8, names * 2));

    /// <summary>A per-process random seed for <see cref="Hash"/> (no input can be made to collide on purpose; what a
    /// lookup finds never depends on it).</summary>
    static readonly ulong Seed = (ulong)Random.Shared.NextInt64() | 1;

    /// <summary>A multiply-xorshift hash of the name's UTF-16 code units, eight bytes at a time. Chain names are ~25
    /// characters and every jump target is hashed twice (<see cref="Warm"/>, then <see cref="Ordinal"/>): the BCL's
    /// <see cref="HashCode.AddBytes"/>, four bytes a round, cost a quarter of the lookup.</summary>
    static uint Hash(ReadOnlySpan<char> name)
    {
        var bytes = System.Runtime.InteropServices.MemoryMarshal.AsBytes(name);
        ulong h = Seed ^ (ulong)bytes.Length * 0x9E3779B97F4A7C15UL;
        int i = 0;
        for (; i + 8 <= bytes.Length; i += 8)
            h = (h ^ System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(bytes[i..])) * 0xBF58476D1CE4E5B9UL;
        if (i < bytes.Length)
        {
            ulong tail = 0;
            for (int k = bytes.Length - 1; k >= i; k--) tail = tail << 8 | bytes[k];
            h = (h ^ tail) * 0x94D049BB133111EBUL;
        }
        h ^= h >> 31;
        h *= 0xD6E8FEB86659FD93UL;
        return (uint)(h ^ h >> 32);
    }

    /// <summary>How many names were declared (ordinals run from 0 below this).</summary>
    public int DeclaredCount => count;

    ReadOnlySpan<char> NameSpan(int ordinal) => text.AsSpan(starts[ordinal], lengths[ordinal]);

    /// <summary>The ordinal of a declared name, or -1.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public int Ordinal(ReadOnlySpan<char> name) => Ordinal(name, Hash(name));

    /// <summary>The ordinal of a declared name whose <see cref="HashOf"/> is <paramref name="h"/>, or -1.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public int Ordinal(ReadOnlySpan<char> name, uint h)
    {
        var t = table;
        int mask = t.Length - 1;
        for (int i = (int)h & mask; ; i = (i + 1) & mask)
        {
            ulong e = t[i];
            if (e == 0) return -1;
            if ((uint)(e >> 32) == h)
            {
                int o = (int)(uint)e - 1;
                if (name.SequenceEqual(NameSpan(o))) return o;
            }
        }
    }

    /// <summary>Brings into the cache what looking up these names will read (their pairs, then the names and jump
    /// targets they point to), with the loads of all names issued together so that their cache misses overlap instead
    /// of coming one after another inside each rule's parse. Only a warm-up: what it returns means nothing.</summary>
    public ulong Warm(ReadOnlySpan<uint> hashes)
    {
        var t = table;
        int mask = t.Length - 1;
        ulong acc = 0;
        foreach (var h in hashes) acc += t[(int)h & mask];
        foreach (var h in hashes)
        {
            ulong e = t[(int)h & mask];
            if (e != 0 && (uint)(e >> 32) == h)
            {
                int o = (int)(uint)e - 1;
                // Both ends of the name (it may cross a cache line) and its jump's place.
                acc += (ulong)text[starts[o]] + text[starts[o] + lengths[o] - 1] + (jumps[o] is null ? 0UL : 1UL);
            }
        }
        return acc;
    }

    /// <summary>The hash <see cref="Ordinal"/> looks a name up by (for <see cref="Warm"/>).</summary>
    public static uint HashOf(ReadOnlySpan<char> name) => Hash(name);

    /// <summary>Adds the name at <paramref name="text"/>[<paramref name="start"/>..+<paramref name="length"/>] (a chain
    /// line's); only before any thread reads the table.</summary>
    public void Declare(int start, int length)
    {
        var name = text.AsSpan(start, length);
        uint h = Hash(name);
        if ((count + 1) * 2 > table.Length)
        {
            table = new ulong[TableSize(count + 1)];
            for (int o = 0; o < count; o++) Insert(Hash(NameSpan(o)), o);
        }
        // One probe finds the name or the free entry it goes to.
        int mask = table.Length - 1, i = (int)h & mask;
        for (; table[i] != 0; i = (i + 1) & mask)
            if ((uint)(table[i] >> 32) == h && name.SequenceEqual(NameSpan((int)(uint)table[i] - 1))) return;
        if (count == starts.Length)
        {
            int n = starts.Length * 2;
            Array.Resize(ref starts, n);
            Array.Resize(ref lengths, n);
            Array.Resize(ref names, n);
            Array.Resize(ref slots, n);
            Array.Resize(ref jumps, n);
            Array.Resize(ref gotos, n);
        }
        (starts[count], lengths[count]) = (start, length);
        table[i] = (ulong)h << 32 | (uint)(count + 1);
        count++;
    }

    void Insert(uint h, int ordinal)
    {
        int mask = table.Length - 1;
        int i = (int)h & mask;
        while (table[i] != 0) i = (i + 1) & mask;
        table[i] = (ulong)h << 32 | (uint)(ordinal + 1);
    }

    /// <summary>The string of the declared name with this ordinal (one per name, made on first use).</summary>
    public string NameAt(int ordinal) =>
        names[ordinal] ?? Interlocked.CompareExchange(ref names[ordinal], NameSpan(ordinal).ToString(), null) ?? names[ordinal]!;

    /// <summary>The slot of the declared name with this ordinal (one per name, made on first use).</summary>
    public ChainSlot SlotAt(int ordinal) =>
        slots[ordinal] ?? Interlocked.CompareExchange(ref slots[ordinal], new ChainSlot(NameAt(ordinal), ordinal, this), null) ?? slots[ordinal]!;

    /// <summary>The one `-j` (or `-g`) target of this table to the declared chain with this ordinal, made on first use
    /// by whichever thread comes first.</summary>
    public JumpTarget JumpAt(int ordinal, bool isGoto)
    {
        var a = isGoto ? gotos : jumps;
        return a[ordinal] ?? Interlocked.CompareExchange(ref a[ordinal], new JumpTarget(NameAt(ordinal), isGoto), null) ?? a[ordinal]!;
    }

    /// <summary>The slot of <paramref name="name"/> when it is one of the few declared right after <paramref name="after"/>
    /// (null: the table's first), else null. iptables-save prints chain lines and then the chains' rules in the same
    /// order, so the next chain a walk meets is nearly always the next declared one: found without hashing the name,
    /// in memory that was just read.</summary>
    public ChainSlot? Following(ChainSlot? after, ReadOnlySpan<char> name, int reach = 4)
    {
        int from = after is null ? 0 : after.Ordinal + 1;
        if (after is not null && after.Ordinal < 0) return null;
        for (int k = from; k < count && k < from + reach; k++)
            if (name.SequenceEqual(NameSpan(k))) return SlotAt(k);
        return null;
    }

    /// <summary>The slot of <paramref name="name"/>, made on first use (by whichever thread comes first).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public ChainSlot Get(ReadOnlySpan<char> name)
    {
        int o = Ordinal(name);
        if (o >= 0) return SlotAt(o);
        if (othersByText.TryGetValue(name, out var s)) return s;
        return others.GetOrAdd(name.ToString(), static n => new ChainSlot(n));
    }

    public ChainSlot? Find(string name)
    {
        int o = Ordinal(name);
        if (o >= 0) return SlotAt(o);
        return others.TryGetValue(name, out var s) ? s : null;
    }
}
