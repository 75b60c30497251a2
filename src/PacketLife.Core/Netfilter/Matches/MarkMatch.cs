using System.Text;
using PacketLife.Core.Netfilter.Evaluation;
using PacketLife.Core.Netfilter.Text;

namespace PacketLife.Core.Netfilter.Matches;

/// <summary>`-m mark [!] --mark value[/mask]` (iptables-extensions(8) "mark"): matches when (mark &amp; mask) == value.
/// Saved in hex; the mask only when it is not 0xffffffff.</summary>
public sealed class MarkMatch : Match
{
    public uint Value { get; init; }
    public uint Mask { get; init; } = uint.MaxValue;
    public bool Negated { get; init; }
    public override string Module => "mark";

    public static readonly MatchModule Spec = new("mark", [new("--mark", 1, true)], bag => BuildMark(bag, (v, m, n) => new MarkMatch { Value = v, Mask = m, Negated = n }));

    internal static Match? BuildMark(OptionBag bag, Func<uint, uint, bool, Match> make)
    {
        var o = bag.Get("--mark");
        if (o is null) { bag.Problem($"{bag.Module}: option \"--mark\" must be specified"); return null; }
        if (!SaveFormat.TryParseMarkMask(o.Arg, out var v, out var m, out _)) { bag.BadValue(o); return null; }
        return make(v, m, o.Negated);
    }

    internal static void Write(StringBuilder sb, bool negated, uint value, uint mask)
    {
        sb.Append(negated ? " ! --mark " : " --mark ").Append(SaveFormat.Hex(value));
        if (mask != uint.MaxValue) sb.Append('/').Append(SaveFormat.Hex(mask));
    }

    public override void WriteSave(StringBuilder sb) => Write(sb, Negated, Value, Mask);

    public override MatchResult Evaluate(EvalContext ctx) => MatchResult.Of(((ctx.Mark & Mask) == Value) != Negated);
}
