using System.Text;
using PacketLife.Core.Net;
using PacketLife.Core.Netfilter.Evaluation;

namespace PacketLife.Core.Netfilter.Matches;

/// <summary>`-m sctp` (iptables-extensions(8) "sctp"): `[!] --sport/--dport port[:port]`; `--chunk-types` is read
/// but not modelled (PacketLife packets carry no SCTP chunks).</summary>
public sealed class SctpMatch : Match
{
    public PortRange? SourcePorts { get; init; }
    public bool SourceNegated { get; init; }
    public PortRange? DestinationPorts { get; init; }
    public bool DestinationNegated { get; init; }
    public string[]? ChunkTypes { get; init; }
    public bool ChunkNegated { get; init; }

    public override string Module => "sctp";

    public static readonly MatchModule Spec = new("sctp",
    [
        new("--sport", 1, true, ["--source-port"]),
        new("--dport", 1, true, ["--destination-port"]),
        new("--chunk-types", 2, true),
    ], Build);

    static Match? Build(OptionBag bag)
    {
        PortRange? sp = null, dp = null;
        if (bag.Get("--sport") is { } s && !Ports.TryParseRange(s.Arg, out var r1)) bag.Error(Diagnostics.NetfilterMessages.BadPort(s.Location, s.Arg));
        else if (bag.Get("--sport") is { } s2 && Ports.TryParseRange(s2.Arg, out var r1b)) sp = r1b;
        if (bag.Get("--dport") is { } d && !Ports.TryParseRange(d.Arg, out _)) bag.Error(Diagnostics.NetfilterMessages.BadPort(d.Location, d.Arg));
        else if (bag.Get("--dport") is { } d2 && Ports.TryParseRange(d2.Arg, out var r2)) dp = r2;
        var ct = bag.Get("--chunk-types");
        if (ct is not null) bag.NotModelled(ct);
        return new SctpMatch
        {
            SourcePorts = sp, SourceNegated = bag.Get("--sport")?.Negated ?? false,
            DestinationPorts = dp, DestinationNegated = bag.Get("--dport")?.Negated ?? false,
            ChunkTypes = ct?.Args, ChunkNegated = ct?.Negated ?? false,
        };
    }

    public override void WriteSave(StringBuilder sb)
    {
        if (SourcePorts is { } s) sb.Append(SourceNegated ? " ! --sport " : " --sport ").Append(s.ToString());
        if (DestinationPorts is { } d) sb.Append(DestinationNegated ? " ! --dport " : " --dport ").Append(d.ToString());
        if (ChunkTypes is { } c) sb.Append(ChunkNegated ? " ! --chunk-types " : " --chunk-types ").Append(c[0]).Append(' ').Append(c[1]);
    }

    public override MatchResult Evaluate(EvalContext ctx)
    {
        var p = ctx.Packet;
        if (p.FragmentOffset != 0 || p.Protocol != IpProtocol.Sctp) return MatchResult.False;
        if (SourcePorts is { } s && s.Contains(p.SrcPort) == SourceNegated) return MatchResult.False;
        if (DestinationPorts is { } d && d.Contains(p.DstPort) == DestinationNegated) return MatchResult.False;
        if (ChunkTypes is not null) return MatchResult.Unknown("sctp --chunk-types is not modelled");
        return MatchResult.True;
    }
}
