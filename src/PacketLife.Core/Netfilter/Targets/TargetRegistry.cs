namespace PacketLife.Core.Netfilter.Targets;

/// <summary>The `-j` targets PacketLife models, by name, and the names of real targets it knows but does not model.</summary>
public static class TargetRegistry
{
    static readonly Dictionary<string, TargetModule> Modules = new[]
    {
        RejectTarget.Spec, LogTarget.Spec, NflogTarget.Spec, MarkTarget.Spec, ConnmarkTarget.Spec, DnatTarget.Spec,
        SnatTarget.Spec, MasqueradeTarget.Spec, RedirectTarget.Spec, CtTarget.Spec, CtTarget.NotrackSpec, TraceTarget.Spec,
        TcpmssTarget.Spec, ChecksumTarget.Spec,
    }.ToDictionary(m => m.Name, StringComparer.Ordinal);

    static readonly HashSet<string> Unmodelled = new(StringComparer.Ordinal)
    {
        "AUDIT", "CLASSIFY", "CLUSTERIP", "CONNSECMARK", "DSCP", "ECN", "HMARK", "IDLETIMER", "LED", "NETMAP", "NFQUEUE",
        "QUEUE", "RATEEST", "SECMARK", "SET", "SYNPROXY", "TEE", "TOS", "TPROXY", "TTL", "ULOG", "CONNTRACK",
    };

    public static IEnumerable<string> Names => Modules.Keys;
    public static TargetModule? Find(string name) => Modules.GetValueOrDefault(name);
    public static bool IsKnownUnmodelled(string name) => Unmodelled.Contains(name);
}
