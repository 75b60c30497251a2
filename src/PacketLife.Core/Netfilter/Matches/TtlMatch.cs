using System.Text;
using PacketLife.Core.Netfilter.Evaluation;

namespace PacketLife.Core.Netfilter.Matches;

public enum TtlOp
{
    Eq,
    Lt,
    Gt,
}

/// <summary>`-m ttl --ttl-eq n | --ttl-lt n | --ttl-gt n` (iptables-extensions(8) "ttl"): strict comparisons on the TTL
/// as it is at this hook; only `--ttl-eq` can be negated (`ttl: option "--ttl-lt" cannot be inverted.`).</summary>
public sealed class TtlMatch : Match
{
    public TtlOp Op { get; init; }
    public byte Value { get; init; }
    public bool Negated { get; init; }
    public override string Module => "ttl";

    public static readonly MatchModule Spec = new("ttl", [new("--ttl-eq", 1, true), new("--ttl-lt", 1), new("--ttl-gt", 1)], Build);

    static Match? Build(OptionBag bag)
    {
        if (bag.Options.Count != 1) { bag.Problem(bag.Options.Count == 0 ? "ttl: You must specify one of `--ttl-eq', `--ttl-lt', `--ttl-gt'" : "ttl: Can't specify TTL option twice"); return null; }
        var o = bag.Options[0];
        if (!byte.TryParse(o.Arg, out var v)) { bag.BadValue(o, $"ttl: Bad value for \"{o.Name}\" option: \"{o.Arg}\""); return null; }
        return new TtlMatch { Op = o.Name switch { "--ttl-eq" => TtlOp.Eq, "--ttl-lt" => TtlOp.Lt, _ => TtlOp.Gt }, Value = v, Negated = o.Negated };
    }

    public override void WriteSave(StringBuilder sb)
    {
        if (Negated) sb.Append(" !");
        sb.Append(Op switch { TtlOp.Eq => " --ttl-eq ", TtlOp.Lt => " --ttl-lt ", _ => " --ttl-gt " }).Append(Value);
    }

    public override MatchResult Evaluate(EvalContext ctx)
    {
        var t = ctx.Packet.Ttl;
        bool m = Op switch { TtlOp.Eq => t == Value, TtlOp.Lt => t < Value, _ => t > Value };
        return MatchResult.Of(m != Negated);
    }
}
