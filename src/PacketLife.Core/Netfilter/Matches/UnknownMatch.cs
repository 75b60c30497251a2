using System.Text;
using PacketLife.Core.Netfilter.Evaluation;

namespace PacketLife.Core.Netfilter.Matches;

/// <summary>A `-m` module PacketLife does not model (or one whose options were invalid): kept with its arguments as
/// written so the rule round-trips, and every evaluation is uncertain (never a silent match or non-match).</summary>
public sealed class UnknownMatch(string module, string[] args) : Match
{
    public override string Module { get; } = module;
    public IReadOnlyList<string> Args { get; } = args;
    /// <summary>True when the module is known but its options were rejected.</summary>
    public bool Invalid { get; init; }

    public override void WriteSave(StringBuilder sb) => UnknownArgs.Write(sb, Args);

    public override MatchResult Evaluate(EvalContext ctx) => MatchResult.Unknown(UnsupportedReason!);

    public override string UnsupportedReason => Invalid ? $"match \"{Module}\" has invalid options" : $"match module \"{Module}\" is not modelled";
}

internal static class UnknownArgs
{
    public static void Write(StringBuilder sb, IReadOnlyList<string> args)
    {
        foreach (var a in args)
        {
            bool plain = a.Length > 0;
            foreach (var c in a) if (char.IsWhiteSpace(c) || c is '"' or '\\') { plain = false; break; }
            if (plain) sb.Append(' ').Append(a);
            else Text.SaveFormat.AppendSaveString(sb, a);
        }
    }
}
