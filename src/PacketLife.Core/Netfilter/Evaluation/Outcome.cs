using System.Collections.Immutable;
using PacketLife.Core.Net;

namespace PacketLife.Core.Netfilter.Evaluation;

public enum VerdictKind
{
    /// <summary>ACCEPT (rule, policy, or a NAT target ending the nat table): the next table/hook runs.</summary>
    Accept,
    /// <summary>DROP: nothing else runs.</summary>
    Drop,
    /// <summary>REJECT: dropped and answered (see <see cref="TableVerdict.RejectWith"/>).</summary>
    Reject,
    /// <summary>An unsupported rule was reached; the walk stopped there (see <see cref="EvaluationOutcome.Uncertain"/>).</summary>
    Uncertain,
}

public sealed record TableVerdict(VerdictKind Kind, string? RejectWith = null)
{
    public static readonly TableVerdict Accept = new(VerdictKind.Accept);
    public static readonly TableVerdict Drop = new(VerdictKind.Drop);
    public static readonly TableVerdict Uncertain = new(VerdictKind.Uncertain);
    public override string ToString() => Kind switch
    {
        VerdictKind.Reject => "REJECT " + RejectWith,
        _ => Kind.ToString().ToUpperInvariant(),
    };
}

/// <summary>What happened at one step, in the kernel TRACE's terms (netfilter-conntrack.md §2.9).</summary>
public enum VisitAction
{
    /// <summary>The rule matched and its target does not end the chain (MARK, LOG, no target, ...).</summary>
    Matched,
    Jump,
    Goto,
    /// <summary>An explicit `-j RETURN`, or the end of a user chain (`return:N`, N = rules + 1).</summary>
    Return,
    /// <summary>The end of the built-in chain (`policy:N`), the policy applies.</summary>
    Policy,
    /// <summary>A rule whose target ends the table: ACCEPT, DROP, REJECT or a NAT target.</summary>
    Verdict,
    /// <summary>An unsupported rule (or option) was reached: the walk stops here.</summary>
    Uncertain,
    /// <summary>`statistic` decided this branch (explain mode records which way it went).</summary>
    Branch,
}

/// <summary>One line of the walk: table:chain:index (1-based, iptables-save order), the rule text as read, and what
/// happened (<paramref name="Detail"/>: the target, the policy, the branch probability or the uncertainty reason).</summary>
public sealed record RuleVisit(string Table, string Chain, int Index, string? Rule, VisitAction Action, string? Detail = null)
{
    public override string ToString() => $"{Table}:{Chain}:{Index} {Action}{(Detail is null ? "" : " " + Detail)}{(Rule is null ? "" : "  " + Rule)}";
}

/// <summary>One possible result of walking a table for a packet: its exact probability, the verdict, the packet after
/// (mark changes), the requests for the caller (NAT, CONNMARK, CT, TRACE, LOG), the rules visited, and why it is
/// uncertain if it is.</summary>
public sealed record EvaluationOutcome(
    double Probability,
    TableVerdict Verdict,
    Packet Packet,
    ImmutableArray<EvalRequest> Requests,
    ImmutableArray<RuleVisit> Visits,
    ImmutableArray<string> Uncertain) : IWeighted
{
    public bool IsUncertain => !Uncertain.IsDefaultOrEmpty;

    /// <summary>The random branches this outcome took, in walk order (explain mode sets it): pass them to
    /// <see cref="TableEvaluator.Replay"/> to walk the same branch again against live state.</summary>
    public ImmutableArray<bool> Branches { get; init; } = [];

    /// <summary>The rule whose DROP or REJECT ended the walk (null for a policy, or any other verdict), whether or not
    /// the visits were recorded: a caller that walks without recording still names the rule that dropped.</summary>
    public RuleVisit? Final { get; init; }
    public NatRequest? Nat
    {
        get
        {
            foreach (var r in Requests) if (r is NatRequest n) return n;
            return null;
        }
    }
}
