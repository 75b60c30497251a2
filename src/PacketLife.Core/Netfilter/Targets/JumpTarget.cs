using PacketLife.Core.Netfilter.Evaluation;

namespace PacketLife.Core.Netfilter.Targets;

/// <summary>`-j CHAIN` (jump: pushes a return point) or `-g CHAIN` (goto: does not, so a RETURN from the chain
/// resumes after the last `-j` taken; facts §2.2).</summary>
public sealed class JumpTarget(string chain, bool isGoto) : Target
{
    public string ChainName { get; } = chain;
    public bool IsGoto { get; } = isGoto;
    public override string Name => ChainName;
    public override TargetResult Execute(EvalContext ctx, Rule rule) => new(IsGoto ? TargetAction.Goto : TargetAction.Jump, ChainName);
}
