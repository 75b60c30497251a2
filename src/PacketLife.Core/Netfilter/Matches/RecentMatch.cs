using System.Text;
using PacketLife.Core.Net;
using PacketLife.Core.Netfilter.Evaluation;

namespace PacketLife.Core.Netfilter.Matches;

public enum RecentCommand
{
    Set,
    Rcheck,
    Update,
    Remove,
}

/// <summary>`-m recent` (iptables-extensions(8) "recent", kernel xt_recent.c; facts §3.10). `--set` adds the address
/// and always matches; `--rcheck` matches when present (with `--seconds`/`--hitcount` counting the stamps stored
/// before this packet); `--update` also stamps when it matched; `--remove` deletes. Save form always has the name,
/// mask and side: `--rcheck --seconds 10800 --reap --name S --mask 255.255.255.255 --rsource`.</summary>
public sealed class RecentMatch : Match
{
    public RecentCommand Command { get; init; }
    public bool Negated { get; init; }
    public uint? Seconds { get; init; }
    public bool Reap { get; init; }
    public uint? HitCount { get; init; }
    public bool Rttl { get; init; }
    public string Name { get; init; } = "DEFAULT";
    public Ip4 Mask { get; init; } = new(uint.MaxValue);
    public bool Dest { get; init; }

    public override string Module => "recent";

    public static readonly MatchModule Spec = new("recent",
    [
        new("--set", 0, true), new("--rcheck", 0, true), new("--update", 0, true), new("--remove", 0, true),
        new("--seconds", 1), new("--reap", 0), new("--hitcount", 1), new("--rttl", 0), new("--name", 1),
        new("--mask", 1), new("--rsource", 0), new("--rdest", 0),
    ], Build);

    static Match? Build(OptionBag bag)
    {
        var cmds = bag.Options.Where(o => o.Name is "--set" or "--rcheck" or "--update" or "--remove").ToList();
        if (cmds.Count != 1)
        {
            bag.Problem("recent: you must specify one of `--set', `--rcheck', `--update' or `--remove'");
            return null;
        }
        var c = cmds[0];
        uint? seconds = null, hits = null;
        if (bag.Get("--seconds") is { } s) { if (uint.TryParse(s.Arg, out var v) && v > 0) seconds = v; else bag.BadValue(s); }
        if (bag.Get("--hitcount") is { } h)
        {
            if (uint.TryParse(h.Arg, out var v) && v <= RecentTable.MaxStamps) hits = v;
            else bag.Problem($"recent: --hitcount must be at most {RecentTable.MaxStamps} (ip_pkt_list_tot)", h);
        }
        bool reap = bag.Has("--reap");
        if (reap && seconds is null) bag.Problem("recent: --reap is only valid with --seconds");
        if (c.Name is "--set" or "--remove" && (seconds is not null || hits is not null || reap))
            bag.Problem($"recent: {c.Name} does not take --seconds, --hitcount or --reap", c);
        var mask = new Ip4(uint.MaxValue);
        if (bag.Get("--mask") is { } mo && !Ip4.TryParse(mo.Arg, out mask)) bag.Error(Diagnostics.NetfilterMessages.BadAddress(mo.Location, mo.Arg));
        if (bag.Has("--rsource") && bag.Has("--rdest")) bag.Problem("recent: --rsource and --rdest cannot be combined");
        var name = bag.Get("--name")?.Arg ?? "DEFAULT";
        if (name.Length == 0 || name.Length > 200) bag.Problem("recent: name too long or empty");
        return new RecentMatch
        {
            Command = c.Name switch { "--set" => RecentCommand.Set, "--rcheck" => RecentCommand.Rcheck, "--update" => RecentCommand.Update, _ => RecentCommand.Remove },
            Negated = c.Negated, Seconds = seconds, Reap = reap, HitCount = hits, Rttl = bag.Has("--rttl"),
            Name = name, Mask = mask, Dest = bag.Has("--rdest"),
        };
    }

    public override void WriteSave(StringBuilder sb)
    {
        if (Negated) sb.Append(" !");
        sb.Append(Command switch { RecentCommand.Set => " --set", RecentCommand.Rcheck => " --rcheck", RecentCommand.Update => " --update", _ => " --remove" });
        if (Seconds is { } s) sb.Append(" --seconds ").Append(s);
        if (Reap) sb.Append(" --reap");
        if (HitCount is { } h) sb.Append(" --hitcount ").Append(h);
        if (Rttl) sb.Append(" --rttl");
        sb.Append(" --name ").Append(Name);
        sb.Append(" --mask ").Append(Mask);
        sb.Append(Dest ? " --rdest" : " --rsource");
    }

    public override MatchResult Evaluate(EvalContext ctx)
    {
        var state = ctx.State;
        if (!state.Recent.TryGetValue(Name, out var table))
            state.Recent[Name] = table = new RecentTable(Name, Mask.Value); // the first user fixes the table's mask
        uint addr = Dest ? ctx.Packet.Dst.Value : ctx.Packet.Src.Value;
        double now = state.NowSeconds;
        byte ttl = ctx.Packet.Ttl;
        bool ret = Negated;
        if (Command == RecentCommand.Set)
        {
            table.Add(addr, ttl, now);
            return MatchResult.Of(!ret);
        }
        var e = table.Find(addr);
        if (e is null) return MatchResult.Of(ret);
        if (Command == RecentCommand.Remove)
        {
            table.Remove(addr);
            return MatchResult.Of(!ret);
        }
        if (Rttl && e.Ttl != ttl) return MatchResult.Of(ret);
        if (Seconds is not null || HitCount is not null)
        {
            int hits = 0;
            foreach (var stamp in e.Stamps)
            {
                if (Seconds is { } sec && stamp < now - sec) continue;
                if (HitCount is not { } hc || hc == 0 || ++hits >= hc) { ret = !ret; break; }
            }
            if (Reap && Seconds is { } rs) table.Reap(now, rs);
        }
        else ret = !ret;
        if (Command == RecentCommand.Update && ret) RecentTable.Touch(e, ttl, now);
        return MatchResult.Of(ret);
    }
}
