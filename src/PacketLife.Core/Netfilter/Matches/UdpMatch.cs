using System.Text;
using PacketLife.Core.Net;
using PacketLife.Core.Netfilter.Evaluation;

namespace PacketLife.Core.Netfilter.Matches;

/// <summary>`-m udp` (iptables-extensions(8) "udp"): `[!] --sport/--dport port[:port]`. Non-first fragments never match.</summary>
public sealed class UdpMatch : Match
{
    public PortRange? SourcePorts { get; init; }
    public bool SourceNegated { get; init; }
    public PortRange? DestinationPorts { get; init; }
    public bool DestinationNegated { get; init; }

    public override string Module => "udp";

    public static readonly MatchModule Spec = new("udp",
    [
        new("--sport", 1, true, ["--source-port"]),
        new("--dport", 1, true, ["--destination-port"]),
    ], Build);

    static Match? Build(OptionBag bag)
    {
        var m = new UdpMatch();
        if (bag.Get("--sport") is { } s)
        {
            if (Ports.TryParseRange(s.Arg, out var r)) m = new UdpMatch { SourcePorts = r, SourceNegated = s.Negated };
            else bag.Error(Diagnostics.NetfilterMessages.BadPort(s.Location, s.Arg));
        }
        if (bag.Get("--dport") is { } d)
        {
            if (Ports.TryParseRange(d.Arg, out var r)) m = new UdpMatch { SourcePorts = m.SourcePorts, SourceNegated = m.SourceNegated, DestinationPorts = r, DestinationNegated = d.Negated };
            else bag.Error(Diagnostics.NetfilterMessages.BadPort(d.Location, d.Arg));
        }
        return m;
    }

    public override void WriteSave(StringBuilder sb)
    {
        if (SourcePorts is { } s) sb.Append(SourceNegated ? " ! --sport " : " --sport ").Append(s.ToString());
        if (DestinationPorts is { } d) sb.Append(DestinationNegated ? " ! --dport " : " --dport ").Append(d.ToString());
    }

    public override MatchResult Evaluate(EvalContext ctx)
    {
        var p = ctx.Packet;
        if (p.FragmentOffset != 0 || p.Protocol != IpProtocol.Udp) return MatchResult.False;
        if (SourcePorts is { } s && s.Contains(p.SrcPort) == SourceNegated) return MatchResult.False;
        if (DestinationPorts is { } d && d.Contains(p.DstPort) == DestinationNegated) return MatchResult.False;
        return MatchResult.True;
    }
}
