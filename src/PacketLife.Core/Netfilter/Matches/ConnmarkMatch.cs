using System.Text;
using PacketLife.Core.Netfilter.Evaluation;

namespace PacketLife.Core.Netfilter.Matches;

/// <summary>`-m connmark [!] --mark value[/mask]` (iptables-extensions(8) "connmark"): the mark test on the
/// connection's mark. Without a conntrack entry it never matches, negated or not (xt_connmark.c returns false
/// before applying the inversion).</summary>
public sealed class ConnmarkMatch : Match
{
    public uint Value { get; init; }
    public uint Mask { get; init; } = uint.MaxValue;
    public bool Negated { get; init; }
    public override string Module => "connmark";

    public static readonly MatchModule Spec = new("connmark", [new("--mark", 1, true)], bag => MarkMatch.BuildMark(bag, (v, m, n) => new ConnmarkMatch { Value = v, Mask = m, Negated = n }));

    public override void WriteSave(StringBuilder sb) => MarkMatch.Write(sb, Negated, Value, Mask);

    public override MatchResult Evaluate(EvalContext ctx)
    {
        if (ctx.Input.Conntrack is null || ctx.Input.Conntrack.State.HasFlag(CtState.Untracked)) return MatchResult.False;
        return MatchResult.Of(((ctx.CtMark & Mask) == Value) != Negated);
    }
}
