using System.Text;
using PacketLife.Core.Netfilter.Evaluation;

namespace PacketLife.Core.Netfilter.Targets;

/// <summary>`-j TCPMSS --set-mss N | --clamp-mss-to-pmtu` (iptables-extensions(8) "TCPMSS"): rewrites the MSS option of
/// SYN packets; does not change the 5-tuple, so it is reported as a header rewrite and the walk continues.</summary>
public sealed class TcpmssTarget(ushort? mss) : Target
{
    /// <summary>null = clamp to path MTU.</summary>
    public ushort? Mss { get; } = mss;
    public override string Name => "TCPMSS";

    public static readonly TargetModule Spec = new("TCPMSS", [new("--set-mss", 1), new("--clamp-mss-to-pmtu", 0)], bag =>
    {
        var s = bag.Get("--set-mss");
        bool clamp = bag.Has("--clamp-mss-to-pmtu");
        if ((s is null) == !clamp) { bag.Problem("TCPMSS target: exactly one of --set-mss or --clamp-mss-to-pmtu required"); return null; }
        if (s is null) return new TcpmssTarget(null);
        if (!ushort.TryParse(s.Arg, out var v) || v == ushort.MaxValue) { bag.BadValue(s); return null; }
        return new TcpmssTarget(v);
    });

    public override void WriteSave(StringBuilder sb)
    {
        if (Mss is { } m) sb.Append(" --set-mss ").Append(m);
        else sb.Append(" --clamp-mss-to-pmtu");
    }

    public override TargetResult Execute(EvalContext ctx, Rule rule)
    {
        ctx.Requests.Add(new HeaderRewriteRequest(Mss is { } m ? $"TCP MSS set to {m}" : "TCP MSS clamped to path MTU", rule.Text ?? rule.Canonical));
        return new(TargetAction.Continue);
    }
}
