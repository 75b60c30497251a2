using PacketLife.Core.Netfilter.Evaluation;

namespace PacketLife.Core.Netfilter.Targets;

/// <summary>The standard verdicts `-j ACCEPT`, `-j DROP`, `-j RETURN` (iptables(8) TARGETS). ACCEPT ends this
/// table for this hook, DROP ends everything, RETURN resumes the calling chain (or applies the built-in chain's
/// policy).</summary>
public sealed class VerdictTarget : Target
{
    public static readonly VerdictTarget Accept = new("ACCEPT", TargetAction.Accept);
    public static readonly VerdictTarget Drop = new("DROP", TargetAction.Drop);
    public static readonly VerdictTarget Return = new("RETURN", TargetAction.Return);

    readonly TargetAction action;
    VerdictTarget(string name, TargetAction action) { Name = name; this.action = action; }

    public override string Name { get; }
    public override TargetResult Execute(EvalContext ctx, Rule rule) => new(action);

    public static VerdictTarget? ByName(string name) => name switch
    {
        "ACCEPT" => Accept,
        "DROP" => Drop,
        "RETURN" => Return,
        _ => null,
    };
}
