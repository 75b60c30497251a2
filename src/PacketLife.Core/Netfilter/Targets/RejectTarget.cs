using System.Text;
using PacketLife.Core.Netfilter.Evaluation;

namespace PacketLife.Core.Netfilter.Targets;

/// <summary>`-j REJECT [--reject-with type]` (iptables-extensions(8) "REJECT"): drop and answer with an ICMP error or
/// a TCP RST. Only in the filter table, from INPUT/FORWARD/OUTPUT (facts §2.4). The default is
/// icmp-port-unreachable and iptables-save always prints `--reject-with`.</summary>
public sealed class RejectTarget(string rejectWith) : Target
{
    public string RejectWith { get; } = rejectWith;
    public override string Name => "REJECT";

    // libipt_REJECT.c reject_table: full name, short alias.
    static readonly (string Name, string Alias)[] Types =
    [
        ("icmp-net-unreachable", "net-unreach"), ("icmp-host-unreachable", "host-unreach"),
        ("icmp-proto-unreachable", "proto-unreach"), ("icmp-port-unreachable", "port-unreach"),
        ("icmp-net-prohibited", "net-prohib"), ("icmp-host-prohibited", "host-prohib"),
        ("tcp-reset", "tcp-rst"), ("icmp-admin-prohibited", "admin-prohib"),
    ];

    public static readonly TargetModule Spec = new("REJECT", [new("--reject-with", 1)], bag =>
    {
        var o = bag.Get("--reject-with");
        if (o is null) return new RejectTarget("icmp-port-unreachable");
        foreach (var (name, alias) in Types)
            if (o.Arg == name || o.Arg == alias) return new RejectTarget(name);
        bag.Problem($"unknown reject type \"{o.Arg}\"", o, string.Join(", ", Types.Select(t => t.Name)));
        return null;
    });

    static readonly string[] Tables = ["filter"];
    public override IReadOnlyList<string> AllowedTables => Tables;
    static readonly NetfilterHook[] Hooks = [NetfilterHook.Input, NetfilterHook.Forward, NetfilterHook.Output];
    public override IReadOnlyList<NetfilterHook> AllowedHooks => Hooks;

    public override void WriteSave(StringBuilder sb) => sb.Append(" --reject-with ").Append(RejectWith);

    public override TargetResult Execute(EvalContext ctx, Rule rule) => new(TargetAction.Reject, RejectWith);
}
