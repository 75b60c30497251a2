using System.Text.RegularExpressions;
using PacketLife.Lab.Agent;

namespace PacketLife.Lab.Kernel;

/// <summary>One aspect in which two observations of the same case differ.</summary>
/// <param name="Category">`load`, `counters`, `policies`, `conntrack`, `server`, `local`, `client`, `send`.</param>
public sealed record ObservationDifference(string Category, string Expected, string Actual)
{
    public override string ToString() => $"{Category}: expected {Expected}, got {Actual}";
}

/// <summary>Compares two <see cref="KernelObservation"/>s of one case (the kernel's and a model's) aspect by aspect.
/// Only what the kernel decides deterministically is compared: conntrack timeouts (seconds left, which tick while
/// the case runs) are masked, entries are compared as sets (the kernel lists them in hash order, §5.6), and packets
/// as multisets of their visible fields. What is random in the kernel (`--random-fully` ports, §6.5) is the caller's
/// to mask with <paramref name="normalize"/>.</summary>
public static partial class KernelComparison
{
    public static readonly string[] Categories = ["load", "counters", "policies", "conntrack", "server", "local", "client", "send"];

    public static IReadOnlyList<ObservationDifference> Compare(KernelObservation expected, KernelObservation actual,
        Func<string, string>? normalize = null)
    {
        var n = normalize ?? (s => s);
        var diffs = new List<ObservationDifference>();
        if (expected.Loaded != actual.Loaded)
        {
            diffs.Add(new("load", expected.Loaded ? "loaded" : $"refused ({expected.LoadError})", actual.Loaded ? "loaded" : $"refused ({actual.LoadError})"));
            return diffs;
        }
        if (!expected.Loaded) return diffs;
        Set("counters", expected.Rules.Select(r => $"{r.Table}:{r.Chain}:{r.Index}={r.Packets}"), actual.Rules.Select(r => $"{r.Table}:{r.Chain}:{r.Index}={r.Packets}"));
        Set("policies", expected.Policies.Where(p => p.Policy != "-").Select(p => $"{p.Table}:{p.Chain}={p.Packets}"),
                        actual.Policies.Where(p => p.Policy != "-").Select(p => $"{p.Table}:{p.Chain}={p.Packets}"));
        Set("conntrack", expected.Conntrack.Select(c => n(MaskTimeout(c))), actual.Conntrack.Select(c => n(MaskTimeout(c))));
        Set("server", expected.AtServer.Select(s => n(Visible(s))), actual.AtServer.Select(s => n(Visible(s))));
        Set("local", expected.DeliveredLocally.Select(s => n(Visible(s))), actual.DeliveredLocally.Select(s => n(Visible(s))));
        Set("client", expected.BackAtClient.Select(s => n(Visible(s))), actual.BackAtClient.Select(s => n(Visible(s))));
        Set("send", expected.SendErrors, actual.SendErrors);
        return diffs;

        void Set(string category, IEnumerable<string> e, IEnumerable<string> a)
        {
            var es = e.Order(StringComparer.Ordinal).ToList();
            var @as = a.Order(StringComparer.Ordinal).ToList();
            if (!es.SequenceEqual(@as)) diffs.Add(new(category, "[" + string.Join("; ", es) + "]", "[" + string.Join("; ", @as) + "]"));
        }
    }

    /// <summary>`tcp      6 119 SYN_SENT ...` → `tcp      6 * SYN_SENT ...`: the third field is the seconds left.</summary>
    public static string MaskTimeout(string conntrackLine) => Timeout().Replace(conntrackLine, "$1*", 1);

    /// <summary>What a model can predict of a seen packet: where, the tuple, TCP flags, TTL, length, the ICMP type and
    /// code, and the quoted tuple of an ICMP error.</summary>
    public static string Visible(SeenPacket s) => s.ToString() + $" len={s.Packet.Length}";

    [GeneratedRegex(@"^(\S+\s+\d+\s+)\d+")]
    private static partial Regex Timeout();
}

/// <summary>Agreement counts per category over many cases, for a differential run's summary line.</summary>
public sealed class DifferentialTally
{
    private readonly Dictionary<string, (int Agreed, int Total)> _counts = KernelComparison.Categories.ToDictionary(c => c, _ => (0, 0));

    public int Cases { get; private set; }
    public int CasesAgreed { get; private set; }

    public void Add(IReadOnlyList<ObservationDifference> differences)
    {
        Cases++;
        if (differences.Count == 0) CasesAgreed++;
        foreach (var c in KernelComparison.Categories)
        {
            var (agreed, total) = _counts[c];
            _counts[c] = (agreed + (differences.Any(d => d.Category == c) ? 0 : 1), total + 1);
        }
    }

    /// <summary>`1000 cases, 998 agreed; counters 999/1000, conntrack 1000/1000, ...`.</summary>
    public override string ToString() =>
        $"{Cases} cases, {CasesAgreed} agreed; " + string.Join(", ", KernelComparison.Categories.Select(c => $"{c} {_counts[c].Agreed}/{_counts[c].Total}"));
}
