using System.Collections.Immutable;
using System.Text;
using PacketLife.Core.Diagnostics;
using PacketLife.Core.Netfilter.Targets;

namespace PacketLife.Core.Netfilter.Text;

public sealed record NetfilterParseResult(RuleSet RuleSet, IReadOnlyList<Diagnostic> Diagnostics)
{
    public bool HasErrors => Diagnostics.Any(d => d.Severity == Severity.Error);
}

/// <summary>Reads what `iptables-save` prints (legacy and nft variants, with or without `-c` counters) and what
/// `iptables-restore` accepts (kube-proxy's `--noflush` payload: `:CHAIN - [0:0]`, `-A` in restore order, `-X`,
/// `-N`, `-I`, `-F`, `-P`). Every line is kept with its exact text, so <see cref="IptablesSaveWriter.Write"/> gives
/// the input back byte for byte. All problems are reported at once, each with line:column and a hint. A large input's
/// rule lines are parsed on more threads than the caller's (<see cref="RulePreparer"/>; `PACKETLIFE_READ_THREADS=1`
/// keeps a read on the calling thread); the result is the one a single pass gives.</summary>
public static class IptablesSaveReader
{
    /// <summary>Reads a file (I/O errors are thrown as <see cref="File.ReadAllBytes"/> throws them). A large file of
    /// plain ASCII, as iptables-save writes, is read by two threads, each reading its half of the file in 1 MB pieces
    /// straight into its half of the text (no copy of the whole file's bytes, and the first touch of the text's 40 MB of
    /// fresh memory shared); anything else, or a file that changes while it is read, is read as bytes.</summary>
    public static NetfilterParseResult ReadFile(string path)
    {
        using (var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read))
        {
            long length = RandomAccess.GetLength(handle);
            if (length >= RulePreparer.ParallelMinChars && length <= int.MaxValue / 4 && RulePreparer.ReadThreads() >= 2)
            {
                using var noGc = NoGcScope.Enter(length);
                var text = ReadAsciiInHalves(handle, (int)length, out var starts, out var firsts);
                if (text is not null) return Read(text, path, reportReplacement: true, starts, firsts);
            }
        }
        return Read(File.ReadAllBytes(path), path);
    }

    /// <summary>The file's text when every byte is ASCII and the file is as long as it was (else null), read as
    /// <see cref="ReadFile"/> says.</summary>
    static string? ReadAsciiInHalves(Microsoft.Win32.SafeHandles.SafeFileHandle handle, int length, out int[] starts, out byte[] firsts)
    {
        (starts, firsts) = ([], []);
        // Each half also notes its line breaks (found in the bytes, before they are widened), so the line split is
        // shared by both threads too.
        var breaks = new[] { new List<int>(1 << 16), new List<int>(1 << 16) };
        // ...and the byte after each (the next line's first, in the cache now; 0 where it is in the next piece): the line
        // split then tells chain lines and table headers apart without reading the text again.
        var after = new[] { new List<byte>(1 << 16), new List<byte>(1 << 16) };
        // A new string nobody else has seen yet is written in place (its memory comes zeroed from the allocator).
        var text = new string('\0', length);
        var chars = System.Runtime.InteropServices.MemoryMarshal.AsMemory(text.AsMemory());
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
        bool Part(int from, int to, List<int> lineBreaks, List<byte> nextBytes)
        {
            var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(1 << 20);
            try
            {
                for (int pos = from; pos < to;)
                {
                    int got = RandomAccess.Read(handle, buffer.AsSpan(0, Math.Min(buffer.Length, to - pos)), pos);
                    if (got <= 0) return false;
                    var piece = buffer.AsSpan(0, got);
                    if (!System.Text.Ascii.IsValid(piece)) return false;
                    System.Text.Ascii.ToUtf16(piece, chars.Span.Slice(pos, got), out _);
                    for (int k = piece.IndexOf((byte)'\n'); k >= 0;)
                    {
                        lineBreaks.Add(pos + k);
                        nextBytes.Add(k + 1 < piece.Length ? piece[k + 1] : (byte)0);
                        int next = piece[(k + 1)..].IndexOf((byte)'\n');
                        k = next < 0 ? -1 : k + 1 + next;
                    }
                    pos += got;
                }
                return true;
            }
            finally { System.Buffers.ArrayPool<byte>.Shared.Return(buffer); }
        }
        int half = length / 2;
        var second = Task.Factory.StartNew(() => Part(half, length, breaks[1], after[1]), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        bool ok = Part(0, half, breaks[0], after[0]);
        ok &= second.Result;
        if (!ok || RandomAccess.GetLength(handle) != length) return null;
        starts = StartsFromBreaks(length, breaks, after, out firsts);
        return text;
    }

    /// <summary>Reads a file's bytes, reporting every invalid UTF-8 sequence with its line and column. A large input is
    /// decoded on two threads, each half into its place in the one text (<see cref="DecodeInHalves"/>).</summary>
    public static NetfilterParseResult Read(byte[] bytes, string source)
    {
        if (bytes.Length < RulePreparer.ParallelMinChars || RulePreparer.ReadThreads() < 2) return Read((ReadOnlySpan<byte>)bytes, source);
        using var noGc = NoGcScope.Enter(bytes.Length);
        var text = DecodeInHalves(bytes);
        // Invalid UTF-8: the one-thread path finds and reports every bad sequence.
        return text is null ? Read((ReadOnlySpan<byte>)bytes, source) : Read(text, source);
    }

    /// <summary>The text of valid UTF-8 <paramref name="bytes"/> decoded in two halves at once (null: not valid UTF-8).
    /// The halves are split after a line break (a byte that never occurs inside a multi-byte sequence), the string is
    /// allocated once at its final length and each half is decoded straight into its part of it. Decoding a 20 MB dump
    /// writes 40 MB of fresh memory, whose first touch (the kernel's page faults) cost more than the decoding itself:
    /// two threads share it.</summary>
    internal static string? DecodeInHalves(byte[] bytes)
    {
        int cut = Array.IndexOf(bytes, (byte)'\n', bytes.Length / 2);
        if (cut < 0) cut = bytes.Length - 1;
        var first = new ReadOnlyMemory<byte>(bytes, 0, cut + 1);
        var second = new ReadOnlyMemory<byte>(bytes, cut + 1, bytes.Length - cut - 1);
        var strict = new UTF8Encoding(false, true);
        int firstChars, secondChars;
        try
        {
            if (System.Text.Ascii.IsValid(bytes)) (firstChars, secondChars) = (first.Length, second.Length);
            else (firstChars, secondChars) = (strict.GetCharCount(first.Span), strict.GetCharCount(second.Span));
        }
        catch (DecoderFallbackException) { return null; }
        // A new string nobody else has seen yet is written in place (its memory comes zeroed from the allocator).
        var text = new string('\0', firstChars + secondChars);
        var chars = System.Runtime.InteropServices.MemoryMarshal.AsMemory(text.AsMemory());
        var other = Task.Factory.StartNew(() => strict.GetChars(second.Span, chars.Span[firstChars..]), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        try
        {
            strict.GetChars(first.Span, chars.Span[..firstChars]);
            other.Wait();
        }
        catch (Exception e) when (e is DecoderFallbackException || e is AggregateException { InnerException: DecoderFallbackException })
        {
            try { other.Wait(); } catch (AggregateException) { }
            return null;
        }
        return text;
    }

    /// <summary>Reads bytes, reporting every invalid UTF-8 sequence with its line and column.</summary>
    public static NetfilterParseResult Read(ReadOnlySpan<byte> bytes, string source)
    {
        using var noGc = NoGcScope.Enter(bytes.Length);
        var strict = new UTF8Encoding(false, true);
        try
        {
            return Read(strict.GetString(bytes), source);
        }
        catch (DecoderFallbackException)
        {
            // Locate each bad sequence: decode line by line with replacement and report where U+FFFD appears.
            var text = new UTF8Encoding(false, false).GetString(bytes);
            return Read(text, source, reportReplacement: true);
        }
    }

    public static NetfilterParseResult Read(string text, string source) => Read(text, source, reportReplacement: true);

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    static NetfilterParseResult Read(string text, string source, bool reportReplacement, int[]? knownStarts = null, byte[]? knownFirsts = null)
    {
        var diags = new List<Diagnostic>();
        var top = ImmutableArray.CreateBuilder<RuleSetLine>();
        bool bom = text.Length > 0 && text[0] == '\uFEFF';
        if (bom) text = text[1..];
        bool endsWithNewline = text.EndsWith('\n');
        var tokens = new TokenList();
        TableBuilder? open = null;
        int lineNo = 0;
        bool sawTable = false;
        // Rule lines are parsed first, each on its own (in parallel for large inputs: RulePreparer); the loop below
        // then builds tables and chains in file order, taking each prepared rule with its diagnostics in their order.
        // One vectorised look over the whole text decides whether lines need looking at for U+FFFD one by one.
        reportReplacement = reportReplacement && text.AsSpan().Contains('\uFFFD');
        var starts = bom ? LineStarts(text, out var sizes) : LineStarts(text, out sizes, knownStarts, knownFirsts);
        var pool = new StringPool(Math.Max(1024, sizes.Values.Sum(t => t.Chains)));
        var preparer = RulePreparer.Start(text, source, starts, sizes);
        PreparedRule[] prepared = []; // the entries of the chunk that holds line `ready - 1`, from line `first` on
        int first = 0;
        int ready = 0; // lines below this one are prepared
        for (int idx = 0; idx < starts.Length; idx++)
        {
            if (open is not null && !reportReplacement)
            {
                // A rule line prepared ahead is taken without looking at its text again: the preparer read it from
                // the same line start, and its range and location are the rule's.
                if (idx >= ready) ready = preparer.Ensure(idx, out prepared, out first);
                ref readonly var pr = ref prepared[idx - first];
                if (pr.Rule is not null)
                {
                    lineNo = idx + 1;
                    open.AddPrepared(in pr, lineNo, diags);
                    continue;
                }
            }
            int pos = starts[idx];
            int end = LineEnd(text, starts, idx);
            var range = (text, pos, end - pos);
            var raw = text.AsSpan(pos, end - pos);
            lineNo = idx + 1;
            if (reportReplacement)
            {
                int bad = raw.IndexOf('\uFFFD');
                if (bad >= 0) diags.Add(NetfilterMessages.NonUtf8(new SourceLocation(source, lineNo, bad + 1)));
            }
            var body = raw.TrimEnd('\r');
            var trimmed = body.TrimStart();
            int indent = body.Length - trimmed.Length;
            var at = new SourceLocation(source, lineNo, indent + 1);
            if (trimmed.IsEmpty || trimmed[0] == '#')
            {
                var c = new CommentLine(trimmed.ToString()) { TextRange = range, Location = at };
                if (open is not null) open.Lines.Add(c); else top.Add(c);
                continue;
            }
            if (trimmed[0] == '*')
            {
                sawTable = true;
                var name = trimmed[1..].Trim().ToString();
                if (open is not null)
                {
                    diags.Add(NetfilterMessages.MissingCommitBeforeTable(at, open.Name, name));
                    top.Add(open.Finish(diags, preparer.Threads));
                }
                if (name.Length == 0) diags.Add(NetfilterMessages.MissingTableName(at));
                else if (!NetfilterTables.IsKnown(name)) diags.Add(NetfilterMessages.UnknownTable(new SourceLocation(source, lineNo, indent + 2), name));
                open = new TableBuilder(name, range, at, source, pool, sizes.GetValueOrDefault(idx));
                continue;
            }
            if (trimmed.SequenceEqual("COMMIT"))
            {
                if (open is null)
                {
                    diags.Add(NetfilterMessages.OutsideTable(at, "COMMIT"));
                    top.Add(new CommentLine("") { TextRange = range, Location = at });
                    continue;
                }
                open.Lines.Add(new CommitLine { TextRange = range, Location = at });
                open.Committed = true;
                top.Add(open.Finish(diags, preparer.Threads));
                open = null;
                continue;
            }
            if (open is null)
            {
                diags.Add(NetfilterMessages.OutsideTable(at, trimmed[0] == ':' ? "chain line" : "rule"));
                // Keep the text so the writer still gives the file back.
                top.Add(new CommentLine("") { TextRange = range, Location = at });
                continue;
            }
            if (trimmed[0] == ':')
            {
                open.ChainDeclaration(range, trimmed, at, indent, lineNo, diags);
                continue;
            }
            if (idx >= ready) ready = preparer.Ensure(idx, out prepared, out first);
            if (prepared[idx - first].Rule is not null)
            {
                open.AddPrepared(in prepared[idx - first], lineNo, diags);
                continue;
            }
            tokens.Clear();
            if (!Tokenizer.Split(text, range.Item2, body.Length, tokens, pool, out var qcol))
            {
                diags.Add(NetfilterMessages.UnterminatedQuote(new SourceLocation(source, lineNo, qcol)));
                open.Lines.Add(new CommentLine("") { TextRange = range, Location = at });
                continue;
            }
            open.Command(range, tokens, at, lineNo, diags);
        }
        preparer.Stop();
        if (open is not null)
        {
            diags.Add(NetfilterMessages.MissingCommitAtEnd(new SourceLocation(source, lineNo, 1), open.Name));
            top.Add(open.Finish(diags, preparer.Threads));
        }
        if (!sawTable && diags.All(d => d.Code != "NF0006"))
            diags.Add(NetfilterMessages.EmptyFile(new SourceLocation(source, Math.Max(lineNo, 1), 1)));
        var sorted = diags.OrderBy(d => d.Location.Line).ThenBy(d => d.Location.Column).ToList();
        return new NetfilterParseResult(new RuleSet { Lines = top.ToImmutable(), EndsWithNewline = endsWithNewline || text.Length == 0, ByteOrderMark = bom }, sorted);
    }

    /// <summary>Lines and chain lines (`:` first) from a table's header to the next one: the table's lists and
    /// dictionaries are sized from them instead of growing (and copying) step by step.</summary>
    internal readonly record struct TableSize(int Lines, int Chains, TableSlots? Slots = null);

    /// <summary>Start offset of every line (a final line break does not start an empty line), and the size of each
    /// table by the line index of its `*` header.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    /// <param name="known">The line starts, when already found (else split here).</param>
    /// <param name="firsts">With <paramref name="known"/>: each line's first character when already known (0: read it).</param>
    static int[] LineStarts(string text, out Dictionary<int, TableSize> sizes, int[]? known = null, byte[]? firsts = null)
    {
        var span = text.AsSpan();
        var starts = known ?? SplitLines(text);
        sizes = [];
        int header = -1, lines = 0, chains = 0;
        var chainLines = new List<int>();
        // The chain names of a table's chain lines, declared in its slots before any rule line is read (a name with
        // a quote is left to be found when used, as a token would read it).
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
        TableSlots Slots(ReadOnlySpan<char> span)
        {
            var slots = new TableSlots(text, chains);
            foreach (var p in chainLines)
            {
                var rest = span[(p + 1)..];
                int e = rest.IndexOfAny(NameEnds);
                int length = e < 0 ? rest.Length : e;
                if (length > 0 && (e < 0 || rest[e] != '"')) slots.Declare(p + 1, length);
            }
            chainLines.Clear();
            return slots;
        }
        for (int n = 0; n < starts.Length; n++)
        {
            int pos = starts[n];
            char first = firsts is not null && firsts[n] != 0 ? (char)firsts[n] : text[pos];
            if (char.IsWhiteSpace(first) && first != '\n')
            {
                // An indented line: the walk reads it after its leading white space, and so does this split.
                var rest = span[pos..];
                int nl0 = rest.IndexOf('\n');
                var body = (nl0 < 0 ? rest : rest[..nl0]).TrimStart();
                first = body.IsEmpty ? ' ' : body[0];
            }
            if (first == '*')
            {
                if (header >= 0) sizes[header] = new TableSize(lines, chains, Slots(span));
                (header, lines, chains) = (n, 0, 0);
            }
            else
            {
                lines++;
                if (first == ':')
                {
                    chains++;
                    if (header >= 0 && text[pos] == ':') chainLines.Add(pos);
                }
            }
        }
        if (header >= 0) sizes[header] = new TableSize(lines, chains, Slots(span));
        return starts;
    }

    /// <summary>Start offset of every line of <paramref name="text"/> (a final line break does not start an empty line).</summary>
    static int[] SplitLines(string text)
    {
        var span = text.AsSpan();
        var starts = new int[span.Count('\n') + 1];
        int n = 0, pos = 0;
        while (pos < text.Length)
        {
            starts[n++] = pos;
            int nl = span[pos..].IndexOf('\n');
            if (nl < 0) break;
            pos += nl + 1;
        }
        return n == starts.Length ? starts : starts[..n];
    }

    /// <summary>The line starts of a text of <paramref name="length"/> characters from the positions of its line breaks,
    /// found in consecutive parts (as <see cref="SplitLines"/> gives them), with the first character of each line where the
    /// parts saw it (<paramref name="after"/>: the byte after each break, 0 when not seen; 0 for the first line).</summary>
[System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    static int[] StartsFromBreaks(int length, List<int>[] breaks, List<byte>[] after, out byte[] firsts)
    {
        int total = 1;
        foreach (var b in breaks) total += b.Count;
        var starts = new int[total];
        firsts = new byte[total];
        int n = 0;
        if (length > 0) starts[n++] = 0; // its first character is read from the text (0)
        for (int part = 0; part < breaks.Length; part++)
        {
            var b = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(breaks[part]);
            var a = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(after[part]);
            for (int i = 0; i < b.Length; i++)
                if (b[i] + 1 < length) { firsts[n] = a[i]; starts[n++] = b[i] + 1; }
        }
        if (n < starts.Length) firsts = firsts[..n];
        return n == starts.Length ? starts : starts[..n];
    }

    static readonly System.Buffers.SearchValues<char> NameEnds = System.Buffers.SearchValues.Create(" \t\n\r\v\f\"");

    /// <summary>End of line <paramref name="idx"/> (its line break excluded).</summary>
    /// <summary>A command's optional leading `[packets:bytes]` counters (iptables-save -c): read, or reported when
    /// malformed; <paramref name="next"/> is the index of the token after them.</summary>
    internal static Counters? LeadingCounters(TokenList tk, string source, int lineNo, List<Diagnostic> diags, out int next)
    {
        next = 0;
        if (!tk[0].StartsWith('[')) return null;
        next = 1;
        if (Counters.TryParse(tk[0].Span, out var c)) return c;
        diags.Add(NetfilterMessages.BadCounters(new SourceLocation(source, lineNo, tk[0].Column), tk[0].Value));
        return null;
    }

    internal static int LineEnd(string text, int[] starts, int idx) =>
        idx + 1 < starts.Length ? starts[idx + 1] - 1 : text.Length > 0 && text[^1] == '\n' ? text.Length - 1 : text.Length;

    sealed class ChainBuilder(ChainSlot slot, bool builtin, string? policy, Counters counters, SourceLocation at)
    {
        public ChainSlot Slot { get; } = slot;
        public string Name => Slot.Name;
        public bool Builtin { get; } = builtin;
        public string? Policy { get; set; } = policy;
        public Counters Counters { get; set; } = counters;
        public SourceLocation Location { get; } = at;
        /// <summary>Declared by a chain line or `-N` (a second declaration is reported).</summary>
        public bool Declared { get; set; }
        /// <summary>The chain's rules in order, each with what the table checks need of it: a run of the table's
        /// log of appended rules (<see cref="TableBuilder.Log"/>, from <see cref="RunStart"/>) while the chain's rules
        /// are appended one after another, as iptables-save prints them (no list per chain, nothing copied); its own
        /// list once anything else happens (an `-I`, or an `-A` after another chain's).</summary>
        public int RunStart = -1, RunCount;
        public List<RuleFacts>? Own;
        public int Count => Own?.Count ?? RunCount;

        public void Clear() => (RunStart, RunCount, Own) = (-1, 0, null);

        /// <summary>The chain's rules in order (a slice of <paramref name="log"/> or its own list).</summary>
        public ArraySegment<RuleFacts> Facts(RuleFacts[] log) => Own is { } own ? own.ToArray() : RunCount == 0 ? [] : new ArraySegment<RuleFacts>(log, RunStart, RunCount);

        public Chain Build(ArraySegment<RuleFacts> facts)
        {
            var rules = new Rule[facts.Count];
            var span = facts.AsSpan();
            for (int i = 0; i < rules.Length; i++) rules[i] = span[i].Rule;
            return new() { Name = Name, IsBuiltin = Builtin, Policy = Policy, Counters = Counters, Rules = System.Runtime.InteropServices.ImmutableCollectionsMarshal.AsImmutableArray(rules), Location = Location };
        }
    }

    sealed class TableBuilder(string name, (string, int, int) header, SourceLocation at, string source, StringPool pool, TableSize sizes)
    {
        public string Name { get; } = name;
        public List<RuleSetLine> Lines { get; } = new(sizes.Lines);
        public bool Committed { get; set; }
        // The table's chains by name: the slots rule lines found (or made) on any thread, each holding the chain that now
        // has its name (ChainSlot.Builder, written by this walk only). A table the line split did not see gets its own.
        readonly TableSlots slots = sizes.Slots ?? new TableSlots("", sizes.Chains);
        public TableSlots Slots => slots;
        readonly List<ChainBuilder> order = new(sizes.Chains);
        readonly ImmutableArray<string> builtins = NetfilterTables.BuiltinChains(name);

        // Built-in chain names are short and have no `-` (KUBE-... and the like are rejected without a comparison).
        bool IsBuiltin(string chain) => chain.Length <= 11 && !chain.Contains('-') && builtins.Contains(chain);
        readonly bool known = NetfilterTables.IsKnown(name);
        readonly RuleParser.Shared shared = new();
        RuleParser? parser;

        ChainBuilder? Get(string chain) => slots.Find(chain)?.Builder as ChainBuilder;

        // The chain of the last rule added: rules come grouped by chain, so most rules skip the dictionary.
        ChainBuilder? lastChain;

        ChainBuilder? ChainOfRule(string chain)
        {
            if (lastChain is { } l && (ReferenceEquals(l.Name, chain) || l.Name == chain)) return l;
            return lastChain = Get(chain);
        }

        ChainBuilder Ensure(string chain, SourceLocation where) => Ensure(slots.Get(chain), where);

        ChainBuilder Ensure(ChainSlot slot, SourceLocation where)
        {
            if (slot.Builder is ChainBuilder c) return c;
            bool builtin = IsBuiltin(slot.Name);
            c = new ChainBuilder(slot, builtin, builtin ? "ACCEPT" : null, Counters.Zero, where);
            slot.Builder = c;
            order.Add(c);
            return c;
        }

        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
        public void ChainDeclaration((string, int, int) range, ReadOnlySpan<char> trimmed, SourceLocation at, int indent, int lineNo, List<Diagnostic> diags)
        {
            // A user chain's line as iptables-save prints it (`:NAME - [0:0]`, the name without a space or quote, and
            // not a built-in chain's name: those have no `-`) is read without splitting it: nothing in it can be wrong.
            const string UserTail = " - [0:0]";
            if (trimmed.Length > UserTail.Length + 1 && trimmed.EndsWith(UserTail))
            {
                var nameSpan = trimmed[1..^UserTail.Length];
                if (nameSpan.IndexOfAny(NameEnds) < 0 && (nameSpan.Length > 11 || nameSpan.Contains('-')))
                {
                    var userSlot = slots.Following(lastDeclared, nameSpan, 1) ?? slots.Get(nameSpan);
                    lastDeclared = userSlot;
                    Declare(userSlot, null, Counters.Zero, range, at, diags);
                    return;
                }
            }
            var tokens = chainTokens;
            tokens.Clear();
            int lineStart = range.Item2 + indent + 1;
            Tokenizer.Split(range.Item1, lineStart, trimmed.Length - 1, tokens, pool, out _);
            if (tokens.Count is < 2 or > 3 || tokens[0].Value.Length == 0)
            {
                diags.Add(NetfilterMessages.BadChainLine(at, trimmed.ToString()));
                Lines.Add(new CommentLine("") { TextRange = range, Location = at });
                return;
            }
            // Chain lines are declared in this order: the next one is nearly always the slot after the last one's.
            var slot = slots.Following(lastDeclared, tokens[0].Span, 1) ?? slots.Get(tokens[0].Span);
            lastDeclared = slot;
            var name = slot.Name;
            // The usual policies are constants (a string per chain line otherwise).
            var policy = tokens[1].Span switch { "-" => "-", "ACCEPT" => "ACCEPT", "DROP" => "DROP", _ => tokens[1].Value };
            var counters = Counters.Zero;
            if (tokens.Count == 3 && !Counters.TryParse(tokens[2].Span, out counters))
                diags.Add(NetfilterMessages.BadCounters(new SourceLocation(source, lineNo, indent + 2 + tokens[2].Column - 1), tokens[2].Value));
            bool builtin = IsBuiltin(name);
            var polAt = new SourceLocation(source, lineNo, indent + 2 + tokens[1].Column - 1);
            string? pol = policy == "-" ? null : policy;
            if (builtin && pol is not ("ACCEPT" or "DROP")) { diags.Add(NetfilterMessages.BadPolicy(polAt, policy)); pol = "ACCEPT"; }
            else if (!builtin && pol is not null) { diags.Add(NetfilterMessages.PolicyOnUserChain(polAt, name)); pol = null; }
            if (builtin && pol == "DROP" && Name == "nat") diags.Add(NetfilterMessages.DropInNat(polAt));
            Declare(slot, pol, counters, range, at, diags);
        }

        /// <summary>A chain line's effect: the chain gets its policy and counters (made if new; a second line for a
        /// user chain is reported), and the line is kept.</summary>
        void Declare(ChainSlot slot, string? pol, Counters counters, (string, int, int) range, SourceLocation at, List<Diagnostic> diags)
        {
            if (slot.Builder is ChainBuilder existing)
            {
                if (!existing.Builtin && existing.Declared)
                    diags.Add(NetfilterMessages.DuplicateChain(at, slot.Name));
                existing.Policy = pol;
                existing.Counters = counters;
                existing.Declared = true;
            }
            else
            {
                var c = Ensure(slot, at);
                c.Policy = pol;
                c.Counters = counters;
                c.Declared = true;
            }
            Lines.Add(new ChainLine(slot.Name, pol, counters) { TextRange = range, Location = at });
        }

        readonly TokenList chainTokens = new();
        ChainSlot? lastDeclared;

        public void Command((string, int, int) range, TokenList tk, SourceLocation at, int lineNo, List<Diagnostic> diags)
        {
            var counters = LeadingCounters(tk, source, lineNo, diags, out int i);
            if (i >= tk.Count) { diags.Add(NetfilterMessages.UnknownCommand(at, range.Item1.Substring(range.Item2, range.Item3).Trim())); Lines.Add(new CommentLine("") { TextRange = range, Location = at }); return; }
            var cmd = tk[i];
            SourceLocation L(Token t) => new(source, lineNo, t.Column);
            string? Arg(int k) => i + k < tk.Count ? tk[i + k].Value : null;
            switch (cmd.Value)
            {
                case "-A" or "--append" or "-I" or "--insert":
                {
                    var chain = Arg(1);
                    if (chain is null) { diags.Add(NetfilterMessages.MissingArgument(L(cmd), cmd.Value)); Lines.Add(new CommentLine("") { TextRange = range, Location = at }); return; }
                    bool insert = cmd.Value is "-I" or "--insert";
                    int start = i + 2;
                    int? pos = null;
                    if (insert && Arg(2) is { } n && int.TryParse(n, out var np)) { pos = np; start++; }
                    var cb = Get(chain);
                    if (cb is null)
                    {
                        if (!IsBuiltin(chain) && known) diags.Add(NetfilterMessages.ChainNotDeclared(L(tk[i + 1]), chain, Name));
                        cb = Ensure(chain, at);
                    }
                    // The chain's own name string is shared by its rules (one copy per chain, not per rule).
                    parser ??= new RuleParser(source, diags, shared, pool);
                    var rule = parser.ParseRule(cb.Name, insert ? RuleCommand.Insert : RuleCommand.Append, pos, tk, start, counters, range, lineNo, at);
                    Place(cb, RuleFacts.Of(rule), insert, pos, L(cmd), chain, diags);
                    Lines.Add(new RuleLine(rule));
                    return;
                }
                case "-N" or "--new-chain" or "-X" or "--delete-chain" or "-F" or "--flush" or "-P" or "--policy" or "-Z" or "--zero" or "-E" or "--rename-chain" or "-D" or "--delete" or "-R" or "--replace":
                {
                    var kind = cmd.Value switch
                    {
                        "-N" or "--new-chain" => ChainCommand.New,
                        "-X" or "--delete-chain" => ChainCommand.Delete,
                        "-F" or "--flush" => ChainCommand.Flush,
                        "-P" or "--policy" => ChainCommand.Policy,
                        "-Z" or "--zero" => ChainCommand.Zero,
                        "-E" or "--rename-chain" => ChainCommand.Rename,
                        "-D" or "--delete" => ChainCommand.DeleteRule,
                        _ => ChainCommand.ReplaceRule,
                    };
                    var chain = Arg(1);
                    var rest = tk.Skip(i + 2).Select(t => t.Value).ToImmutableArray();
                    Lines.Add(new ChainCommandLine(kind, chain, rest) { TextRange = range, Location = at });
                    Apply(kind, chain, rest, L(cmd), tk.Count > i + 1 ? L(tk[i + 1]) : L(cmd), diags);
                    return;
                }
                default:
                    diags.Add(NetfilterMessages.UnknownCommand(L(cmd), cmd.Value));
                    Lines.Add(new CommentLine("") { TextRange = range, Location = at });
                    return;
            }
        }

        /// <summary>The facts of every rule appended to a run (see <see cref="ChainBuilder.RunStart"/>), in walk order.</summary>
        public RuleFacts[] Log = new RuleFacts[Math.Max(16, sizes.Lines - sizes.Chains)];
        int logCount;

        /// <summary>The chain's run goes on (or begins) at the end of the log (see <see cref="Place"/>).</summary>
        void Append(ChainBuilder cb, in RuleFacts facts)
        {
            if (logCount == Log.Length) Array.Resize(ref Log, Log.Length * 2);
            if (cb.RunCount == 0) cb.RunStart = logCount;
            Log[logCount++] = facts;
            cb.RunCount++;
        }

        /// <summary>Appends the rule, or inserts it at `-I CHAIN N` (reporting a position past the end as iptables does).</summary>
        void Place(ChainBuilder cb, in RuleFacts facts, bool insert, int? pos, SourceLocation cmdAt, string chain, List<Diagnostic> diags)
        {
            if (!insert && cb.Own is null && (cb.RunCount == 0 || cb.RunStart + cb.RunCount == logCount))
            {
                Append(cb, in facts);
                return;
            }
            if (cb.Own is null)
            {
                cb.Own = new List<RuleFacts>(Math.Max(4, cb.RunCount + 1));
                cb.Own.AddRange(new ArraySegment<RuleFacts>(Log, Math.Max(0, cb.RunStart), cb.RunCount));
            }
            if (insert)
            {
                int idx = Math.Clamp((pos ?? 1) - 1, 0, cb.Own.Count);
                if (pos is { } pp && (pp < 1 || pp > cb.Own.Count + 1))
                    diags.Add(NetfilterMessages.OptionProblem(cmdAt, $"Index of insertion too big. ({pp} in chain {chain} with {cb.Own.Count} rules)"));
                cb.Own.Insert(idx, facts);
            }
            else cb.Own.Add(facts);
        }

        /// <summary>An `-A`/`-I` line parsed ahead (<see cref="RulePreparer"/>): the same steps and diagnostics, in the
        /// same order, as <see cref="Command"/> gives it: counters, the chain, the rule's own, the insert position.</summary>
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
        public void AddPrepared(in PreparedRule p, int lineNo, List<Diagnostic> diags)
        {
            p.AddCommandDiagnostics(diags);
            // The rule was prepared against this table's slots (the line split and the walk agree on where tables
            // start); if not, its chain and jump are looked up by name here, as for a rule read by the walk itself.
            // The rule object itself is only read when something is reported or the chain is new.
            bool mine = ReferenceEquals(p.Slots, slots);
            var cb = mine ? p.ChainSlot!.Builder as ChainBuilder : ChainOfRule(p.Chain);
            if (cb is null)
            {
                if (!IsBuiltin(p.Chain) && known) diags.Add(NetfilterMessages.ChainNotDeclared(new SourceLocation(source, lineNo, p.ChainColumn), p.Chain, Name));
                cb = lastChain = mine ? Ensure(p.ChainSlot!, p.Rule!.Location) : Ensure(p.Chain, p.Rule!.Location);
            }
            p.AddRuleDiagnostics(diags);
            if (!p.Insert && cb.Own is null && (cb.RunCount == 0 || cb.RunStart + cb.RunCount == logCount) && mine)
                Append(cb, in p.Facts); // the usual case, without the command's location or the chain's name
            else
                Place(cb, mine ? p.Facts : RuleFacts.Of(p.Rule!), p.Insert, p.Position, new SourceLocation(source, lineNo, p.CommandColumn), p.Chain, diags);
            Lines.Add(new RuleLine(p.Rule!));
        }

        void Apply(ChainCommand kind, string? chain, ImmutableArray<string> rest, SourceLocation cmdAt, SourceLocation chainAt, List<Diagnostic> diags)
        {
            switch (kind)
            {
                case ChainCommand.New:
                    if (chain is null) { diags.Add(NetfilterMessages.MissingArgument(cmdAt, "-N")); return; }
                    if (Get(chain) is not null) { diags.Add(NetfilterMessages.DuplicateChain(chainAt, chain)); return; }
                    Ensure(chain, chainAt).Declared = true;
                    return;
                case ChainCommand.Delete:
                {
                    var victims = chain is null ? order.Where(c => !c.Builtin).ToList() : Get(chain) is { } v ? [v] : [];
                    if (chain is not null && victims.Count == 0) { diags.Add(NetfilterMessages.ChainNotDeclared(chainAt, chain, Name)); return; }
                    foreach (var v2 in victims)
                    {
                        if (v2.Builtin) { diags.Add(NetfilterMessages.OptionProblem(chainAt, $"Can't delete built-in chain \"{v2.Name}\"")); continue; }
                        if (v2.Count > 0) diags.Add(NetfilterMessages.DeleteNonEmpty(chainAt, v2.Name));
                        slots.Find(v2.Name)!.Builder = null;
                        order.Remove(v2);
                        if (ReferenceEquals(lastChain, v2)) lastChain = null;
                    }
                    return;
                }
                case ChainCommand.Flush:
                    if (chain is null) { foreach (var c in order) c.Clear(); return; }
                    if (Get(chain) is { } f) f.Clear(); else diags.Add(NetfilterMessages.ChainNotDeclared(chainAt, chain, Name));
                    return;
                case ChainCommand.Policy:
                {
                    if (chain is null || rest.Length < 1) { diags.Add(NetfilterMessages.MissingArgument(cmdAt, "-P")); return; }
                    if (!IsBuiltin(chain)) { diags.Add(NetfilterMessages.PolicyOnUserChain(chainAt, chain)); return; }
                    if (rest[0] is not ("ACCEPT" or "DROP")) { diags.Add(NetfilterMessages.BadPolicy(chainAt, rest[0])); return; }
                    if (rest[0] == "DROP" && Name == "nat") { diags.Add(NetfilterMessages.DropInNat(chainAt)); return; }
                    Ensure(chain, chainAt).Policy = rest[0];
                    return;
                }
                default:
                    diags.Add(NetfilterMessages.UnsupportedCommand(cmdAt, kind switch
                    {
                        ChainCommand.Zero => "-Z",
                        ChainCommand.Rename => "-E",
                        ChainCommand.DeleteRule => "-D",
                        _ => "-R",
                    }));
                    return;
            }
        }

        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
        public Table Finish(List<Diagnostic> diags, int threads = 1)
        {
            int n = order.Count;
            var built = new Chain[n];
            var facts = new ArraySegment<RuleFacts>[n];
            // Where each chain ended up, by its slot and by its declared ordinal (the table checks resolve jumps by them).
            var ordinalIndex = new int[slots.DeclaredCount];
            Array.Fill(ordinalIndex, -1);
            var builtin = new bool[n];
            for (int k = 0; k < n; k++)
            {
                order[k].Slot.Index = k;
                builtin[k] = order[k].Builtin;
                if (order[k].Slot.Ordinal >= 0) ordinalIndex[order[k].Slot.Ordinal] = k;
            }
            // Each chain is built from its own rules only: the table checks build each part of a large table's chains
            // on the thread that checks that part, right before checking it (one pass over the rules, on every thread
            // of the read). The table holds the chain array while it is being filled.
            void BuildRange(int from, int to)
            {
                for (int k = from; k < to; k++)
                {
                    facts[k] = order[k].Facts(Log);
                    built[k] = order[k].Build(facts[k]);
                }
            }
            var table = new Table { Name = Name, Lines = [.. Lines], Chains = System.Runtime.InteropServices.ImmutableCollectionsMarshal.AsImmutableArray(built), TextRange = header, Location = at };
            // The chain dictionary is only read from here on, so the checks may ask it from several threads.
            if (known) TableChecks.Check(table, facts, name => slots.Find(name)?.Index ?? -1, diags, threads, ordinalIndex, builtin, BuildRange);
            else BuildRange(0, n);
            return table;
        }
    }
}
