using System.Text;
using PacketLife.Core.Netfilter.Evaluation;
using PacketLife.Core.Netfilter.Text;

namespace PacketLife.Core.Netfilter.Targets;

/// <summary>`-j NFLOG` (iptables-extensions(8) "NFLOG"): non-terminating; sends the packet to nfnetlink_log. Save order
/// (libxt_NFLOG.c): prefix, group (when not 0), size or range, threshold (when not 1).</summary>
public sealed class NflogTarget : Target
{
    public string Prefix { get; init; } = "";
    public ushort Group { get; init; }
    public uint? Size { get; init; }
    public uint? Range { get; init; }
    public ushort Threshold { get; init; } = 1;
    public override string Name => "NFLOG";

    public static readonly TargetModule Spec = new("NFLOG",
        [new("--nflog-group", 1), new("--nflog-prefix", 1), new("--nflog-range", 1), new("--nflog-size", 1), new("--nflog-threshold", 1)], bag =>
    {
        ushort group = 0, threshold = 1;
        uint? size = null, range = null;
        if (bag.Get("--nflog-group") is { } g && !ushort.TryParse(g.Arg, out group)) { bag.BadValue(g); return null; }
        if (bag.Get("--nflog-threshold") is { } t && !ushort.TryParse(t.Arg, out threshold)) { bag.BadValue(t); return null; }
        if (bag.Get("--nflog-size") is { } s) { if (uint.TryParse(s.Arg, out var v)) size = v; else { bag.BadValue(s); return null; } }
        if (bag.Get("--nflog-range") is { } r) { if (uint.TryParse(r.Arg, out var v)) range = v; else { bag.BadValue(r); return null; } }
        var prefix = bag.Get("--nflog-prefix")?.Arg ?? "";
        if (prefix.Length > 63) { bag.Problem("Maximum prefix length 64 for --nflog-prefix", bag.Get("--nflog-prefix")); return null; }
        return new NflogTarget { Prefix = prefix, Group = group, Size = size, Range = range, Threshold = threshold };
    });

    public override void WriteSave(StringBuilder sb)
    {
        if (Prefix.Length > 0) sb.Append(" --nflog-prefix").AppendSaveString(Prefix);
        if (Group != 0) sb.Append(" --nflog-group ").Append(Group);
        if (Size is { } s) sb.Append(" --nflog-size ").Append(s);
        else if (Range is { } r && r != 0) sb.Append(" --nflog-range ").Append(r);
        if (Threshold != 1) sb.Append(" --nflog-threshold ").Append(Threshold);
    }

    public override TargetResult Execute(EvalContext ctx, Rule rule)
    {
        ctx.Requests.Add(new LogRequest("NFLOG", Prefix, rule.Text ?? rule.Canonical));
        return new(TargetAction.Continue);
    }
}
