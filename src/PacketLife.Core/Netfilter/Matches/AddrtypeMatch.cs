using System.Text;
using PacketLife.Core.Netfilter.Evaluation;

namespace PacketLife.Core.Netfilter.Matches;

/// <summary>`-m addrtype [!] --src-type T[,T..] [!] --dst-type T[,T..] [--limit-iface-in|--limit-iface-out]`
/// (iptables-extensions(8) "addrtype", xt_addrtype.c revision 1). The type comes from the local routing table; with
/// a limit only local/broadcast routes of that device count. Types are saved in bit order (UNSPEC, UNICAST, LOCAL, ...).</summary>
public sealed class AddrtypeMatch : Match
{
    public AddressType Source { get; init; }
    public bool SourceNegated { get; init; }
    public AddressType Destination { get; init; }
    public bool DestinationNegated { get; init; }
    public bool LimitIfaceIn { get; init; }
    public bool LimitIfaceOut { get; init; }
    public override string Module => "addrtype";

    public static readonly MatchModule Spec = new("addrtype",
        [new("--src-type", 1, true), new("--dst-type", 1, true), new("--limit-iface-in", 0), new("--limit-iface-out", 0)], Build);

    static readonly string[] TypeNames = ["UNSPEC", "UNICAST", "LOCAL", "BROADCAST", "ANYCAST", "MULTICAST", "BLACKHOLE", "UNREACHABLE", "PROHIBIT", "THROW", "NAT", "XRESOLVE"];

    static bool TryTypes(string s, out AddressType t)
    {
        t = 0;
        foreach (var part in s.Split(','))
        {
            int k = Array.FindIndex(TypeNames, n => n.Equals(part, StringComparison.OrdinalIgnoreCase));
            if (k < 0) return false;
            t |= (AddressType)(1 << k);
        }
        return true;
    }

    static Match? Build(OptionBag bag)
    {
        AddressType s = 0, d = 0;
        var so = bag.Get("--src-type");
        var dn = bag.Get("--dst-type");
        if (so is not null && !TryTypes(so.Arg, out s)) bag.Problem($"addrtype: Bad address type \"{so.Arg}\"", so, string.Join(", ", TypeNames));
        if (dn is not null && !TryTypes(dn.Arg, out d)) bag.Problem($"addrtype: Bad address type \"{dn.Arg}\"", dn, string.Join(", ", TypeNames));
        if (so is null && dn is null) bag.Problem("addrtype: you must specify --src-type or --dst-type");
        bool li = bag.Has("--limit-iface-in"), lo = bag.Has("--limit-iface-out");
        if (li && lo) bag.Problem("addrtype: you can't specify both --limit-iface-in and --limit-iface-out");
        return new AddrtypeMatch
        {
            Source = s, SourceNegated = so?.Negated ?? false, Destination = d, DestinationNegated = dn?.Negated ?? false,
            LimitIfaceIn = li, LimitIfaceOut = lo,
        };
    }

    static void Print(StringBuilder sb, AddressType t)
    {
        bool any = false;
        for (int i = 0; i < TypeNames.Length; i++)
        {
            if (((int)t & (1 << i)) == 0) continue;
            if (any) sb.Append(',');
            sb.Append(TypeNames[i]);
            any = true;
        }
    }

    public override void WriteSave(StringBuilder sb)
    {
        if (Source != 0) { sb.Append(SourceNegated ? " ! --src-type " : " --src-type "); Print(sb, Source); }
        if (Destination != 0) { sb.Append(DestinationNegated ? " ! --dst-type " : " --dst-type "); Print(sb, Destination); }
        if (LimitIfaceIn) sb.Append(" --limit-iface-in");
        if (LimitIfaceOut) sb.Append(" --limit-iface-out");
    }

    internal override bool ChecksHooks => true;

    public override string? CheckHooks(IReadOnlyCollection<NetfilterHook> hooks)
    {
        if (LimitIfaceIn && hooks.Any(h => h is NetfilterHook.Output or NetfilterHook.Postrouting))
            return "xt_addrtype: input interface limitation not valid in POSTROUTING and OUTPUT";
        if (LimitIfaceOut && hooks.Any(h => h is NetfilterHook.Prerouting or NetfilterHook.Input))
            return "xt_addrtype: output interface limitation not valid in PREROUTING and INPUT";
        return null;
    }

    public override MatchResult Evaluate(EvalContext ctx)
    {
        string? dev = LimitIfaceIn ? ctx.Input.InInterface ?? "" : LimitIfaceOut ? ctx.Input.OutInterface ?? "" : null;
        if (Source != 0)
        {
            var t = ctx.AddressTypeOf(ctx.Packet.Src, dev);
            if (t is null) return MatchResult.Unknown($"addrtype: the type of {ctx.Packet.Src} is unknown (no host addresses given)");
            if (((Source & t.Value) != 0) == SourceNegated) return MatchResult.False;
        }
        if (Destination != 0)
        {
            var t = ctx.AddressTypeOf(ctx.Packet.Dst, dev);
            if (t is null) return MatchResult.Unknown($"addrtype: the type of {ctx.Packet.Dst} is unknown (no host addresses given)");
            if (((Destination & t.Value) != 0) == DestinationNegated) return MatchResult.False;
        }
        return MatchResult.True;
    }
}
