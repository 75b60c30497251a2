using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace PacketLife.Lab.Cluster;

/// <summary>The probe loop's last verdict, per frontend (written to health.json for `lab status` and the tests).</summary>
public sealed record LbHealth(DateTimeOffset At, int Round, IReadOnlyList<FrontendHealth> Frontends)
{
    public string ToJson() => JsonSerializer.Serialize(this, LabFileJson.Default.LbHealth);
    public static LbHealth FromJson(string text) => JsonSerializer.Deserialize(text, LabFileJson.Default.LbHealth)!;
}

public sealed record FrontendHealth(string Ip, IReadOnlyList<string> Healthy, IReadOnlyList<string> Down);

/// <summary>The Azure LB's health probing, run inside the fabric namespace from 168.63.129.16: every interval each
/// backend node is probed on each probe of the frontend's rules (TCP: the handshake completes; HTTP: a 200 answer),
/// and a node changes state after `probeThreshold` consecutive results the other way (ARM's probeThreshold; the
/// first round decides the initial state). A node is in a frontend's rotation while all of that frontend's probes
/// pass, and the frontend's route is replaced whenever the set changes.</summary>
/// <remarks>One route per frontend IP, not per rule: a frontend whose rules have different probes takes a node out
/// when any of them fails (Azure decides per rule). Documented in docs/lab.md.</remarks>
public sealed class LbProber(LabRunner runner, string lbNamespace, TimeProvider clock)
{
    readonly Dictionary<(string Node, string Probe), (bool Up, int Streak)> _state = [];
    readonly Dictionary<string, string> _routes = new(StringComparer.Ordinal);
    int _round;

    /// <summary>Runs until the state directory disappears (lab down) or the process is ended.</summary>
    public void Run(string stateDir, CancellationToken stop = default)
    {
        var planPath = Path.Combine(stateDir, LabPlan.FileName);
        while (!stop.IsCancellationRequested && File.Exists(planPath))
        {
            LabPlan plan;
            try { plan = LabPlan.Load(stateDir); }
            catch (IOException) { Thread.Sleep(50); continue; }
            var health = Round(plan);
            var tmp = Path.Combine(stateDir, ClusterLab.HealthFile + ".tmp");
            try
            {
                File.WriteAllText(tmp, health.ToJson());
                File.Move(tmp, Path.Combine(stateDir, ClusterLab.HealthFile), overwrite: true);
            }
            catch (IOException) { return; } // the directory went away: the lab is being torn down
            catch (UnauthorizedAccessException) { return; }
            var interval = plan.ProbeIntervalMs ?? plan.Frontends.SelectMany(f => f.Probes).Select(p => p.IntervalSeconds * 1000).DefaultIfEmpty(5000).Min();
            stop.WaitHandle.WaitOne(Math.Max(50, interval));
        }
    }

    /// <summary>One probe round: probes, thresholds, route changes.</summary>
    public LbHealth Round(LabPlan plan)
    {
        _round++;
        var results = new Dictionary<(string, string), bool>();
        var work = plan.Frontends.SelectMany(f => f.Nodes.SelectMany(n => f.Probes.Select(p => (Node: plan.FindNode(n)!, Probe: p)))).Distinct().ToList();
        var tasks = work.Select(w => Task.Run(() => (Node: w.Node.Name, ProbeName: w.Probe.Name, Ok: Probe(w.Node.Ip, w.Probe)))).ToArray();
        Task.WaitAll(tasks);
        foreach (var t in tasks) results[(t.Result.Node, t.Result.ProbeName)] = t.Result.Ok;
        foreach (var ((node, probe), ok) in results)
        {
            var threshold = plan.Frontends.SelectMany(f => f.Probes).First(p => p.Name == probe).Threshold;
            if (!_state.TryGetValue((node, probe), out var s)) { _state[(node, probe)] = (ok, 0); continue; }
            if (ok == s.Up) { _state[(node, probe)] = (s.Up, 0); continue; }
            var streak = s.Streak + 1;
            _state[(node, probe)] = streak >= threshold ? (ok, 0) : (s.Up, streak);
        }
        var frontends = new List<FrontendHealth>();
        foreach (var f in plan.Frontends)
        {
            // Each rule routes by its own probe (Azure decides health per rule); a rule without a probe takes the pool.
            foreach (var rule in f.Rules ?? [])
            {
                var up = f.Nodes.Where(n => rule.Probe is null || (_state.TryGetValue((n, rule.Probe), out var s) && s.Up)).ToList();
                var route = ClusterLab.FrontendRoute(f.Ip, up.Select(n => plan.FindNode(n)!.Ip).ToList(), rule.Table);
                var key = f.Ip + "/" + rule.Table.ToString(CultureInfo.InvariantCulture);
                if (!_routes.TryGetValue(key, out var current) || current != route)
                {
                    // A rule just removed by `lab sync` may have lost its table's rule; the next round has the new plan.
                    if (runner.IpBatch(lbNamespace, [route]).Succeeded) _routes[key] = route;
                }
            }
            var healthy = f.Nodes.Where(n => f.Probes.All(p => _state.TryGetValue((n, p.Name), out var s) && s.Up)).ToList();
            frontends.Add(new FrontendHealth(f.Ip, healthy, f.Nodes.Except(healthy).ToList()));
        }
        return new LbHealth(clock.GetUtcNow(), _round, frontends);
    }

    /// <summary>One probe from 168.63.129.16: TCP succeeds when the handshake completes; HTTP(S as HTTP) when the
    /// status is 200 (Azure: "HTTP 200 OK"; anything else or no answer within the timeout marks it down).</summary>
    public static bool Probe(string nodeIp, ProbePlan probe, int timeoutMs = 1000)
    {
        try
        {
            using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            s.Bind(new IPEndPoint(IPAddress.Parse(LabPlan.ProbeSourceIp), 0));
            using var cts = new CancellationTokenSource(timeoutMs);
            s.ConnectAsync(new IPEndPoint(IPAddress.Parse(nodeIp), probe.Port), cts.Token).AsTask().GetAwaiter().GetResult();
            if (!probe.Protocol.StartsWith("Http", StringComparison.OrdinalIgnoreCase)) return true;
            var request = $"GET {probe.Path ?? "/"} HTTP/1.1\r\nHost: {nodeIp}:{probe.Port.ToString(CultureInfo.InvariantCulture)}\r\nConnection: close\r\n\r\n";
            s.Send(Encoding.ASCII.GetBytes(request));
            s.ReceiveTimeout = timeoutMs;
            var buf = new byte[64];
            int n = s.Receive(buf);
            var line = Encoding.ASCII.GetString(buf, 0, n);
            return line.StartsWith("HTTP/1.1 200", StringComparison.Ordinal) || line.StartsWith("HTTP/1.0 200", StringComparison.Ordinal);
        }
        catch (SocketException) { return false; }
        catch (OperationCanceledException) { return false; }
        catch (IOException) { return false; }
    }
}
