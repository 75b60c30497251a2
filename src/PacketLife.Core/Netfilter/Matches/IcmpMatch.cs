using System.Text;
using PacketLife.Core.Net;
using PacketLife.Core.Netfilter.Evaluation;

namespace PacketLife.Core.Netfilter.Matches;

/// <summary>`-m icmp [!] --icmp-type {type[/code]|typename}` (iptables-extensions(8) "icmp"). Saved numerically:
/// `--icmp-type 8`, `--icmp-type 3/3`, `--icmp-type any`.</summary>
public sealed class IcmpMatch : Match
{
    /// <summary>255 = any.</summary>
    public byte Type { get; init; } = 255;
    public byte CodeMin { get; init; }
    public byte CodeMax { get; init; } = 255;
    public bool Negated { get; init; }

    public override string Module => "icmp";

    public static readonly MatchModule Spec = new("icmp", [new("--icmp-type", 1, true)], Build);

    // libipt_icmp.c icmp_codes (name, type, code min, code max).
    static readonly (string Name, byte Type, byte Min, byte Max)[] Names =
    [
        ("any", 255, 0, 255), ("echo-reply", 0, 0, 255), ("pong", 0, 0, 255),
        ("destination-unreachable", 3, 0, 255), ("network-unreachable", 3, 0, 0), ("host-unreachable", 3, 1, 1),
        ("protocol-unreachable", 3, 2, 2), ("port-unreachable", 3, 3, 3), ("fragmentation-needed", 3, 4, 4),
        ("source-route-failed", 3, 5, 5), ("network-unknown", 3, 6, 6), ("host-unknown", 3, 7, 7),
        ("network-prohibited", 3, 9, 9), ("host-prohibited", 3, 10, 10), ("TOS-network-unreachable", 3, 11, 11),
        ("TOS-host-unreachable", 3, 12, 12), ("communication-prohibited", 3, 13, 13), ("host-precedence-violation", 3, 14, 14),
        ("precedence-cutoff", 3, 15, 15), ("source-quench", 4, 0, 255), ("redirect", 5, 0, 255),
        ("network-redirect", 5, 0, 0), ("host-redirect", 5, 1, 1), ("TOS-network-redirect", 5, 2, 2),
        ("TOS-host-redirect", 5, 3, 3), ("echo-request", 8, 0, 255), ("ping", 8, 0, 255),
        ("router-advertisement", 9, 0, 255), ("router-solicitation", 10, 0, 255), ("time-exceeded", 11, 0, 255),
        ("ttl-exceeded", 11, 0, 255), ("ttl-zero-during-transit", 11, 0, 0), ("ttl-zero-during-reassembly", 11, 1, 1),
        ("parameter-problem", 12, 0, 255), ("ip-header-bad", 12, 0, 0), ("required-option-missing", 12, 1, 1),
        ("timestamp-request", 13, 0, 255), ("timestamp-reply", 14, 0, 255), ("address-mask-request", 17, 0, 255),
        ("address-mask-reply", 18, 0, 255),
    ];

    static Match? Build(OptionBag bag)
    {
        var o = bag.Get("--icmp-type");
        if (o is null) return new IcmpMatch();
        var s = o.Arg;
        foreach (var n in Names)
            if (n.Name.Equals(s, StringComparison.OrdinalIgnoreCase))
                return new IcmpMatch { Type = n.Type, CodeMin = n.Min, CodeMax = n.Max, Negated = o.Negated };
        var parts = s.Split('/');
        if (parts.Length is 1 or 2 && byte.TryParse(parts[0], out var t))
        {
            if (parts.Length == 1) return new IcmpMatch { Type = t, Negated = o.Negated };
            if (byte.TryParse(parts[1], out var c)) return new IcmpMatch { Type = t, CodeMin = c, CodeMax = c, Negated = o.Negated };
        }
        bag.Problem($"Invalid ICMP type `{s}'", o, "a type name (echo-request, ...) or type[/code]");
        return null;
    }

    public override void WriteSave(StringBuilder sb)
    {
        if (Negated) sb.Append(" !");
        if (Type == 255) { sb.Append(" --icmp-type any"); return; }
        sb.Append(" --icmp-type ").Append(Type);
        if (CodeMin != 0 || CodeMax != 255) sb.Append('/').Append(CodeMin);
    }

    public override MatchResult Evaluate(EvalContext ctx)
    {
        var p = ctx.Packet;
        if (p.FragmentOffset != 0 || p.Protocol != IpProtocol.Icmp) return MatchResult.False;
        bool m = Type == 255 || (p.IcmpType == Type && p.IcmpCode >= CodeMin && p.IcmpCode <= CodeMax);
        return MatchResult.Of(m != Negated);
    }
}
