using System.Text;

namespace PacketLife.Core.KubeProxy;

/// <summary>The normalisation kube-proxy's own tests apply before comparing payloads (proxier_test.go
/// sortIPTablesRules, facts §6), so that two syncs compare regardless of Go's map order: tables by name;
/// chain lines KUBE-NODEPORTS, KUBE-SERVICES, other KUBE-* by name, then the rest by name; rules grouped per
/// chain in that order; KUBE-NODEPORTS and KUBE-SERVICES rules stably sorted by the service name their comment
/// starts with (the "must be the last rule" rule last); every other chain keeps generation order; `-X` lines
/// after the rules.</summary>
public static class RestoreSorter
{
    sealed class Table(string name)
    {
        public string Name = name;
        public List<string> Chains = [];
        public Dictionary<string, List<string>> Rules = new(StringComparer.Ordinal);
        public List<string> Deletes = [];
    }

    public static string Sort(string payload)
    {
        var tables = new List<Table>();
        Table? t = null;
        foreach (var line in payload.Split('\n'))
        {
            if (line.Length == 0) continue;
            if (line[0] == '*') { tables.Add(t = new Table(line[1..])); continue; }
            if (t is null || line == "COMMIT") continue;
            if (line[0] == ':') { t.Chains.Add(line[1..line.IndexOf(' ')]); continue; }
            if (line.StartsWith("-X ", StringComparison.Ordinal)) { t.Deletes.Add(line); continue; }
            if (line.StartsWith("-A ", StringComparison.Ordinal))
            {
                int sp = line.IndexOf(' ', 3);
                var chain = sp < 0 ? line[3..] : line[3..sp];
                if (!t.Rules.TryGetValue(chain, out var list)) t.Rules[chain] = list = [];
                list.Add(line);
            }
        }
        var sb = new StringBuilder(payload.Length);
        foreach (var table in tables.OrderBy(x => x.Name, StringComparer.Ordinal))
        {
            sb.Append('*').Append(table.Name).Append('\n');
            var chains = table.Chains.Distinct().OrderBy(ChainRank).ThenBy(c => c, StringComparer.Ordinal).ToList();
            foreach (var c in chains) sb.Append(':').Append(c).Append(" - [0:0]\n");
            foreach (var c in chains.Concat(table.Rules.Keys.Where(k => !table.Chains.Contains(k)).Order(StringComparer.Ordinal)))
            {
                if (!table.Rules.TryGetValue(c, out var rules)) continue;
                if (c is ChainNames.NodePorts or ChainNames.Services) rules = StableByServiceName(rules);
                foreach (var r in rules) sb.Append(r).Append('\n');
            }
            foreach (var x in table.Deletes) sb.Append(x).Append('\n');
            sb.Append("COMMIT\n");
        }
        return sb.ToString();
    }

    static int ChainRank(string c) => c switch
    {
        ChainNames.NodePorts => 0,
        ChainNames.Services => 1,
        _ when c.StartsWith("KUBE-", StringComparison.Ordinal) => 2,
        _ => 3,
    };

    static List<string> StableByServiceName(List<string> rules)
    {
        // OrderBy is a stable sort; the last-rule marker sorts after every service name.
        return rules.Select((r, i) => (r, i, key: Key(r)))
            .OrderBy(x => x.key.Last).ThenBy(x => x.key.Name, StringComparer.Ordinal).ThenBy(x => x.i)
            .Select(x => x.r).ToList();
    }

    static (bool Last, string Name) Key(string rule)
    {
        if (rule.Contains("must be the last rule", StringComparison.Ordinal)) return (true, "");
        var tokens = SaveRuleFormatter.Tokenize(rule);
        int i = tokens.IndexOf("--comment");
        if (i < 0 || i + 1 >= tokens.Count) return (false, "");
        var comment = tokens[i + 1];
        int end = comment.IndexOfAny([' ', ':']);
        return (false, end < 0 ? comment : comment[..end]);
    }
}
