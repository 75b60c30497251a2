namespace PacketLife.Core.Cluster;

public enum SelectorOp { Equals, NotEquals, Exists, DoesNotExist, In, NotIn }

public sealed record SelectorRequirement(string Key, SelectorOp Op, IReadOnlyList<string> Values);

/// <summary>A label selector in kubectl's `-l` syntax (apimachinery pkg/labels/selector.go): comma-separated
/// requirements `k=v`, `k==v`, `k!=v`, `k`, `!k`, `k in (a,b)`, `k notin (a,b)`; all must hold.</summary>
public sealed record LabelSelector(IReadOnlyList<SelectorRequirement> Requirements)
{
    public static readonly LabelSelector Everything = new([]);

    public bool Matches(IReadOnlyDictionary<string, string> labels) => Requirements.All(r => r.Op switch
    {
        SelectorOp.Equals => labels.TryGetValue(r.Key, out var v) && v == r.Values[0],
        SelectorOp.NotEquals => !labels.TryGetValue(r.Key, out var v) || v != r.Values[0],
        SelectorOp.Exists => labels.ContainsKey(r.Key),
        SelectorOp.DoesNotExist => !labels.ContainsKey(r.Key),
        SelectorOp.In => labels.TryGetValue(r.Key, out var v) && r.Values.Contains(v),
        SelectorOp.NotIn => !labels.TryGetValue(r.Key, out var v) || !r.Values.Contains(v),
        _ => false,
    });

    /// <summary>A Service's or workload's map selector: every key equal. An empty map selects nothing for
    /// Services (no endpoints are managed) and is handled by the caller.</summary>
    public static bool MatchesMap(IReadOnlyDictionary<string, string> selector, IReadOnlyDictionary<string, string> labels) =>
        selector.All(kv => labels.TryGetValue(kv.Key, out var v) && v == kv.Value);

    /// <summary>Parses `-l` text; on failure returns null and apimachinery's message.</summary>
    public static LabelSelector? TryParse(string text, out string? error)
    {
        error = null;
        var reqs = new List<SelectorRequirement>();
        if (string.IsNullOrWhiteSpace(text)) return Everything;
        foreach (var rawPart in SplitTopLevel(text))
        {
            var part = rawPart.Trim();
            if (part.Length == 0) { error = $"found '', expected: !, identifier, or 'end of string'"; return null; }
            SelectorRequirement? req;
            int i;
            if (part.StartsWith('!')) req = Valid(part[1..].Trim(), SelectorOp.DoesNotExist, [], ref error);
            else if ((i = part.IndexOf("!=", StringComparison.Ordinal)) > 0) req = Valid(part[..i].Trim(), SelectorOp.NotEquals, [part[(i + 2)..].Trim()], ref error);
            else if ((i = part.IndexOf("==", StringComparison.Ordinal)) > 0) req = Valid(part[..i].Trim(), SelectorOp.Equals, [part[(i + 2)..].Trim()], ref error);
            else if ((i = part.IndexOf('=')) > 0) req = Valid(part[..i].Trim(), SelectorOp.Equals, [part[(i + 1)..].Trim()], ref error);
            else if (SetForm(part, " notin ", out var k1, out var v1)) req = v1 is null ? Fail(part, ref error) : Valid(k1, SelectorOp.NotIn, v1, ref error);
            else if (SetForm(part, " in ", out var k2, out var v2)) req = v2 is null ? Fail(part, ref error) : Valid(k2, SelectorOp.In, v2, ref error);
            else req = Valid(part, SelectorOp.Exists, [], ref error);
            if (req is null) return null;
            reqs.Add(req);
        }
        return new LabelSelector(reqs);
    }

    static SelectorRequirement? Fail(string part, ref string? error)
    {
        error = $"unable to parse requirement: found '{part}', expected: '(' ";
        return null;
    }

    static bool SetForm(string part, string op, out string key, out IReadOnlyList<string>? values)
    {
        key = ""; values = null;
        var i = part.IndexOf(op, StringComparison.Ordinal);
        if (i <= 0) return false;
        key = part[..i].Trim();
        var rest = part[(i + op.Length)..].Trim();
        if (rest.Length >= 2 && rest[0] == '(' && rest[^1] == ')')
            values = rest[1..^1].Split(',', StringSplitOptions.TrimEntries);
        return true;
    }

    static IEnumerable<string> SplitTopLevel(string text)
    {
        var depth = 0; var start = 0;
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '(') depth++;
            else if (text[i] == ')') depth--;
            else if (text[i] == ',' && depth == 0) { yield return text[start..i]; start = i + 1; }
        }
        yield return text[start..];
    }

    static SelectorRequirement? Valid(string key, SelectorOp op, IReadOnlyList<string> values, ref string? error)
    {
        if (!IsQualifiedName(key))
        {
            error = $"unable to parse requirement: <nil>: Invalid value: \"{key}\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
            return null;
        }
        foreach (var v in values)
            if (v.Length > 0 && !IsLabelValue(v))
            {
                error = $"unable to parse requirement: <nil>: Invalid value: \"{v}\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
                return null;
            }
        return new SelectorRequirement(key, op, values);
    }

    static bool IsQualifiedName(string key)
    {
        var slash = key.LastIndexOf('/');
        var name = slash >= 0 ? key[(slash + 1)..] : key;
        return name.Length is > 0 and <= 63 && IsLabelValue(name);
    }

    static bool IsLabelValue(string v) =>
        v.Length <= 63 && char.IsAsciiLetterOrDigit(v[0]) && char.IsAsciiLetterOrDigit(v[^1]) && v.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');

    public override string ToString() => string.Join(",", Requirements.Select(r => r.Op switch
    {
        SelectorOp.Equals => $"{r.Key}={r.Values[0]}",
        SelectorOp.NotEquals => $"{r.Key}!={r.Values[0]}",
        SelectorOp.Exists => r.Key,
        SelectorOp.DoesNotExist => "!" + r.Key,
        SelectorOp.In => $"{r.Key} in ({string.Join(",", r.Values)})",
        _ => $"{r.Key} notin ({string.Join(",", r.Values)})",
    }));
}
