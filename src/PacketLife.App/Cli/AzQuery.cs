using System.Text.Json.Nodes;

namespace PacketLife.App.Cli;

/// <summary>The JMESPath subset `--query` supports here: field paths (`a.b.c`), indexes (`[0]`, `[-1]`),
/// list projections (`[]`, `[*]`, e.g. `frontendIPConfigurations[].name`) and multiselect lists
/// (`[name, port]`). Anything else is refused with azure-cli's message rather than guessed.</summary>
public static class AzQuery
{
    public static JsonNode? Apply(JsonNode? input, string expression)
    {
        List<Seg> segments;
        try { segments = Parse(expression); }
        catch (CliException) { throw Invalid(expression); } // report the whole expression, as azure-cli does
        return Eval(input, segments, 0);
    }

    abstract record Seg;
    sealed record Field(string Name) : Seg;
    sealed record Index(int I) : Seg;
    sealed record Project : Seg;
    sealed record MultiList(IReadOnlyList<IReadOnlyList<Seg>> Items) : Seg;

    static CliException Invalid(string e) => new($"argument --query: invalid jmespath_type value: '{e}'");

    static List<Seg> Parse(string e)
    {
        var segs = new List<Seg>();
        var i = 0;
        e = e.Trim();
        if (e.Length == 0) throw Invalid(e);
        while (i < e.Length)
        {
            var c = e[i];
            if (c == '.') { i++; if (i >= e.Length) throw Invalid(e); continue; }
            if (char.IsAsciiLetter(c) || c == '_')
            {
                var start = i;
                while (i < e.Length && (char.IsAsciiLetterOrDigit(e[i]) || e[i] == '_')) i++;
                segs.Add(new Field(e[start..i]));
                continue;
            }
            if (c == '[')
            {
                var close = FindClose(e, i);
                var inner = e[(i + 1)..close].Trim();
                if (inner.Length == 0 || inner == "*") segs.Add(new Project());
                else if (int.TryParse(inner, out var n)) segs.Add(new Index(n));
                else segs.Add(new MultiList(SplitTop(inner).Select(x => (IReadOnlyList<Seg>)Parse(x)).ToList()));
                i = close + 1;
                continue;
            }
            throw Invalid(e);
        }
        return segs;
    }

    static int FindClose(string e, int open)
    {
        var depth = 0;
        for (var i = open; i < e.Length; i++)
        {
            if (e[i] == '[') depth++;
            else if (e[i] == ']' && --depth == 0) return i;
        }
        throw Invalid(e);
    }

    static IEnumerable<string> SplitTop(string s)
    {
        var depth = 0; var start = 0;
        for (var i = 0; i < s.Length; i++)
        {
            if (s[i] == '[') depth++;
            else if (s[i] == ']') depth--;
            else if (s[i] == ',' && depth == 0) { yield return s[start..i].Trim(); start = i + 1; }
        }
        yield return s[start..].Trim();
    }

    static JsonNode? Eval(JsonNode? node, List<Seg> segs, int at)
    {
        for (var k = at; k < segs.Count; k++)
        {
            if (node is null) return null;
            switch (segs[k])
            {
                case Field f:
                    node = node is JsonObject o && o.TryGetPropertyValue(f.Name, out var v) ? v : null;
                    break;
                case Index ix:
                    if (node is not JsonArray a) return null;
                    var idx = ix.I < 0 ? a.Count + ix.I : ix.I;
                    node = idx >= 0 && idx < a.Count ? a[idx] : null;
                    break;
                case Project:
                    if (node is not JsonArray pa) return null;
                    var rest = segs;
                    var results = new JsonArray();
                    foreach (var item in pa)
                    {
                        var r = Eval(item, rest, k + 1);
                        if (r is not null) results.Add(r.DeepClone());
                    }
                    return results;
                case MultiList ml:
                    var list = new JsonArray();
                    foreach (var item in ml.Items) list.Add(Eval(node, item.ToList(), 0)?.DeepClone());
                    node = list;
                    break;
            }
        }
        return node;
    }
}
