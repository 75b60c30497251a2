using PacketLife.Core.Net;

namespace PacketLife.Core.Conntrack;

/// <summary>Conntrack status bits, with the kernel's bit numbers (<c>enum ip_conntrack_status</c>,
/// include/uapi/linux/netfilter/nf_conntrack_common.h), so `--ctstatus` and `conntrack -L` read the same bits.</summary>
[Flags]
public enum ConntrackStatus : uint
{
    None = 0,
    Expected = 1 << 0,
    SeenReply = 1 << 1,
    Assured = 1 << 2,
    Confirmed = 1 << 3,
    SrcNat = 1 << 4,
    DstNat = 1 << 5,
    SeqAdjust = 1 << 6,
    SrcNatDone = 1 << 7,
    DstNatDone = 1 << 8,
    Dying = 1 << 9,
    FixedTimeout = 1 << 10,
    Template = 1 << 11,
    Untracked = 1 << 12,
    NatClash = 1 << 13,
    Helper = 1 << 14,
    Offload = 1 << 15,
    HwOffload = 1 << 16,
}

/// <summary>TCP conntrack states in the kernel's order (<c>enum tcp_conntrack</c>); the order matters, the
/// transition table is indexed by it. Printed names are in <see cref="TcpStates"/>.</summary>
public enum TcpConntrackState : byte
{
    None = 0,
    SynSent,
    SynRecv,
    Established,
    FinWait,
    CloseWait,
    LastAck,
    TimeWait,
    Close,
    SynSent2,
}

public static class TcpStates
{
    private static readonly string[] Names =
        ["NONE", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT", "CLOSE_WAIT", "LAST_ACK", "TIME_WAIT", "CLOSE", "SYN_SENT2"];

    /// <summary>The name `conntrack -L` prints (kernel <c>tcp_conntrack_names</c>).</summary>
    public static string Name(TcpConntrackState s) => Names[(int)s];

    public static bool TryParse(string name, out TcpConntrackState state)
    {
        int i = Array.IndexOf(Names, name);
        state = i < 0 ? default : (TcpConntrackState)i;
        return i >= 0;
    }
}

/// <summary>Per-direction packet and byte counters, present only when accounting was on
/// (<c>nf_conntrack_acct=1</c>) when the entry was created.</summary>
public sealed class ConntrackCounters
{
    public ulong Packets { get; set; }
    public ulong Bytes { get; set; }
}

/// <summary>One connection (kernel <c>struct nf_conn</c>): the original and reply tuples, protocol state,
/// status bits, mark, zone, expiry and NAT bookkeeping. A runtime state object: the tracker mutates it
/// while packets pass; <see cref="ConntrackTable"/> indexes it by both tuples once confirmed.</summary>
public sealed class ConntrackEntry : ISpanFormattable
{
    public ConntrackEntry(ConntrackTuple original, ConntrackTuple reply)
    {
        Original = original;
        Reply = reply;
    }

    /// <summary>The tuple of the first packet as it arrived, before any NAT on this host.</summary>
    public ConntrackTuple Original { get; internal set; }

    /// <summary>What a reply must look like on the wire; NAT changes it (DNAT its source, SNAT its destination).</summary>
    public ConntrackTuple Reply { get; internal set; }

    public IpProtocol Protocol => Original.Protocol;

    public ConntrackTuple Tuple(ConntrackDirection dir) => dir == ConntrackDirection.Original ? Original : Reply;

    public ConntrackStatus Status { get; set; }

    public bool Has(ConntrackStatus bits) => (Status & bits) == bits;

    /// <summary>TCP only: the state `conntrack -L` prints.</summary>
    public TcpConntrackState TcpState { get; set; }

    /// <summary>SCTP/DCCP state text as read from `conntrack -L` (not tracked by this model: kept for printing).</summary>
    public string? OtherProtocolState { get; set; }

    /// <summary>The connection mark (`CONNMARK`, `-m connmark`, `mark=` in `conntrack -L`).</summary>
    public uint Mark { get; set; }

    public uint? SecMark { get; set; }

    /// <summary>Conntrack zone (`-j CT --zone`); 0 is the default zone.</summary>
    public ushort Zone { get; set; }

    /// <summary>Reference count as `conntrack -L` prints it (`use=`); normally 1.</summary>
    public uint Use { get; set; } = 1;

    /// <summary>Conntrack id (`conntrack -L -o id`), when known.</summary>
    public uint? Id { get; set; }

    /// <summary>When the entry dies unless refreshed (absolute, on the injected clock).</summary>
    public DateTimeOffset Expires { get; set; }

    /// <summary>When the entry was created: UDP's "stream after 2 s" rule reads it.</summary>
    public DateTimeOffset Created { get; set; }

    public ConntrackCounters? OriginalCounters { get; set; }
    public ConntrackCounters? ReplyCounters { get; set; }

    /// <summary>For MASQUERADE: the interface the connection was masqueraded through. The kernel deletes such
    /// entries when that interface goes down and kills the entry if a later packet leaves another way
    /// (nf_nat_masquerade.c, <c>nf_nat_oif_changed</c>).</summary>
    public string? MasqueradeInterface { get; set; }

    /// <summary>Fields read from `conntrack -L` that the model keeps only to print them back.</summary>
    public string? Helper { get; set; }
    public string? SecCtx { get; set; }
    public ulong? DeltaTime { get; set; }
    public ushort? ZoneOrig { get; set; }
    public ushort? ZoneReply { get; set; }

    // TCP tracker memory (nf_conntrack_proto_tcp.c, struct ip_ct_tcp): what the last in-window packet was,
    // and which directions started a close (IP_CT_TCP_FLAG_CLOSE_INIT). Needed for the TIME_WAIT reopen rule.
    internal TcpIndex TcpLastIndex { get; set; } = TcpIndex.None;
    internal ConntrackDirection TcpLastDir { get; set; }
    internal bool CloseInitOriginal { get; set; }
    internal bool CloseInitReply { get; set; }
    internal bool SimultaneousOpen { get; set; }

    /// <summary>Whole seconds left, rounded down, as `conntrack -L` prints the timeout (0 when due).</summary>
    public long RemainingSeconds(DateTimeOffset now)
    {
        var left = Expires - now;
        return left <= TimeSpan.Zero ? 0 : (long)Math.Floor(left.TotalSeconds);
    }

    public ConntrackEntry Clone()
    {
        var c = (ConntrackEntry)MemberwiseClone();
        if (OriginalCounters is { } o) c.OriginalCounters = new ConntrackCounters { Packets = o.Packets, Bytes = o.Bytes };
        if (ReplyCounters is { } r) c.ReplyCounters = new ConntrackCounters { Packets = r.Packets, Bytes = r.Bytes };
        return c;
    }

    public override string ToString() => string.Create(System.Globalization.CultureInfo.InvariantCulture, stackalloc char[256], $"{this}");

    /// <summary>The same text written straight into a buffer: trace steps quote the entry as they go.</summary>
    public bool TryFormat(Span<char> destination, out int charsWritten, ReadOnlySpan<char> format, IFormatProvider? provider) =>
        Protocol == IpProtocol.Tcp
            ? destination.TryWrite(System.Globalization.CultureInfo.InvariantCulture, $"{IpProtocols.Name(Protocol)} {TcpStates.Name(TcpState)} {Original} {Reply} status={Status}", out charsWritten)
            : destination.TryWrite(System.Globalization.CultureInfo.InvariantCulture, $"{IpProtocols.Name(Protocol)} {Original} {Reply} status={Status}", out charsWritten);

    string IFormattable.ToString(string? format, IFormatProvider? formatProvider) => ToString();
}

/// <summary>Which TCP flag class a segment belongs to (kernel <c>enum tcp_bit_set</c>, <c>get_conntrack_index</c>).</summary>
public enum TcpIndex : byte
{
    Syn = 0,
    SynAck = 1,
    Fin = 2,
    Ack = 3,
    Rst = 4,
    None = 5,
}
