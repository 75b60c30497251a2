using PacketLife.Core.Netfilter.Evaluation;

namespace PacketLife.Core.Netfilter.Targets;

/// <summary>`-j TRACE` (iptables-extensions(8) "TRACE"): marks the packet for tracing; non-terminating. Legacy allows it
/// only in the raw table (facts §2.3); nft accepts it anywhere, so other tables get no error here.</summary>
public sealed class TraceTarget : Target
{
    public static readonly TraceTarget Instance = new();
    public static readonly TargetModule Spec = new("TRACE", [], _ => Instance);
    public override string Name => "TRACE";

    public override TargetResult Execute(EvalContext ctx, Rule rule)
    {
        ctx.Requests.Add(new TraceRequest(rule.Text ?? rule.Canonical));
        return new(TargetAction.Continue);
    }
}
