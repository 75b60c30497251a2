using System.Globalization;
using PacketLife.Core.Cluster;
using PacketLife.Core.Conntrack;
using PacketLife.Core.Conntrack.Text;
using PacketLife.Core.Net;
using PacketLife.Core.Topology;
using PacketLife.Core.Tracing.Cluster;

namespace PacketLife.Lab.Verify;

/// <summary>One connection to try: from a host of the lab, to an address and port (always TCP: nginx-light serves
/// TCP only, and the lab's pods answer UDP with nothing).</summary>
/// <param name="Category">internet->LB, pod->ClusterIP, pod->own Service, node->NodePort, probe.</param>
/// <param name="LabHost">The lab host it starts from (`client`, `lb`, a node name, a pod key).</param>
/// <param name="Spec">The case by the objects it names (what the shrinker carries into a smaller cluster).</param>
public sealed record VerifyCase(string Category, string LabHost, TraceSource From, Ip4 To, ushort Port, string Label, bool Affinity, CaseSpec? Spec = null)
{
    public override string ToString() => $"{Category}: {From.Label} -> {To}:{Port} ({Label})";
}

/// <summary>What one connection did: `answered` by whom (and the source address it saw), `refused`, `timeout`.</summary>
public readonly record struct Outcome(string Class, string? Who, string? SeenSource)
{
    public override string ToString() => Class == "answered" ? $"answered by {Who} seeing {SeenSource ?? "?"}" : Class;
}

/// <summary>One case's comparison. <paramref name="Problems"/> are the disagreements of the connections' outcomes;
/// <paramref name="Checks"/> the conntrack comparisons, one per connection and category.</summary>
public sealed record CaseResult(VerifyCase Case, IReadOnlyDictionary<Outcome, double> Twin, IReadOnlyList<Outcome> Lab, IReadOnlyList<string> Problems,
    IReadOnlyList<ConnectionCheck>? Checks = null)
{
    /// <summary>The kind of disagreement a shrink must keep: the outcome of the connections.</summary>
    public const string OutcomeKind = "outcome";

    public IReadOnlyList<ConnectionCheck> ConnectionChecks => Checks ?? [];

    public bool Agreed => Problems.Count == 0 && ConnectionChecks.All(c => c.Agreed);

    /// <summary>What disagreed: <see cref="OutcomeKind"/> and/or the conntrack categories.</summary>
    public IReadOnlyList<string> Kinds =>
        [.. (Problems.Count > 0 ? [OutcomeKind] : Array.Empty<string>()), .. ConnectionChecks.Where(c => !c.Agreed).Select(c => c.Category).Distinct()];

    /// <summary>Every disagreement in words.</summary>
    public IEnumerable<string> AllProblems => Problems.Concat(ConnectionChecks.Where(c => !c.Agreed).Select(c => $"[{c.Category}] {c.Detail}"));
}

/// <summary>Compares the twin (<see cref="ClusterTracer.Explain"/>: every path with its probability) with the lab
/// (real connections with curl, `/whoami` naming the pod and the source address it saw) case by case: each
/// connection's outcome must be one the twin gives a non-zero probability; over repeated connections every pod the
/// twin predicts with enough expected hits must be reached; the answering pods' frequencies feed a pooled
/// chi-square goodness-of-fit test against the twin's probabilities; and each connection's conntrack entries on the
/// nodes (tuples, state, flags) are compared with those the twin's whole connection (<see cref="ClusterTracer.Connect"/>)
/// leaves along the same path.</summary>
public sealed class ClusterVerifier(Cluster.ClusterLab lab, ClusterTracer tracer)
{
    /// <summary>curl's exit codes (curl(1) "EXIT CODES"): 7 = failed to connect (RST or ICMP unreachable),
    /// 28 = timeout (dropped).</summary>
    const int CurlCouldNotConnect = 7, CurlTimeout = 28;

    /// <summary>Source ports of verify's connections: below Linux's ephemeral range (ip_local_port_range 32768-60999),
    /// so that no other socket of the lab (the probe loop, curl without --local-port) takes one, and each
    /// connection's first tuple is unique across the run.</summary>
    public const int FirstSourcePort = 20000, LastSourcePort = 32767;
    static int _nextPort = FirstSourcePort - 1;

    static ushort NextSourcePort()
    {
        var n = Interlocked.Increment(ref _nextPort);
        return (ushort)(FirstSourcePort + (n - FirstSourcePort) % (LastSourcePort - FirstSourcePort + 1));
    }

    /// <summary>Compare each connection's conntrack entries too (on by default; costs one `conntrack -L` per node per
    /// case and one twin connection per real one).</summary>
    public bool CompareConntrack { get; init; } = true;

    /// <summary>How many seeds the twin may try to follow the path the kernel took (statistic draws); a path of
    /// probability 1/4 is missed by 64 tries with probability (3/4)^64 ≈ 1e-8.</summary>
    public int PathSearchLimit { get; init; } = 64;

    /// <summary>Random cases over the lab's cluster. Sources and targets are drawn from what exists: frontends and
    /// their ports, Services' ClusterIPs, pods behind Services, nodes and NodePorts, the LB's probes.</summary>
    public static IReadOnlyList<VerifyCase> Cases(ClusterTopology topo, Cluster.LabPlan plan, Random r, int count)
    {
        var state = topo.State;
        var services = state.Services.Where(s => s.Spec.ClusterIP is { Length: > 0 } ip && ip != "None" && s.Metadata.Namespace == "default" && s.Metadata.Name != "kubernetes").ToList();
        string? DeploymentOf(Service s) => s.Spec.Selector.TryGetValue("app", out var a) ? a : null;
        var deployments = topo.Pods.Where(p => plan.FindPod(p.Key) is not null && p.Pod.Metadata.Labels.ContainsKey("app"))
            .Select(p => p.Pod.Metadata.Labels["app"]).Distinct().Order(StringComparer.Ordinal).ToList();
        string PodSource(string deployment) => $"pod:{deployment}#{r.Next(4)}";
        var makers = new List<Func<CaseSpec?>>();
        var lbPorts = services.Where(s => s.Status.LoadBalancerIngress.Count > 0 && s.Status.LoadBalancerIngress[0].Ip is not null)
            .SelectMany(s => s.Spec.Ports.Where(p => p.Protocol == Protocol.TCP).Select(p => (s, p))).ToList();
        if (lbPorts.Count > 0)
            makers.Add(() =>
            {
                var (s, p) = lbPorts[r.Next(lbPorts.Count)];
                return new CaseSpec(CaseSpec.InternetToLb, s.Metadata.Name, p.Name, "client");
            });
        if (deployments.Count > 0 && services.Count > 0)
        {
            makers.Add(() =>
            {
                var s = services[r.Next(services.Count)];
                var p = s.Spec.Ports[r.Next(s.Spec.Ports.Count)];
                return new CaseSpec(CaseSpec.PodToClusterIp, s.Metadata.Name, p.Name, PodSource(deployments[r.Next(deployments.Count)]));
            });
            var own = services.Where(s => DeploymentOf(s) is { } d && deployments.Contains(d)).ToList();
            if (own.Count > 0)
                makers.Add(() =>
                {
                    var s = own[r.Next(own.Count)];
                    var p = s.Spec.Ports[r.Next(s.Spec.Ports.Count)];
                    return new CaseSpec(CaseSpec.PodToOwnService, s.Metadata.Name, p.Name, PodSource(DeploymentOf(s)!));
                });
        }
        var nodePorts = services.SelectMany(s => s.Spec.Ports.Where(p => p.NodePort > 0 && p.Protocol == Protocol.TCP).Select(p => (s, p))).ToList();
        if (nodePorts.Count > 0)
            makers.Add(() =>
            {
                var (s, p) = nodePorts[r.Next(nodePorts.Count)];
                return new CaseSpec(CaseSpec.NodeToNodePort, s.Metadata.Name, p.Name, $"node#{r.Next(topo.Nodes.Length)}", r.Next(topo.Nodes.Length));
            });
        var probed = services.Where(s => CaseSpec.ProbesOf(state, s.Metadata.Name).Count > 0).ToList();
        if (probed.Count > 0)
            makers.Add(() =>
            {
                var s = probed[r.Next(probed.Count)];
                var probes = CaseSpec.ProbesOf(state, s.Metadata.Name);
                // The probe's LB rule names the Service port; any port of the Service resolves to the same probes.
                return new CaseSpec(CaseSpec.ProbeCategory, s.Metadata.Name, s.Spec.Ports[0].Name, "lb", r.Next(topo.Nodes.Length), r.Next(probes.Count));
            });
        if (makers.Count == 0) return [];
        // The internet to a node's NodePort: one case in 16 (its connections end only at the timeout, so they are
        // the slowest to run).
        CaseSpec? Next()
        {
            if (nodePorts.Count > 0 && r.Next(16) == 0)
            {
                var (s, p) = nodePorts[r.Next(nodePorts.Count)];
                return new CaseSpec(CaseSpec.InternetToNodePort, s.Metadata.Name, p.Name, "client", r.Next(topo.Nodes.Length));
            }
            return makers[r.Next(makers.Count)]();
        }
        return Enumerable.Range(0, count).Select(_ => Next()?.Resolve(topo, plan)).OfType<VerifyCase>().ToList();
    }

    /// <summary>The twin's outcomes of a case with their probabilities (paths with the same outcome add up).</summary>
    public IReadOnlyDictionary<Outcome, double> Twin(VerifyCase c)
    {
        var trace = tracer.Explain(c.From, new TraceTarget(c.To, c.Port, c.Label), IpProtocol.Tcp);
        var outcomes = new Dictionary<Outcome, double>();
        foreach (var path in trace.Paths)
        {
            var o = TwinOutcome(path);
            outcomes[o] = outcomes.GetValueOrDefault(o) + path.Probability;
        }
        return outcomes;
    }

    internal static Outcome TwinOutcome(TracePath path)
    {
        switch (path.Disposition)
        {
            case TraceDisposition.Answered:
                var podHop = path.Hops.LastOrDefault(h => h.Host.StartsWith("pod/", StringComparison.Ordinal));
                if (podHop is not null) return new Outcome("answered", "pod:" + podHop.Host[4..], podHop.Before.Src.ToString());
                // A node's own socket (kube-proxy's health server): "... on node NAME (...)".
                var by = path.AnsweredBy ?? "";
                var at = by.LastIndexOf(" on node ", StringComparison.Ordinal);
                var node = at >= 0 ? by[(at + 9)..] : by;
                if (node.IndexOf(' ') is > 0 and var sp) node = node[..sp];
                return new Outcome("answered", "node:" + node, null);
            case TraceDisposition.Refused:
            case TraceDisposition.Rejected:
                return new Outcome("refused", null, null);
            case TraceDisposition.Dropped:
            case TraceDisposition.ReplyLost:
                return new Outcome("timeout", null, null);
            default:
                return new Outcome("uncertain", null, null);
        }
    }

    /// <summary>One real connection: curl from the case's host with a fixed source port, `/whoami` on a pod
    /// (`pod=NAME ip=… client=IP:PORT`), or a node health server's JSON.</summary>
    public Outcome Lab(VerifyCase c, double timeoutSeconds, ushort sourcePort = 0)
    {
        var argv = new List<string> { "curl", "-s", "-m", timeoutSeconds.ToString("0.0##", CultureInfo.InvariantCulture) };
        if (c.Category == "probe") argv.AddRange(["--interface", Cluster.LabPlan.ProbeSourceIp]);
        if (sourcePort != 0) argv.AddRange(["--local-port", sourcePort.ToString(CultureInfo.InvariantCulture)]);
        argv.Add($"http://{c.To}:{c.Port}/whoami");
        var r = lab.Exec(c.LabHost, argv);
        switch (r.ExitCode)
        {
            case 0:
                var body = r.Stdout.Trim();
                if (body.StartsWith("pod=", StringComparison.Ordinal))
                {
                    var fields = body.Split(' ').Select(f => f.Split('=', 2)).Where(f => f.Length == 2).ToDictionary(f => f[0], f => f[1]);
                    var pod = lab.Plan.FindPod(fields["pod"]);
                    var client = fields.GetValueOrDefault("client") ?? "";
                    return new Outcome("answered", "pod:" + (pod?.Key ?? fields["pod"]), client.Contains(':') ? client[..client.LastIndexOf(':')] : client);
                }
                var node = lab.Plan.Nodes.FirstOrDefault(n => body.Contains($"\"node\": \"{n.Name}\"", StringComparison.Ordinal));
                return new Outcome("answered", "node:" + (node?.Name ?? "?"), null);
            case CurlCouldNotConnect: return new Outcome("refused", null, null);
            case CurlTimeout: return new Outcome("timeout", null, null);
            default: return new Outcome($"curl exit {r.ExitCode}", null, null);
        }
    }

    /// <summary>Runs one case: the twin's prediction, then <paramref name="connections"/> real connections (two when
    /// the twin predicts only drops, each costing the timeout), then each connection's conntrack entries.</summary>
    public CaseResult Run(VerifyCase c, int connections, double timeoutSeconds = 1.0)
    {
        var twin = Twin(c);
        var problems = new List<string>();
        if (twin.Keys.Any(o => o.Class == "uncertain")) problems.Add("the twin's path is uncertain (an unsupported rule)");
        int n = twin.Keys.All(o => o.Class == "timeout") ? Math.Min(2, connections) : connections;
        var ports = Enumerable.Range(0, n).Select(_ => CompareConntrack ? NextSourcePort() : (ushort)0).ToList();
        // Connections run four at a time: each is a fresh curl process with its own source port, so its own 5-tuple.
        var seen = ports.AsParallel().AsOrdered().WithDegreeOfParallelism(4).Select(sp => Lab(c, timeoutSeconds, sp)).ToList();
        foreach (var o in seen.Distinct())
            if (!twin.TryGetValue(o, out var p) || p <= 0)
                problems.Add($"lab: {o}; twin: {string.Join(", ", twin.Select(kv => $"{kv.Key} ({kv.Value:0.###})"))}");
        // Every pod the twin expects at least 5 hits from must be reached (a miss has probability below e^-5).
        if (!c.Affinity && problems.Count == 0)
            foreach (var (o, p) in twin)
                if (o.Class == "answered" && p * n >= 5 && !seen.Contains(o))
                    problems.Add($"never reached in {n} connections: {o} (twin probability {p:0.###})");
        var checks = new List<ConnectionCheck>();
        if (CompareConntrack)
        {
            var kernel = KernelTables(out var unreadable);
            for (int i = 0; i < n; i++)
            {
                if (!twin.ContainsKey(seen[i])) continue;
                // A line the reader cannot take is a format the twin does not know: a disagreement, not a guess.
                if (unreadable is not null) checks.Add(new ConnectionCheck(ConntrackCompare.Tuples, false, unreadable));
                else checks.AddRange(CompareConnection(c, ports[i], seen[i], kernel));
            }
        }
        return new CaseResult(c, twin, seen, problems, checks);
    }

    /// <summary>Every node's TCP entries as the kernel lists them (`conntrack -L -p tcp` in the node's namespace);
    /// <paramref name="unreadable"/> names the first line the project's reader refused, if any.</summary>
    Dictionary<string, IReadOnlyList<ConntrackLine>> KernelTables(out string? unreadable)
    {
        unreadable = null;
        var tables = new Dictionary<string, IReadOnlyList<ConntrackLine>>(StringComparer.Ordinal);
        foreach (var node in lab.Plan.Nodes)
        {
            var read = ConntrackText.Read(lab.Conntrack(node.Name, "-p", "tcp"), "conntrack -L on " + node.Name);
            if (read.HasErrors && unreadable is null)
                unreadable = $"cannot read `conntrack -L` of {node.Name}: {read.Diagnostics.First(d => d.Severity == PacketLife.Core.Diagnostics.Severity.Error)}";
            tables[node.Name] = read.Lines.Select(l => l.Entry).ToList();
        }
        return tables;
    }

    /// <summary>One connection's entries: the kernel's, found from the connection's first tuple, against those the
    /// twin's whole connection (handshake, GET, response, close) leaves along the same path: the same LB backend
    /// (the lab's ECMP hash is not Azure's, so the twin is told which node the kernel's LB picked) and the same
    /// answer; the twin's statistic draws are repeated with other seeds until its path is the kernel's.</summary>
    IEnumerable<ConnectionCheck> CompareConnection(VerifyCase c, ushort sport, Outcome labOutcome, IReadOnlyDictionary<string, IReadOnlyList<ConntrackLine>> kernel)
    {
        var first = new ConntrackTuple(IpProtocol.Tcp, SourceOf(c), c.To, sport, c.Port);
        var kernelChain = ConntrackCompare.Follow(first, kernel);
        var kernelNodes = string.Join(",", kernelChain.Select(e => e.Node).Order(StringComparer.Ordinal));
        var lbNode = c.Category == CaseSpec.InternetToLb ? kernelChain.Where(e => e.Depth == 0).Select(e => e.Node).FirstOrDefault() : null;
        IReadOnlyList<ChainEntry>? best = null;
        for (int seed = 1; seed <= PathSearchLimit; seed++)
        {
            var twinChain = TwinConnection(c, sport, (ulong)seed, lbNode, first, out var twinOutcome);
            best ??= twinChain;
            if (twinOutcome == labOutcome && string.Join(",", twinChain.Select(e => e.Node).Order(StringComparer.Ordinal)) == kernelNodes)
                return ConntrackCompare.Compare(twinChain, kernelChain)
                    .Select(x => x.Category == ConntrackCompare.State && x.Agreed ? x with { Detail = $"{labOutcome.Class}: {x.Detail}" } : x);
        }
        // No path of the twin's crosses the nodes the kernel's did: the tuples disagree (the rest cannot be compared).
        return [new ConnectionCheck(ConntrackCompare.Tuples, false,
            $"the twin has no path through the nodes the kernel's connection crossed ({labOutcome}): kernel: {string.Join(" / ", ConntrackCompare.TupleLines(kernelChain))}; twin (seed 1): {string.Join(" / ", ConntrackCompare.TupleLines(best ?? []))}")];
    }

    /// <summary>The address the case's first packet leaves its host with (the twin's source selection for a node).</summary>
    Ip4 SourceOf(VerifyCase c) => c.From switch
    {
        TraceSource.Internet i => i.Client,
        TraceSource.Probe => ClusterTopology.ProbeSource,
        TraceSource.FromPod p => p.Pod.Ip,
        TraceSource.FromNode nd => nd.Node.Host.Lookup(c.To) is { } r && nd.Node.Host.SelectSource(r, c.To) is { } s ? s : nd.Node.Ip,
        _ => Ip4.Any,
    };

    /// <summary>One whole connection in the twin from a fresh start (empty node tables; a new tracer, so that `recent`
    /// lists of ClientIP affinity and the LB's health start over too); its entries, followed from the first tuple.</summary>
    IReadOnlyList<ChainEntry> TwinConnection(VerifyCase c, ushort sport, ulong seed, string? lbNode, ConntrackTuple first, out Outcome outcome)
    {
        var topo = tracer.Topology;
        foreach (var node in topo.Nodes) node.Conntrack.Flush();
        var connections = new ClusterTracer(topo);
        if (c.Category == CaseSpec.InternetToLb) SteerLoadBalancer(connections, c, lbNode);
        var conn = connections.Connect(c.From, new TraceTarget(c.To, c.Port, c.Label), seed, "GET", "/whoami", sport);
        outcome = TwinOutcome(conn.First.Paths[0]);
        var now = topo.Clock.GetUtcNow();
        var tables = topo.Nodes.ToDictionary(n => n.Name, n => (IReadOnlyList<ConntrackLine>)n.Conntrack.List().Select(e => ConntrackLine.FromEntry(e, now)).ToList(), StringComparer.Ordinal);
        var chain = ConntrackCompare.Follow(first, tables);
        foreach (var node in topo.Nodes) node.Conntrack.Flush();
        return chain;
    }

    /// <summary>Sets the twin's LB health for the case's rule: the node the kernel's LB chose (when it chose one) is the
    /// only healthy backend; otherwise every backend has its steady-state health (up when its probe succeeds).</summary>
    void SteerLoadBalancer(ClusterTracer connections, VerifyCase c, string? lbNode)
    {
        var lb = connections.LoadBalancer;
        var rule = lb.MatchRule(new Packet(IpProtocol.Tcp, SourceOf(c), 40000, c.To, c.Port), out _, out _);
        if (rule is null || lb.ProbeOf(rule) is not { } probe) return;
        var now = connections.Topology.Clock.GetUtcNow();
        foreach (var node in lb.Pool(rule))
        {
            bool up = lbNode is not null ? node.Name == lbNode : tracer.IsUp(probe, node);
            var h = lb.Health(probe.Name, node.Name);
            if (h.Up != up) h.Record(up, 1, immediateDown: true, now);
        }
    }

    /// <summary>Pearson's chi-square over the answering pods of each case (no affinity, at least two outcomes), summed
    /// over cases: (statistic, degrees of freedom, p-value by the Wilson–Hilferty approximation).</summary>
    public static (double Statistic, int DegreesOfFreedom, double PValue) ChiSquare(IEnumerable<CaseResult> results)
    {
        double stat = 0;
        int df = 0;
        foreach (var res in results)
        {
            if (res.Case.Affinity || !res.Agreed) continue;
            var cells = res.Twin.Where(kv => kv.Value > 0).ToList();
            if (cells.Count < 2) continue;
            int n = res.Lab.Count;
            foreach (var (o, p) in cells)
            {
                double expected = p * n, observed = res.Lab.Count(x => x == o);
                stat += (observed - expected) * (observed - expected) / expected;
            }
            df += cells.Count - 1;
        }
        if (df == 0) return (0, 0, 1);
        // Wilson–Hilferty: (X/k)^(1/3) is close to normal with mean 1 - 2/(9k) and variance 2/(9k).
        double k = df, z = (Math.Cbrt(stat / k) - (1 - 2 / (9 * k))) / Math.Sqrt(2 / (9 * k));
        return (stat, df, 0.5 * Erfc(z / Math.Sqrt(2)));
    }

    /// <summary>Complementary error function (Numerical Recipes' erfcc, fractional error below 1.2e-7).</summary>
    static double Erfc(double x)
    {
        double z = Math.Abs(x), t = 1 / (1 + 0.5 * z);
        double ans = t * Math.Exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
            t * (0.27886807 + t * (-1.13520398 + t * (1.48851973 + t * (-0.82215223 + t * 0.17087277)))))))));
        return x >= 0 ? ans : 2 - ans;
    }
}
