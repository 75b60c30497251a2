namespace PacketLife.Core.Netfilter.Text;

/// <summary>One argument of a restore line and its 1-based column. A token read by the pooled tokenizer keeps a range of
/// the file's text instead of a string of its own when it is not worth sharing (an address or a number is parsed once
/// and dropped): <see cref="Value"/> then copies it on each call, <see cref="Span"/> never does.</summary>
public readonly struct Token : IEquatable<Token>
{
    readonly string? value;
    readonly string? text;
    readonly int start, length;

    public Token(string value, int column)
    {
        this.value = value;
        Column = column;
    }

    internal Token(string text, int start, int length, int column)
    {
        this.text = text;
        this.start = start;
        this.length = length;
        Column = column;
    }

    internal Token(string? value, string? text, int start, int length, int column, int rawEnd)
    {
        this.value = value;
        this.text = text;
        this.start = start;
        this.length = length;
        Column = column;
        RawEnd = rawEnd;
    }

    /// <summary>Offset from the line's start just past the token's raw text (a closing quote included); 0 when the
    /// tokenizer did not record it. Spans of raw text between tokens key the reader's caches of built matches.</summary>
    internal int RawEnd { get; }

    /// <summary>The text and range the token is a slice of (null text: the token holds a string).</summary>
    internal string? SourceText => value is null ? text : null;
    internal int SourceStart => start;

    /// <summary>True when <see cref="Value"/> returns a string the token holds (no copy is made).</summary>
    internal bool HasString => value is not null;

    public string Value => value ?? (text is null ? "" : text.Substring(start, length));
    public ReadOnlySpan<char> Span => value is not null ? value.AsSpan() : text is null ? default : text.AsSpan(start, length);
    public int Column { get; }

    public bool Is(string s) => Span.SequenceEqual(s);

    /// <summary>The token is `!` (asked of nearly every token of a rule: a plain comparison, not a span compare).</summary>
    public bool IsBang => value is not null ? value.Length == 1 && value[0] == '!' : length == 1 && text![start] == '!';
    public bool StartsWith(char c) => Span is [var f, ..] && f == c;

    public bool Equals(Token other) => Column == other.Column && Span.SequenceEqual(other.Span);
    public override bool Equals(object? obj) => obj is Token t && Equals(t);
    public override int GetHashCode() => HashCode.Combine(string.GetHashCode(Span, StringComparison.Ordinal), Column);
    public static bool operator ==(Token a, Token b) => a.Equals(b);
    public static bool operator !=(Token a, Token b) => !a.Equals(b);
    public override string ToString() => $"{Value}@{Column}";
    public void Deconstruct(out string value, out int column) => (value, column) = (Value, Column);
}

/// <summary>The tokens of one line, reused line after line: a plain array the parser reads by reference (a token is 32
/// bytes; <see cref="List{T}"/>'s indexer copied one out for every look at it, and the parser looks several times).</summary>
internal sealed class TokenList : IEnumerable<Token>
{
    Token[] items = new Token[32];
    int count;

    public int Count => count;

    public ref readonly Token this[int index]
    {
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
        get
        {
            if ((uint)index >= (uint)count) OutOfRange(index);
            return ref items[index];
        }
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    static void OutOfRange(int index) => throw new ArgumentOutOfRangeException(nameof(index), index, "past the line's last token");

    public void Add(in Token t)
    {
        if (count == items.Length) Array.Resize(ref items, count * 2);
        items[count++] = t;
    }

    public void Clear() => count = 0;

    public IEnumerator<Token> GetEnumerator()
    {
        for (int i = 0; i < count; i++) yield return items[i];
    }

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>Shares the strings a dump repeats (chain names, comments, option and module names) for one read: each is
/// allocated once and every later occurrence gets the same instance. Strings are compared by content, so two different
/// texts never share an instance.</summary>
internal sealed class StringPool
{
    readonly Dictionary<string, string> strings;
    readonly Dictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> lookup;

    public StringPool(int capacity = 256)
    {
        strings = new Dictionary<string, string>(capacity, StringComparer.Ordinal);
        lookup = strings.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public int Count => strings.Count;

    // A small direct-mapped cache in front of the dictionary, indexed by the length and three characters of the text:
    // the few words every rule repeats (`-A`, `-m`, `comment`, `--comment`, `-j`, `tcp`, `--dport`, ...) are found
    // by one comparison instead of hashing the whole text. A slot only ever holds a pooled string, and a hit needs
    // the exact same text, so the result is the dictionary's.
    readonly string?[] recent = new string?[256];

    public string Get(ReadOnlySpan<char> s)
    {
        int slot = s.Length == 0 ? 0 : (s.Length * 31 + s[0] * 7 + s[^1] * 13 + s[s.Length >> 1]) & 255;
        var r = recent[slot];
        if (r is not null && r.Length == s.Length && s.SequenceEqual(r)) return r;
        if (!lookup.TryGetValue(s, out var v))
        {
            v = s.ToString();
            strings.Add(v, v);
        }
        recent[slot] = v;
        return v;
    }
}

/// <summary>Splits a restore line into arguments exactly as iptables-restore does (xshared.c add_param_to_argv):
/// whitespace separates; a double quote opens a quoted part in which a backslash escapes the next character and
/// the closing quote ends the argument; outside quotes a backslash is an ordinary character.</summary>
public static class Tokenizer
{
    // The words every kube-proxy line repeats are shared instead of allocated per line (a 200k-line dump has
    // millions of them); everything else is sliced from the line.
    static readonly Dictionary<string, string> Common = new[]
    {
        "-A", "-I", "-N", "-X", "-F", "-P", "-m", "-j", "-g", "-p", "-s", "-d", "-i", "-o", "!", "tcp", "udp", "sctp", "icmp",
        "comment", "--comment", "--dport", "--sport", "statistic", "--mode", "random", "--probability", "mark", "--mark",
        "MARK", "--set-xmark", "--or-mark", "--xor-mark", "DNAT", "--to-destination", "MASQUERADE", "--random-fully",
        "conntrack", "--ctstate", "addrtype", "--dst-type", "--src-type", "LOCAL", "RETURN", "ACCEPT", "DROP", "REJECT",
        "KUBE-MARK-MASQ", "KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "recent", "--name", "--rcheck", "--set",
        "--seconds", "--reap", "--mask", "--rsource", "multiport", "--dports", "set", "--match-set", "src", "dst",
    }.ToDictionary(s => s, StringComparer.Ordinal);

    static readonly Dictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> CommonLookup = Common.GetAlternateLookup<ReadOnlySpan<char>>();

    static string Str(ReadOnlySpan<char> s) => CommonLookup.TryGetValue(s, out var v) ? v : s.ToString();

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    static bool IsSpace(char c) => c is ' ' or '\t' or '\n' or '\r' or '\v' or '\f';

    /// <returns>false when a quote is left open (the column of the opening quote is in <paramref name="errorColumn"/>).</returns>
    public static bool Split(ReadOnlySpan<char> line, List<Token> tokens, out int errorColumn)
    {
        errorColumn = 0;
        int i = 0, n = line.Length;
        while (i < n)
        {
            char c = line[i];
            if (IsSpace(c)) { i++; continue; }
            int start = i;
            // Fast path: a bare word without quotes.
            while (i < n && !IsSpace(line[i]) && line[i] != '"') i++;
            if (i == n || line[i] != '"')
            {
                tokens.Add(new Token(Str(line[start..i]), start + 1));
                continue;
            }
            if (!Quoted(line, ref i, start, out var word, out errorColumn)) return false;
            tokens.Add(new Token(word, start + 1));
        }
        return true;
    }

    /// <summary>The same split over <paramref name="text"/>[<paramref name="lineStart"/>..+<paramref name="lineLength"/>]
    /// (columns relative to the line start). Only option words (`-x`, `--xyz`, `!`: a few dozen distinct texts, found
    /// in the pool's front cache) come from <paramref name="pool"/>; every other word (chain names, comments,
    /// addresses, numbers) stays a range of <paramref name="text"/>, and a quoted part without backslashes is the range
    /// inside its quotes. The rule parser makes strings of the ranges it keeps, or finds what it needs by the range's
    /// text (a dump has ~60k distinct chain names and ~30k comments: pooling each word cost a dictionary lookup and a
    /// cache miss per word). A word with escapes gets a string of its own.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    internal static bool Split(string text, int lineStart, int lineLength, TokenList tokens, StringPool pool, out int errorColumn)
    {
        errorColumn = 0;
        var line = text.AsSpan(lineStart, lineLength);
        int i = 0, n = line.Length;
        while (i < n)
        {
            char c = line[i];
            if (IsSpace(c)) { i++; continue; }
            int start = i;
            // Words are short (options, names, addresses): a plain loop beats a vectorised search's set-up per word.
            if (c != '"')
                while (++i < n)
                {
                    char d = line[i];
                    if (d <= ' ' ? IsSpace(d) : d == '"') break;
                }
            if (i == n || line[i] != '"')
            {
                tokens.Add(c is '-' or '!'
                    ? new Token(pool.Get(line[start..i]), null, 0, 0, start + 1, i)
                    : new Token(null, text, lineStart + start, i - start, start + 1, i));
                continue;
            }
            // A quoted part without backslashes that closes the word (the usual `--comment "..."`) is sliced.
            int close = line[(i + 1)..].IndexOfAny('"', '\\');
            if (close >= 0 && line[i + 1 + close] == '"' && start == i)
            {
                tokens.Add(new Token(null, text, lineStart + i + 1, close, start + 1, i + 2 + close));
                i = i + 2 + close;
                continue;
            }
            if (!Quoted(line, ref i, start, out var word, out errorColumn)) return false;
            tokens.Add(new Token(word, null, 0, 0, start + 1, i));
        }
        return true;
    }

    static readonly System.Buffers.SearchValues<char> Breaks = System.Buffers.SearchValues.Create(" \t\n\r\v\f\"");

    /// <summary>A word that continues into a quoted part; <paramref name="i"/> is at the opening quote.</summary>
    static bool Quoted(ReadOnlySpan<char> line, ref int i, int start, out string word, out int errorColumn)
    {
        errorColumn = 0;
        int n = line.Length;
        var buf = new System.Text.StringBuilder();
        buf.Append(line[start..i]);
        bool closed = false;
        int quoteAt = i;
        i++; // opening quote
        bool escaped = false;
        for (; i < n; i++)
        {
            char q = line[i];
            if (escaped) { buf.Append(q); escaped = false; continue; }
            if (q == '\\') { escaped = true; continue; }
            if (q == '"') { closed = true; i++; break; }
            buf.Append(q);
        }
        word = "";
        if (!closed)
        {
            errorColumn = quoteAt + 1;
            return false;
        }
        // The closing quote ends the argument (text right after it starts a new one).
        word = buf.ToString();
        return true;
    }
}
