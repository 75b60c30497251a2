using PacketLife.Core.Diagnostics;
using PacketLife.Core.Netfilter.Targets;

namespace PacketLife.Core.Netfilter.Text;

/// <summary>An `-A`/`-I` line parsed ahead of the table walk: the rule, what the table checks need of it, the command's
/// parts that depend on the table (chain, insert position) and the diagnostics the line gave, split where the table
/// walk adds its own (a chain that was not declared comes after the counters' and before the rule's).</summary>
internal readonly struct PreparedRule
{
    // One entry per line of the file (40 bytes: a 200k-line read allocated 88 per line before): the chain, `-I` and
    // its position are the rule's own fields, and the diagnostics' place is only kept for lines that have some.
    public readonly RuleFacts Facts;
    public readonly int CommandColumn, ChainColumn;
    readonly DiagnosticRange? diags;
    /// <summary>The table slots the line was prepared against and its chain's slot there (null: a line before any table).</summary>
    public readonly TableSlots? Slots;
    public readonly ChainSlot? ChainSlot;

    sealed class DiagnosticRange(List<Diagnostic> list, int commandStart, int ruleStart, int ruleEnd)
    {
        public readonly List<Diagnostic> List = list;
        public readonly int CommandStart = commandStart, RuleStart = ruleStart, RuleEnd = ruleEnd;
    }

    public PreparedRule(Rule rule, int commandColumn, int chainColumn, List<Diagnostic> diags, int commandStart, int ruleStart, int ruleEnd,
        TableSlots? slots, ChainSlot? chainSlot, ChainSlot? jumpSlot, int jumpOrdinal, JumpTarget? ordinalJump, bool insert, int? position)
    {
        // The command's parts the table walk needs are kept here, so that the walk (on another thread than the one that
        // built the rule) never reads the rule object itself: each such read was a cache miss on another core's memory.
        Insert = insert;
        position1 = position is { } pp ? pp + 1 : 0;
        Facts = ordinalJump is not null ? RuleFacts.OfJump(rule, ordinalJump, jumpOrdinal) : RuleFacts.Of(rule, jumpSlot);
        (Slots, ChainSlot) = (slots, chainSlot);
        (CommandColumn, ChainColumn) = (commandColumn, chainColumn);
        this.diags = ruleEnd > commandStart ? new DiagnosticRange(diags, commandStart, ruleStart, ruleEnd) : null;
    }

    /// <summary>Null: the line is not a well-formed rule command and is read by the table walk as before.</summary>
    public Rule? Rule => Facts.Rule;
    public string Chain => Facts.Rule.Chain;
    public readonly bool Insert;
    readonly int position1; // the `-I` position + 1 (0: none)
    public int? Position => position1 == 0 ? null : position1 - 1;

    /// <summary>Diagnostics of the command's own parts (bad `[p:b]` counters), in the order they were found.</summary>
    public void AddCommandDiagnostics(List<Diagnostic> to)
    {
        if (diags is { } d) for (int i = d.CommandStart; i < d.RuleStart; i++) to.Add(d.List[i]);
    }

    /// <summary>Diagnostics of the rule's matches and target, in the order they were found.</summary>
    public void AddRuleDiagnostics(List<Diagnostic> to)
    {
        if (diags is { } d) for (int i = d.RuleStart; i < d.RuleEnd; i++) to.Add(d.List[i]);
    }
}

/// <summary>Parses every rule line of a file ahead of the table walk. A rule's parse depends only on its own line (the
/// chain it goes to, whether that chain exists and where an `-I` puts it are the table walk's business), so the lines
/// are parsed in chunks: for a large input, background workers take chunks in file order while the table walk runs on
/// the calling thread, which waits for a chunk only when it reaches it (and parses the chunk itself when no worker
/// has taken it yet, so a busy machine degrades to one thread instead of waiting). Each worker has its own tokens,
/// string pool, rule parser and shared-object caches (sharing only ever joins immutable, stateless objects that print
/// the same, so which worker made a shared object changes nothing), and its own diagnostics list, from which the table
/// walk takes each line's diagnostics back in file order. The result is the same whatever the chunking.</summary>
internal sealed class RulePreparer
{
    /// <summary>Below this many characters one thread prepares everything (starting workers costs more than it saves).</summary>
    internal const int ParallelMinChars = 2 << 20;
    /// <summary>Lines per chunk at least (small chunks would share fewer strings and objects).</summary>
    internal const int MinChunkLines = 512;
    /// <summary>For tests: this many chunks and at least one background worker, whatever the input's size and the
    /// number of cores (0: decide as above).</summary>
    [ThreadStatic] internal static int ForcedChunks;

    sealed class Worker(string source)
    {
        public readonly TokenList Tokens = new();
        public readonly StringPool Pool = new(1024);
        public readonly List<Diagnostic> Diags = [];
        public readonly RuleParser.Shared Shared = new();
        RuleParser? parser;
        public RuleParser Parser => parser ??= new RuleParser(source, Diags, Shared, Pool);
        /// <summary>The chain name of the last rule: rules come grouped by chain, and each run of them shares one string
        /// (made once per run instead of looked up in a pool per rule).</summary>
        public string? LastChain;
        /// <summary>What <see cref="WarmJumps"/> returned (kept so that its loads are not optimised away).</summary>
        public ulong Warmth;
        /// <summary>The `-j` names <see cref="WarmJumps"/> looked up for the current lines, in line order: where each is in
        /// the text, how long, its ordinal in <see cref="HintSlots"/> (-1: not declared there); the next one not yet used.</summary>
        public readonly int[] HintStart = new int[WarmLines], HintLength = new int[WarmLines], HintOrdinal = new int[WarmLines];
        public int HintCount, HintNext;
        public TableSlots? HintSlots;
    }

    readonly string text, source;
    readonly int[] starts;
    /// <summary>Line index of each `*table` header and its chain slots, in file order.</summary>
    readonly (int Header, TableSlots Slots)[] tables;
    readonly int per, chunks;
    /// <summary>The next chunk nobody has taken (taken in file order by <see cref="Interlocked.Increment(ref int)"/>).</summary>
    int next;
    readonly ManualResetEventSlim[] done;
    readonly Worker own;
    System.Runtime.ExceptionServices.ExceptionDispatchInfo? failure;

    /// <summary>Per chunk, once prepared: one entry per line of the chunk, <see cref="PreparedRule.Rule"/> set for its
    /// rule lines (see <see cref="Ensure"/>). A chunk's entries go back to <see cref="free"/> once the walk is past it,
    /// and the next chunk prepared reuses them: the entries of a 200k-line read (13 MB of fresh memory, whose first
    /// touch costs more than writing it) are a few chunks' worth, already in the cache.</summary>
    readonly PreparedRule[]?[] buffers;
    readonly System.Collections.Concurrent.ConcurrentStack<PreparedRule[]> free = new();
    /// <summary>Chunks below this one have been handed back (by the walk's thread only).</summary>
    int released;

    /// <summary>Threads this read uses (1: the calling thread only); the table checks use as many.</summary>
    public int Threads { get; private init; } = 1;

    RulePreparer(string text, string source, int[] starts, int chunks, (int, TableSlots)[] tables)
    {
        (this.text, this.source, this.starts, this.chunks, this.tables) = (text, source, starts, chunks, tables);
        per = Math.Max(1, (starts.Length + chunks - 1) / chunks);
        buffers = new PreparedRule[]?[chunks];
        done = new ManualResetEventSlim[chunks];
        for (int c = 0; c < chunks; c++) done[c] = new ManualResetEventSlim(false);
        own = new Worker(source);
    }

    /// <summary>Threads a read may use: the cores, capped by PACKETLIFE_READ_THREADS (1: the calling thread only, e.g. on
    /// a shared machine).</summary>
    internal static int ReadThreads()
    {
        int cores = Environment.ProcessorCount;
        if (int.TryParse(Environment.GetEnvironmentVariable("PACKETLIFE_READ_THREADS"), out var cap) && cap >= 1) cores = Math.Min(cores, cap);
        return cores;
    }

    public static RulePreparer Start(string text, string source, int[] starts, Dictionary<int, IptablesSaveReader.TableSize> sizes)
    {
        var tables = sizes.Where(kv => kv.Value.Slots is not null).OrderBy(kv => kv.Key).Select(kv => (kv.Key, kv.Value.Slots!)).ToArray();
        int cores = ReadThreads();
        int forced = ForcedChunks;
        if (forced <= 0 && (text.Length < ParallelMinChars || cores < 2 || starts.Length < 2 * MinChunkLines))
            return new RulePreparer(text, source, starts, 1, tables); // all on the calling thread, when the walk first needs it
        int chunks = forced > 0 ? forced : Math.Clamp(starts.Length / MinChunkLines, 2, 2048);
        if (chunks == 1) return new RulePreparer(text, source, starts, 1, tables);
        // The calling thread is one of the cores (it walks and helps); the others prepare ahead of it.
        int background = Math.Clamp(cores - 1, 1, chunks - 1);
        var p = new RulePreparer(text, source, starts, chunks, tables) { Threads = background + 1 };
        for (int b = 0; b < background; b++) Task.Factory.StartNew(p.Background, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        return p;
    }

    void Background()
    {
        var w = new Worker(source);
        while (true)
        {
            int c = Interlocked.Increment(ref next) - 1;
            if (c >= chunks) return;
            Prepare(c, w);
        }
    }

    void Prepare(int c, Worker w)
    {
        try
        {
            int from = c * per;
            var buffer = free.TryPop(out var reused) ? reused : new PreparedRule[Math.Max(0, Math.Min(starts.Length, from + per) - from)];
            if (from < starts.Length) Run(text, source, starts, tables, buffer, from, Math.Min(starts.Length, from + per), w);
            buffers[c] = buffer;
        }
        catch (Exception e)
        {
            // A bug, not bad input: handed to the table walk, which rethrows it on its own thread.
            failure ??= System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e);
        }
        finally { done[c].Set(); }
    }

    /// <summary>Leaves the chunks nobody has taken to nobody (the walk is over; a worker finishes the chunk it holds).</summary>
    public void Stop() => Interlocked.Exchange(ref next, chunks);

    /// <summary>Makes sure the chunk holding line <paramref name="idx"/> is prepared (taking it on this thread when no
    /// worker has yet), hands back every chunk before it (the walk only goes forward), and returns the first line after
    /// that chunk, with the chunk's entries and the line of its first entry.</summary>
    public int Ensure(int idx, out PreparedRule[] entries, out int first)
    {
        int end = Ensure(idx);
        int c = Math.Min(idx / per, chunks - 1);
        for (; released < c; released++)
        {
            if (!done[released].IsSet) continue; // never taken (the walk stopped early): nothing to hand back
            if (buffers[released] is { } b)
            {
                buffers[released] = null;
                if (b.Length == per)
                {
                    Array.Clear(b);
                    free.Push(b);
                }
            }
        }
        entries = buffers[c]!;
        first = c * per;
        return end;
    }

    int Ensure(int idx)
    {
        int c = Math.Min(idx / per, chunks - 1);
        if (!done[c].IsSet)
        {
            // Instead of waiting for the chunk a worker holds, this thread prepares the next chunk nobody has taken
            // (ahead of the walk, in order) and looks again: the walk is faster than parsing, so without this the
            // calling thread idled most of a large read while one worker parsed every chunk. Chunks up to this one
            // are taken first, so the walk never waits for a chunk nobody holds.
            while (!done[c].IsSet)
            {
                int n = Volatile.Read(ref next);
                if (n >= chunks) break;
                if (Interlocked.CompareExchange(ref next, n + 1, n) == n) Prepare(n, own);
            }
            done[c].Wait();
        }
        failure?.Throw();
        return Math.Min(starts.Length, (c + 1) * per);
    }

    /// <summary>Lines whose jump targets are looked up together ahead of their parse (<see cref="WarmJumps"/>).</summary>
    const int WarmLines = 16;

    /// <summary>Finds the `-j NAME` of each of lines [<paramref name="from"/>, <paramref name="to"/>) by a quick look at
    /// its text, warms what looking NAME up will read (<see cref="TableSlots.Warm"/>), then looks the names up and
    /// leaves the answers as hints for the parse (<see cref="Worker.HintStart"/>). A kube-proxy dump's rules jump to
    /// ~110k mostly distinct chains among ~50k, and each lookup missed the cache twice, one rule after another (14% of
    /// the parse); issued together, the misses overlap. A hint is only taken by a `-j` token that is exactly its range
    /// of the text in the same table, so a wrong guess (a line whose `-j` is not where this looks) changes nothing: the
    /// parse looks that name up itself.</summary>
    static ulong WarmJumps(string text, int[] starts, int from, int to, TableSlots slots, Span<uint> hashes, Worker w)
    {
        int n = 0;
        for (int idx = from; idx < to; idx++)
        {
            var line = text.AsSpan(starts[idx], IptablesSaveReader.LineEnd(text, starts, idx) - starts[idx]).TrimEnd('\r');
            // ` -j NAME` is nearly always the line's last word: look back from the end over at most one more word.
            int end = line.Length, j = end - 1;
            while (j > 0 && line[j] != ' ') j--;
            if (j < 3 || line[j - 1] != 'j' || line[j - 2] != '-' || line[j - 3] != ' ') continue;
            var name = line[(j + 1)..end];
            if (name.Length <= 20) continue;
            hashes[n] = TableSlots.HashOf(name);
            (w.HintStart[n], w.HintLength[n]) = (starts[idx] + j + 1, name.Length);
            n++;
        }
        w.HintCount = n;
        w.HintSlots = slots;
        var acc = slots.Warm(hashes[..n]);
        // With everything in the cache, the names are looked up for good: the parse of each line takes the answer
        // for its `-j` token when the token is that very range of the text (same table), instead of hashing and
        // comparing again.
        for (int k = 0; k < n; k++) w.HintOrdinal[k] = slots.Ordinal(text.AsSpan(w.HintStart[k], w.HintLength[k]), hashes[k]);
        w.HintNext = 0;
        return acc;
    }

    /// <summary>Prepares lines [<paramref name="from"/>, <paramref name="to"/>) into <paramref name="prepared"/>
    /// (entry k: line from + k).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    static void Run(string text, string source, int[] starts, (int Header, TableSlots Slots)[] tables, PreparedRule[] prepared, int from, int to, Worker w)
    {
        var tk = w.Tokens;
        var diags = w.Diags;
        // The table each line is in: the last header before it.
        int t = -1;
        while (t + 1 < tables.Length && tables[t + 1].Header < from) t++;
        ChainSlot? lastSlot = null;
        Span<uint> hashes = stackalloc uint[WarmLines];
        for (int idx = from; idx < to; idx++)
        {
            if (t + 1 < tables.Length && tables[t + 1].Header == idx) { t++; lastSlot = null; continue; }
            var slots = t >= 0 ? tables[t].Slots : null;
            if (slots is not null && (idx - from) % WarmLines == 0) w.Warmth += WarmJumps(text, starts, idx, Math.Min(to, idx + WarmLines), slots, hashes, w);
            int pos = starts[idx];
            int end = IptablesSaveReader.LineEnd(text, starts, idx);
            var body = text.AsSpan(pos, end - pos).TrimEnd('\r');
            var trimmed = body.TrimStart();
            // Only rule commands (optionally after `[p:b]` counters); everything else is the table walk's.
            if (trimmed.IsEmpty || trimmed[0] is not ('-' or '[')) continue;
            tk.Clear();
            if (!Tokenizer.Split(text, pos, body.Length, tk, w.Pool, out _)) continue;
            int lineNo = idx + 1;
            int commandStart = diags.Count;
            var counters = IptablesSaveReader.LeadingCounters(tk, source, lineNo, diags, out int i);
            var cmd = i < tk.Count ? tk[i] : default;
            bool insert = cmd.Is("-I") || cmd.Is("--insert");
            if (i + 1 >= tk.Count || !(insert || cmd.Is("-A") || cmd.Is("--append")))
            {
                // Not a rule with a chain: the table walk reads the line (and reports it) itself.
                diags.RemoveRange(commandStart, diags.Count - commandStart);
                continue;
            }
            var chainTok = tk[i + 1];
            ChainSlot? chainSlot = null;
            string chain;
            if (slots is not null)
            {
                // Rules come grouped by chain: the previous rule's slot is compared before the table's slots are asked.
                chainSlot = lastSlot is { } ls && chainTok.Span.SequenceEqual(ls.Name) ? ls
                    : lastSlot = slots.Following(lastSlot, chainTok.Span) ?? slots.Get(chainTok.Span);
                chain = chainSlot.Name;
            }
            else chain = w.LastChain is { } lc && chainTok.Span.SequenceEqual(lc) ? lc : w.LastChain = chainTok.Value;
            w.Parser.Slots = slots;
            // The warm-up's answer for this line's `-j`, if it looked at this line (hints come in line order).
            w.Parser.JumpHintStart = -1;
            if (ReferenceEquals(w.HintSlots, slots))
                while (w.HintNext < w.HintCount && w.HintStart[w.HintNext] < pos + body.Length)
                {
                    int k = w.HintNext++;
                    if (w.HintStart[k] >= pos) (w.Parser.JumpHintStart, w.Parser.JumpHintLength, w.Parser.JumpHintOrdinal) = (w.HintStart[k], w.HintLength[k], w.HintOrdinal[k]);
                }
            int start = i + 2;
            int? position = null;
            if (insert && i + 2 < tk.Count && int.TryParse(tk[i + 2].Span, out var np)) { position = np; start++; }
            int indent = body.Length - trimmed.Length;
            var at = new SourceLocation(source, lineNo, indent + 1);
            int ruleStart = diags.Count;
            var rule = w.Parser.ParseRule(chain, insert ? RuleCommand.Insert : RuleCommand.Append, position, tk, start, counters,
                (text, pos, end - pos), lineNo, at);
            prepared[idx - from] = new PreparedRule(rule, cmd.Column, chainTok.Column, diags, commandStart, ruleStart, diags.Count, slots, chainSlot, w.Parser.JumpSlot, w.Parser.JumpOrdinal, w.Parser.OrdinalJump, insert, position);
        }
    }
}
