using System.Text;
using PacketLife.Core.Netfilter.Evaluation;

namespace PacketLife.Core.Netfilter.Matches;

/// <summary>`-m physdev` (iptables-extensions(8) "physdev", xt_physdev.c): bridge ports of a bridged packet.
/// A packet that was not bridged fails every positive test and passes the negated ones.</summary>
public sealed class PhysdevMatch : Match
{
    public InterfaceSpec? In { get; init; }
    public InterfaceSpec? Out { get; init; }
    public bool? IsIn { get; init; }
    public bool? IsOut { get; init; }
    public bool? IsBridged { get; init; }
    public override string Module => "physdev";

    public static readonly MatchModule Spec = new("physdev",
    [
        new("--physdev-in", 1, true), new("--physdev-out", 1, true), new("--physdev-is-in", 0, true),
        new("--physdev-is-out", 0, true), new("--physdev-is-bridged", 0, true),
    ], Build);

    static Match? Build(OptionBag bag)
    {
        if (bag.Options.Count == 0) { bag.Problem("PHYSDEV: no physdev option specified"); return null; }
        var i = bag.Get("--physdev-in");
        var o = bag.Get("--physdev-out");
        foreach (var x in new[] { i, o })
            if (x is not null && (x.Arg.Length == 0 || x.Arg.Length > 15)) bag.Error(Diagnostics.NetfilterMessages.BadInterface(x.Location, x.Arg));
        bool? F(string n) => bag.Get(n) is { } p ? !p.Negated : null;
        return new PhysdevMatch
        {
            In = i is null ? null : new InterfaceSpec(i.Arg, i.Negated),
            Out = o is null ? null : new InterfaceSpec(o.Arg, o.Negated),
            IsIn = F("--physdev-is-in"), IsOut = F("--physdev-is-out"), IsBridged = F("--physdev-is-bridged"),
        };
    }

    public override void WriteSave(StringBuilder sb)
    {
        if (In is { } i) sb.Append(i.Negated ? " ! --physdev-in " : " --physdev-in ").Append(i.Name);
        if (Out is { } o) sb.Append(o.Negated ? " ! --physdev-out " : " --physdev-out ").Append(o.Name);
        if (IsIn is { } a) sb.Append(a ? " --physdev-is-in" : " ! --physdev-is-in");
        if (IsOut is { } b) sb.Append(b ? " --physdev-is-out" : " ! --physdev-is-out");
        if (IsBridged is { } c) sb.Append(c ? " --physdev-is-bridged" : " ! --physdev-is-bridged");
    }

    public override MatchResult Evaluate(EvalContext ctx)
    {
        var c = ctx.Input;
        if (!c.Bridged)
            return MatchResult.Of(IsBridged != true && IsIn != true && IsOut != true && (In is null || In.Negated) && (Out is null || Out.Negated));
        if (IsBridged is { } br && (c.PhysOut is not null) != br) return MatchResult.False;
        if (IsIn is { } ii && (c.PhysIn is not null) != ii) return MatchResult.False;
        if (IsOut is { } io && (c.PhysOut is not null) != io) return MatchResult.False;
        if (In is { } pin && !pin.Test(c.PhysIn)) return MatchResult.False;
        if (Out is { } pout && !pout.Test(c.PhysOut)) return MatchResult.False;
        return MatchResult.True;
    }
}
