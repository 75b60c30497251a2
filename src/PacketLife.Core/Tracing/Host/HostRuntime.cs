using PacketLife.Core.Conntrack;
using PacketLife.Core.Net;
using PacketLife.Core.Netfilter;
using PacketLife.Core.Netfilter.Evaluation;

namespace PacketLife.Core.Tracing.Host;

/// <summary>One host's (network namespace's) packet-path runtime: its interfaces and routes (<see cref="Routing.Host"/>),
/// its parsed ruleset with the compiled evaluators, the rule state (`recent`, nth counters, ipsets) and the conntrack
/// table. The walker reads and (in sample mode, or when an explained outcome is committed) changes it.</summary>
public sealed class HostRuntime
{
    public HostRuntime(Routing.Host host, RuleSet rules, NetfilterState? state = null, ConntrackTable? conntrack = null)
        : this(host, rules, new RuleSetEvaluator(rules), state, conntrack)
    {
    }

    /// <summary>With an evaluator already compiled for <paramref name="rules"/> (large dumps compile once and are
    /// shared by many runtimes).</summary>
    public HostRuntime(Routing.Host host, RuleSet rules, RuleSetEvaluator evaluator, NetfilterState? state = null, ConntrackTable? conntrack = null)
        : this(host, rules, evaluator, state, conntrack, NeedsConntrack(rules, out var why), why)
    {
    }

    /// <summary>With the ruleset's conntrack need already known (<see cref="NeedsConntrack"/> scans every rule: a
    /// 100k-rule dump takes it once, not once per copy).</summary>
    internal HostRuntime(Routing.Host host, RuleSet rules, RuleSetEvaluator evaluator, NetfilterState? state, ConntrackTable? conntrack,
        bool conntrackActive, string? conntrackActiveBecause)
    {
        Host = host;
        Rules = rules;
        Evaluator = evaluator;
        State = state ?? new NetfilterState();
        Conntrack = conntrack ?? new ConntrackTable(State.Clock, host.Conntrack);
        ConntrackActive = conntrackActive;
        ConntrackActiveBecause = conntrackActiveBecause;
    }

    public Routing.Host Host { get; }
    public RuleSet Rules { get; }
    public RuleSetEvaluator Evaluator { get; }
    public NetfilterState State { get; }
    public ConntrackTable Conntrack { get; }

    /// <summary>Whether the conntrack hooks are registered in this namespace: only while some rule needs conntrack
    /// (netfilter-conntrack.md §1.3, surprise #1). Without them no entry is ever made and the nat chains never run.</summary>
    public bool ConntrackActive { get; }

    /// <summary>The first rule that needs conntrack (`table:chain:index`), or null.</summary>
    public string? ConntrackActiveBecause { get; }

    /// <summary>The bridge's forwarding database as far as the caller knows it: which port of a bridge leads to an
    /// address (a pod's veth). Null answers make a bridged step uncertain.</summary>
    public Func<string, Ip4, string?>? BridgePortOf { get; init; }

    // Matches and targets whose kernel modules take a reference on conntrack (nf_ct_netns_get), registering the hooks.
    static readonly HashSet<string> ConntrackMatches = new(StringComparer.Ordinal)
        { "conntrack", "state", "connmark", "connbytes", "connlimit", "helper", "conntrack", "connlabel", "cluster", "socket" };
    static readonly HashSet<string> ConntrackTargets = new(StringComparer.Ordinal)
        { "DNAT", "SNAT", "MASQUERADE", "REDIRECT", "NETMAP", "CT", "NOTRACK", "CONNMARK", "CONNSECMARK", "SYNPROXY" };

    /// <summary>Whether any rule of <paramref name="rules"/> needs conntrack, and which one.</summary>
    public static bool NeedsConntrack(RuleSet rules, out string? because)
    {
        foreach (var t in rules.Tables)
            foreach (var line in t.Lines)
            {
                if (line is not RuleLine rl) continue;
                var r = rl.Rule;
                bool needs = r.Target is { } tg && ConntrackTargets.Contains(tg.Name);
                if (!needs)
                    foreach (var m in r.Matches)
                        if (ConntrackMatches.Contains(m.Module)) { needs = true; break; }
                if (needs)
                {
                    because = $"{t.Name}:{r.Chain}: {r.Text ?? r.Canonical}";
                    return true;
                }
            }
        because = null;
        return false;
    }

    /// <summary>A private copy for explain mode: the same host and rules, copies of the rule state and of every
    /// conntrack entry, so a walk can run to the end without touching this runtime.</summary>
    internal HostRuntime CloneForExplain(ConntrackTable? reuse = null)
    {
        // An explain walks one copy per outcome; the table of the previous copy is emptied and filled again rather than
        // made anew (its maps keep their capacity).
        var table = reuse ?? new ConntrackTable(Conntrack.Clock, Conntrack.Settings);
        if (reuse is not null)
        {
            reuse.Flush();
            reuse.Settings = Conntrack.Settings;
        }
        foreach (var e in Conntrack.List()) table.TryLoad(e.Clone());
        return new HostRuntime(Host, Rules, Evaluator, State.Clone(), table, ConntrackActive, ConntrackActiveBecause) { BridgePortOf = BridgePortOf };
    }
}

/// <summary>Where a packet enters the walk.</summary>
public abstract record HostPacketOrigin
{
    /// <summary>For an ICMP error: the header it quotes (conntrack relates the error to that packet's connection).</summary>
    public Packet? IcmpQuoted { get; init; }

    /// <summary>Received on <paramref name="Interface"/>. With <paramref name="BridgePort"/>, a frame that entered the
    /// Linux bridge <paramref name="Interface"/> through that port (a pod's veth on cbr0).</summary>
    public sealed record Wire(string Interface, string? BridgePort = null) : HostPacketOrigin
    {
        public override string ToString() => BridgePort is null ? $"in {Interface}" : $"in {Interface} port {BridgePort}";
    }

    /// <summary>Sent by a local process (the OUTPUT path), optionally with its socket owner for `-m owner`.</summary>
    public sealed record Local(SocketOwner? Owner = null) : HostPacketOrigin
    {
        /// <summary>Sent by the kernel's own ICMP socket (echo/timestamp replies, ICMP errors): an ICMP error about it is
        /// never sent, because the ICMP transmit lock is held while it passes OUTPUT (icmp.c icmp_xmit_lock).</summary>
        public bool IcmpStack { get; init; }

        public override string ToString() => "from a local process";
    }
}
