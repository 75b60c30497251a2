using PacketLife.Core.Net;

namespace PacketLife.Core.Conntrack;

/// <summary>The conntrack table of one network namespace: confirmed entries, hashed by both tuples so that a
/// packet matching either finds its entry (kernel <c>nf_conntrack_hash</c>). Entries past their expiry are
/// treated as gone on every lookup and removed (the kernel's lookup skips expired entries and GC reaps them).
/// Time comes from the injected <see cref="TimeProvider"/>.</summary>
public sealed class ConntrackTable
{
    private readonly Dictionary<ConntrackTuple, ConntrackEntry> _byTuple = new();
    // Listing order: insertion order, so a table loaded from `conntrack -L` prints back in its own order.
    private readonly LinkedList<ConntrackEntry> _order = new();
    private readonly Dictionary<ConntrackEntry, LinkedListNode<ConntrackEntry>> _nodes = new(ReferenceEqualityComparer.Instance);
    // The kernel's nf_nat_bysource hash: original (proto, src, sport, zone) -> entries, for SNAT mapping reuse.
    private readonly Dictionary<(IpProtocol, Ip4, ushort, ushort), List<ConntrackEntry>> _bySource = new();

    public ConntrackTable(TimeProvider clock, ConntrackSettings? settings = null)
    {
        Clock = clock;
        Settings = settings ?? ConntrackSettings.Default;
    }

    public TimeProvider Clock { get; }
    public ConntrackSettings Settings { get; set; }
    public DateTimeOffset Now => Clock.GetUtcNow();

    /// <summary>Number of entries held, including expired ones not yet reaped (see <see cref="Expire"/>).</summary>
    public int Count => _nodes.Count;

    /// <summary>Finds the live entry one of whose tuples equals <paramref name="tuple"/> (zone included) and
    /// says which direction matched. An expired entry is removed and not returned.</summary>
    public bool TryLookup(in ConntrackTuple tuple, out ConntrackEntry entry, out ConntrackDirection direction)
    {
        direction = default;
        if (!_byTuple.TryGetValue(tuple, out entry!)) return false;
        if (entry.Expires <= Now)
        {
            Remove(entry);
            entry = null!;
            return false;
        }
        direction = entry.Original == tuple ? ConntrackDirection.Original : ConntrackDirection.Reply;
        return true;
    }

    /// <summary>Whether <paramref name="tuple"/> is already a tuple (either direction) of a live entry other than
    /// <paramref name="ignore"/>: kernel <c>nf_conntrack_tuple_taken</c>, which NAT uses to find free mappings.</summary>
    public bool IsTaken(in ConntrackTuple tuple, ConntrackEntry? ignore = null)
    {
        if (!_byTuple.TryGetValue(tuple, out var e) || ReferenceEquals(e, ignore)) return false;
        if (e.Expires <= Now)
        {
            Remove(e);
            return false;
        }
        return true;
    }

    /// <summary>Inserts a confirmed entry (kernel <c>__nf_conntrack_confirm</c>). Fails, leaving the table as it
    /// was, when either tuple is already taken: the kernel then drops the packet (a NAT clash).</summary>
    public bool TryInsert(ConntrackEntry entry)
    {
        if (_nodes.ContainsKey(entry)) return false;
        if (IsTaken(entry.Original) || IsTaken(entry.Reply)) return false;
        _byTuple[entry.Original] = entry;
        if (entry.Reply != entry.Original) _byTuple[entry.Reply] = entry;
        _nodes[entry] = _order.AddLast(entry);
        var key = (entry.Original.Protocol, entry.Original.Src, entry.Original.SrcPort, entry.Original.Zone);
        if (!_bySource.TryGetValue(key, out var list)) _bySource[key] = list = new List<ConntrackEntry>(1);
        list.Add(entry);
        entry.Status |= ConntrackStatus.Confirmed;
        return true;
    }

    /// <summary>Adds an entry read from a dump as is (no clash check beyond the tuples themselves).</summary>
    public bool TryLoad(ConntrackEntry entry) => TryInsert(entry);

    public bool Remove(ConntrackEntry entry)
    {
        if (!_nodes.Remove(entry, out var node)) return false;
        _order.Remove(node);
        if (_byTuple.TryGetValue(entry.Original, out var a) && ReferenceEquals(a, entry)) _byTuple.Remove(entry.Original);
        if (_byTuple.TryGetValue(entry.Reply, out var b) && ReferenceEquals(b, entry)) _byTuple.Remove(entry.Reply);
        var key = (entry.Original.Protocol, entry.Original.Src, entry.Original.SrcPort, entry.Original.Zone);
        if (_bySource.TryGetValue(key, out var list))
        {
            list.Remove(entry);
            if (list.Count == 0) _bySource.Remove(key);
        }
        entry.Status |= ConntrackStatus.Dying;
        return true;
    }

    public bool Contains(ConntrackEntry entry) => _nodes.ContainsKey(entry);

    /// <summary>`conntrack -F`: deletes every entry; returns how many there were.</summary>
    public int Flush()
    {
        // Every entry goes, as Remove would take each (marked dying); the maps are emptied at once, keeping their
        // capacity (the tracer empties a scratch table per path). Only the insertion-order list is ever enumerated.
        int n = _nodes.Count;
        if (n == 0) return 0;
        foreach (var e in _order) e.Status |= ConntrackStatus.Dying;
        _order.Clear();
        _nodes.Clear();
        _byTuple.Clear();
        _bySource.Clear();
        return n;
    }

    /// <summary>Removes every entry whose expiry has passed; returns how many.</summary>
    public int Expire()
    {
        var now = Now;
        var dead = _order.Where(e => e.Expires <= now).ToList();
        foreach (var e in dead) Remove(e);
        return dead.Count;
    }

    /// <summary>Deletes entries masqueraded through <paramref name="interfaceName"/>, as the kernel does when that
    /// interface goes down or loses the address (nf_nat_masquerade.c device/inetaddr notifiers).</summary>
    public int FlushMasquerade(string interfaceName)
    {
        var dead = _order.Where(e => e.MasqueradeInterface == interfaceName).ToList();
        foreach (var e in dead) Remove(e);
        return dead.Count;
    }

    /// <summary>Live entries in listing order, filtered as `conntrack -L` filters them.</summary>
    public IEnumerable<ConntrackEntry> List(ConntrackFilter? filter = null)
    {
        var now = Now;
        foreach (var e in _order)
        {
            if (e.Expires <= now) continue;
            if (filter is null || filter.Matches(e)) yield return e;
        }
    }

    /// <summary>Entry whose original tuple has the given (protocol, source, source port, zone): the kernel's
    /// <c>nf_nat_bysource</c> lookup, for SNAT's endpoint-independent mapping reuse.</summary>
    internal IEnumerable<ConntrackEntry> BySource(IpProtocol proto, Ip4 src, ushort srcPort, ushort zone)
    {
        if (!_bySource.TryGetValue((proto, src, srcPort, zone), out var list)) yield break;
        var now = Now;
        foreach (var e in list.ToArray())
            if (e.Expires > now) yield return e;
    }
}

/// <summary>The filters of `conntrack -L` (conntrack(8)): `-s/--orig-src`, `-d/--orig-dst`, `-r/--reply-src`,
/// `-q/--reply-dst`, `-p/--proto`, `--sport/--orig-port-src`, `--dport/--orig-port-dst`, `--reply-port-src`,
/// `--reply-port-dst`, `-m/--mark value[/mask]`, `-w/--zone`, `--state` (TCP), `-u/--status`. All given filters must hold.</summary>
public sealed record ConntrackFilter
{
    public Ip4Prefix? OrigSrc { get; init; }
    public Ip4Prefix? OrigDst { get; init; }
    public Ip4Prefix? ReplySrc { get; init; }
    public Ip4Prefix? ReplyDst { get; init; }
    public IpProtocol? Protocol { get; init; }
    public ushort? OrigSrcPort { get; init; }
    public ushort? OrigDstPort { get; init; }
    public ushort? ReplySrcPort { get; init; }
    public ushort? ReplyDstPort { get; init; }
    public uint? Mark { get; init; }
    public uint MarkMask { get; init; } = uint.MaxValue;
    public ushort? Zone { get; init; }
    public TcpConntrackState? State { get; init; }
    public ConntrackStatus? Status { get; init; }

    public bool Matches(ConntrackEntry e)
    {
        var o = e.Original;
        var r = e.Reply;
        if (OrigSrc is { } os && !os.Contains(o.Src)) return false;
        if (OrigDst is { } od && !od.Contains(o.Dst)) return false;
        if (ReplySrc is { } rs && !rs.Contains(r.Src)) return false;
        if (ReplyDst is { } rd && !rd.Contains(r.Dst)) return false;
        if (Protocol is { } p && o.Protocol != p) return false;
        bool ports = IpProtocols.HasPorts(o.Protocol);
        if (OrigSrcPort is { } a && (!ports || o.SrcPort != a)) return false;
        if (OrigDstPort is { } b && (!ports || o.DstPort != b)) return false;
        if (ReplySrcPort is { } c && (!ports || r.SrcPort != c)) return false;
        if (ReplyDstPort is { } d && (!ports || r.DstPort != d)) return false;
        if (Mark is { } m && (e.Mark & MarkMask) != m) return false;
        if (Zone is { } z && e.Zone != z) return false;
        if (State is { } s && (o.Protocol != IpProtocol.Tcp || e.TcpState != s)) return false;
        if (Status is { } st && (e.Status & st) != st) return false;
        return true;
    }
}
