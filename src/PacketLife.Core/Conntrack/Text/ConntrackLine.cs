using PacketLife.Core.Net;

namespace PacketLife.Core.Conntrack.Text;

/// <summary>One line of `conntrack -L` (or `conntrack -E`) output, field by field, so that it prints back byte for byte
/// (libnetfilter_conntrack src/conntrack/snprintf_default.c, conntrack(8)). <see cref="ProtocolNumber"/> keeps protocols
/// the model has no name for (`unknown  2`). <see cref="State"/> is the TCP (or SCTP/DCCP) state word.</summary>
public sealed record ConntrackLine
{
    /// <summary>`-o extended`: the `ipv4     2 ` prefix.</summary>
    public bool Extended { get; init; }
    /// <summary>`conntrack -E`: the event word without brackets (NEW, UPDATE, DESTROY), printed right-aligned to 9 columns.</summary>
    public string? Event { get; init; }
    public byte ProtocolNumber { get; init; }
    public ulong Timeout { get; init; }
    public string? State { get; init; }
    public ConntrackTuple Original { get; init; }
    public ushort? ZoneOrig { get; init; }
    public (ulong Packets, ulong Bytes)? OriginalCounters { get; init; }
    public bool Unreplied { get; init; }
    public ConntrackTuple Reply { get; init; }
    public ushort? ZoneReply { get; init; }
    public (ulong Packets, ulong Bytes)? ReplyCounters { get; init; }
    /// <summary>The flag after the reply tuple: `ASSURED`, `OFFLOAD` or `HW_OFFLOAD` (without brackets), or null.</summary>
    public string? AssuredFlag { get; init; }
    public uint? Mark { get; init; }
    public uint? SecMark { get; init; }
    public string? SecCtx { get; init; }
    public ushort? Zone { get; init; }
    public ulong? DeltaTime { get; init; }
    public string? Helper { get; init; }
    public uint? Use { get; init; }
    public uint? Id { get; init; }

    public IpProtocol Protocol => (IpProtocol)ProtocolNumber;

    /// <summary>The protocol word conntrack prints for a number (libnetfilter_conntrack <c>proto2str</c>): names it knows,
    /// else `unknown`.</summary>
    public static string ProtocolName(byte number) => number switch
    {
        1 => "icmp",
        6 => "tcp",
        17 => "udp",
        33 => "dccp",
        47 => "gre",
        58 => "icmpv6",
        132 => "sctp",
        136 => "udplite",
        _ => "unknown",
    };

    /// <summary>Protocols whose line carries a state word after the timeout.</summary>
    public static bool HasState(byte number) => number is 6 or 132 or 33;

    /// <summary>Protocols printed with `sport= dport=`.</summary>
    public static bool HasPorts(byte number) => number is 6 or 17 or 136 or 132 or 33;

    /// <summary>The entry this line describes, with its expiry relative to <paramref name="now"/>. Status: CONFIRMED, SEEN_REPLY
    /// unless `[UNREPLIED]`, ASSURED/OFFLOAD/HW_OFFLOAD as printed, SRC_NAT/DST_NAT when the reply tuple shows the source/
    /// destination was rewritten, and both NAT-done bits (a listed entry has been through the nat hooks).</summary>
    public ConntrackEntry ToEntry(DateTimeOffset now)
    {
        var e = new ConntrackEntry(Original, Reply)
        {
            Zone = Zone ?? 0,
            Mark = Mark ?? 0,
            SecMark = SecMark,
            SecCtx = SecCtx,
            Helper = Helper,
            DeltaTime = DeltaTime,
            ZoneOrig = ZoneOrig,
            ZoneReply = ZoneReply,
            Use = Use ?? 1,
            Id = Id,
            Created = now,
            Expires = now + TimeSpan.FromSeconds(Timeout),
            Status = ConntrackStatus.Confirmed | ConntrackStatus.SrcNatDone | ConntrackStatus.DstNatDone,
        };
        if (!Unreplied) e.Status |= ConntrackStatus.SeenReply;
        e.Status |= AssuredFlag switch
        {
            "ASSURED" => ConntrackStatus.Assured,
            "OFFLOAD" => ConntrackStatus.Offload,
            "HW_OFFLOAD" => ConntrackStatus.HwOffload,
            _ => ConntrackStatus.None,
        };
        if (Reply.TryInvert(out var view))
        {
            if (view.Src != Original.Src || view.SrcPort != Original.SrcPort) e.Status |= ConntrackStatus.SrcNat;
            if (view.Dst != Original.Dst || (!Original.IsIcmp && view.DstPort != Original.DstPort)) e.Status |= ConntrackStatus.DstNat;
        }
        if (ProtocolNumber == 6 && State is { } s && TcpStates.TryParse(s, out var st)) e.TcpState = st;
        else if (State is not null) e.OtherProtocolState = State;
        if (OriginalCounters is { } oc) e.OriginalCounters = new ConntrackCounters { Packets = oc.Packets, Bytes = oc.Bytes };
        if (ReplyCounters is { } rc) e.ReplyCounters = new ConntrackCounters { Packets = rc.Packets, Bytes = rc.Bytes };
        return e;
    }

    /// <summary>The line `conntrack -L` prints for <paramref name="e"/> at <paramref name="now"/> (timeout rounded down).
    /// <paramref name="showId"/>: `-o id`; <paramref name="extended"/>: `-o extended`.</summary>
    public static ConntrackLine FromEntry(ConntrackEntry e, DateTimeOffset now, bool extended = false, bool showId = false) => new()
    {
        Extended = extended,
        ProtocolNumber = (byte)e.Protocol,
        Timeout = (ulong)e.RemainingSeconds(now),
        State = e.Protocol == IpProtocol.Tcp ? TcpStates.Name(e.TcpState) : e.OtherProtocolState,
        Original = e.Original,
        ZoneOrig = e.ZoneOrig,
        OriginalCounters = e.OriginalCounters is { } o ? (o.Packets, o.Bytes) : null,
        Unreplied = !e.Has(ConntrackStatus.SeenReply),
        Reply = e.Reply,
        ZoneReply = e.ZoneReply,
        ReplyCounters = e.ReplyCounters is { } r ? (r.Packets, r.Bytes) : null,
        AssuredFlag = e.Has(ConntrackStatus.Offload) ? "OFFLOAD" : e.Has(ConntrackStatus.HwOffload) ? "HW_OFFLOAD" : e.Has(ConntrackStatus.Assured) ? "ASSURED" : null,
        Mark = e.Mark,
        SecMark = e.SecMark,
        SecCtx = e.SecCtx,
        Zone = e.Zone == 0 ? null : e.Zone,
        DeltaTime = e.DeltaTime,
        Helper = e.Helper,
        Use = e.Use,
        Id = showId ? e.Id : null,
    };

    public override string ToString() => ConntrackText.Write(this);
}
