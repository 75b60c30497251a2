using System.Collections.Immutable;
using PacketLife.Core.Net;

namespace PacketLife.Core.Tracing.Cluster;

/// <summary>How a path ends (Batfish's flow dispositions, in this domain's words).</summary>
public enum TraceDisposition
{
    /// <summary>The destination socket answered and the answer reached the client.</summary>
    Answered,
    /// <summary>Nobody listens on the port: the pod's (or node's) kernel answered RST (tcp_v4_send_reset).</summary>
    Refused,
    /// <summary>A REJECT rule answered (ICMP unreachable or TCP RST from netfilter).</summary>
    Rejected,
    /// <summary>Dropped with no answer (a DROP rule, no healthy backend, the bridge without hairpin, no route).</summary>
    Dropped,
    /// <summary>The answer was sent but the client discarded it (it came back from an address the client never talked to).</summary>
    ReplyLost,
    /// <summary>An unsupported rule was reached: the rest of the path is not known.</summary>
    Uncertain,
}

/// <summary>One thing that acted on the packet at a hop.</summary>
public abstract record TraceStep(string Kind);

/// <summary>A rule visit: `table:chain:rule#`, the rule's exact text and what happened (kernel TRACE terms).</summary>
public sealed record RuleStep(string Table, string Chain, int Index, string? Rule, string Action, string? Detail) : TraceStep("rule")
{
    public string Position => $"{Table}:{Chain}:{Index}";
}

/// <summary>An address translation the conntrack NAT core applied (nf_nat_core.c), with the rule that asked for it.</summary>
public sealed record NatStep(string Nat, string Before, string After, string? Rule, string Why) : TraceStep("nat");

/// <summary>A routing decision: the route used (`ip route` syntax), the output interface and gateway.</summary>
public sealed record RouteStep(string Table, string Route, string? OutInterface, string? Gateway, string Why) : TraceStep("route");

/// <summary>The conntrack entry created or matched, as `conntrack -L` prints it.</summary>
public sealed record ConntrackStep(string Entry, bool Created, string Direction) : TraceStep("conntrack");

/// <summary>The Azure LB's decision: which rule, which backend, why (hash, health, floating IP).</summary>
public sealed record LoadBalancerStep(string Rule, string Frontend, string? Backend, string Why) : TraceStep("loadbalancer");

/// <summary>A plain note (bridge forwarding, socket lookup, VNet delivery).</summary>
public sealed record NoteStep(string Text) : TraceStep("note");

/// <summary>One place the packet passed: host and interface, the packet as it came and as it left.</summary>
public sealed record TraceHop(string Host, string? InInterface, string? OutInterface, Packet Before, Packet After, ImmutableArray<TraceStep> Steps);

/// <summary>Why something happened, tied to the rule and the Kubernetes object that caused it.</summary>
public sealed record Explanation(string Code, string Message, string? Rule = null, string? KubernetesObject = null);

/// <summary>One way the packet can go, with its exact probability (LB backend × statistic branches).</summary>
public sealed record TracePath(
    double Probability,
    ImmutableArray<TraceHop> Hops,
    ImmutableArray<TraceHop> ReplyHops,
    TraceDisposition Disposition,
    string DispositionDetail,
    string? AnsweredBy,
    bool Masqueraded,
    ImmutableArray<Explanation> Explanations);

/// <summary>The whole answer: the packet asked about and every path (explain) or the one sampled.</summary>
public sealed record ClusterTrace(string From, string To, Packet Packet, ImmutableArray<TracePath> Paths)
{
    /// <summary>Explanations of all paths, each code+rule once.</summary>
    public ImmutableArray<Explanation> Explanations => [.. Paths.SelectMany(p => p.Explanations).Distinct()];
}
