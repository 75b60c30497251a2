using System.Text;
using PacketLife.Core.Net;
using PacketLife.Core.Netfilter.Evaluation;

namespace PacketLife.Core.Netfilter.Matches;

/// <summary>`-m conntrack` (iptables-extensions(8) "conntrack", kernel xt_conntrack.c revision 3). Each option may be
/// negated. Without a conntrack entry the state is INVALID and the match succeeds only if it has a `--ctstate` test
/// that passed. Save order: ctstate, ctproto, ctorigsrc, ctorigdst, ctreplsrc, ctrepldst, the four ports, ctstatus,
/// ctexpire, ctdir (libxt_conntrack.c conntrack_dump).</summary>
public sealed class ConntrackMatch : Match
{
    public CtState? State { get; init; }
    public bool StateNegated { get; init; }
    public IpProtocol? Proto { get; init; }
    public bool ProtoNegated { get; init; }
    public (Ip4Prefix Prefix, bool Negated)? OrigSrc { get; init; }
    public (Ip4Prefix Prefix, bool Negated)? OrigDst { get; init; }
    public (Ip4Prefix Prefix, bool Negated)? ReplSrc { get; init; }
    public (Ip4Prefix Prefix, bool Negated)? ReplDst { get; init; }
    public (PortRange Range, bool Negated)? OrigSrcPort { get; init; }
    public (PortRange Range, bool Negated)? OrigDstPort { get; init; }
    public (PortRange Range, bool Negated)? ReplSrcPort { get; init; }
    public (PortRange Range, bool Negated)? ReplDstPort { get; init; }
    public CtStatus? Status { get; init; }
    public bool StatusNegated { get; init; }
    public (uint Min, uint Max)? Expire { get; init; }
    public bool ExpireNegated { get; init; }
    public CtDirection? Direction { get; init; }

    public override string Module => "conntrack";

    public static readonly MatchModule Spec = new("conntrack",
    [
        new("--ctstate", 1, true), new("--ctproto", 1, true),
        new("--ctorigsrc", 1, true), new("--ctorigdst", 1, true), new("--ctreplsrc", 1, true), new("--ctrepldst", 1, true),
        new("--ctorigsrcport", 1, true), new("--ctorigdstport", 1, true), new("--ctreplsrcport", 1, true), new("--ctrepldstport", 1, true),
        new("--ctstatus", 1, true), new("--ctexpire", 1, true), new("--ctdir", 1),
    ], Build);

    internal static readonly (string Name, CtState Bit)[] StateNames =
    [
        ("INVALID", CtState.Invalid), ("NEW", CtState.New), ("RELATED", CtState.Related), ("ESTABLISHED", CtState.Established),
        ("UNTRACKED", CtState.Untracked), ("SNAT", CtState.Snat), ("DNAT", CtState.Dnat),
    ];

    static readonly (string Name, CtStatus Bit)[] StatusNames =
        [("EXPECTED", CtStatus.Expected), ("SEEN_REPLY", CtStatus.SeenReply), ("ASSURED", CtStatus.Assured), ("CONFIRMED", CtStatus.Confirmed)];

    internal static bool TryStates(string s, bool allowNat, out CtState st)
    {
        st = 0;
        foreach (var part in s.Split(','))
        {
            int k = Array.FindIndex(StateNames, n => n.Name.Equals(part, StringComparison.OrdinalIgnoreCase));
            if (k < 0 || (!allowNat && StateNames[k].Bit is CtState.Snat or CtState.Dnat)) return false;
            st |= StateNames[k].Bit;
        }
        return true;
    }

    internal static void PrintStates(StringBuilder sb, CtState st)
    {
        bool any = false;
        foreach (var (n, b) in StateNames)
        {
            if ((st & b) == 0) continue;
            if (any) sb.Append(',');
            sb.Append(n);
            any = true;
        }
    }

    static Match? Build(OptionBag bag)
    {
        var m = new ConntrackMatch();
        foreach (var o in bag.Options)
        {
            switch (o.Name)
            {
                case "--ctstate":
                    if (TryStates(o.Arg, true, out var st)) m = With(m, x => x.State = st, x => x.StateNegated = o.Negated);
                    else bag.Problem($"Bad ctstate \"{o.Arg}\"", o, "INVALID, NEW, RELATED, ESTABLISHED, UNTRACKED, SNAT, DNAT");
                    break;
                case "--ctproto":
                    if (ProtocolNames.TryParse(o.Arg, out var pr)) m = With(m, x => x.Proto = pr, x => x.ProtoNegated = o.Negated);
                    else bag.Error(Diagnostics.NetfilterMessages.BadProtocol(o.Location, o.Arg));
                    break;
                case "--ctorigsrc" or "--ctorigdst" or "--ctreplsrc" or "--ctrepldst":
                    if (!Ip4Prefix.TryParse(o.Arg, out var pf)) { bag.Error(Diagnostics.NetfilterMessages.BadAddress(o.Location, o.Arg)); break; }
                    var a = (pf, o.Negated);
                    m = o.Name switch
                    {
                        "--ctorigsrc" => With(m, x => x.OrigSrc = a),
                        "--ctorigdst" => With(m, x => x.OrigDst = a),
                        "--ctreplsrc" => With(m, x => x.ReplSrc = a),
                        _ => With(m, x => x.ReplDst = a),
                    };
                    break;
                case "--ctorigsrcport" or "--ctorigdstport" or "--ctreplsrcport" or "--ctrepldstport":
                    if (!Ports.TryParseRange(o.Arg, out var pr2)) { bag.Error(Diagnostics.NetfilterMessages.BadPort(o.Location, o.Arg)); break; }
                    var p = (pr2, o.Negated);
                    m = o.Name switch
                    {
                        "--ctorigsrcport" => With(m, x => x.OrigSrcPort = p),
                        "--ctorigdstport" => With(m, x => x.OrigDstPort = p),
                        "--ctreplsrcport" => With(m, x => x.ReplSrcPort = p),
                        _ => With(m, x => x.ReplDstPort = p),
                    };
                    break;
                case "--ctstatus":
                {
                    CtStatus s = 0;
                    bool ok = true;
                    foreach (var part in o.Arg.Split(','))
                    {
                        if (part.Equals("NONE", StringComparison.OrdinalIgnoreCase)) continue;
                        int k = Array.FindIndex(StatusNames, n => n.Name.Equals(part, StringComparison.OrdinalIgnoreCase));
                        if (k < 0) { ok = false; break; }
                        s |= StatusNames[k].Bit;
                    }
                    if (ok) m = With(m, x => x.Status = s, x => x.StatusNegated = o.Negated);
                    else bag.Problem($"Bad ctstatus \"{o.Arg}\"", o, "NONE, EXPECTED, SEEN_REPLY, ASSURED, CONFIRMED");
                    break;
                }
                case "--ctexpire":
                {
                    var parts = o.Arg.Split(':');
                    if (parts.Length is 1 or 2 && uint.TryParse(parts[0], out var lo) && (parts.Length == 1 || uint.TryParse(parts[1], out _)))
                    {
                        uint hi = parts.Length == 2 ? uint.Parse(parts[1]) : lo;
                        if (lo > hi) { bag.Problem("conntrack: expire range min > max", o); break; }
                        m = With(m, x => x.Expire = (lo, hi), x => x.ExpireNegated = o.Negated);
                    }
                    else bag.BadValue(o);
                    break;
                }
                case "--ctdir":
                    if (o.Arg.Equals("ORIGINAL", StringComparison.OrdinalIgnoreCase)) m = With(m, x => x.Direction = CtDirection.Original);
                    else if (o.Arg.Equals("REPLY", StringComparison.OrdinalIgnoreCase)) m = With(m, x => x.Direction = CtDirection.Reply);
                    else bag.BadValue(o, $"conntrack: Bad value for \"--ctdir\" option: \"{o.Arg}\" (ORIGINAL or REPLY)");
                    break;
            }
        }
        return m;
    }

    // The properties are init-only; building goes through a mutable copy.
    sealed class B
    {
        public CtState? State; public bool StateNegated; public IpProtocol? Proto; public bool ProtoNegated;
        public (Ip4Prefix, bool)? OrigSrc, OrigDst, ReplSrc, ReplDst;
        public (PortRange, bool)? OrigSrcPort, OrigDstPort, ReplSrcPort, ReplDstPort;
        public CtStatus? Status; public bool StatusNegated; public (uint, uint)? Expire; public bool ExpireNegated; public CtDirection? Direction;
    }

    static ConntrackMatch With(ConntrackMatch m, params Action<B>[] edits)
    {
        var b = new B
        {
            State = m.State, StateNegated = m.StateNegated, Proto = m.Proto, ProtoNegated = m.ProtoNegated,
            OrigSrc = m.OrigSrc, OrigDst = m.OrigDst, ReplSrc = m.ReplSrc, ReplDst = m.ReplDst,
            OrigSrcPort = m.OrigSrcPort, OrigDstPort = m.OrigDstPort, ReplSrcPort = m.ReplSrcPort, ReplDstPort = m.ReplDstPort,
            Status = m.Status, StatusNegated = m.StatusNegated, Expire = m.Expire, ExpireNegated = m.ExpireNegated, Direction = m.Direction,
        };
        foreach (var e in edits) e(b);
        return new ConntrackMatch
        {
            State = b.State, StateNegated = b.StateNegated, Proto = b.Proto, ProtoNegated = b.ProtoNegated,
            OrigSrc = b.OrigSrc, OrigDst = b.OrigDst, ReplSrc = b.ReplSrc, ReplDst = b.ReplDst,
            OrigSrcPort = b.OrigSrcPort, OrigDstPort = b.OrigDstPort, ReplSrcPort = b.ReplSrcPort, ReplDstPort = b.ReplDstPort,
            Status = b.Status, StatusNegated = b.StatusNegated, Expire = b.Expire, ExpireNegated = b.ExpireNegated, Direction = b.Direction,
        };
    }

    static void Addr(StringBuilder sb, string name, (Ip4Prefix Prefix, bool Negated)? a)
    {
        if (a is not { } v) return;
        sb.Append(v.Negated ? " ! " : " ").Append(name).Append(' ').Append(v.Prefix.Network.ToString());
        if (v.Prefix.Length != 32) sb.Append('/').Append(v.Prefix.Length);
    }

    static void Port(StringBuilder sb, string name, (PortRange Range, bool Negated)? p)
    {
        if (p is not { } v) return;
        sb.Append(v.Negated ? " ! " : " ").Append(name).Append(' ').Append(v.Range.ToString());
    }

    public override void WriteSave(StringBuilder sb)
    {
        if (State is { } st) { sb.Append(StateNegated ? " ! --ctstate " : " --ctstate "); PrintStates(sb, st); }
        if (Proto is { } pr) sb.Append(ProtoNegated ? " ! --ctproto " : " --ctproto ").Append((int)pr);
        Addr(sb, "--ctorigsrc", OrigSrc);
        Addr(sb, "--ctorigdst", OrigDst);
        Addr(sb, "--ctreplsrc", ReplSrc);
        Addr(sb, "--ctrepldst", ReplDst);
        Port(sb, "--ctorigsrcport", OrigSrcPort);
        Port(sb, "--ctorigdstport", OrigDstPort);
        Port(sb, "--ctreplsrcport", ReplSrcPort);
        Port(sb, "--ctrepldstport", ReplDstPort);
        if (Status is { } s)
        {
            sb.Append(StatusNegated ? " ! --ctstatus " : " --ctstatus ");
            if (s == 0) sb.Append("NONE");
            bool any = false;
            foreach (var (n, b) in StatusNames)
            {
                if ((s & b) == 0) continue;
                if (any) sb.Append(',');
                sb.Append(n);
                any = true;
            }
        }
        if (Expire is { } e)
        {
            sb.Append(ExpireNegated ? " ! --ctexpire " : " --ctexpire ").Append(e.Min);
            if (e.Max != e.Min) sb.Append(':').Append(e.Max);
        }
        if (Direction is { } d) sb.Append(d == CtDirection.Original ? " --ctdir ORIGINAL" : " --ctdir REPLY");
    }

    public override MatchResult Evaluate(EvalContext ctx)
    {
        var ct = ctx.Input.Conntrack;
        if (State is { } want)
        {
            CtState bits = ct?.State ?? CtState.Invalid;
            if (((want & bits) != 0) == StateNegated) return MatchResult.False;
        }
        if (ct is null || ct.State.HasFlag(CtState.Untracked) || ct.State == CtState.Invalid) return MatchResult.Of(State is not null);
        if (Direction is { } dir && (ct.Direction == dir) == false) return MatchResult.False;
        if (Proto is { } pr && (ct.Original.Protocol == pr) == ProtoNegated) return MatchResult.False;
        if (OrigSrc is { } os && os.Prefix.Contains(ct.Original.Src) == os.Negated) return MatchResult.False;
        if (OrigDst is { } od && od.Prefix.Contains(ct.Original.Dst) == od.Negated) return MatchResult.False;
        if (ReplSrc is { } rs && rs.Prefix.Contains(ct.Reply.Src) == rs.Negated) return MatchResult.False;
        if (ReplDst is { } rd && rd.Prefix.Contains(ct.Reply.Dst) == rd.Negated) return MatchResult.False;
        if (OrigSrcPort is { } osp && osp.Range.Contains(ct.Original.SrcPort) == osp.Negated) return MatchResult.False;
        if (OrigDstPort is { } odp && odp.Range.Contains(ct.Original.DstPort) == odp.Negated) return MatchResult.False;
        if (ReplSrcPort is { } rsp && rsp.Range.Contains(ct.Reply.SrcPort) == rsp.Negated) return MatchResult.False;
        if (ReplDstPort is { } rdp && rdp.Range.Contains(ct.Reply.DstPort) == rdp.Negated) return MatchResult.False;
        // --ctstatus matches when any of the given bits is set (NONE: when none is).
        if (Status is { } s && (s == 0 ? ct.Status == 0 : (ct.Status & s) != 0) == StatusNegated) return MatchResult.False;
        if (Expire is { } e && (ct.ExpireSeconds >= e.Min && ct.ExpireSeconds <= e.Max) == ExpireNegated) return MatchResult.False;
        return MatchResult.True;
    }
}
