using System.Text;
using PacketLife.Core.Netfilter.Evaluation;

namespace PacketLife.Core.Netfilter.Targets;

/// <summary>`-j CHECKSUM --checksum-fill` (iptables-extensions(8) "CHECKSUM"): fills a missing checksum; mangle only,
/// non-terminating.</summary>
public sealed class ChecksumTarget : Target
{
    public static readonly ChecksumTarget Instance = new();
    public static readonly TargetModule Spec = new("CHECKSUM", [new("--checksum-fill", 0)], bag =>
    {
        if (!bag.Has("--checksum-fill")) { bag.Problem("CHECKSUM target: Parameter --checksum-fill is required"); return null; }
        return Instance;
    });
    public override string Name => "CHECKSUM";
    static readonly string[] Tables = ["mangle"];
    public override IReadOnlyList<string> AllowedTables => Tables;
    public override void WriteSave(StringBuilder sb) => sb.Append(" --checksum-fill");

    public override TargetResult Execute(EvalContext ctx, Rule rule)
    {
        ctx.Requests.Add(new HeaderRewriteRequest("checksum filled", rule.Text ?? rule.Canonical));
        return new(TargetAction.Continue);
    }
}
