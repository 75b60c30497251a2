using System.Text;
using PacketLife.Core.Netfilter.Evaluation;
using PacketLife.Core.Netfilter.Matches;

namespace PacketLife.Core.Netfilter.Targets;

/// <summary>`-j MASQUERADE [--to-ports p[-q]] [--random] [--random-fully]` (iptables-extensions(8) "MASQUERADE"):
/// SNAT to the out interface's address chosen per connection (facts §4.6, done by the caller); ends the nat table.
/// Only nat POSTROUTING.</summary>
public sealed class MasqueradeTarget(PortRange? ports, NatFlags flags) : Target
{
    public PortRange? Ports { get; } = ports;
    public NatFlags Flags { get; } = flags;
    public override string Name => "MASQUERADE";

    public static readonly TargetModule Spec = new("MASQUERADE", [new("--to-ports", 1), new("--random", 0), new("--random-fully", 0)], bag =>
    {
        PortRange? ports = null;
        if (bag.Get("--to-ports") is { } p)
        {
            if (!Matches.Ports.TryParseRange(p.Arg, out var r, '-')) { bag.Problem($"Port \"{p.Arg}\" not valid", p); return null; }
            ports = r;
        }
        var f = (bag.Has("--random") ? NatFlags.Random : 0) | (bag.Has("--random-fully") ? NatFlags.RandomFully : 0);
        return new MasqueradeTarget(ports, f);
    });

    static readonly string[] Tables = ["nat"];
    public override IReadOnlyList<string> AllowedTables => Tables;
    static readonly NetfilterHook[] Hooks = [NetfilterHook.Postrouting];
    public override IReadOnlyList<NetfilterHook> AllowedHooks => Hooks;

    public override void WriteSave(StringBuilder sb)
    {
        if (Ports is { } p) sb.Append(" --to-ports ").Append(p.ToNatString());
        NatTargets.WriteFlags(sb, Flags);
    }

    public override TargetResult Execute(EvalContext ctx, Rule rule)
    {
        ctx.Requests.Add(new NatRequest(NatKind.Masquerade, null, Ports, Flags, rule.Text ?? rule.Canonical));
        return new(TargetAction.Nat, "MASQUERADE");
    }
}
