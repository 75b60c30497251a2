using System.Text;
using PacketLife.Core.Netfilter.Evaluation;
using PacketLife.Core.Netfilter.Matches;

namespace PacketLife.Core.Netfilter.Targets;

/// <summary>`-j REDIRECT [--to-ports p[-q]] [--random]` (iptables-extensions(8) "REDIRECT"): DNAT to the incoming
/// interface's first address (127.0.0.1 in OUTPUT), done by the caller (facts §4.7); ends the nat table. Only nat
/// PREROUTING/OUTPUT.</summary>
public sealed class RedirectTarget(PortRange? ports, NatFlags flags) : Target
{
    public PortRange? Ports { get; } = ports;
    public NatFlags Flags { get; } = flags;
    public override string Name => "REDIRECT";

    public static readonly TargetModule Spec = new("REDIRECT", [new("--to-ports", 1), new("--random", 0)], bag =>
    {
        PortRange? ports = null;
        if (bag.Get("--to-ports") is { } p)
        {
            if (!Matches.Ports.TryParseRange(p.Arg, out var r, '-')) { bag.Problem($"Port \"{p.Arg}\" not valid", p); return null; }
            ports = r;
        }
        return new RedirectTarget(ports, bag.Has("--random") ? NatFlags.Random : 0);
    });

    static readonly string[] Tables = ["nat"];
    public override IReadOnlyList<string> AllowedTables => Tables;
    static readonly NetfilterHook[] Hooks = [NetfilterHook.Prerouting, NetfilterHook.Output];
    public override IReadOnlyList<NetfilterHook> AllowedHooks => Hooks;

    public override void WriteSave(StringBuilder sb)
    {
        if (Ports is { } p) sb.Append(" --to-ports ").Append(p.ToNatString());
        NatTargets.WriteFlags(sb, Flags);
    }

    public override TargetResult Execute(EvalContext ctx, Rule rule)
    {
        ctx.Requests.Add(new NatRequest(NatKind.Redirect, null, Ports, Flags, rule.Text ?? rule.Canonical));
        return new(TargetAction.Nat, "REDIRECT");
    }
}
