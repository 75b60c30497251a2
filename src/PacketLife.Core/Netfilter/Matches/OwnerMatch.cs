using System.Text;
using PacketLife.Core.Netfilter.Evaluation;

namespace PacketLife.Core.Netfilter.Matches;

/// <summary>`-m owner [!] --uid-owner a[-b] [!] --gid-owner a[-b] [--suppl-groups] [!] --socket-exists`
/// (iptables-extensions(8) "owner"): tests the local socket. Packets without one (forwarded) never match a positive
/// test and always match a negated one (facts §3.11). Only OUTPUT and POSTROUTING.</summary>
public sealed class OwnerMatch : Match
{
    public (uint Min, uint Max)? Uid { get; init; }
    public bool UidNegated { get; init; }
    public (uint Min, uint Max)? Gid { get; init; }
    public bool GidNegated { get; init; }
    public bool SupplGroups { get; init; }
    public bool? SocketExists { get; init; }
    public override string Module => "owner";

    public static readonly MatchModule Spec = new("owner",
        [new("--uid-owner", 1, true), new("--gid-owner", 1, true), new("--suppl-groups", 0), new("--socket-exists", 0, true)], Build);

    static bool TryIds(string s, out (uint, uint) r)
    {
        r = default;
        if (s == "root") { r = (0, 0); return true; }
        var parts = s.Split('-');
        if (parts.Length is < 1 or > 2 || !uint.TryParse(parts[0], out var lo)) return false;
        uint hi = lo;
        if (parts.Length == 2 && !uint.TryParse(parts[1], out hi)) return false;
        if (lo > hi) return false;
        r = (lo, hi);
        return true;
    }

    static Match? Build(OptionBag bag)
    {
        (uint, uint)? uid = null, gid = null;
        var u = bag.Get("--uid-owner");
        var g = bag.Get("--gid-owner");
        if (u is not null) { if (TryIds(u.Arg, out var r)) uid = r; else bag.Problem($"owner: Bad value for \"--uid-owner\" option: \"{u.Arg}\"", u, "a numeric uid or range; user names need the node's /etc/passwd"); }
        if (g is not null) { if (TryIds(g.Arg, out var r)) gid = r; else bag.Problem($"owner: Bad value for \"--gid-owner\" option: \"{g.Arg}\"", g, "a numeric gid or range"); }
        bool suppl = bag.Has("--suppl-groups");
        if (suppl && g is null) bag.Problem("owner: --suppl-groups requires --gid-owner");
        var se = bag.Get("--socket-exists");
        if (u is null && g is null && se is null) bag.Problem("owner: at least one of --uid-owner, --gid-owner or --socket-exists is required");
        return new OwnerMatch
        {
            Uid = uid, UidNegated = u?.Negated ?? false, Gid = gid, GidNegated = g?.Negated ?? false,
            SupplGroups = suppl, SocketExists = se is null ? null : !se.Negated,
        };
    }

    internal override bool ChecksHooks => true;

    public override string? CheckHooks(IReadOnlyCollection<NetfilterHook> hooks)
    {
        var bad = hooks.Where(h => h is not (NetfilterHook.Output or NetfilterHook.Postrouting)).ToList();
        return bad.Count == 0 ? null : $"owner match: used from hooks {string.Join("/", bad.Select(NetfilterTables.ChainOf))}, but only valid from OUTPUT/POSTROUTING";
    }

    static void Ids(StringBuilder sb, string name, (uint Min, uint Max)? r, bool neg)
    {
        if (r is not { } v) return;
        sb.Append(neg ? " ! " : " ").Append(name).Append(' ').Append(v.Min);
        if (v.Max != v.Min) sb.Append('-').Append(v.Max);
    }

    public override void WriteSave(StringBuilder sb)
    {
        if (SocketExists is { } se) sb.Append(se ? " --socket-exists" : " ! --socket-exists");
        Ids(sb, "--uid-owner", Uid, UidNegated);
        Ids(sb, "--gid-owner", Gid, GidNegated);
        if (SupplGroups) sb.Append(" --suppl-groups");
    }

    public override MatchResult Evaluate(EvalContext ctx)
    {
        var o = ctx.Input.Owner;
        if (o is null)
        {
            // xt_owner.c: no full socket → the result is the inversion of every given test: true only if all negated.
            bool all = (Uid is null || UidNegated) && (Gid is null || GidNegated) && (SocketExists is null || SocketExists == false);
            return MatchResult.Of(all);
        }
        if (SocketExists == false) return MatchResult.False;
        if (Uid is { } u && (o.Uid >= u.Min && o.Uid <= u.Max) == UidNegated) return MatchResult.False;
        if (Gid is { } g)
        {
            bool hit = o.Gid >= g.Min && o.Gid <= g.Max;
            if (!hit && SupplGroups && o.SupplementaryGroups is { } sg) hit = sg.Any(x => x >= g.Min && x <= g.Max);
            if (hit == GidNegated) return MatchResult.False;
        }
        return MatchResult.True;
    }
}
