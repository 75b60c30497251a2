using System.Globalization;

namespace PacketLife.Lab.Kernel;

/// <summary>A minimal reader of `iptables-save -c` output: only what the oracle needs (table, chain, rule position,
/// counters, rule text). The full reader with round-trip and diagnostics is the netfilter engine's
/// (src/PacketLife.Core/Netfilter/Text); this one must not depend on it so that the oracle can check it.</summary>
public static class IptablesCounters
{
    public static (List<RuleCounter> Rules, List<PolicyCounter> Policies) Parse(string saveOutput)
    {
        var rules = new List<RuleCounter>();
        var policies = new List<PolicyCounter>();
        var positions = new Dictionary<string, int>(StringComparer.Ordinal);
        string table = "";
        foreach (var raw in saveOutput.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.StartsWith('*')) { table = line[1..]; positions.Clear(); continue; }
            if (line.StartsWith(':'))
            {
                // :CHAIN POLICY [p:b]
                var f = line[1..].Split(' ');
                if (f.Length >= 3 && TryCounters(f[2], out var p, out var b)) policies.Add(new PolicyCounter(table, f[0], f[1], p, b));
                continue;
            }
            if (line.StartsWith('['))
            {
                int close = line.IndexOf(']');
                if (close < 0 || !TryCounters(line[..(close + 1)], out var p, out var b)) continue;
                var rule = line[(close + 1)..].TrimStart();
                if (!rule.StartsWith("-A ", StringComparison.Ordinal)) continue;
                int sp = rule.IndexOf(' ', 3);
                var chain = sp < 0 ? rule[3..] : rule[3..sp];
                var key = chain;
                positions[key] = positions.GetValueOrDefault(key) + 1;
                rules.Add(new RuleCounter(table, chain, positions[key], p, b, rule));
            }
        }
        return (rules, policies);
    }

    private static bool TryCounters(string text, out long packets, out long bytes)
    {
        packets = bytes = 0;
        if (text.Length < 5 || text[0] != '[' || text[^1] != ']') return false;
        var parts = text[1..^1].Split(':');
        return parts.Length == 2
               && long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out packets)
               && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out bytes);
    }
}
