using PacketLife.Core.Diagnostics;

namespace PacketLife.Core.Netfilter.Text;

/// <summary>An `-A`/`-I` line parsed ahead of the table walk: the rule, what the table checks need of it, the command's
/// parts that depend on the table (chain, insert position) and the diagnostics the line gave, split where the table
/// walk adds its own (a chain that was not declared comes after the counters' and before the rule's).</summary>
internal readonly struct PreparedRule
{
    /// <summary>Null: the line is not a well-formed rule command and is read by the table walk as before.</summary>
    public readonly Rule? Rule;
    public readonly RuleFacts Facts;
    public readonly string Chain;
    public readonly int CommandColumn, ChainColumn;
    public readonly bool Insert;
    public readonly int? Position;
    readonly List<Diagnostic>? diags;
    readonly int commandStart, ruleStart, ruleEnd;

    public PreparedRule(Rule rule, string chain, int commandColumn, int chainColumn, bool insert, int? position,
        List<Diagnostic> diags, int commandStart, int ruleStart, int ruleEnd)
    {
        Rule = rule;
        Facts = RuleFacts.Of(rule);
        Chain = chain;
        (CommandColumn, ChainColumn, Insert, Position) = (commandColumn, chainColumn, insert, position);
        (this.diags, this.commandStart, this.ruleStart, this.ruleEnd) = (diags, commandStart, ruleStart, ruleEnd);
    }

    /// <summary>Diagnostics of the command's own parts (bad `[p:b]` counters), in the order they were found.</summary>
    public void AddCommandDiagnostics(List<Diagnostic> to)
    {
        for (int i = commandStart; i < ruleStart; i++) to.Add(diags![i]);
    }

    /// <summary>Diagnostics of the rule's matches and target, in the order they were found.</summary>
    public void AddRuleDiagnostics(List<Diagnostic> to)
    {
        for (int i = ruleStart; i < ruleEnd; i++) to.Add(diags![i]);
    }
}

/// <summary>Parses every rule line of a file ahead of the table walk. A rule's parse depends only on its own line (the
/// chain it goes to, whether that chain exists and where an `-I` puts it are the table walk's business), so the lines
/// are parsed in chunks, in parallel when the input is large: each worker has its own tokens, string pool, rule parser
/// and shared-object caches (sharing only ever joins immutable, stateless objects that print the same, so which worker
/// made a shared object changes nothing), and its own diagnostics list, from which the table walk takes each line's
/// diagnostics back in file order. The result is the same whatever the chunking.</summary>
internal static class RulePreparer
{
    /// <summary>Below this many characters one thread prepares everything (starting workers costs more than it saves).</summary>
    internal const int ParallelMinChars = 2 << 20;
    /// <summary>Lines per chunk at least (small chunks would share fewer strings and objects).</summary>
    internal const int MinChunkLines = 8192;
    /// <summary>For tests: this many chunks whatever the input's size and the number of cores (0: decide as above).</summary>
    [ThreadStatic] internal static int ForcedChunks;

    sealed class Worker(string source)
    {
        public readonly List<Token> Tokens = new(32);
        public readonly StringPool Pool = new(1024);
        public readonly List<Diagnostic> Diags = [];
        public readonly RuleParser.Shared Shared = new();
        RuleParser? parser;
        public RuleParser Parser => parser ??= new RuleParser(source, Diags, Shared);
    }

    public static PreparedRule[] Prepare(string text, string source, int[] starts)
    {
        var prepared = new PreparedRule[starts.Length];
        int workers = Math.Min(Environment.ProcessorCount, 16);
        int forced = ForcedChunks;
        if (forced <= 0 && (text.Length < ParallelMinChars || workers < 2 || starts.Length < 2 * MinChunkLines))
        {
            Run(text, source, starts, prepared, 0, starts.Length, new Worker(source));
            return prepared;
        }
        // A few chunks per core so that a worker slowed down by other processes does not hold the others up; each
        // task keeps its worker (pool, caches, diagnostics) across the chunks it takes.
        int chunks = forced > 0 ? Math.Min(forced, Math.Max(1, starts.Length)) : Math.Max(2, Math.Min(workers * 4, starts.Length / MinChunkLines));
        int per = (starts.Length + chunks - 1) / chunks;
        Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(workers, 1) }, () => new Worker(source),
            (c, _, w) =>
            {
                int from = c * per;
                Run(text, source, starts, prepared, from, Math.Min(starts.Length, from + per), w);
                return w;
            },
            _ => { });
        return prepared;
    }

    static void Run(string text, string source, int[] starts, PreparedRule[] prepared, int from, int to, Worker w)
    {
        var tk = w.Tokens;
        var diags = w.Diags;
        for (int idx = from; idx < to; idx++)
        {
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
            int i = 0;
            Counters? counters = null;
            if (tk[0].StartsWith('['))
            {
                if (Counters.TryParse(tk[0].Span, out var c)) counters = c;
                else diags.Add(NetfilterMessages.BadCounters(new SourceLocation(source, lineNo, tk[0].Column), tk[0].Value));
                i = 1;
            }
            var cmd = i < tk.Count ? tk[i] : default;
            bool insert = cmd.Is("-I") || cmd.Is("--insert");
            if (i + 1 >= tk.Count || !(insert || cmd.Is("-A") || cmd.Is("--append")))
            {
                // Not a rule with a chain: the table walk reads the line (and reports it) itself.
                diags.RemoveRange(commandStart, diags.Count - commandStart);
                continue;
            }
            var chain = tk[i + 1].Value;
            int start = i + 2;
            int? position = null;
            if (insert && i + 2 < tk.Count && int.TryParse(tk[i + 2].Span, out var np)) { position = np; start++; }
            int indent = body.Length - trimmed.Length;
            var at = new SourceLocation(source, lineNo, indent + 1);
            int ruleStart = diags.Count;
            var rule = w.Parser.ParseRule(chain, insert ? RuleCommand.Insert : RuleCommand.Append, position, tk, start, counters,
                (text, pos, end - pos), lineNo, at);
            prepared[idx] = new PreparedRule(rule, chain, cmd.Column, tk[i + 1].Column, insert, position, diags, commandStart, ruleStart, diags.Count);
        }
    }
}
