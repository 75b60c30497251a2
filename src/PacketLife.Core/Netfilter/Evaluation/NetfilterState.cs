using PacketLife.Core.Net;
using PacketLife.Core.Netfilter.Matches;

namespace PacketLife.Core.Netfilter.Evaluation;

/// <summary>The mutable state rules read and change (passed in, never global): `recent` tables, `statistic nth`
/// counters, `limit` buckets, ipsets and the clock. <see cref="Clone"/> gives explain mode a private copy.</summary>
public sealed class NetfilterState
{
    public TimeProvider Clock { get; init; } = TimeProvider.System;
    IpSetCollection? ipSets;
    /// <summary>The ipsets (configuration: a <see cref="Clone"/> shares them). Made on first use, like the maps below.</summary>
    public IpSetCollection IpSets { get => ipSets ??= new(); init => ipSets = value; }
    // The three maps are made on first use: explain mode clones the state once per outcome of every table it walks,
    // and almost always all three are empty (no `recent`, `statistic --mode nth` or `limit` rule was reached).
    Dictionary<string, RecentTable>? recent;
    Dictionary<Match, uint>? nthCounters;
    Dictionary<Match, LimitBucket>? limitBuckets;

    public Dictionary<string, RecentTable> Recent => recent ??= new(StringComparer.Ordinal);
    /// <summary>Per-rule nth counters (each match object has its own, as in xt_statistic.c).</summary>
    public Dictionary<Match, uint> NthCounters => nthCounters ??= new(ReferenceEqualityComparer.Instance);
    public Dictionary<Match, LimitBucket> LimitBuckets => limitBuckets ??= new(ReferenceEqualityComparer.Instance);

    public double NowSeconds => Clock.GetTimestamp() / (double)Clock.TimestampFrequency;

    /// <summary>Forgets what packets left behind (`recent` lists, nth counters, limit buckets), as a freshly loaded
    /// ruleset starts; the ipsets are configuration and stay.</summary>
    public void ResetRuleState()
    {
        recent?.Clear();
        nthCounters?.Clear();
        limitBuckets?.Clear();
    }

    /// <summary>A private copy: the same clock and ipsets (configuration), copies of the `recent` tables, nth counters
    /// and limit buckets (only those that hold something are copied; the copy makes the others on first use).</summary>
    public NetfilterState Clone() => new()
    {
        Clock = Clock,
        IpSets = IpSets,
        recent = recent is { Count: > 0 } ? recent.ToDictionary(kv => kv.Key, kv => kv.Value.Clone(), StringComparer.Ordinal) : null,
        nthCounters = nthCounters is { Count: > 0 } ? new Dictionary<Match, uint>(nthCounters, ReferenceEqualityComparer.Instance) : null,
        limitBuckets = limitBuckets is { Count: > 0 } ? new Dictionary<Match, LimitBucket>(limitBuckets, ReferenceEqualityComparer.Instance) : null,
    };
}

/// <summary>One `recent` list (xt_recent.c): up to 200 addresses (LRU), each with its last 20 timestamps. The mask
/// is the table's, fixed by the first rule that used the name.</summary>
public sealed class RecentTable(string name, uint mask)
{
    public const int MaxEntries = 200;   // ip_list_tot default
    public const int MaxStamps = 20;     // ip_pkt_list_tot default

    public string Name { get; } = name;
    public uint Mask { get; } = mask;
    readonly Dictionary<uint, RecentEntry> entries = new();

    public sealed class RecentEntry
    {
        public List<double> Stamps { get; } = [];
        public byte Ttl { get; set; }
        public double LastSeen { get; set; }
    }

    public IReadOnlyDictionary<uint, RecentEntry> Entries => entries;

    public RecentEntry? Find(uint addr) => entries.GetValueOrDefault(addr & Mask);

    public void Add(uint addr, byte ttl, double now)
    {
        addr &= Mask;
        if (!entries.TryGetValue(addr, out var e))
        {
            if (entries.Count >= MaxEntries)
            {
                var lru = entries.MinBy(kv => kv.Value.LastSeen).Key;
                entries.Remove(lru);
            }
            e = new RecentEntry();
            entries[addr] = e;
        }
        Touch(e, ttl, now);
    }

    public static void Touch(RecentEntry e, byte ttl, double now)
    {
        if (e.Stamps.Count >= MaxStamps) e.Stamps.RemoveAt(0);
        e.Stamps.Add(now);
        e.Ttl = ttl;
        e.LastSeen = now;
    }

    public void Remove(uint addr) => entries.Remove(addr & Mask);

    /// <summary>`--reap`: drop the least recently seen entry when its newest stamp is outside the window.</summary>
    public void Reap(double now, double seconds)
    {
        if (entries.Count == 0) return;
        var lru = entries.MinBy(kv => kv.Value.LastSeen);
        if (now - lru.Value.LastSeen > seconds) entries.Remove(lru.Key);
    }

    public RecentTable Clone()
    {
        var t = new RecentTable(Name, Mask);
        foreach (var (k, v) in entries)
        {
            var e = new RecentEntry { Ttl = v.Ttl, LastSeen = v.LastSeen };
            e.Stamps.AddRange(v.Stamps);
            t.entries[k] = e;
        }
        return t;
    }
}

/// <summary>A `limit` token bucket (xt_limit.c): starts full with `burst` tokens, refills one token per average
/// interval, up to `burst`.</summary>
public sealed record LimitBucket(double Tokens, double LastSeconds);
