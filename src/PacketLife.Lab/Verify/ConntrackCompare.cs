using System.Globalization;
using PacketLife.Core.Conntrack;
using PacketLife.Core.Conntrack.Text;

namespace PacketLife.Lab.Verify;

/// <summary>One conntrack entry of a connection, on the node that holds it. <see cref="Depth"/> counts the nodes the
/// connection crossed before this one (the entry a NAT rewrite on an earlier node led to).</summary>
public sealed record ChainEntry(string Node, int Depth, ConntrackLine Line);

/// <summary>The result of one comparison for one connection, in one category.</summary>
public sealed record ConnectionCheck(string Category, bool Agreed, string? Detail = null);

/// <summary>Compares the conntrack entries one connection left on the nodes, in the twin and in the kernel
/// (`conntrack -L` in each node namespace, read with <see cref="ConntrackText"/>).
/// The entries are found by following the connection: the first packet's tuple is some node's original tuple; that
/// entry's reply tuple, inverted, is the packet as it left the node (after DNAT and SNAT, nf_nat_core), which is the
/// original tuple of the entry on the next node it crossed, and so on.</summary>
public static class ConntrackCompare
{
    /// <summary>Which nodes hold entries of the connection, and their original and reply tuples: the DNAT destination
    /// (address and port) and the SNAT source address are compared exactly.</summary>
    public const string Tuples = "conntrack NAT tuples (nodes; DNAT address:port, SNAT address)";

    /// <summary>kube-proxy's MASQUERADE is `--random-fully`: the kernel draws the port (nf_nat_l4proto_unique_tuple with
    /// NF_NAT_RANGE_PROTO_RANDOM_FULLY) and so does the twin, so the ports are not compared: each side's port must lie
    /// in the window the kernel draws from, and the next node must see the same port.</summary>
    public const string RandomPort = "conntrack SNAT port (--random-fully: random on both sides, not compared; checked in the kernel's window, and rarely the original)";

    /// <summary>Notes on an agreeing <see cref="RandomPort"/> check: a side moved the source address but kept the
    /// original port. A random port is the original one time in 64512; plain MASQUERADE keeps it whenever it is free,
    /// so a run where this is common shows that a side does not randomise.</summary>
    public const string KernelKept = "kernel kept the original port", TwinKept = "twin kept the original port";

    /// <summary>The TCP state (TIME_WAIT after curl's close, CLOSE after a RST, SYN_SENT for a lost SYN), the
    /// [UNREPLIED] and [ASSURED] flags and the mark. Timeouts count down and are not compared.</summary>
    public const string State = "conntrack state and flags (TCP state, [UNREPLIED], [ASSURED], mark)";

    public static IReadOnlyList<string> Categories { get; } = [Tuples, RandomPort, State];

    /// <summary>The entries of the connection whose first packet carries <paramref name="first"/>, node by node.</summary>
    public static IReadOnlyList<ChainEntry> Follow(ConntrackTuple first, IReadOnlyDictionary<string, IReadOnlyList<ConntrackLine>> tables)
    {
        var result = new List<ChainEntry>();
        var seen = new HashSet<ConntrackLine>(ReferenceEqualityComparer.Instance);
        var frontier = new List<ConntrackTuple> { first };
        var nodes = tables.Keys.Order(StringComparer.Ordinal).ToList();
        // Each step goes one node further; a connection crosses at most a few nodes (client node, LB's node, pod's node).
        for (int depth = 0; depth < 8 && frontier.Count > 0; depth++)
        {
            var next = new List<ConntrackTuple>();
            foreach (var t in frontier)
                foreach (var node in nodes)
                    foreach (var line in tables[node])
                        if (Same(line.Original, t) && seen.Add(line))
                        {
                            result.Add(new ChainEntry(node, depth, line));
                            if (line.Reply.TryInvert(out var after)) next.Add(after);
                        }
            frontier = next;
        }
        return result;
    }

    static bool Same(ConntrackTuple a, ConntrackTuple b) =>
        a.Protocol == b.Protocol && a.Src == b.Src && a.Dst == b.Dst && a.SrcPort == b.SrcPort && a.DstPort == b.DstPort;

    /// <summary>Whether the entry rewrote the source: the reply goes to another address or port than the original
    /// came from. A node's own connection to its own NodePort keeps its address (MASQUERADE picks the node IP it
    /// already has) but still gets a random port. (A random port equal to the original, chance 1/64512, reads as no
    /// SNAT; the tuples then differ in that port.)</summary>
    public static bool SourceNatted(ConntrackLine l) => l.Reply.Dst != l.Original.Src || l.Reply.DstPort != l.Original.SrcPort;

    /// <summary>The entry moved the source address but left the port as it was.</summary>
    public static bool KeptOriginalPort(ConntrackLine l) => l.Reply.Dst != l.Original.Src && l.Reply.DstPort == l.Original.SrcPort;

    /// <summary>How many connections may keep their original port before a run says a side does not randomise:
    /// 2 + 5% (a random port is the original with probability 1/64512 each).</summary>
    public static int KeptOriginalLimit(int connections) => 2 + connections / 20;

    /// <summary>The window nf_nat_l4proto_unique_tuple draws a source port from when the rule gives no port range:
    /// below 512 stays below 512, below 1024 stays in 600-1023, anything else goes to 1024-65535.</summary>
    public static (int Min, int Max) KernelSnatWindow(int originalPort) =>
        originalPort < 512 ? (1, 511) : originalPort < 1024 ? (600, 1023) : (1024, 65535);

    /// <summary>The chain as text with the random SNAT ports named R1, R2, … in the order they appear (the same port on
    /// the next node gets the same name), one line per entry: `node: src=… dst=… sport=… dport=… | src=… …`.</summary>
    public static IReadOnlyList<string> TupleLines(IReadOnlyList<ChainEntry> chain)
    {
        var names = new Dictionary<ushort, string>();
        var lines = new List<string>();
        foreach (var c in Ordered(chain))
        {
            var l = c.Line;
            if (SourceNatted(l) && !names.ContainsKey(l.Reply.DstPort)) names[l.Reply.DstPort] = "R" + (names.Count + 1).ToString(CultureInfo.InvariantCulture);
            string P(ushort port) => names.TryGetValue(port, out var n) ? n : port.ToString(CultureInfo.InvariantCulture);
            lines.Add($"{c.Node}: src={l.Original.Src} dst={l.Original.Dst} sport={P(l.Original.SrcPort)} dport={l.Original.DstPort} | " +
                      $"src={l.Reply.Src} dst={l.Reply.Dst} sport={l.Reply.SrcPort} dport={P(l.Reply.DstPort)}");
        }
        return lines;
    }

    /// <summary>One line per entry: `node: STATE [UNREPLIED] [ASSURED] mark=N`.</summary>
    public static IReadOnlyList<string> StateLines(IReadOnlyList<ChainEntry> chain) =>
        Ordered(chain).Select(c => $"{c.Node}: {c.Line.State ?? "-"}{(c.Line.Unreplied ? " [UNREPLIED]" : "")}{(c.Line.AssuredFlag is { } f ? $" [{f}]" : "")} mark={c.Line.Mark ?? 0}").ToList();

    static IEnumerable<ChainEntry> Ordered(IReadOnlyList<ChainEntry> chain) =>
        chain.OrderBy(c => c.Depth).ThenBy(c => c.Node, StringComparer.Ordinal);

    /// <summary>The SNAT ports of a chain that lie outside the kernel's window, as text (empty: all in range).</summary>
    public static IReadOnlyList<string> PortsOutOfWindow(IReadOnlyList<ChainEntry> chain) =>
        chain.Where(c => SourceNatted(c.Line))
            .Select(c => (c, w: KernelSnatWindow(c.Line.Original.SrcPort)))
            .Where(x => x.c.Line.Reply.DstPort < x.w.Min || x.c.Line.Reply.DstPort > x.w.Max)
            .Select(x => $"{x.c.Node}: port {x.c.Line.Reply.DstPort} for original port {x.c.Line.Original.SrcPort} is outside {x.w.Min}-{x.w.Max}")
            .ToList();

    /// <summary>Compares one connection's twin and kernel entries in the three categories.</summary>
    public static IReadOnlyList<ConnectionCheck> Compare(IReadOnlyList<ChainEntry> twin, IReadOnlyList<ChainEntry> kernel)
    {
        var checks = new List<ConnectionCheck>();
        var (tt, kt) = (TupleLines(twin), TupleLines(kernel));
        checks.Add(tt.SequenceEqual(kt)
            ? new ConnectionCheck(Tuples, true)
            : new ConnectionCheck(Tuples, false, $"kernel: {Show(kt)}; twin: {Show(tt)}"));
        if (twin.Any(c => SourceNatted(c.Line)) || kernel.Any(c => SourceNatted(c.Line)))
        {
            var bad = PortsOutOfWindow(kernel).Select(s => "kernel " + s).Concat(PortsOutOfWindow(twin).Select(s => "twin " + s)).ToList();
            var kept = new[] { (kernel, KernelKept), (twin, TwinKept) }.Where(x => x.Item1.Any(c => KeptOriginalPort(c.Line))).Select(x => x.Item2).ToList();
            checks.Add(new ConnectionCheck(RandomPort, bad.Count == 0, bad.Count > 0 ? string.Join("; ", bad) : kept.Count > 0 ? string.Join("; ", kept) : null));
        }
        var (ts, ks) = (StateLines(twin), StateLines(kernel));
        // An agreeing check keeps the entries' shape (without node names), for the run's tally of what was compared.
        checks.Add(ts.SequenceEqual(ks)
            ? new ConnectionCheck(State, true, string.Join(" / ", ks.Select(l => l[(l.IndexOf(": ", StringComparison.Ordinal) + 2)..])) is { Length: > 0 } shape ? shape : "(no entry)")
            : new ConnectionCheck(State, false, $"kernel: {Show(ks)}; twin: {Show(ts)}"));
        return checks;
    }

    static string Show(IReadOnlyList<string> lines) => lines.Count == 0 ? "(no entry)" : string.Join(" / ", lines);
}
