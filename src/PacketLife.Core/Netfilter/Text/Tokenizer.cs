namespace PacketLife.Core.Netfilter.Text;

public readonly record struct Token(string Value, int Column);

/// <summary>Splits a restore line into arguments exactly as iptables-restore does (xshared.c add_param_to_argv):
/// whitespace separates; a double quote opens a quoted part in which a backslash escapes the next character and
/// the closing quote ends the argument; outside quotes a backslash is an ordinary character.</summary>
public static class Tokenizer
{
    /// <returns>false when a quote is left open (the column of the opening quote is in <paramref name="errorColumn"/>).</returns>
    public static bool Split(ReadOnlySpan<char> line, List<Token> tokens, out int errorColumn)
    {
        errorColumn = 0;
        var buf = new System.Text.StringBuilder();
        bool quote = false, escaped = false, have = false;
        int start = 0, quoteAt = 0;
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (quote)
            {
                if (escaped) { buf.Append(c); escaped = false; continue; }
                if (c == '\\') { escaped = true; continue; }
                if (c != '"') { buf.Append(c); continue; }
                quote = false;
                tokens.Add(new Token(buf.ToString(), start + 1));
                buf.Clear();
                have = false;
                continue;
            }
            if (c == '"')
            {
                if (!have) { start = i; have = true; }
                quote = true;
                quoteAt = i;
                continue;
            }
            if (c is ' ' or '\t' or '\n' or '\r' or '\v' or '\f')
            {
                if (have)
                {
                    tokens.Add(new Token(buf.ToString(), start + 1));
                    buf.Clear();
                    have = false;
                }
                continue;
            }
            if (!have) { start = i; have = true; }
            buf.Append(c);
        }
        if (quote)
        {
            errorColumn = quoteAt + 1;
            return false;
        }
        if (have) tokens.Add(new Token(buf.ToString(), start + 1));
        return true;
    }
}
