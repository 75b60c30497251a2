namespace PacketLife.Core.Netfilter.Text;

public readonly record struct Token(string Value, int Column);

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

    /// <returns>false when a quote is left open (the column of the opening quote is in <paramref name="errorColumn"/>).</returns>
    public static bool Split(ReadOnlySpan<char> line, List<Token> tokens, out int errorColumn)
    {
        errorColumn = 0;
        int i = 0, n = line.Length;
        while (i < n)
        {
            char c = line[i];
            if (c is ' ' or '\t' or '\n' or '\r' or '\v' or '\f') { i++; continue; }
            int start = i;
            // Fast path: a bare word without quotes.
            while (i < n && line[i] is not (' ' or '\t' or '\n' or '\r' or '\v' or '\f' or '"')) i++;
            if (i == n || line[i] != '"')
            {
                tokens.Add(new Token(Str(line[start..i]), start + 1));
                continue;
            }
            // Slow path: the word continues into a quoted part.
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
            if (!closed)
            {
                errorColumn = quoteAt + 1;
                return false;
            }
            // The closing quote ends the argument (text right after it starts a new one).
            tokens.Add(new Token(buf.ToString(), start + 1));
        }
        return true;
    }
}
