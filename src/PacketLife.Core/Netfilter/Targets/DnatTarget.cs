using System.Text;
using PacketLife.Core.Netfilter.Evaluation;
using PacketLife.Core.Netfilter.Matches;

namespace PacketLife.Core.Netfilter.Targets;

/// <summary>`-j DNAT --to-destination [ip[-ip]][:port[-port]] [--random] [--persistent]` (iptables-extensions(8)
/// "DNAT"): asks for a destination NAT binding (the address/port choice of nf_nat_core.c belongs to conntrack) and
/// ends the nat table. Only nat PREROUTING/OUTPUT (facts §2.5).</summary>
public sealed class DnatTarget(NatRange range, NatFlags flags) : Target
{
    public NatRange Range { get; } = range;
    public NatFlags Flags { get; } = flags;
    public override string Name => "DNAT";

    public static readonly TargetModule Spec = new("DNAT", [new("--to-destination", 1, Aliases: ["--to"]), new("--random", 0), new("--persistent", 0)], bag =>
        NatTargets.Parse(bag, "--to-destination", true, (r, f) => new DnatTarget(r!.Value, f)));

    static readonly string[] Tables = ["nat"];
    public override IReadOnlyList<string> AllowedTables => Tables;
    static readonly NetfilterHook[] Hooks = [NetfilterHook.Prerouting, NetfilterHook.Output];
    public override IReadOnlyList<NetfilterHook> AllowedHooks => Hooks;

    public override void WriteSave(StringBuilder sb)
    {
        sb.Append(" --to-destination ").Append(Range.ToString());
        NatTargets.WriteFlags(sb, Flags);
    }

    public override TargetResult Execute(EvalContext ctx, Rule rule)
    {
        ctx.Requests.Add(new NatRequest(NatKind.Dnat, Range.Addresses, Range.Ports, Flags, rule.Text ?? rule.Canonical));
        return new(TargetAction.Nat, "DNAT " + Range);
    }
}

internal static class NatTargets
{
    public static Target? Parse(OptionBag bag, string toOption, bool required, Func<NatRange?, NatFlags, Target> make)
    {
        NatRange? range = null;
        var to = bag.Get(toOption);
        if (to is not null)
        {
            if (!NatRange.TryParse(to.Arg, out var r, out var err)) { bag.Problem(err!, to); return null; }
            range = r;
        }
        else if (required) { bag.Problem($"{bag.Module}: option \"{toOption}\" must be specified"); return null; }
        var flags = NatFlags.None;
        if (bag.Has("--random")) flags |= NatFlags.Random;
        if (bag.Has("--random-fully")) flags |= NatFlags.RandomFully;
        if (bag.Has("--persistent")) flags |= NatFlags.Persistent;
        return make(range, flags);
    }

    public static void WriteFlags(StringBuilder sb, NatFlags f)
    {
        if (f.HasFlag(NatFlags.Random)) sb.Append(" --random");
        if (f.HasFlag(NatFlags.RandomFully)) sb.Append(" --random-fully");
        if (f.HasFlag(NatFlags.Persistent)) sb.Append(" --persistent");
    }
}
