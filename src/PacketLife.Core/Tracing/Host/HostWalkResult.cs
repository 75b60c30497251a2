using System.Collections.Immutable;
using PacketLife.Core.Conntrack;
using PacketLife.Core.Conntrack.Nat;
using PacketLife.Core.Net;
using PacketLife.Core.Netfilter.Evaluation;

namespace PacketLife.Core.Tracing.Host;

/// <summary>What finally happened to the packet on this host.</summary>
public enum HostDisposition
{
    /// <summary>Accepted by INPUT and handed to a local socket (`local`).</summary>
    Local,
    /// <summary>Forwarded (routed, or bridged by br_netfilter) out of an interface (`forward`).</summary>
    Forward,
    /// <summary>A locally generated packet left through an interface (`output`).</summary>
    Output,
    /// <summary>Dropped: by a rule, a policy, routing, rp_filter, TTL, the bridge, or a conntrack clash (`drop`).</summary>
    Drop,
    /// <summary>Dropped by REJECT, which answered with <see cref="HostWalkOutcome.Reply"/> (`reject`).</summary>
    Reject,
    /// <summary>The walk reached something not modelled; see <see cref="HostWalkOutcome.Uncertain"/>.</summary>
    Uncertain,
}

public enum HostStepKind
{
    /// <summary>A rule visit: `table:chain:index`, the rule text, what it did (<see cref="HostStep.Rule"/>).</summary>
    Rule,
    /// <summary>The table's overall verdict at a hook.</summary>
    Verdict,
    /// <summary>The conntrack hook: entry looked up, created, or the packet is untracked/invalid.</summary>
    Conntrack,
    /// <summary>A NAT binding or the NAT rewrite of the packet (before/after).</summary>
    Nat,
    /// <summary>A routing decision or re-route.</summary>
    Route,
    /// <summary>TTL check and decrement on forward.</summary>
    Ttl,
    /// <summary>A kernel check outside the rules: rp_filter, martians, ip_forward, hairpin.</summary>
    Check,
    /// <summary>A mark or connmark change the caller stores.</summary>
    Mark,
    /// <summary>Conntrack confirm at the end of POSTROUTING / INPUT.</summary>
    Confirm,
    /// <summary>A packet the host sends because of this one (REJECT, ICMP error), with its own walk after it.</summary>
    Reply,
}

/// <summary>One line of a host walk. <see cref="Hook"/> is the netfilter hook (PREROUTING ... POSTROUTING) or `routing`;
/// <see cref="Before"/>/<see cref="After"/> are set when the packet was rewritten.</summary>
public sealed record HostStep(HostStepKind Kind, string Hook, string Text, RuleVisit? Rule = null, Packet? Before = null, Packet? After = null)
{
    /// <summary>A rule visit whose <see cref="Text"/> is the visit's own line, written when first read: most walks'
    /// steps are turned into trace steps from <see cref="Rule"/> and never need it (a `trace --all` on a large cluster
    /// records hundreds of thousands of visits).</summary>
    internal HostStep(HostStepKind kind, string hook, RuleVisit rule) : this(kind, hook, (string)null!, rule) { }

    /// <summary>A step written as its whole line, `hook: text` (see <see cref="Line"/>); its <see cref="Text"/> is cut
    /// from the line when first read.</summary>
    internal HostStep(HostStepKind kind, string hook, string line, Packet? before, Packet? after, bool lineWithHook)
        : this(kind, hook, (string)null!, null, before, after) => this.line = lineWithHook ? line : throw new ArgumentException("a line with its hook", nameof(lineWithHook));

    string? line;

    /// <summary>What happened, in words (for a rule visit: `table:chain:index action detail  rule`).</summary>
    public string Text
    {
        get => field ??= line is not null ? line[(Hook.Length + 2)..] : Rule!.ToString();
        init { field = value; line = null; }
    } = Text;

    /// <summary>`hook: text`, as a cluster trace notes the step (made once, when the walker wrote the step that way).</summary>
    internal string Line => line ??= $"{Hook}: {Text}";

    // Equal by what they say, whether or not the text of a rule visit has been written yet.
    public bool Equals(HostStep? other) =>
        other is not null && Kind == other.Kind && Hook == other.Hook && Text == other.Text && Equals(Rule, other.Rule)
        && Equals(Before, other.Before) && Equals(After, other.After);

    public override int GetHashCode() => HashCode.Combine(Kind, Hook, Text, Rule, Before, After);

    public override string ToString() => Rule is { } r ? r.ToString() : $"{Hook}: {Text}";
}

/// <summary>A NAT port the kernel picks at random (`--random-fully`, SNAT/MASQUERADE source port search):
/// any free port of the window could have been chosen; <see cref="Sampled"/> is the one this walk used.</summary>
public sealed record RandomPortChoice(NatManipType Manip, ushort WindowMin, ushort WindowMax, ushort Sampled);

/// <summary>One possible result of walking a packet through a host, with its exact probability.</summary>
public sealed record HostWalkOutcome : IWeighted
{
    public required double Probability { get; init; }
    public required HostDisposition Disposition { get; init; }
    /// <summary>Where the decision was made: `filter:FORWARD`, `routing`, `rp_filter`, `bridge`, ...</summary>
    public required string Where { get; init; }
    /// <summary>Why, in the kernel's words.</summary>
    public required string Reason { get; init; }
    public required Packet PacketBefore { get; init; }
    /// <summary>The packet after every rewrite of this host (NAT, MARK, TTL), as it leaves or is delivered or dropped.</summary>
    public required Packet PacketAfter { get; init; }
    /// <summary>For an ICMP error: the header it quotes, after this host's NAT translated it with the error.</summary>
    public Packet? Quoted { get; init; }
    public string? InInterface { get; init; }
    /// <summary>For <see cref="HostDisposition.Forward"/>/<see cref="HostDisposition.Output"/>: the interface it leaves through.</summary>
    public string? OutInterface { get; init; }
    /// <summary>The next hop (gateway, or the destination itself on-link).</summary>
    public Ip4? Nexthop { get; init; }
    /// <summary>For a bridged packet: the bridge port it leaves through.</summary>
    public string? OutBridgePort { get; init; }
    public bool Bridged { get; init; }
    /// <summary>What the host sends back because of this packet (REJECT's ICMP error or RST, ICMP time exceeded).</summary>
    public Packet? Reply { get; init; }
    /// <summary>The header an ICMP <see cref="Reply"/> quotes.</summary>
    public Packet? ReplyQuotes { get; init; }
    /// <summary>Where the reply goes, after its own walk through OUTPUT/POSTROUTING (null if that walk dropped it).</summary>
    public HostWalkOutcome? ReplyWalk { get; init; }
    public required ImmutableArray<HostStep> Steps { get; init; }
    public ImmutableArray<string> Uncertain { get; init; } = [];
    /// <summary>The conntrack entry the packet belongs to after the walk (a snapshot), or null when untracked/invalid or conntrack is off.</summary>
    public ConntrackEntry? Conntrack { get; init; }
    /// <summary>The entry was created by this packet (and confirmed: it is in the table after a commit).</summary>
    public bool ConntrackCreated { get; init; }
    public ImmutableArray<RandomPortChoice> RandomPorts { get; init; } = [];
    /// <summary>True for sample mode and for committed outcomes: the runtime already holds the changes.</summary>
    public bool Committed { get; init; }
    /// <summary>The choices this outcome took at each branch point (internal replay key for <see cref="HostWalker.Commit"/>).</summary>
    public ImmutableArray<int> Choices { get; init; } = [];
    internal HostWalkRequest? Request { get; init; }
    /// <summary>Explained outcomes: what each table walk that could fork did (<see cref="HostWalker.CommitExplained"/>).</summary>
    internal ImmutableArray<HostWalker.TableChoice> TableChoices { get; init; }

    public bool IsUncertain => !Uncertain.IsDefaultOrEmpty;

    /// <summary>The rule visits only (rules matched, jumps, verdicts, policies), in walk order.</summary>
    public IEnumerable<RuleVisit> RuleVisits => Steps.Where(s => s.Rule is not null).Select(s => s.Rule!);

    public static string DispositionName(HostDisposition d) => d switch
    {
        HostDisposition.Local => "local",
        HostDisposition.Forward => "forward",
        HostDisposition.Output => "output",
        HostDisposition.Drop => "drop",
        HostDisposition.Reject => "reject",
        _ => "uncertain",
    };
}

/// <summary>The input of one walk, kept on explained outcomes so they can be committed.</summary>
public sealed record HostWalkRequest(Packet Packet, HostPacketOrigin Origin);
