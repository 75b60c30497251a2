using System.Text;
using PacketLife.Core.Net;
using PacketLife.Core.Netfilter.Evaluation;

namespace PacketLife.Core.Netfilter.Matches;

/// <summary>`-m iprange [!] --src-range a-b [!] --dst-range a-b` (iptables-extensions(8) "iprange"): inclusive,
/// compared as host-order integers. Saved as `a-b` always.</summary>
public sealed class IprangeMatch : Match
{
    public Ip4Range? Source { get; init; }
    public bool SourceNegated { get; init; }
    public Ip4Range? Destination { get; init; }
    public bool DestinationNegated { get; init; }
    public override string Module => "iprange";

    public static readonly MatchModule Spec = new("iprange", [new("--src-range", 1, true), new("--dst-range", 1, true)], Build);

    static Match? Build(OptionBag bag)
    {
        Ip4Range? s = null, d = null;
        var so = bag.Get("--src-range");
        var dn = bag.Get("--dst-range");
        if (so is not null) { if (Ip4Range.TryParse(so.Arg, out var r)) s = r; else bag.Error(Diagnostics.NetfilterMessages.BadAddress(so.Location, so.Arg)); }
        if (dn is not null) { if (Ip4Range.TryParse(dn.Arg, out var r)) d = r; else bag.Error(Diagnostics.NetfilterMessages.BadAddress(dn.Location, dn.Arg)); }
        if (so is null && dn is null) bag.Problem("iprange match: You must specify `--src-range' or `--dst-range'");
        return new IprangeMatch { Source = s, SourceNegated = so?.Negated ?? false, Destination = d, DestinationNegated = dn?.Negated ?? false };
    }

    public override void WriteSave(StringBuilder sb)
    {
        if (Source is { } s) sb.Append(SourceNegated ? " ! --src-range " : " --src-range ").Append(s.First).Append('-').Append(s.Last);
        if (Destination is { } d) sb.Append(DestinationNegated ? " ! --dst-range " : " --dst-range ").Append(d.First).Append('-').Append(d.Last);
    }

    public override MatchResult Evaluate(EvalContext ctx)
    {
        if (Source is { } s && s.Contains(ctx.Packet.Src) == SourceNegated) return MatchResult.False;
        if (Destination is { } d && d.Contains(ctx.Packet.Dst) == DestinationNegated) return MatchResult.False;
        return MatchResult.True;
    }
}
