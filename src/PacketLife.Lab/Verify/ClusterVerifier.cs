using System.Globalization;
using PacketLife.Core.Cluster;
using PacketLife.Core.Net;
using PacketLife.Core.Topology;
using PacketLife.Core.Tracing.Cluster;

namespace PacketLife.Lab.Verify;

/// <summary>One connection to try: from a host of the lab, to an address and port (always TCP: nginx-light serves
/// TCP only, and the lab's pods answer UDP with nothing).</summary>
/// <param name="Category">internet→LB, pod→ClusterIP, pod→own Service, node→NodePort, probe.</param>
/// <param name="LabHost">The lab host it starts from (`client`, `lb`, a node name, a pod key).</param>
public sealed record VerifyCase(string Category, string LabHost, TraceSource From, Ip4 To, ushort Port, string Label, bool Affinity)
{
    public override string ToString() => $"{Category}: {From.Label} -> {To}:{Port} ({Label})";
}

/// <summary>What one connection did: `answered` by whom (and the source address it saw), `refused`, `timeout`.</summary>
public readonly record struct Outcome(string Class, string? Who, string? SeenSource)
{
    public override string ToString() => Class == "answered" ? $"answered by {Who} seeing {SeenSource ?? "?"}" : Class;
}

/// <summary>One case's comparison.</summary>
public sealed record CaseResult(VerifyCase Case, IReadOnlyDictionary<Outcome, double> Twin, IReadOnlyList<Outcome> Lab, IReadOnlyList<string> Problems)
{
    public bool Agreed => Problems.Count == 0;
}

/// <summary>Compares the twin (<see cref="ClusterTracer.Explain"/>: every path with its probability) with the lab
/// (real connections with curl, `/whoami` naming the pod and the source address it saw) case by case: each
/// connection's outcome must be one the twin gives a non-zero probability; over repeated connections every pod the
/// twin predicts with enough expected hits must be reached; and the answering pods' frequencies feed a pooled
/// chi-square goodness-of-fit test against the twin's probabilities.</summary>
public sealed class ClusterVerifier(Cluster.ClusterLab lab, ClusterTracer tracer)
{
    /// <summary>curl's exit codes (curl(1) "EXIT CODES"): 7 = failed to connect (RST or ICMP unreachable),
    /// 28 = timeout (dropped).</summary>
    const int CurlCouldNotConnect = 7, CurlTimeout = 28;

    /// <summary>Random cases over the lab's cluster. Sources and targets are drawn from what exists: frontends and
    /// their ports, Services' ClusterIPs, pods behind Services, nodes and NodePorts, the LB's probes.</summary>
    public static IReadOnlyList<VerifyCase> Cases(ClusterTopology topo, Cluster.LabPlan plan, Random r, int count)
    {
        var state = topo.State;
        var builtPods = topo.Pods.Where(p => plan.FindPod(p.Key) is not null).ToList();
        var services = state.Services.Where(s => s.Spec.ClusterIP is { Length: > 0 } ip && ip != "None" && s.Metadata.Namespace == "default" && s.Metadata.Name != "kubernetes").ToList();
        var makers = new List<Func<VerifyCase?>>();
        var lbPorts = services.Where(s => s.Status.LoadBalancerIngress.Count > 0 && s.Status.LoadBalancerIngress[0].Ip is not null)
            .SelectMany(s => s.Spec.Ports.Where(p => p.Protocol == Protocol.TCP).Select(p => (s, p))).ToList();
        if (lbPorts.Count > 0)
            makers.Add(() =>
            {
                var (s, p) = lbPorts[r.Next(lbPorts.Count)];
                return new VerifyCase("internet->LB", "client", new TraceSource.Internet(Ip4.Parse(Cluster.LabPlan.ClientIp)),
                    Ip4.Parse(s.Status.LoadBalancerIngress[0].Ip!), (ushort)p.Port, $"svc/{s.Metadata.Name}:{p.Port} LB IP", s.Spec.SessionAffinity == SessionAffinity.ClientIP);
            });
        if (builtPods.Count > 0 && services.Count > 0)
        {
            makers.Add(() =>
            {
                var s = services[r.Next(services.Count)];
                var p = s.Spec.Ports[r.Next(s.Spec.Ports.Count)];
                var from = builtPods[r.Next(builtPods.Count)];
                return new VerifyCase("pod->ClusterIP", from.Key, new TraceSource.FromPod(from), Ip4.Parse(s.Spec.ClusterIP), (ushort)p.Port,
                    $"svc/{s.Metadata.Name}:{p.Port} cluster IP", s.Spec.SessionAffinity == SessionAffinity.ClientIP);
            });
            var own = services.SelectMany(s => builtPods.Where(p => Selects(s, p.Pod)).Select(p => (s, p))).ToList();
            if (own.Count > 0)
                makers.Add(() =>
                {
                    var (s, from) = own[r.Next(own.Count)];
                    var p = s.Spec.Ports[r.Next(s.Spec.Ports.Count)];
                    return new VerifyCase("pod->own Service", from.Key, new TraceSource.FromPod(from), Ip4.Parse(s.Spec.ClusterIP), (ushort)p.Port,
                        $"svc/{s.Metadata.Name}:{p.Port} (its own)", s.Spec.SessionAffinity == SessionAffinity.ClientIP);
                });
        }
        var nodePorts = services.SelectMany(s => s.Spec.Ports.Where(p => p.NodePort > 0 && p.Protocol == Protocol.TCP).Select(p => (s, p))).ToList();
        if (nodePorts.Count > 0)
            makers.Add(() =>
            {
                var (s, p) = nodePorts[r.Next(nodePorts.Count)];
                var from = topo.Nodes[r.Next(topo.Nodes.Length)];
                var to = topo.Nodes[r.Next(topo.Nodes.Length)];
                return new VerifyCase("node->NodePort", from.Name, new TraceSource.FromNode(from), to.Ip, (ushort)p.NodePort,
                    $"svc/{s.Metadata.Name} NodePort on {to.Name}", s.Spec.SessionAffinity == SessionAffinity.ClientIP);
            });
        var probes = state.Azure.LoadBalancer.Probes.Where(p => p.Port > 0).ToList();
        if (probes.Count > 0)
            makers.Add(() =>
            {
                var p = probes[r.Next(probes.Count)];
                var to = topo.Nodes[r.Next(topo.Nodes.Length)];
                var svc = p.Service is { } key ? state.FindService(key[..key.IndexOf('/')], key[(key.IndexOf('/') + 1)..]) : null;
                return new VerifyCase("probe", "lb", new TraceSource.Probe(), to.Ip, (ushort)p.Port, $"{p.Protocol} probe {p.Name} to {to.Name}",
                    svc?.Spec.SessionAffinity == SessionAffinity.ClientIP);
            });
        if (makers.Count == 0) return [];
        return Enumerable.Range(0, count).Select(_ => makers[r.Next(makers.Count)]()).OfType<VerifyCase>().ToList();
    }

    static bool Selects(Service s, Pod p) =>
        s.Spec.Selector.Count > 0 && s.Metadata.Namespace == p.Metadata.Namespace
        && s.Spec.Selector.All(kv => p.Metadata.Labels.TryGetValue(kv.Key, out var v) && v == kv.Value);

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

    static Outcome TwinOutcome(TracePath path)
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

    /// <summary>One real connection: curl from the case's host, `/whoami` on a pod (`pod=NAME ip=… client=IP:PORT`), or
    /// a node health server's JSON.</summary>
    public Outcome Lab(VerifyCase c, double timeoutSeconds)
    {
        var argv = new List<string> { "curl", "-s", "-m", timeoutSeconds.ToString("0.0##", CultureInfo.InvariantCulture) };
        if (c.Category == "probe") argv.AddRange(["--interface", Cluster.LabPlan.ProbeSourceIp]);
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
    /// the twin predicts only drops, each costing the timeout).</summary>
    public CaseResult Run(VerifyCase c, int connections, double timeoutSeconds = 1.0)
    {
        var twin = Twin(c);
        var problems = new List<string>();
        if (twin.Keys.Any(o => o.Class == "uncertain")) problems.Add("the twin's path is uncertain (an unsupported rule)");
        int n = twin.Keys.All(o => o.Class == "timeout") ? Math.Min(2, connections) : connections;
        // Connections run four at a time: each is a fresh curl process (its own ephemeral port, so its own 5-tuple).
        var seen = Enumerable.Range(0, n).AsParallel().AsOrdered().WithDegreeOfParallelism(4).Select(_ => Lab(c, timeoutSeconds)).ToList();
        foreach (var o in seen.Distinct())
            if (!twin.TryGetValue(o, out var p) || p <= 0)
                problems.Add($"lab: {o}; twin: {string.Join(", ", twin.Select(kv => $"{kv.Key} ({kv.Value:0.###})"))}");
        // Every pod the twin expects at least 5 hits from must be reached (a miss has probability below e^-5).
        if (!c.Affinity && problems.Count == 0)
            foreach (var (o, p) in twin)
                if (o.Class == "answered" && p * n >= 5 && !seen.Contains(o))
                    problems.Add($"never reached in {n} connections: {o} (twin probability {p:0.###})");
        return new CaseResult(c, twin, seen, problems);
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
