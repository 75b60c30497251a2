using PacketLife.Core.Net;

namespace PacketLife.Core.Conntrack.Nat;

/// <summary>Rewrites packets from a bound entry, as the kernel's <c>nf_nat_packet</c> does at every nat hook for every
/// packet of the connection (the nat chains run only for the first; facts §1.4, §1.5): the DST side at the end of the
/// PREROUTING/OUTPUT nat hook, the SRC side at the end of POSTROUTING/INPUT. For a reply the status bit is inverted: a
/// reply is un-SNATed on the DST side and un-DNATed on the SRC side.</summary>
public static class NatRewrite
{
    /// <summary>Kernel <c>nf_nat_packet</c> for one manip type and the packet's direction.</summary>
    public static Packet Apply(Packet p, ConntrackEntry ct, ConntrackDirection dir, NatManipType manip)
    {
        var bit = manip == NatManipType.Src ? ConntrackStatus.SrcNat : ConntrackStatus.DstNat;
        if (dir == ConntrackDirection.Reply) bit = bit == ConntrackStatus.SrcNat ? ConntrackStatus.DstNat : ConntrackStatus.SrcNat;
        if (!ct.Has(bit)) return p;
        // The target is the inverse of the other direction's tuple (nf_nat_manip_pkt).
        var other = dir == ConntrackDirection.Original ? ct.Reply : ct.Original;
        var target = other.Invert();
        if (p.Protocol == IpProtocol.Icmp)
        {
            // icmp_manip_pkt: the echo id is rewritten on either side.
            return manip == NatManipType.Src
                ? p with { Src = target.Src, SrcPort = target.IcmpId }
                : p with { Dst = target.Dst, SrcPort = target.IcmpId };
        }
        bool ports = IpProtocols.HasPorts(p.Protocol);
        return manip == NatManipType.Src
            ? p with { Src = target.Src, SrcPort = ports ? target.SrcPort : p.SrcPort }
            : p with { Dst = target.Dst, DstPort = ports ? target.DstPort : p.DstPort };
    }

    /// <summary>An original-direction packet after the PREROUTING/OUTPUT nat hook: the entry's DNAT applied.</summary>
    public static Packet ApplyDnat(Packet p, ConntrackEntry ct) => Apply(p, ct, ConntrackDirection.Original, NatManipType.Dst);

    /// <summary>An original-direction packet after the POSTROUTING/INPUT nat hook: the entry's SNAT applied.</summary>
    public static Packet ApplySnat(Packet p, ConntrackEntry ct) => Apply(p, ct, ConntrackDirection.Original, NatManipType.Src);

    /// <summary>A reply after the PREROUTING nat hook: its destination restored (un-SNAT). FORWARD sees this.</summary>
    public static Packet UnSnatReply(Packet p, ConntrackEntry ct) => Apply(p, ct, ConntrackDirection.Reply, NatManipType.Dst);

    /// <summary>A reply after the POSTROUTING nat hook: its source restored (un-DNAT).</summary>
    public static Packet UnDnatReply(Packet p, ConntrackEntry ct) => Apply(p, ct, ConntrackDirection.Reply, NatManipType.Src);

    /// <summary>Both reverse rewrites of a reply: what the original sender finally receives.</summary>
    public static Packet ReverseReply(Packet p, ConntrackEntry ct) => UnDnatReply(UnSnatReply(p, ct), ct);

    /// <summary>An ICMP error RELATED to a NATed connection at one nat hook (kernel <c>nf_nat_icmp_reply_translation</c>):
    /// the outer header is rewritten like any packet of direction <paramref name="dir"/>, and the quoted header, which
    /// travelled the other way, gets the opposite manip from the other direction's tuple, so the sender sees its own
    /// pre-NAT packet quoted (facts §5.5).</summary>
    public static (Packet Outer, Packet Quoted) ApplyToIcmpError(Packet outer, Packet quoted, ConntrackEntry ct, ConntrackDirection dir, NatManipType manip)
    {
        var bit = manip == NatManipType.Src ? ConntrackStatus.SrcNat : ConntrackStatus.DstNat;
        if (dir == ConntrackDirection.Reply) bit = bit == ConntrackStatus.SrcNat ? ConntrackStatus.DstNat : ConntrackStatus.SrcNat;
        if (!ct.Has(bit)) return (outer, quoted);
        var other = dir == ConntrackDirection.Original ? ct.Reply : ct.Original;
        var target = other.Invert();
        var newOuter = manip == NatManipType.Src ? outer with { Src = target.Src } : outer with { Dst = target.Dst };
        // The quoted packet is rewritten with the other direction's tuple itself, on the opposite side.
        bool ports = IpProtocols.HasPorts(quoted.Protocol);
        var newQuoted = manip == NatManipType.Src
            ? quoted with { Dst = other.Dst, DstPort = ports ? other.DstPort : quoted.DstPort }
            : quoted with { Src = other.Src, SrcPort = ports || quoted.Protocol == IpProtocol.Icmp ? other.SrcPort : quoted.SrcPort };
        return (newOuter, newQuoted);
    }
}
