using System.Text;
using PacketLife.Core.Netfilter.Evaluation;
using PacketLife.Core.Netfilter.Text;

namespace PacketLife.Core.Netfilter.Targets;

/// <summary>`-j LOG` (iptables-extensions(8) "LOG"): non-terminating; logs through nf_log. Save prints the prefix
/// (quoted by xtables_save_string), the level as a number when it is not the default 4 (warning), then the flags.</summary>
public sealed class LogTarget : Target
{
    public string Prefix { get; init; } = "";
    public int Level { get; init; } = 4;
    public bool TcpSequence { get; init; }
    public bool TcpOptions { get; init; }
    public bool IpOptions { get; init; }
    public bool Uid { get; init; }
    public bool MacDecode { get; init; }
    public override string Name => "LOG";

    static readonly string[] Levels = ["emerg", "alert", "crit", "error", "warning", "notice", "info", "debug"];

    public static readonly TargetModule Spec = new("LOG",
    [
        new("--log-prefix", 1), new("--log-level", 1), new("--log-tcp-sequence", 0), new("--log-tcp-options", 0),
        new("--log-ip-options", 0), new("--log-uid", 0), new("--log-macdecode", 0),
    ], bag =>
    {
        int level = 4;
        if (bag.Get("--log-level") is { } l)
        {
            int k = Array.IndexOf(Levels, l.Arg);
            if (l.Arg == "panic") k = 0; else if (l.Arg == "err") k = 3; else if (l.Arg == "warn") k = 4;
            if (k >= 0) level = k;
            else if (!int.TryParse(l.Arg, out level) || level is < 0 or > 7) { bag.Problem($"log-level `{l.Arg}' unknown", l); return null; }
        }
        var prefix = bag.Get("--log-prefix")?.Arg ?? "";
        if (prefix.Length > 29) { bag.Problem("Maximum prefix length 29 for --log-prefix", bag.Get("--log-prefix")); return null; }
        return new LogTarget
        {
            Prefix = prefix, Level = level, TcpSequence = bag.Has("--log-tcp-sequence"), TcpOptions = bag.Has("--log-tcp-options"),
            IpOptions = bag.Has("--log-ip-options"), Uid = bag.Has("--log-uid"), MacDecode = bag.Has("--log-macdecode"),
        };
    });

    public override void WriteSave(StringBuilder sb)
    {
        if (Prefix.Length > 0) sb.Append(" --log-prefix").AppendSaveString(Prefix);
        if (Level != 4) sb.Append(" --log-level ").Append(Level);
        if (TcpSequence) sb.Append(" --log-tcp-sequence");
        if (TcpOptions) sb.Append(" --log-tcp-options");
        if (IpOptions) sb.Append(" --log-ip-options");
        if (Uid) sb.Append(" --log-uid");
        if (MacDecode) sb.Append(" --log-macdecode");
    }

    public override TargetResult Execute(EvalContext ctx, Rule rule)
    {
        ctx.Requests.Add(new LogRequest("LOG", Prefix, rule.Text ?? rule.Canonical));
        return new(TargetAction.Continue);
    }
}
