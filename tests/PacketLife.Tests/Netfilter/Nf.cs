using PacketLife.Core.Diagnostics;
using PacketLife.Core.Netfilter;
using PacketLife.Core.Netfilter.Text;

namespace PacketLife.Tests.Netfilter;

/// <summary>Small helpers for the netfilter tests.</summary>
internal static class Nf
{
    public static string Golden(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Golden", "Netfilter", name));

    /// <summary>Reads one rule written in a table that declares chains X and Y (and whatever the rule jumps to).</summary>
    public static (Rule Rule, IReadOnlyList<Diagnostic> Diagnostics) Rule(string table, string line)
    {
        var text = $"*{table}\n:X - [0:0]\n:Y - [0:0]\n{line}\nCOMMIT\n";
        var r = IptablesSaveReader.Read(text, "t");
        var rule = r.RuleSet.Table(table)!.Chains.SelectMany(c => c.Rules).Single();
        return (rule, r.Diagnostics);
    }

    public static string Canonical(string table, string line) => IptablesSaveWriter.WriteCanonicalRule(Rule(table, line).Rule);
}
