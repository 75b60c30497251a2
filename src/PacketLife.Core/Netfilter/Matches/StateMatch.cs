using System.Text;
using PacketLife.Core.Netfilter.Evaluation;

namespace PacketLife.Core.Netfilter.Matches;

/// <summary>`-m state [!] --state INVALID,NEW,RELATED,ESTABLISHED,UNTRACKED` (iptables-extensions(8) "state"): the
/// conntrack state without the SNAT/DNAT virtual states; no entry means INVALID. Saved in state bit order.</summary>
public sealed class StateMatch : Match
{
    public CtState States { get; init; }
    public bool Negated { get; init; }
    public override string Module => "state";

    public static readonly MatchModule Spec = new("state", [new("--state", 1, true)], Build);

    static Match? Build(OptionBag bag)
    {
        var o = bag.Get("--state");
        if (o is null) { bag.Problem("state: option \"--state\" must be specified"); return null; }
        if (!ConntrackMatch.TryStates(o.Arg, false, out var st)) { bag.Problem($"Bad state \"{o.Arg}\"", o, "INVALID, NEW, RELATED, ESTABLISHED, UNTRACKED"); return null; }
        return new StateMatch { States = st, Negated = o.Negated };
    }

    public override void WriteSave(StringBuilder sb)
    {
        sb.Append(Negated ? " ! --state " : " --state ");
        ConntrackMatch.PrintStates(sb, States);
    }

    public override MatchResult Evaluate(EvalContext ctx)
    {
        var bits = (ctx.Input.Conntrack?.State ?? CtState.Invalid) & ~(CtState.Snat | CtState.Dnat);
        return MatchResult.Of(((States & bits) != 0) != Negated);
    }
}
