using PacketLife.Core.Net;

namespace PacketLife.Core.Conntrack;

/// <summary>The conntrack hook of one namespace (kernel <c>nf_conntrack_in</c> at PREROUTING/OUTPUT priority -200,
/// and <c>nf_conntrack_confirm</c> last in POSTROUTING/INPUT): looks a packet up, creates an unconfirmed entry for a
/// new connection, runs the protocol tracker (TCP state table, UDP stream rule, ICMP request/reply), and reports
/// the packet's ctinfo. Not modelled: TCP window/sequence tracking (packets carry no sequence numbers, so every
/// segment counts as in window and the RST sequence checks always pass), the retransmission/unacknowledged/zero-window
/// timeout caps, helpers and expectations, and SCTP/DCCP/GRE state (tracked with the generic timeout).</summary>
public sealed class ConntrackTracker
{
    private static readonly TimeSpan UdpStreamAfter = TimeSpan.FromSeconds(2);

    public ConntrackTracker(ConntrackTable table) => Table = table;

    public ConntrackTable Table { get; }
    private ConntrackSettings Settings => Table.Settings;

    /// <summary>The conntrack-in hook for <paramref name="packet"/> as it arrives (before any NAT on this host).
    /// Updates an existing entry's state at once, as the kernel does; a new entry waits for <see cref="Confirm"/>.
    /// ICMP errors need the quoted header: use <see cref="TrackIcmpError"/>.</summary>
    public ConntrackResult Track(Packet packet, ushort zone = 0)
    {
        packetNow = null;
        try
        {
            return TrackAt(packet, zone);
        }
        finally
        {
            packetNow = null;
        }
    }

    private ConntrackResult TrackAt(Packet packet, ushort zone)
    {
        if (packet.Protocol == IpProtocol.Icmp && IsIcmpError(packet.IcmpType))
            return ConntrackResult.InvalidPacket($"ICMP error type {packet.IcmpType} needs its quoted header to be tracked");
        if (packet.Protocol == IpProtocol.Tcp && !TcpConntrack.ValidFlags(packet.Flags))
            return ConntrackResult.InvalidPacket($"TCP flags {packet.Flags} are never valid (tcp_error)");

        var tuple = ConntrackTuple.FromPacket(packet, zone);
        ConntrackEntry? replaced = null;
        for (int attempt = 0; attempt < 2; attempt++)
        {
            if (Table.TryLookup(tuple, out var entry, out var dir))
            {
                var info = dir == ConntrackDirection.Reply ? CtInfo.EstablishedReply
                    : entry.Has(ConntrackStatus.SeenReply) ? CtInfo.Established
                    : entry.Has(ConntrackStatus.Expected) ? CtInfo.Related
                    : CtInfo.New;
                var outcome = Handle(entry, packet, dir, isNew: false);
                if (outcome == Outcome.Reopen)
                {
                    // A SYN on a closed/closing entry: the kernel kills it and looks the packet up again (NF_REPEAT).
                    replaced = entry;
                    Table.Remove(entry);
                    continue;
                }
                if (outcome == Outcome.Invalid)
                    return ConntrackResult.InvalidPacket($"{IpProtocols.Name(packet.Protocol)} packet invalid in state {Describe(entry)}");
                if (dir == ConntrackDirection.Reply) entry.Status |= ConntrackStatus.SeenReply;
                bool destroyed = outcome == Outcome.Destroy;
                if (destroyed) Table.Remove(entry);
                return new ConntrackResult(ConntrackVerdict.Tracked, entry, info, dir, false,
                    destroyed ? "RST before any reply: entry deleted" : outcome == Outcome.Ignored ? "ignored by the TCP tracker (state unchanged)" : "existing entry")
                { Replaced = replaced, Destroyed = destroyed };
            }

            if (!tuple.TryInvert(out var reply))
                return ConntrackResult.InvalidPacket($"ICMP type {packet.IcmpType} cannot start a connection");
            var created = new ConntrackEntry(tuple, reply)
            {
                Zone = zone,
                Created = Now,
                Expires = Now,
            };
            if (Settings.Accounting)
            {
                created.OriginalCounters = new ConntrackCounters();
                created.ReplyCounters = new ConntrackCounters();
            }
            var o = Handle(created, packet, ConntrackDirection.Original, isNew: true);
            if (o is Outcome.Invalid or Outcome.Destroy or Outcome.Reopen)
                return ConntrackResult.InvalidPacket(NewInvalidReason(packet));
            return new ConntrackResult(ConntrackVerdict.Tracked, created, CtInfo.New, ConntrackDirection.Original, true, "new connection")
            { Replaced = replaced };
        }
        return ConntrackResult.InvalidPacket("reopen loop");
    }

    /// <summary>An ICMP error (destination unreachable 3, source quench 4, redirect 5, time exceeded 11, parameter problem 12)
    /// quoting <paramref name="quoted"/>, the header of the packet that caused it as it was on the wire. It is RELATED to
    /// the entry that packet belongs to (kernel <c>nf_conntrack_inet_error</c>), in the direction opposite to the quoted
    /// packet; no entry is created and the entry's state is unchanged. No entry: INVALID.</summary>
    public ConntrackResult TrackIcmpError(Packet error, Packet quoted, ushort zone = 0)
    {
        if (error.Protocol != IpProtocol.Icmp || !IsIcmpError(error.IcmpType))
            return ConntrackResult.InvalidPacket("not an ICMP error");
        var inner = ConntrackTuple.FromPacket(quoted, zone);
        if (!inner.TryInvert(out var inv) || !Table.TryLookup(inv, out var entry, out var dir))
            return ConntrackResult.InvalidPacket("ICMP error about no known connection");
        var info = dir == ConntrackDirection.Reply ? CtInfo.RelatedReply : CtInfo.Related;
        return new ConntrackResult(ConntrackVerdict.Tracked, entry, info, dir, false, "ICMP error related to an existing entry");
    }

    /// <summary>Kernel <c>nf_conntrack_confirm</c>: a new entry enters the table when its packet leaves the walk
    /// (end of POSTROUTING or INPUT). Returns false when the entry's (possibly NATed) reply tuple clashes with a live
    /// entry: the kernel drops the packet. Existing entries and untracked/invalid packets confirm trivially.</summary>
    public bool Confirm(ConntrackResult result)
    {
        if (!result.IsNewEntry || result.Entry is null) return true;
        var e = result.Entry;
        if (e.Has(ConntrackStatus.Confirmed)) return true;
        return Table.TryInsert(e);
    }

    public static bool IsIcmpError(byte type) => type is 3 or 4 or 5 or 11 or 12;

    private enum Outcome { Accept, AcceptNoRefresh, Ignored, Invalid, Destroy, Reopen }

    private Outcome Handle(ConntrackEntry e, Packet p, ConntrackDirection dir, bool isNew)
    {
        var o = p.Protocol switch
        {
            IpProtocol.Tcp => Tcp(e, p, dir, isNew),
            IpProtocol.Udp or IpProtocol.Udplite => Udp(e),
            IpProtocol.Icmp => Icmp(e, p, isNew),
            _ => Generic(e),
        };
        // Counters move with nf_ct_refresh_acct / nf_ct_kill_acct only: ignored packets and retransmitted SYNs are not counted.
        if (o is Outcome.Accept or Outcome.Destroy) Account(e, dir, p);
        if (o == Outcome.AcceptNoRefresh) o = Outcome.Accept;
        return o;
    }

    private Outcome Generic(ConntrackEntry e)
    {
        Refresh(e, Settings.GenericTimeout);
        return Outcome.Accept;
    }

    private static void Account(ConntrackEntry e, ConntrackDirection dir, Packet p)
    {
        var c = dir == ConntrackDirection.Original ? e.OriginalCounters : e.ReplyCounters;
        if (c is null) return;
        c.Packets++;
        c.Bytes += p.Length;
    }

    private void Refresh(ConntrackEntry e, int seconds) => e.Expires = Now + TimeSpan.FromSeconds(seconds);

    // The instant the packet being tracked arrived: read once per packet (the clock behind a live table is the
    // system's), so the entry's creation, expiry and refreshes agree with each other.
    private DateTimeOffset? packetNow;
    private DateTimeOffset Now => packetNow ??= Table.Now;

    // nf_conntrack_proto_tcp.c: tcp_new + nf_conntrack_tcp_packet, without window tracking.
    private Outcome Tcp(ConntrackEntry e, Packet p, ConntrackDirection dir, bool isNew)
    {
        var index = TcpConntrack.IndexOf(p.Flags);
        if (isNew)
        {
            var first = TcpConntrack.Next(ConntrackDirection.Original, index, TcpConntrackState.None);
            if (first == TcpConntrack.Invalid) return Outcome.Invalid;
            // tcp_loose=0: a mid-stream packet may not pick up a connection.
            if (first != TcpConntrackState.SynSent && !Settings.TcpLoose) return Outcome.Invalid;
            e.TcpState = TcpConntrackState.None;
            e.TcpLastIndex = TcpIndex.None;
        }

        var old = e.TcpState;
        var next = TcpConntrack.Next(dir, index, old);
        if (next == TcpConntrackState.SynSent && old >= TcpConntrackState.TimeWait)
        {
            // RFC 1122 reopen from TIME_WAIT/CLOSE: allowed when a close was initiated or this direction last sent a RST.
            if (e.CloseInitOriginal || e.CloseInitReply || (e.TcpLastDir == dir && e.TcpLastIndex == TcpIndex.Rst))
                return Outcome.Reopen;
            next = TcpConntrack.Ignore;
        }
        if (next == TcpConntrack.Ignore)
        {
            e.TcpLastIndex = index;
            e.TcpLastDir = dir;
            return Outcome.Ignored;
        }
        if (next == TcpConntrack.Invalid) return Outcome.Invalid;
        if (next == TcpConntrackState.SynSent2) e.SimultaneousOpen = true;
        if (next == TcpConntrackState.SynRecv && dir == ConntrackDirection.Reply && index == TcpIndex.Ack && e.SimultaneousOpen)
            next = TcpConntrackState.Established;

        e.TcpLastIndex = index;
        e.TcpLastDir = dir;
        e.TcpState = next;
        if (old != next && next == TcpConntrackState.FinWait)
        {
            if (dir == ConntrackDirection.Original) e.CloseInitOriginal = true;
            else e.CloseInitReply = true;
        }

        int timeout = index == TcpIndex.Rst ? Settings.TcpTimeoutClose : Settings.TcpTimeout(next);
        if (!e.Has(ConntrackStatus.SeenReply))
        {
            // "If only reply is a RST, we can consider ourselves not to have an established connection": delete at once.
            if (index == TcpIndex.Rst) return isNew ? Outcome.Invalid : Outcome.Destroy;
            // A retransmitted SYN does not renew the timeout.
            if (index == TcpIndex.Syn && old == TcpConntrackState.SynSent) return Outcome.AcceptNoRefresh;
            // Mid-connection pickup (loose): no large ESTABLISHED timeout before a reply.
            if (next == TcpConntrackState.Established && timeout > Settings.TcpTimeoutUnacknowledged)
                timeout = Settings.TcpTimeoutUnacknowledged;
        }
        else if (!e.Has(ConntrackStatus.Assured) && old is TcpConntrackState.SynRecv or TcpConntrackState.Established
                 && next == TcpConntrackState.Established)
        {
            // The handshake's third packet (or the first answer to a picked-up connection) makes it ASSURED.
            e.Status |= ConntrackStatus.Assured;
        }
        Refresh(e, timeout);
        return Outcome.Accept;
    }

    // nf_conntrack_proto_udp.c, udp_packet: 30 s until a reply; a packet more than 2 s after creation, once a reply
    // was seen, makes it a stream: 120 s and ASSURED. A NAT_CLASH entry never becomes ASSURED.
    private Outcome Udp(ConntrackEntry e)
    {
        if (e.Has(ConntrackStatus.SeenReply))
        {
            int extra = Settings.UdpTimeout;
            bool stream = false;
            if (Now > e.Created + UdpStreamAfter)
            {
                extra = Settings.UdpTimeoutStream;
                stream = !e.Has(ConntrackStatus.Assured);
            }
            Refresh(e, extra);
            if (stream && !e.Has(ConntrackStatus.NatClash)) e.Status |= ConntrackStatus.Assured;
        }
        else
        {
            Refresh(e, Settings.UdpTimeout);
        }
        return Outcome.Accept;
    }

    // nf_conntrack_proto_icmp.c: only echo (8), timestamp (13), info (15) and address mask (17) requests create
    // entries; replies must match one. Never ASSURED.
    private Outcome Icmp(ConntrackEntry e, Packet p, bool isNew)
    {
        if (isNew && p.IcmpType is not (8 or 13 or 15 or 17)) return Outcome.Invalid;
        Refresh(e, Settings.IcmpTimeout);
        return Outcome.Accept;
    }

    private static string Describe(ConntrackEntry e) =>
        e.Protocol == IpProtocol.Tcp ? TcpStates.Name(e.TcpState) : IpProtocols.Name(e.Protocol);

    private string NewInvalidReason(Packet p) => p.Protocol switch
    {
        IpProtocol.Tcp when TcpConntrack.Next(ConntrackDirection.Original, TcpConntrack.IndexOf(p.Flags), TcpConntrackState.None) == TcpConntrackState.Established
            => "lone ACK with nf_conntrack_tcp_loose=0 cannot pick up a connection",
        IpProtocol.Tcp => $"TCP {TcpConntrack.IndexOf(p.Flags)} packet cannot start a connection",
        IpProtocol.Icmp => $"ICMP type {p.IcmpType} is not a request and matches no entry",
        _ => "packet cannot start a connection",
    };
}
