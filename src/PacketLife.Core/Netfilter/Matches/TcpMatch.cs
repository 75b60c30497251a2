using System.Text;
using PacketLife.Core.Net;
using PacketLife.Core.Netfilter.Evaluation;

namespace PacketLife.Core.Netfilter.Matches;

/// <summary>`-m tcp` (iptables-extensions(8) "tcp"): `[!] --sport/--dport port[:port]`, `[!] --tcp-flags mask comp`,
/// `[!] --syn` (= `--tcp-flags FIN,SYN,RST,ACK SYN`), `[!] --tcp-option n`. Non-first fragments never match (xt_tcpudp.c).
/// Save order: sport, dport, tcp-option, tcp-flags.</summary>
public sealed class TcpMatch : Match
{
    public PortRange? SourcePorts { get; init; }
    public bool SourceNegated { get; init; }
    public PortRange? DestinationPorts { get; init; }
    public bool DestinationNegated { get; init; }
    public TcpFlags FlagMask { get; init; }
    public TcpFlags FlagCompare { get; init; }
    public bool HasFlags { get; init; }
    public bool FlagsNegated { get; init; }
    public byte? TcpOption { get; init; }
    public bool OptionNegated { get; init; }

    public override string Module => "tcp";

    public static readonly MatchModule Spec = new("tcp",
    [
        new("--sport", 1, true, ["--source-port"]),
        new("--dport", 1, true, ["--destination-port"]),
        new("--tcp-flags", 2, true),
        new("--syn", 0, true),
        new("--tcp-option", 1, true),
    ], Build);

    static Match? Build(OptionBag bag)
    {
        PortRange? sp = null, dp = null;
        bool sn = false, dn = false;
        if (bag.Get("--sport") is { } s) { if (Ports.TryParseRange(s.Arg, out var r)) sp = r; else bag.Error(Diagnostics.NetfilterMessages.BadPort(s.Location, s.Arg)); sn = s.Negated; }
        if (bag.Get("--dport") is { } d) { if (Ports.TryParseRange(d.Arg, out var r)) dp = r; else bag.Error(Diagnostics.NetfilterMessages.BadPort(d.Location, d.Arg)); dn = d.Negated; }
        TcpFlags mask = 0, cmp = 0;
        bool has = false, fneg = false;
        if (bag.Get("--tcp-flags") is { } f)
        {
            if (bag.Has("--syn")) bag.Problem("tcp: --syn and --tcp-flags cannot be combined", f);
            has = true;
            fneg = f.Negated;
            if (!TryFlags(f.Args[0], out mask)) bag.Problem($"Unknown TCP flag `{f.Args[0]}'", f);
            if (!TryFlags(f.Args[1], out cmp)) bag.Problem($"Unknown TCP flag `{f.Args[1]}'", f);
        }
        if (bag.Get("--syn") is { } syn)
        {
            has = true;
            fneg = syn.Negated;
            mask = TcpFlags.Fin | TcpFlags.Syn | TcpFlags.Rst | TcpFlags.Ack;
            cmp = TcpFlags.Syn;
        }
        byte? opt = null;
        bool oneg = false;
        if (bag.Get("--tcp-option") is { } o)
        {
            if (byte.TryParse(o.Arg, out var ob) && ob > 0) opt = ob; else bag.BadValue(o, $"tcp: Bad value for \"--tcp-option\" option: \"{o.Arg}\"");
            oneg = o.Negated;
            bag.NotModelled(o);
        }
        return new TcpMatch
        {
            SourcePorts = sp, SourceNegated = sn, DestinationPorts = dp, DestinationNegated = dn,
            FlagMask = mask, FlagCompare = cmp, HasFlags = has, FlagsNegated = fneg, TcpOption = opt, OptionNegated = oneg,
        };
    }

    static readonly (string Name, TcpFlags Flag)[] FlagNames =
    [
        ("FIN", TcpFlags.Fin), ("SYN", TcpFlags.Syn), ("RST", TcpFlags.Rst), ("PSH", TcpFlags.Psh),
        ("ACK", TcpFlags.Ack), ("URG", TcpFlags.Urg),
    ];

    static bool TryFlags(string s, out TcpFlags flags)
    {
        flags = 0;
        foreach (var part in s.Split(','))
        {
            if (part.Equals("ALL", StringComparison.OrdinalIgnoreCase)) { flags |= (TcpFlags)0x3F; continue; }
            if (part.Equals("NONE", StringComparison.OrdinalIgnoreCase)) continue;
            int k = Array.FindIndex(FlagNames, f => f.Name.Equals(part, StringComparison.OrdinalIgnoreCase));
            if (k < 0) return false;
            flags |= FlagNames[k].Flag;
        }
        return true;
    }

    internal static void PrintFlags(StringBuilder sb, TcpFlags flags)
    {
        // print_tcpf: names in bit order, NONE for 0.
        bool any = false;
        foreach (var (name, flag) in FlagNames)
        {
            if ((flags & flag) == 0) continue;
            if (any) sb.Append(',');
            sb.Append(name);
            any = true;
        }
        if (!any) sb.Append("NONE");
    }

    public override void WriteSave(StringBuilder sb)
    {
        if (SourcePorts is { } s) sb.Append(SourceNegated ? " ! --sport " : " --sport ").Append(s.ToString());
        if (DestinationPorts is { } d) sb.Append(DestinationNegated ? " ! --dport " : " --dport ").Append(d.ToString());
        if (TcpOption is { } o) sb.Append(OptionNegated ? " ! --tcp-option " : " --tcp-option ").Append(o);
        if (HasFlags)
        {
            sb.Append(FlagsNegated ? " ! --tcp-flags " : " --tcp-flags ");
            PrintFlags(sb, FlagMask);
            sb.Append(' ');
            PrintFlags(sb, FlagCompare);
        }
    }

    public override MatchResult Evaluate(EvalContext ctx)
    {
        var p = ctx.Packet;
        if (p.FragmentOffset != 0 || p.Protocol != IpProtocol.Tcp) return MatchResult.False;
        if (SourcePorts is { } s && s.Contains(p.SrcPort) == SourceNegated) return MatchResult.False;
        if (DestinationPorts is { } d && d.Contains(p.DstPort) == DestinationNegated) return MatchResult.False;
        if (HasFlags && ((p.Flags & FlagMask) == FlagCompare) == FlagsNegated) return MatchResult.False;
        if (TcpOption is not null) return MatchResult.Unknown("tcp --tcp-option: packets carry no TCP options in PacketLife");
        return MatchResult.True;
    }
}
