using System.Text;
using PacketLife.Core.Netfilter.Evaluation;
using PacketLife.Core.Netfilter.Matches;

namespace PacketLife.Core.Netfilter.Targets;

/// <summary>A target PacketLife does not model (CLASSIFY, NFQUEUE, TPROXY, ...), or one with invalid options: kept as
/// written; reaching it makes the trace uncertain.</summary>
public sealed class UnknownTarget(string name, string[] args) : Target
{
    public override string Name { get; } = name;
    public IReadOnlyList<string> Args { get; } = args;
    public bool Invalid { get; init; }

    public override void WriteSave(StringBuilder sb) => UnknownArgs.Write(sb, Args);

    public override TargetResult Execute(EvalContext ctx, Rule rule) => new(TargetAction.Uncertain, UnsupportedReason);

    public override string UnsupportedReason => Invalid ? $"target \"{Name}\" has invalid options" : $"target \"{Name}\" is not modelled";
}
