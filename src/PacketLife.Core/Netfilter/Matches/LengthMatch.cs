using System.Text;
using PacketLife.Core.Netfilter.Evaluation;

namespace PacketLife.Core.Netfilter.Matches;

/// <summary>`-m length [!] --length n[:m]` (iptables-extensions(8) "length"): the IP total length, inclusive.</summary>
public sealed class LengthMatch : Match
{
    public ushort Min { get; init; }
    public ushort Max { get; init; }
    public bool Negated { get; init; }
    public override string Module => "length";

    public static readonly MatchModule Spec = new("length", [new("--length", 1, true)], Build);

    static Match? Build(OptionBag bag)
    {
        var o = bag.Get("--length");
        if (o is null) { bag.Problem("length: option \"--length\" must be specified"); return null; }
        var parts = o.Arg.Split(':');
        ushort lo = 0, hi = ushort.MaxValue;
        bool ok = parts.Length is 1 or 2 && (parts[0].Length == 0 || ushort.TryParse(parts[0], out lo));
        if (ok && parts.Length == 1) hi = lo;
        else if (ok && parts[1].Length > 0) ok = ushort.TryParse(parts[1], out hi);
        if (!ok) { bag.BadValue(o, $"length: Bad value for \"--length\" option: \"{o.Arg}\""); return null; }
        if (lo > hi) { bag.Problem("length: min > max", o); return null; }
        return new LengthMatch { Min = lo, Max = hi, Negated = o.Negated };
    }

    public override void WriteSave(StringBuilder sb)
    {
        sb.Append(Negated ? " ! --length " : " --length ").Append(Min);
        if (Max != Min) sb.Append(':').Append(Max);
    }

    public override MatchResult Evaluate(EvalContext ctx) =>
        MatchResult.Of((ctx.Packet.Length >= Min && ctx.Packet.Length <= Max) != Negated);
}
