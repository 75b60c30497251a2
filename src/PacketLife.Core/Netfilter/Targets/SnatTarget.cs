using System.Text;
using PacketLife.Core.Netfilter.Evaluation;

namespace PacketLife.Core.Netfilter.Targets;

/// <summary>`-j SNAT --to-source [ip[-ip]][:port[-port]] [--random] [--random-fully] [--persistent]`
/// (iptables-extensions(8) "SNAT"): asks for a source NAT binding and ends the nat table. Only nat
/// POSTROUTING/INPUT (facts §4.5).</summary>
public sealed class SnatTarget(NatRange range, NatFlags flags) : Target
{
    public NatRange Range { get; } = range;
    public NatFlags Flags { get; } = flags;
    public override string Name => "SNAT";

    public static readonly TargetModule Spec = new("SNAT",
        [new("--to-source", 1, Aliases: ["--to"]), new("--random", 0), new("--random-fully", 0), new("--persistent", 0)],
        bag => NatTargets.Parse(bag, "--to-source", true, (r, f) => new SnatTarget(r!.Value, f)));

    static readonly string[] Tables = ["nat"];
    public override IReadOnlyList<string> AllowedTables => Tables;
    static readonly NetfilterHook[] Hooks = [NetfilterHook.Postrouting, NetfilterHook.Input];
    public override IReadOnlyList<NetfilterHook> AllowedHooks => Hooks;

    public override void WriteSave(StringBuilder sb)
    {
        sb.Append(" --to-source ").Append(Range.ToString());
        NatTargets.WriteFlags(sb, Flags);
    }

    public override TargetResult Execute(EvalContext ctx, Rule rule)
    {
        ctx.Requests.Add(new NatRequest(NatKind.Snat, Range.Addresses, Range.Ports, Flags, rule.Text ?? rule.Canonical));
        return new(TargetAction.Nat, "SNAT " + Range);
    }
}
