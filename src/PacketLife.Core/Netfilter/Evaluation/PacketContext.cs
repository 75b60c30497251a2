using PacketLife.Core.Conntrack;
using PacketLife.Core.Net;
using PacketLife.Core.Netfilter.Matches;

namespace PacketLife.Core.Netfilter.Evaluation;

/// <summary>Route types as the kernel's addrtype match knows them (RTN_*), bit i = 1 &lt;&lt; i, in
/// iptables-save's print order.</summary>
[Flags]
public enum AddressType : ushort
{
    None = 0,
    Unspec = 1 << 0,
    Unicast = 1 << 1,
    Local = 1 << 2,
    Broadcast = 1 << 3,
    Anycast = 1 << 4,
    Multicast = 1 << 5,
    Blackhole = 1 << 6,
    Unreachable = 1 << 7,
    Prohibit = 1 << 8,
    Throw = 1 << 9,
    Nat = 1 << 10,
    XResolve = 1 << 11,
}

/// <summary>conntrack ctstate values plus the virtual SNAT/DNAT states (xt_conntrack.c), in save order.</summary>
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

/// <summary>Conntrack status bits that `--ctstatus` tests (IPS_* values).</summary>
[Flags]
public enum CtStatus : byte
{
    None = 0,
    Expected = 1 << 0,
    SeenReply = 1 << 1,
    Assured = 1 << 2,
    Confirmed = 1 << 3,
}

public enum CtDirection : byte
{
    Original,
    Reply,
}

/// <summary>What the conntrack entry attached to the packet looks like at this hook. <see cref="State"/> holds
/// one of INVALID/NEW/RELATED/ESTABLISHED/UNTRACKED plus SNAT/DNAT when the tuple was actually changed.</summary>
public sealed record ConntrackView(
    CtState State,
    CtStatus Status,
    ConntrackTuple Original,
    ConntrackTuple Reply,
    uint Mark = 0,
    CtDirection Direction = CtDirection.Original,
    uint ExpireSeconds = 0)
{
    /// <summary>A new connection for <paramref name="p"/> whose reply is the exact inverse (no NAT yet).</summary>
    public static ConntrackView NewFor(Packet p) => new(CtState.New, CtStatus.None,
        new ConntrackTuple(p.Protocol, p.Src, p.Dst, p.SrcPort, p.DstPort),
        new ConntrackTuple(p.Protocol, p.Dst, p.Src, p.DstPort, p.SrcPort), 0, CtDirection.Original, 120);
}

/// <summary>The local socket that sent the packet (owner match); absent for forwarded packets.</summary>
public sealed record SocketOwner(uint Uid, uint Gid, IReadOnlyList<uint>? SupplementaryGroups = null);

/// <summary>Everything the rules of one table see for one packet at one hook. The packet's current mark is
/// <see cref="Packet.Mark"/>; the walk updates its own copy.</summary>
public sealed record PacketContext
{
    public required Packet Packet { get; init; }
    public required NetfilterHook Hook { get; init; }
    /// <summary>Input interface name (null or empty for locally generated packets).</summary>
    public string? InInterface { get; init; }
    /// <summary>Output interface name (null before routing: PREROUTING, INPUT).</summary>
    public string? OutInterface { get; init; }
    /// <summary>Bridged by a Linux bridge with br_netfilter (physdev sees the bridge ports).</summary>
    public bool Bridged { get; init; }
    public string? PhysIn { get; init; }
    public string? PhysOut { get; init; }
    /// <summary>The conntrack entry; null when conntrack does not run (ctstate is then INVALID and no connmark).</summary>
    public ConntrackView? Conntrack { get; init; }
    /// <summary>The local routing table's answer for an address, limited to one device when the second argument is
    /// set (addrtype --limit-iface-in/out). Null: only the fixed ranges (127/8, 224/4, 255.255.255.255, 0/8) are
    /// known and other addresses make addrtype uncertain.</summary>
    public Func<Ip4, string?, AddressType>? AddressTypeOf { get; init; }
    public SocketOwner? Owner { get; init; }
    public NetfilterState State { get => state ??= new(); init => state = value; }

    // Made on first use: the walker sets the host's state on every context it builds (one per table per packet), and
    // an initializer would make a state for each of them first.
    NetfilterState? state;
}

/// <summary>The walk-local view of the packet: the context plus the marks and requests the rules have produced
/// so far. Matches read it; targets change it.</summary>
public sealed class EvalContext
{
    public EvalContext(PacketContext input, string table) => Reset(input, table);

    /// <summary>Makes this context a new walk's (as the constructor would); the table evaluator reuses one per thread,
    /// because a sampled decision allocated more for its context than for anything else it keeps.</summary>
    [System.Diagnostics.CodeAnalysis.MemberNotNull(nameof(Input), nameof(Table))]
    internal void Reset(PacketContext input, string table)
    {
        (Input, Table, Mark) = (input, table, input.Packet.Mark);
        (ctMark, ctMarkSet, CtMarkChanged, CtMarkRule) = (0, false, false, null);
        (requests, single, CurrentRule) = (null, null, null);
    }

    public PacketContext Input { get; private set; }
    public string Table { get; private set; }
    public Packet Packet => Input.Packet;
    public NetfilterHook Hook => Input.Hook;
    public NetfilterState State => Input.State;
    public uint Mark { get; set; }
    /// <summary>The connection mark as the rules have left it (read from the entry on first use: most walks never
    /// look, and the entry is one more object to fetch).</summary>
    public uint CtMark
    {
        get => ctMarkSet ? ctMark : Input.Conntrack?.Mark ?? 0;
        set => (ctMark, ctMarkSet) = (value, true);
    }
    uint ctMark;
    bool ctMarkSet;
    public bool CtMarkChanged { get; set; }
    /// <summary>The last rule that changed the connection mark (quoted in the <see cref="ConnmarkRequest"/>).</summary>
    public string? CtMarkRule { get; set; }
    /// <summary>What the rules asked for so far (created on first use: most walks ask for nothing or one NAT).</summary>
    public List<EvalRequest> Requests
    {
        get
        {
            if (requests is null)
            {
                requests = single is null ? [] : [single];
                single = null;
            }
            return requests;
        }
    }
    List<EvalRequest>? requests;
    // The first request while it is the only one and nobody asked for the list (a walk that ends in one NAT, the usual
    // case, then allocates no list for it).
    EvalRequest? single;
    /// <summary>True when some rule added a request (without creating the list).</summary>
    public bool HasRequests => single is not null || requests is { Count: > 0 };

    /// <summary>Adds a request (as <c>Requests.Add</c> does, in the same order, without making a list for the first).</summary>
    internal void AddRequest(EvalRequest request)
    {
        if (requests is null && single is null) single = request;
        else Requests.Add(request);
    }

    internal int RequestCount => requests?.Count ?? (single is null ? 0 : 1);

    internal void CopyRequests(EvalRequest[] to)
    {
        if (requests is not null) requests.CopyTo(to);
        else if (single is not null) to[0] = single;
    }
    /// <summary>The rule being evaluated (stateful matches key their state on it).</summary>
    public Rule? CurrentRule { get; set; }

    /// <summary>The address type, or null when no lookup was given and the fixed ranges do not decide it.</summary>
    public AddressType? AddressTypeOf(Ip4 ip, string? limitIface)
    {
        if (Input.AddressTypeOf is { } f) return f(ip, limitIface);
        if (ip.Value == 0xFFFFFFFF || (ip.Value >> 24) == 0) return AddressType.Broadcast;
        if ((ip.Value >> 28) == 0xE) return AddressType.Multicast;
        if (ip.IsLoopback && (limitIface is null || limitIface == "lo")) return AddressType.Local;
        return null;
    }
}
