using System.Text;
using PacketLife.Core.Netfilter.Evaluation;

namespace PacketLife.Core.Netfilter.Targets;

/// <summary>`-j CT --notrack | --zone N | --zone-orig N | --zone-reply N` and its alias `-j NOTRACK`
/// (iptables-extensions(8) "CT"; facts §4.8). Raw table only. Helpers, events and timeouts are read but not
/// modelled. Non-terminating.</summary>
public sealed class CtTarget : Target
{
    public bool NotrackAlias { get; init; }
    public bool Notrack { get; init; }
    public ushort? Zone { get; init; }
    public bool ZoneOrig { get; init; }
    public bool ZoneReply { get; init; }
    public override string Name => NotrackAlias ? "NOTRACK" : "CT";

    public static readonly TargetModule Spec = new("CT",
    [
        new("--notrack", 0), new("--zone", 1), new("--zone-orig", 1), new("--zone-reply", 1), new("--helper", 1),
        new("--ctevents", 1), new("--expevents", 1), new("--timeout", 1),
    ], bag =>
    {
        foreach (var o in bag.Options.Where(o => o.Name is "--helper" or "--ctevents" or "--expevents" or "--timeout")) bag.NotModelled(o);
        var zones = bag.Options.Where(o => o.Name.StartsWith("--zone", StringComparison.Ordinal)).ToList();
        if (zones.Count > 1) { bag.Problem("CT: only one of --zone, --zone-orig, --zone-reply"); return null; }
        ushort? zone = null;
        if (zones.Count == 1)
        {
            if (!ushort.TryParse(zones[0].Arg, out var z)) { bag.BadValue(zones[0], $"CT: Bad value for \"{zones[0].Name}\" option: \"{zones[0].Arg}\" (mark-based zones are not modelled)"); return null; }
            zone = z;
        }
        return new CtTarget
        {
            Notrack = bag.Has("--notrack"), Zone = zone,
            ZoneOrig = zones.Count == 1 && zones[0].Name == "--zone-orig", ZoneReply = zones.Count == 1 && zones[0].Name == "--zone-reply",
            Unmodelled = bag.Unmodelled.Count > 0,
        };
    });

    public static readonly TargetModule NotrackSpec = new("NOTRACK", [], _ => new CtTarget { NotrackAlias = true, Notrack = true });

    bool Unmodelled { get; init; }

    static readonly string[] Tables = ["raw"];
    public override IReadOnlyList<string> AllowedTables => Tables;

    public override void WriteSave(StringBuilder sb)
    {
        if (NotrackAlias) return;
        if (Notrack) sb.Append(" --notrack");
        if (Zone is { } z) sb.Append(ZoneOrig ? " --zone-orig " : ZoneReply ? " --zone-reply " : " --zone ").Append(z);
    }

    public override TargetResult Execute(EvalContext ctx, Rule rule)
    {
        var text = rule.Text ?? rule.Canonical;
        if (Notrack) ctx.Requests.Add(new NoTrackRequest(text));
        if (Zone is { } z) ctx.Requests.Add(new CtZoneRequest(z, !ZoneReply, !ZoneOrig, text));
        if (Unmodelled) return new(TargetAction.Uncertain, "CT helper/events/timeout options are not modelled");
        return new(TargetAction.Continue);
    }
}
