using System.Text;
using PacketLife.Core.Netfilter.Evaluation;
using PacketLife.Core.Netfilter.Matches;
using PacketLife.Core.Netfilter.Text;

namespace PacketLife.Core.Netfilter.Targets;

/// <summary>`-j MARK` (iptables-extensions(8) "MARK", xt_mark.c): mark = (mark &amp; ~mask) ^ value. Every form is stored
/// and saved as `--set-xmark value/mask` (facts §4.1): --set-mark v[/m] → v/(v|m), --or-mark v → v/v,
/// --xor-mark v → v/0, --and-mark v → 0/~v. Non-terminating, any table.</summary>
public sealed class MarkTarget(uint value, uint mask) : Target
{
    public uint Value { get; } = value;
    public uint Mask { get; } = mask;
    public override string Name => "MARK";

    public static readonly TargetModule Spec = new("MARK",
        [new("--set-xmark", 1), new("--set-mark", 1), new("--and-mark", 1), new("--or-mark", 1), new("--xor-mark", 1)],
        bag => XMark.Parse(bag, (v, m) => new MarkTarget(v, m)));

    public override void WriteSave(StringBuilder sb) => sb.Append(" --set-xmark ").Append(SaveFormat.Hex(Value)).Append('/').Append(SaveFormat.Hex(Mask));

    public override TargetResult Execute(EvalContext ctx, Rule rule)
    {
        ctx.Mark = (ctx.Mark & ~Mask) ^ Value;
        return new(TargetAction.Continue);
    }
}

/// <summary>The shared --set-xmark/--set-mark/--and/--or/--xor-mark parsing of MARK and CONNMARK.</summary>
internal static class XMark
{
    public static T? Parse<T>(OptionBag bag, Func<uint, uint, T> make) where T : class
    {
        var given = bag.Options.Where(o => o.Name is "--set-xmark" or "--set-mark" or "--and-mark" or "--or-mark" or "--xor-mark").ToList();
        if (given.Count != 1) { bag.Problem($"{bag.Module} target: exactly one of --set-xmark, --set-mark, --and-mark, --or-mark, --xor-mark is required"); return null; }
        var o = given[0];
        bool maskAllowed = o.Name is "--set-xmark" or "--set-mark";
        if (!SaveFormat.TryParseMarkMask(o.Arg, out var v, out var m, out var hasMask) || (hasMask && !maskAllowed))
        {
            bag.BadValue(o, $"{bag.Module}: Bad value for \"{o.Name}\" option: \"{o.Arg}\"");
            return null;
        }
        return o.Name switch
        {
            "--set-xmark" => make(v, m),
            "--set-mark" => make(v, v | m),
            "--and-mark" => make(0, ~v),
            "--or-mark" => make(v, v),
            _ => make(v, 0),
        };
    }
}
