using PacketLife.Core.Net;
using PacketLife.Core.Netfilter.Matches;

namespace PacketLife.Core.Netfilter.Evaluation;

/// <summary>The index of one long chain: for a packet, the first rule at or after a position that could match it.
/// <para>A rule is indexed by (protocol, destination /32, destination port) or (protocol, any destination, destination
/// port) when its first evaluated test after the built-in fields is a tcp/udp/sctp match with one destination port:
/// the shapes kube-proxy writes in KUBE-SERVICES (cluster IPs, LB IPs, external IPs, "has no endpoints" rejects) and
/// KUBE-NODEPORTS. The key is only a necessary condition: the walk still tests every rule the index yields, in full.
/// A rule the index skips would, in a plain scan, have failed a built-in field (pure, certain) or that port match
/// (which tests ports before anything uncertain, xt_tcpudp.c order) before any stateful, random or unmodelled match
/// was evaluated, so verdict, visits, branches and uncertainty are those of the plain scan. Every other rule is
/// scanned.</para></summary>
internal sealed class ChainIndex
{
    /// <summary>Positions (in the table's rule array) of the rules that are always tested, ascending.</summary>
    readonly int[] scan;
    readonly KeyTable byDst, anyDst;
    /// <summary>Buckets with more than one rule: their positions, ascending.</summary>
    readonly int[][] overflow;
    /// <summary>The chain's end entry.</summary>
    readonly int end;

    ChainIndex(int[] scan, KeyTable byDst, KeyTable anyDst, int[][] overflow, int end) =>
        (this.scan, this.byDst, this.anyDst, this.overflow, this.end) = (scan, byDst, anyDst, overflow, end);

    /// <summary>Builds the index of the chain whose rules sit at <paramref name="start"/>.. in the table's array; null
    /// when no rule has an indexable shape (the chain is then scanned). <paramref name="certainJump"/> gives, for a
    /// position, where its rule jumps when every packet with the rule's key matches it (else -1).</summary>
    public static ChainIndex? Build(IReadOnlyList<Rule> rules, int start, Func<int, int> certainJump)
    {
        var scan = new List<int>();
        var byDst = new Dictionary<ulong, List<int>>();
        var anyDst = new Dictionary<ulong, List<int>>();
        for (int i = 0; i < rules.Count; i++)
        {
            if (TryKey(rules[i], out var key, out bool exactDst))
            {
                var d = exactDst ? byDst : anyDst;
                if (!d.TryGetValue(key, out var l)) d[key] = l = [];
                l.Add(start + i);
            }
            else scan.Add(start + i);
        }
        if (byDst.Count == 0 && anyDst.Count == 0) return null;
        var overflow = new List<int[]>();
        (ulong, int, int) Bucket(KeyValuePair<ulong, List<int>> kv)
        {
            int jump = certainJump(kv.Value[0]);
            if (kv.Value.Count == 1) return (kv.Key, kv.Value[0], jump);
            overflow.Add([.. kv.Value]);
            return (kv.Key, ~(overflow.Count - 1), jump);
        }
        var a = new KeyTable([.. byDst.Select(Bucket)]);
        var b = new KeyTable([.. anyDst.Select(Bucket)]);
        return new ChainIndex([.. scan], a, b, [.. overflow], start + rules.Count);
    }

    /// <summary>(protocol, destination, port) packed in one integer: a cheap hash and a small table entry. Never 0:
    /// the protocol of a port match is not 0.</summary>
    static ulong Key(IpProtocol protocol, uint dst, ushort port) => (ulong)protocol << 48 | (ulong)dst << 16 | port;

    /// <summary>The key of a rule whose first test after the built-in fields is a port match with one destination
    /// port; <paramref name="exactDst"/> when `-d` is a /32 (else the rule is filed under any destination and its
    /// `-d` is tested when it is reached).</summary>
    internal static bool TryKey(Rule r, out ulong key, out bool exactDst)
    {
        key = default;
        exactDst = false;
        Match? first = null;
        foreach (var m in r.Matches)
        {
            if (m is CommentMatch or NfacctMatch) continue; // always match, no state (skipped by the walk too)
            first = m;
            break;
        }
        (IpProtocol Proto, PortRange? Ports, bool Negated) pm = first switch
        {
            TcpMatch t => (IpProtocol.Tcp, t.DestinationPorts, t.DestinationNegated),
            UdpMatch u => (IpProtocol.Udp, u.DestinationPorts, u.DestinationNegated),
            SctpMatch s => (IpProtocol.Sctp, s.DestinationPorts, s.DestinationNegated),
            _ => default,
        };
        if (pm.Ports is not { IsSingle: true } dp || pm.Negated) return false;
        uint dst = 0;
        if (r.Destination is { Negated: false } d && d.Prefix.Length == 32)
        {
            exactDst = true;
            dst = d.Prefix.Address.Value;
        }
        key = Key(pm.Proto, dst, dp.Min);
        return true;
    }

    /// <summary>The first position at or after <paramref name="from"/> whose rule could match <paramref name="p"/>
    /// (the end entry when none can). <paramref name="jump"/> is where that rule jumps when the index proves it
    /// matches (a bucket's first rule whose only tests are the key, with a `-j` to a scanned chain), else -1: the walk
    /// then need not read the rule at all.</summary>
    public int Next(int from, Packet p, out int jump)
    {
        int best = NextIn(scan, from, end);
        jump = -1;
        // Non-first fragments never match a port match (xt_tcpudp.c, sctp_mt): only scanned rules remain.
        if (p.FragmentOffset == 0)
        {
            if (byDst.Count > 0 && byDst.TryGetValue(Key(p.Protocol, p.Dst.Value, p.DstPort), out var a, out var ja)) Pick(a, ja, from, ref best, ref jump);
            if (anyDst.Count > 0 && anyDst.TryGetValue(Key(p.Protocol, 0, p.DstPort), out var b, out var jb)) Pick(b, jb, from, ref best, ref jump);
        }
        return best;
    }

    void Pick(int bucket, int firstJump, int from, ref int best, ref int jump)
    {
        int first = bucket >= 0 ? bucket : overflow[~bucket][0];
        int next = first >= from ? first : bucket >= 0 ? end : NextIn(overflow[~bucket], from, end);
        if (next < best)
        {
            best = next;
            jump = next == first ? firstJump : -1;
        }
    }

    static int NextIn(int[] sorted, int from, int end)
    {
        int lo = 0, hi = sorted.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) >> 1;
            if (sorted[mid] < from) lo = mid + 1; else hi = mid;
        }
        return lo < sorted.Length ? sorted[lo] : end;
    }

    /// <summary>An open-addressing map from packed keys (never 0) to bucket values, key and value side by side so that
    /// a lookup usually costs one cache line.</summary>
    sealed class KeyTable
    {
        /// <summary>Key, bucket (the rule's position, or ~k for overflow k) and the certain jump of the bucket's first
        /// rule: 16 bytes, a quarter of a cache line.</summary>
        readonly (ulong Key, int Value, int Jump)[] slots;
        readonly int mask;
        public int Count { get; }

        public KeyTable((ulong Key, int Value, int Jump)[] items)
        {
            Count = items.Length;
            int cap = 4;
            while (cap < items.Length * 2) cap <<= 1;
            slots = new (ulong, int, int)[cap];
            mask = cap - 1;
            foreach (var item in items)
            {
                int i = Slot(item.Key);
                while (slots[i].Key != 0) i = (i + 1) & mask;
                slots[i] = item;
            }
        }

        int Slot(ulong k) => (int)((k * 0x9E3779B97F4A7C15UL) >> 40) & mask;

        public bool TryGetValue(ulong key, out int value, out int jump)
        {
            int i = Slot(key);
            while (true)
            {
                ref var e = ref slots[i];
                if (e.Key == key) { value = e.Value; jump = e.Jump; return true; }
                if (e.Key == 0) { value = 0; jump = -1; return false; }
                i = (i + 1) & mask;
            }
        }
    }
}
