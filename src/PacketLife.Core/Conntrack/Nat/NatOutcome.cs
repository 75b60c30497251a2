using PacketLife.Core.Net;

namespace PacketLife.Core.Conntrack.Nat;

/// <summary>How the NAT core chose the address (facts §4.3).</summary>
public enum NatAddressRule : byte
{
    /// <summary>No address mapping in the range (a port-only rule): the address is unchanged.</summary>
    Unchanged,
    /// <summary>The range holds one address.</summary>
    Single,
    /// <summary>min + reciprocal_scale(jhash2(src, dst^zone), size): deterministic per (source, destination) pair.</summary>
    Hash,
    /// <summary>SNAT kept the original tuple: it was in range and free.</summary>
    KeptOriginal,
    /// <summary>SNAT reused the mapping another connection from the same source ip:port already has (endpoint-independent mapping).</summary>
    ReusedMapping,
}

/// <summary>How the NAT core chose the port (or ICMP id).</summary>
public enum NatPortRule : byte
{
    /// <summary>The port stayed: in range and the tuple free, or a protocol without ports.</summary>
    Kept,
    /// <summary>DNAT without a port range never changes the port.</summary>
    UnchangedDnat,
    /// <summary>A single-port range: that port, even if in use (then the packet is dropped at confirm).</summary>
    SinglePort,
    /// <summary>Taken from an existing mapping (SNAT endpoint-independent reuse).</summary>
    ReusedMapping,
    /// <summary>Probed from the window: <c>min + (off++ mod size)</c>, up to 128 tries, then halving rounds.</summary>
    Searched,
}

/// <summary>The port decision as data, so explain mode can say "random in window 1024-65535" instead of one sampled
/// port. <see cref="RandomStart"/>: the probe started at a random offset (SNAT/MASQUERADE, or `--random`/`--random-fully`),
/// so any free port of [<see cref="WindowMin"/>, <see cref="WindowMax"/>] could have been chosen; otherwise
/// (DNAT with a port range) the search starts at the window's lowest port and is deterministic.</summary>
public sealed record NatPortChoice(NatPortRule Rule, ushort Port, ushort WindowMin, ushort WindowMax, bool RandomStart)
{
    public bool IsRandom => Rule == NatPortRule.Searched && RandomStart;

    public override string ToString() => Rule switch
    {
        NatPortRule.Searched when RandomStart => $"random free port in window {WindowMin}-{WindowMax} (sampled {Port})",
        NatPortRule.Searched => $"lowest free port from {WindowMin}-{WindowMax}: {Port}",
        NatPortRule.SinglePort => $"single port {Port}",
        NatPortRule.ReusedMapping => $"reused mapping port {Port}",
        NatPortRule.UnchangedDnat => $"port unchanged {Port}",
        _ => $"kept port {Port}",
    };
}

/// <summary>The result of one NAT binding (kernel <c>nf_nat_setup_info</c>). <see cref="Before"/> and <see cref="After"/>
/// are the connection's original-direction view before and after this manip; <see cref="Changed"/> says whether the
/// tuple really changed (then IPS_SRC_NAT / IPS_DST_NAT is set and ctstate shows SNAT / DNAT). <see cref="Clash"/>:
/// no free tuple was found (a used single port, or an exhausted window): the kernel drops the packet at confirm.
/// <see cref="Dropped"/>: the target itself dropped the packet (MASQUERADE with no usable address, REDIRECT on an
/// interface without IPv4 address), with <see cref="Reason"/>.</summary>
public sealed record NatOutcome(
    NatManipType Manip,
    ConntrackTuple Before,
    ConntrackTuple After,
    NatAddressRule AddressRule,
    NatPortChoice Port,
    bool Clash,
    bool Dropped = false,
    string? Reason = null,
    uint? AddressHash = null)
{
    public bool Changed => Before != After;

    public Ip4 NewAddress => Manip == NatManipType.Src ? After.Src : After.Dst;

    public static NatOutcome Drop(NatManipType manip, ConntrackTuple t, string reason) =>
        new(manip, t, t, NatAddressRule.Unchanged, new NatPortChoice(NatPortRule.Kept, 0, 0, 0, false), false, true, reason);
}
