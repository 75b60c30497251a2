using PacketLife.Core.Net;
using PacketLife.Core.Routing;

namespace PacketLife.Core.Conntrack.Nat;

/// <summary>Where a REDIRECT runs: it redirects to 127.0.0.1 in OUTPUT, else to the incoming interface's first address.</summary>
public enum NatHook : byte
{
    Prerouting,
    Output,
}

/// <summary>The kernel's NAT core (net/netfilter/nf_nat_core.c <c>nf_nat_setup_info</c>, <c>get_unique_tuple</c>,
/// <c>find_best_ips_proto</c>, <c>nf_nat_l4proto_unique_tuple</c>) and the address choices of MASQUERADE
/// (nf_nat_masquerade.c) and REDIRECT (nf_nat_redirect.c). Binds a not yet confirmed entry: rewrites its reply tuple and
/// sets the NAT status bits. Random port offsets come from the injected <see cref="Random"/> (the kernel's
/// <c>get_random_u16</c>); the <see cref="NatOutcome"/> says when a port was random so explain mode can report the window.
/// Not modelled: reusing a TIME_WAIT reply tuple whose sequence numbers advanced (6.x <c>nf_nat_used_tuple_new</c>);
/// the tuple is treated as taken.</summary>
public sealed class NatEngine
{
    /// <summary>NF_NAT_MAX_ATTEMPTS: probes per round of the port search.</summary>
    public const int MaxAttempts = 128;

    private readonly ConntrackTable _table;
    private readonly Random _random;

    public NatEngine(ConntrackTable table, Random random)
    {
        _table = table;
        _random = random;
    }

    /// <summary>Whether the connection already has a binding for <paramref name="manip"/> (kernel <c>nf_nat_initialized</c>).
    /// The nat chains of that manip type run only while it has none: in practice for the packet that created the entry
    /// (facts §1.4). After the chain, an unbound connection gets <see cref="NullBinding"/>.</summary>
    public static bool IsBound(ConntrackEntry ct, NatManipType manip) =>
        ct.Has(manip == NatManipType.Src ? ConntrackStatus.SrcNatDone : ConntrackStatus.DstNatDone);

    /// <summary>Binds <paramref name="ct"/> for one manip type with <paramref name="range"/> (what DNAT/SNAT pass). The tuple
    /// used is the connection's current original view (after any earlier manip), as the kernel computes it from the reply.</summary>
    public NatOutcome SetupInfo(ConntrackEntry ct, NatRange range, NatManipType manip)
    {
        var curr = ct.Reply.Invert();
        var done = manip == NatManipType.Src ? ConntrackStatus.SrcNatDone : ConntrackStatus.DstNatDone;
        if (ct.Has(done))
        {
            // The nat chains never run twice for one manip type (nf_nat_inet_fn checks nf_nat_initialized): nothing changes.
            var key = manip == NatManipType.Src || curr.IsIcmp ? curr.SrcPort : curr.DstPort;
            return new NatOutcome(manip, curr, curr, NatAddressRule.Unchanged, new NatPortChoice(NatPortRule.Kept, key, 0, 0, false), false,
                Reason: "the connection already has a binding for this manip type");
        }

        var result = GetUniqueTuple(curr, range, ct, manip, out var addressRule, out var port, out var hash);
        if (result != curr)
        {
            ct.Reply = result.Invert();
            ct.Status |= manip == NatManipType.Src ? ConntrackStatus.SrcNat : ConntrackStatus.DstNat;
        }
        ct.Status |= done;
        bool clash = Used(result, ct);
        return new NatOutcome(manip, curr, result, addressRule, port, clash, AddressHash: hash);
    }

    /// <summary>The identity binding the kernel installs when no nat rule bound the connection
    /// (<c>nf_nat_alloc_null_binding</c>): same address, but a SRC null binding still moves the source port when the
    /// unchanged reply tuple is taken (implicit source NAT, facts §5.8).</summary>
    public NatOutcome NullBinding(ConntrackEntry ct, NatManipType manip)
    {
        var ip = manip == NatManipType.Src ? ct.Reply.Dst : ct.Reply.Src;
        return SetupInfo(ct, new NatRange(NatRangeFlags.MapIps, ip, ip, 0, 0), manip);
    }

    /// <summary>MASQUERADE (<c>nf_nat_masquerade_ipv4</c>): SNAT to <c>inet_select_addr(out, nexthop, global)</c>; the route's
    /// `src` is ignored. <paramref name="range"/> carries only ports and flags (`--to-ports`, `--random`, `--random-fully`).
    /// A connection whose source is 0.0.0.0 is left alone; no usable address drops the packet ("ate my IP address").</summary>
    public NatOutcome Masquerade(ConntrackEntry ct, NatRange range, Host host, Interface outInterface, Ip4 nexthop)
    {
        var curr = ct.Reply.Invert();
        if (ct.Original.Src == Ip4.Any)
            return new NatOutcome(NatManipType.Src, curr, curr, NatAddressRule.Unchanged, new NatPortChoice(NatPortRule.Kept, curr.SrcPort, 0, 0, false), false,
                Reason: "source 0.0.0.0 is never masqueraded");
        if (host.InetSelectAddr(outInterface, nexthop, AddressScope.Global) is not { } newSrc)
            return NatOutcome.Drop(NatManipType.Src, curr, $"{outInterface.Name} ate my IP address: no global primary address to masquerade to");
        ct.MasqueradeInterface = outInterface.Name;
        var r = range with { Flags = range.Flags | NatRangeFlags.MapIps, MinIp = newSrc, MaxIp = newSrc };
        return SetupInfo(ct, r, NatManipType.Src);
    }

    /// <summary>REDIRECT (<c>nf_nat_redirect_ipv4</c>): DNAT to 127.0.0.1 in OUTPUT, else to the first address in the incoming
    /// interface's list, whatever its scope (facts §4.7); no address drops. Ports from `--to-ports` or unchanged.</summary>
    public NatOutcome Redirect(ConntrackEntry ct, NatRange range, NatHook hook, Host host, string? inInterface)
    {
        var curr = ct.Reply.Invert();
        Ip4 newDst;
        if (hook == NatHook.Output)
            newDst = new Ip4(0x7F000001);
        else if (inInterface is not null && host.FindInterface(inInterface) is { Addresses.Count: > 0 } dev)
            newDst = dev.Addresses[0].Address;
        else
            return NatOutcome.Drop(NatManipType.Dst, curr, $"REDIRECT: incoming interface {inInterface ?? "(none)"} has no IPv4 address");
        var r = range with { Flags = range.Flags | NatRangeFlags.MapIps, MinIp = newDst, MaxIp = newDst };
        return SetupInfo(ct, r, NatManipType.Dst);
    }

    /// <summary>For every later packet of a masqueraded connection leaving through <paramref name="outInterface"/>: the kernel
    /// kills the entry and drops the packet when it leaves through another interface than the one it was masqueraded
    /// through (nf_nat_core.c <c>nf_nat_inet_fn</c> → <c>nf_nat_oif_changed</c>). Returns false in that case, after removing
    /// the entry from the table.</summary>
    public bool CheckMasqueradeOut(ConntrackEntry ct, ConntrackDirection dir, string outInterface)
    {
        if (ct.MasqueradeInterface is not { } masq || dir != ConntrackDirection.Original || masq == outInterface) return true;
        _table.Remove(ct);
        return false;
    }

    /// <summary>Explain mode: the exact probability of every port a random-start search (<see cref="NatPortChoice.IsRandom"/>)
    /// could have picked, given the table now. The kernel draws a uniform 16-bit offset, starts at <c>offset mod size</c>
    /// (so with 65536 not a multiple of the window size the lowest <c>65536 mod size</c> start positions are one draw more
    /// likely) and takes the first free port from there. A start whose first free port lies beyond the 128 probes of the
    /// first round re-draws in the kernel; its mass is spread like a fresh draw (the weights are renormalised), which is
    /// exact while at least 128 probes always reach a free port and an approximation beyond. Empty when the choice was not random.</summary>
    public IReadOnlyList<(ushort Port, double Probability)> PortDistribution(ConntrackEntry ct, NatOutcome outcome)
    {
        var pc = outcome.Port;
        if (!pc.IsRandom) return [];
        int min = pc.WindowMin, size = pc.WindowMax - pc.WindowMin + 1;
        var free = new bool[size];
        var probe = outcome.After;
        for (int i = 0; i < size; i++)
            free[i] = !Used(WithKey(probe, outcome.Manip, (ushort)(min + i)), ct);
        // distance[i]: probes from start i to the first free index (cyclic), or int.MaxValue if none.
        var distance = new int[size];
        int firstFree = Array.IndexOf(free, true);
        if (firstFree < 0) return [];
        int next = int.MaxValue;
        for (int k = 0; k < 2 * size; k++)
        {
            int i = (firstFree - k % size + 2 * size) % size;
            if (free[i]) next = i;
            if (k >= size) distance[i] = (next - i + size) % size;
        }
        var weight = new double[size];
        double total = 0;
        for (int start = 0; start < size; start++)
        {
            // Offsets 0..65535 with offset mod size == start.
            double draws = start < 65536 ? (65535 - start) / size + 1 : 0;
            if (draws == 0 || distance[start] >= Math.Min(size, MaxAttempts)) continue;
            weight[(start + distance[start]) % size] += draws;
            total += draws;
        }
        var result = new List<(ushort, double)>();
        for (int i = 0; i < size; i++)
            if (weight[i] > 0) result.Add(((ushort)(min + i), weight[i] / total));
        return result;
    }

    // "Unused" = no other entry already has the inverse of this tuple (nf_nat_used_tuple / nf_conntrack_tuple_taken).
    private bool Used(in ConntrackTuple tuple, ConntrackEntry ct) =>
        tuple.TryInvert(out var reply) && _table.IsTaken(reply, ct);

    private ConntrackTuple GetUniqueTuple(ConntrackTuple orig, NatRange range, ConntrackEntry ct, NatManipType manip,
        out NatAddressRule addressRule, out NatPortChoice port, out uint? hash)
    {
        hash = null;
        // 1. SNAT without --random*: keep the original tuple if it fits and is free, else reuse an existing mapping of the
        //    same source ip:port (endpoint-independent mapping).
        if (manip == NatManipType.Src && !range.RandomAll)
        {
            if (InRange(orig, range))
            {
                if (!Used(orig, ct))
                {
                    addressRule = NatAddressRule.KeptOriginal;
                    port = new NatPortChoice(NatPortRule.Kept, KeyOf(orig, manip), 0, 0, false);
                    return orig;
                }
            }
            else if (FindAppropriateSrc(orig, range, out var mapped) && !Used(mapped, ct))
            {
                addressRule = NatAddressRule.ReusedMapping;
                port = new NatPortChoice(NatPortRule.ReusedMapping, KeyOf(mapped, manip), 0, 0, false);
                return mapped;
            }
        }

        // 2. The address: one address as is, several by the jhash of (source, destination).
        var tuple = orig;
        addressRule = NatAddressRule.Unchanged;
        if (range.MapsIps)
        {
            Ip4 chosen;
            if (range.MinIp == range.MaxIp)
            {
                chosen = range.MinIp;
                addressRule = NatAddressRule.Single;
            }
            else
            {
                uint j = JHash.NatAddressHash(tuple.Src, tuple.Dst, tuple.Zone, range.Persistent);
                hash = j;
                uint dist = range.MaxIp.Value - range.MinIp.Value + 1;
                chosen = new Ip4(range.MinIp.Value + JHash.ReciprocalScale(j, dist));
                addressRule = NatAddressRule.Hash;
            }
            tuple = manip == NatManipType.Src ? tuple with { Src = chosen } : tuple with { Dst = chosen };
        }

        // 3. The port: keep it when in range and free (a single-port range is kept even when used), unless --random*.
        if (!range.RandomAll)
        {
            if (range.PortSpecified)
            {
                if (L4InRange(tuple, manip, range) && (range.MinPort == range.MaxPort || !Used(tuple, ct)))
                {
                    port = new NatPortChoice(range.MinPort == range.MaxPort ? NatPortRule.SinglePort : NatPortRule.Kept, KeyOf(tuple, manip), range.MinPort, range.MaxPort, false);
                    return tuple;
                }
            }
            else if (!Used(tuple, ct))
            {
                port = new NatPortChoice(NatPortRule.Kept, KeyOf(tuple, manip), 0, 0, false);
                return tuple;
            }
        }
        return UniqueTuple(tuple, range, manip, ct, out port);
    }

    // nf_nat_l4proto_unique_tuple: search the window for a free port (or ICMP id).
    private ConntrackTuple UniqueTuple(ConntrackTuple tuple, NatRange range, NatManipType manip, ConntrackEntry ct, out NatPortChoice port)
    {
        uint min, size;
        bool icmp = tuple.Protocol == IpProtocol.Icmp;
        if (icmp)
        {
            if (!range.PortSpecified) { min = 0; size = 65536; }
            else { min = range.MinPort; size = (uint)(range.MaxPort - range.MinPort + 1); }
        }
        else if (IpProtocols.HasPorts(tuple.Protocol))
        {
            if (!range.PortSpecified)
            {
                // A destination rewrite without a port range never changes the port.
                if (manip == NatManipType.Dst)
                {
                    port = new NatPortChoice(NatPortRule.UnchangedDnat, tuple.DstPort, 0, 0, false);
                    return tuple;
                }
                ushort key = KeyOf(tuple, manip);
                // "Loose convention: >> 512 is credential passing": keep the port's class.
                if (key < 1024)
                {
                    if (key < 512) { min = 1; size = 511; }
                    else { min = 600; size = 1023 - 600 + 1; }
                }
                else { min = 1024; size = 65535 - 1024 + 1; }
            }
            else
            {
                min = range.MinPort;
                size = (uint)(range.MaxPort - range.MinPort + 1);
            }
        }
        else
        {
            port = new NatPortChoice(NatPortRule.Kept, 0, 0, 0, false);
            return tuple;
        }

        bool randomStart = range.RandomAll || manip != NatManipType.Dst;
        ushort off = randomStart ? (ushort)_random.Next(65536) : (ushort)0;
        uint attempts = Math.Min(size, MaxAttempts);
        ushort windowMax = (ushort)(min + size - 1);
        while (true)
        {
            for (uint i = 0; i < attempts; i++, off++)
            {
                tuple = WithKey(tuple, manip, (ushort)(min + off % size));
                if (!Used(tuple, ct))
                {
                    port = new NatPortChoice(NatPortRule.Searched, KeyOf(tuple, manip), (ushort)min, windowMax, randomStart);
                    return tuple;
                }
            }
            // "If we can't find any free port from first offset, pick a new one and try again, with ever smaller search window."
            if (attempts >= size || attempts < 16) break;
            attempts /= 2;
            off = (ushort)_random.Next(65536);
        }
        port = new NatPortChoice(NatPortRule.Searched, KeyOf(tuple, manip), (ushort)min, windowMax, randomStart);
        return tuple;
    }

    private bool FindAppropriateSrc(ConntrackTuple orig, NatRange range, out ConntrackTuple result)
    {
        foreach (var e in _table.BySource(orig.Protocol, orig.Src, orig.SrcPort, orig.Zone))
        {
            if (!e.Has(ConntrackStatus.SrcNatDone)) continue;
            var inv = e.Reply.Invert();
            // Copy the source part from the existing mapping, keep this connection's destination.
            result = orig with { Src = inv.Src, SrcPort = inv.SrcPort };
            if (InRange(result, range)) return true;
        }
        result = default;
        return false;
    }

    // nf_in_range (SRC side only).
    private static bool InRange(in ConntrackTuple t, NatRange range)
    {
        if (range.MapsIps && (t.Src < range.MinIp || t.Src > range.MaxIp)) return false;
        if (!range.PortSpecified) return true;
        return L4InRange(t, NatManipType.Src, range);
    }

    private static bool L4InRange(in ConntrackTuple t, NatManipType manip, NatRange range)
    {
        if (t.Protocol != IpProtocol.Icmp && !IpProtocols.HasPorts(t.Protocol)) return true;
        ushort key = KeyOf(t, manip);
        return key >= range.MinPort && key <= range.MaxPort;
    }

    // The key the manip changes: the ICMP id (always the source side), else the source or destination port.
    private static ushort KeyOf(in ConntrackTuple t, NatManipType manip) =>
        t.Protocol == IpProtocol.Icmp || manip == NatManipType.Src ? t.SrcPort : t.DstPort;

    private static ConntrackTuple WithKey(ConntrackTuple t, NatManipType manip, ushort key) =>
        t.Protocol == IpProtocol.Icmp || manip == NatManipType.Src ? t with { SrcPort = key } : t with { DstPort = key };
}
