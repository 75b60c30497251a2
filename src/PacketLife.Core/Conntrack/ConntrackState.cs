namespace PacketLife.Core.Conntrack;

/// <summary>Kernel <c>enum ip_conntrack_info</c>: how a tracked packet relates to its entry.</summary>
public enum CtInfo : byte
{
    /// <summary>Original direction, after a reply has been seen.</summary>
    Established = 0,
    /// <summary>Original direction: an ICMP error (or helper expectation) about a known connection.</summary>
    Related = 1,
    /// <summary>Original direction, no reply seen yet: every such packet, not only the first.</summary>
    New = 2,
    EstablishedReply = 3,
    RelatedReply = 4,
}

/// <summary>The states `-m conntrack --ctstate` and `-m state --state` test (iptables-extensions(8),
/// kernel xt_conntrack.c). Declared in iptables-save's print order: INVALID, NEW, RELATED, ESTABLISHED,
/// UNTRACKED, SNAT, DNAT. SNAT/DNAT are "virtual" states added when the entry's source/destination was really changed.</summary>
[Flags]
public enum CtState : byte
{
    None = 0,
    Invalid = 1 << 0,
    New = 1 << 1,
    Related = 1 << 2,
    Established = 1 << 3,
    Untracked = 1 << 4,
    Snat = 1 << 5,
    Dnat = 1 << 6,
}

public static class CtStates
{
    /// <summary>The ctstate a packet has at the moment a rule looks at it. <paramref name="ct"/> null means no
    /// conntrack is attached (raw table, before the conntrack hook; or conntrack not active): INVALID.
    /// SNAT/DNAT are read from the entry's status *now*, which gives the kernel's FORWARD timing: the first
    /// packet of a DNAT+MASQUERADE flow is DNAT but not yet SNAT there (facts §3.4).</summary>
    public static CtState Of(ConntrackResult? ct)
    {
        if (ct is null || ct.Verdict == ConntrackVerdict.Invalid) return CtState.Invalid;
        if (ct.Verdict == ConntrackVerdict.Untracked) return CtState.Untracked;
        var s = ct.Info switch
        {
            CtInfo.New => CtState.New,
            CtInfo.Related or CtInfo.RelatedReply => CtState.Related,
            _ => CtState.Established,
        };
        var e = ct.Entry!;
        if (e.Has(ConntrackStatus.SrcNat)) s |= CtState.Snat;
        if (e.Has(ConntrackStatus.DstNat)) s |= CtState.Dnat;
        return s;
    }

    /// <summary>`-m state`: the same without the virtual SNAT/DNAT states.</summary>
    public static CtState StateMatch(ConntrackResult? ct) => Of(ct) & ~(CtState.Snat | CtState.Dnat);
}

public enum ConntrackVerdict : byte
{
    /// <summary>The packet has an entry (existing, or new and not yet confirmed).</summary>
    Tracked,
    /// <summary>Conntrack refused the packet: no entry is attached (ctstate INVALID); the packet itself continues.</summary>
    Invalid,
    /// <summary>`-j CT --notrack` / `-j NOTRACK` in raw: ctstate UNTRACKED, no entry, no NAT.</summary>
    Untracked,
}

/// <summary>What the conntrack hook attached to one packet. <see cref="IsNewEntry"/>: the entry was created for
/// this packet and is inserted only by <see cref="ConntrackTracker.Confirm"/> at the end of the hook walk.</summary>
public sealed record ConntrackResult(
    ConntrackVerdict Verdict,
    ConntrackEntry? Entry,
    CtInfo Info,
    ConntrackDirection Direction,
    bool IsNewEntry,
    string Reason)
{
    public static ConntrackResult Untracked { get; } = new(ConntrackVerdict.Untracked, null, CtInfo.New, ConntrackDirection.Original, false, "untracked (CT --notrack)");

    public static ConntrackResult InvalidPacket(string reason) => new(ConntrackVerdict.Invalid, null, CtInfo.New, ConntrackDirection.Original, false, reason);

    /// <summary>The entry this packet killed (a new SYN reopening a TIME_WAIT/CLOSE entry), for traces.</summary>
    public ConntrackEntry? Replaced { get; init; }

    /// <summary>The entry was deleted by this packet (a RST before any reply).</summary>
    public bool Destroyed { get; init; }
}
