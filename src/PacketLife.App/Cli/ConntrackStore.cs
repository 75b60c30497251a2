using System.Globalization;
using System.Text;
using PacketLife.Core.Cluster;
using PacketLife.Core.Conntrack.Text;
using PacketLife.Core.Topology;
using PacketLife.Core.Tracing.Cluster;

namespace PacketLife.App.Cli;

/// <summary>The twin's runtime state between invocations: each node's conntrack table and when the LB last probed,
/// kept beside the cluster state file as `conntrack -L` text per node (so `packetlife curl` leaves entries that a
/// later `packetlife conntrack -L` shows, counting down on the injected clock). Opening the twin replays the LB's
/// probes since the last look.</summary>
internal sealed class TwinSession
{
    /// <summary>How far back probes are walked packet by packet: TIME_WAIT lasts 120 s, a little more is harmless.</summary>
    static readonly TimeSpan ProbeWindow = TimeSpan.FromSeconds(130);

    public required ClusterState State { get; init; }
    public required ClusterTopology Topology { get; init; }
    public required ClusterTracer Tracer { get; init; }
    public required TwinClock Clock { get; init; }
    public string? StorePath { get; init; }

    /// <param name="nodeRules">Nodes that run a given dump instead of the generated rules (`--node-rules NODE=FILE`):
    /// the node names are checked against the state first, then each file is read with <paramref name="readRules"/>.</param>
    public static TwinSession Open(string? clusterFlag, bool persist = true, bool runProbes = true,
        IReadOnlyList<(string Node, string File)>? nodeRules = null, Func<string, NodeDump>? readRules = null)
    {
        Timings.Mark("start-up");
        CommandMemory.ReserveFor(ClusterSession.ResolvePath(clusterFlag));
        var state = ClusterSession.Read(clusterFlag);
        Timings.Mark("state load");
        var clock = new TwinClock(ClusterSession.Clock);
        Dictionary<string, NodeDump>? dumps = null;
        if (nodeRules is { Count: > 0 })
        {
            foreach (var (name, _) in nodeRules)
                if (state.FindNode(name) is null)
                    throw new CliException($"error: --node-rules names node \"{name}\", which the cluster does not have; nodes: {string.Join(", ", state.Nodes.Select(n => n.Metadata.Name))}", 2);
            dumps = nodeRules.ToDictionary(r => r.Node, r => readRules!(r.File), StringComparer.Ordinal);
        }
        // Every verb on the twin walks packets (the probes' timeline at least): the rules build overlaps the hosts'.
        var topo = ClusterTopology.Build(state, clock, prefetchRules: true, nodeDumps: dumps);
        var tracer = new ClusterTracer(topo);
        Timings.Mark("topology build");
        var path = persist ? ClusterSession.ResolvePath(clusterFlag) + ".conntrack" : null;
        DateTimeOffset? probed = null;
        if (path is not null && File.Exists(path)) probed = Load(path, topo);
        var now = clock.GetUtcNow();
        // The LB has probed since its rules exist; only the recent past leaves visible entries.
        var oldestService = state.Services.Where(s => s.Spec.Type == ServiceType.LoadBalancer).Select(s => s.Metadata.CreationTimestamp).DefaultIfEmpty(now).Min();
        var from = probed ?? (oldestService > now - ProbeWindow ? oldestService : now - ProbeWindow);
        if (runProbes) tracer.RunProbes(clock, from, now, ProbeWindow);
        foreach (var n in topo.Nodes) n.Conntrack.Expire();
        Timings.Mark("probes and conntrack");
        return new TwinSession { State = state, Topology = topo, Tracer = tracer, Clock = clock, StorePath = path };
    }

    static DateTimeOffset? Load(string path, ClusterTopology topo)
    {
        DateTimeOffset? saved = null;
        string? node = null;
        var section = new StringBuilder();
        void Flush()
        {
            if (node is null || saved is null || topo.NodeByName(node) is not { } n) return;
            var read = ConntrackText.Read(section.ToString(), path);
            foreach (var (_, line) in read.Lines) n.Conntrack.TryLoad(line.ToEntry(saved.Value));
        }
        foreach (var line in File.ReadAllLines(path))
        {
            if (line.StartsWith("# saved ", StringComparison.Ordinal))
                saved = DateTimeOffset.FromUnixTimeSeconds(long.Parse(line[8..], CultureInfo.InvariantCulture));
            else if (line.StartsWith("# node ", StringComparison.Ordinal))
            {
                Flush();
                node = line[7..];
                section.Clear();
            }
            else section.Append(line).Append('\n');
        }
        Flush();
        return saved;
    }

    public void Save()
    {
        if (StorePath is null) return;
        var sb = new StringBuilder();
        sb.Append("# packetlife twin runtime: conntrack -L per node at the time below (unix seconds)\n");
        sb.Append("# saved ").Append(Clock.GetUtcNow().ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture)).Append('\n');
        foreach (var n in Topology.Nodes)
        {
            sb.Append("# node ").Append(n.Name).Append('\n');
            sb.Append(ConntrackText.WriteTable(n.Conntrack));
        }
        var dir = Path.GetDirectoryName(StorePath);
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        File.WriteAllText(StorePath, sb.ToString());
    }
}
