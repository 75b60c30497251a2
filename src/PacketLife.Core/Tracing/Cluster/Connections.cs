using System.Collections.Immutable;
using PacketLife.Core.Http;
using PacketLife.Core.Net;
using PacketLife.Core.Topology;

namespace PacketLife.Core.Tracing.Cluster;

/// <summary>One TCP connection run through the twin, packet by packet.</summary>
/// <param name="First">The trace of the SYN and its answer (the path every later packet follows).</param>
/// <param name="Response">The HTTP response, when the connection was made and an HTTP server answered.</param>
/// <param name="Packets">Every packet of the connection as the client and the server saw it, in order.</param>
public sealed record ConnectionResult(ClusterTrace First, TraceDisposition Disposition, HttpResponse? Response, string Detail,
    ImmutableArray<string> Packets, string? Responder);

public sealed partial class ClusterTracer
{
    /// <summary>A whole HTTP/1.1 exchange over one TCP connection (issue 5 item 4): handshake, request, response, and
    /// the close curl does on exit (client FIN first), each packet walked through the LB and the nodes with their own
    /// conntrack tables, which keep the entries (so the client side ends in TIME_WAIT, as the seed shows).</summary>
    public ConnectionResult Connect(TraceSource from, TraceTarget to, ulong seed, string method = "HEAD", string path = "/", ushort sourcePort = 0, bool httpExchange = true)
    {
        var st = new RunState(this, stateful: true, seed);
        var chooser = new SampleChooser(new Random(unchecked((int)seed)));
        var syn = Initial(from, to, IpProtocol.Tcp, sourcePort, seed);
        var first = Run(from, syn, chooser, st);
        var trace = new ClusterTrace(from.Label, to.Label, syn, [first]);
        var log = ImmutableArray.CreateBuilder<string>();
        log.Add($"client > {syn} [S]");
        if (first.Disposition != TraceDisposition.Answered || st.Responder is null || st.Received is not { } got)
            return new ConnectionResult(trace, first.Disposition, null, first.DispositionDetail, log.ToImmutable(), first.AnsweredBy);
        log.Add($"server < {got} [S]");
        log.Add($"server > {got.Dst}:{got.DstPort} -> {got.Src}:{got.SrcPort} [S.]");
        var client = StartOf(from, syn);
        var server = st.Responder;
        Packet C(TcpFlags f, ushort len = 52) => syn with { Flags = f, Length = len };
        Packet S(TcpFlags f, ushort len = 52) => new(IpProtocol.Tcp, got.Dst, got.DstPort, got.Src, got.SrcPort, f, Length: len);
        bool Send(Loc at, Packet p, bool fromClient, string what)
        {
            var leg = Walk(at, p, chooser, st, from, isReply: !fromClient);
            log.Add($"{(fromClient ? "client" : "server")} > {p} [{what}]" + (leg.Failed is null ? "" : " lost: " + leg.Detail));
            return leg.Failed is null;
        }
        var request = $"{method} {path} HTTP/1.1";
        if (!httpExchange)
        {
            // A TCP probe: the handshake is the test; the prober then closes.
            if (!Send(client, C(TcpFlags.Ack), true, ".")) return Fail("the handshake's ACK was lost");
            if (!Send(client, C(TcpFlags.Fin | TcpFlags.Ack), true, "F.")) return Fail("the client's FIN was lost");
            if (!Send(server, S(TcpFlags.Fin | TcpFlags.Ack), false, "F.")) return Fail("the server's FIN was lost");
            if (!Send(client, C(TcpFlags.Ack), true, ".")) return Fail("the last ACK was lost");
            return new ConnectionResult(trace, TraceDisposition.Answered, null, "handshake completed", log.ToImmutable(), first.AnsweredBy);
        }
        if (!Send(client, C(TcpFlags.Ack), true, ".")) return Fail("the handshake's ACK was lost");
        if (!Send(client, C(TcpFlags.Psh | TcpFlags.Ack, 130), true, "P. " + request)) return Fail("the request was lost");
        HttpResponse? response = null;
        var pod = server is AtNode an && an.PhysIn is { } veth ? an.Node.Pods.FirstOrDefault(p => p.Veth == veth) : null;
        if (pod is not null && NginxResponder.IsNginxImage(pod.Image))
            response = NginxResponder.Respond(method, path, Topology.Clock.GetUtcNow());
        else if (server is AtNode sn && sn.PhysIn is null && sn.InIf is null
            && sn.Node.Listeners.Any(l => l.Port == got.DstPort && l.Owner.StartsWith("kube-proxy healthz", StringComparison.Ordinal)))
            response = HealthzResponse(sn.Node, got.DstPort);
        if (response is null)
            return new ConnectionResult(trace, TraceDisposition.Answered, null,
                $"{first.AnsweredBy} accepted the connection, but its HTTP server is not modelled (only the nginx image is)", log.ToImmutable(), first.AnsweredBy);
        if (!Send(server, S(TcpFlags.Psh | TcpFlags.Ack, 290), false, "P. " + response.StatusLine)) return Fail("the response was lost");
        if (!Send(client, C(TcpFlags.Ack), true, ".")) return Fail("the ACK of the response was lost");
        // curl closes the connection on exit: FIN from the client, FIN from nginx, last ACK from the client.
        if (!Send(client, C(TcpFlags.Fin | TcpFlags.Ack), true, "F.")) return Fail("the client's FIN was lost");
        if (!Send(server, S(TcpFlags.Fin | TcpFlags.Ack), false, "F.")) return Fail("the server's FIN was lost");
        if (!Send(client, C(TcpFlags.Ack), true, ".")) return Fail("the last ACK was lost");
        return new ConnectionResult(trace, TraceDisposition.Answered, response, $"{first.AnsweredBy} answered {response.StatusLine}", log.ToImmutable(), first.AnsweredBy);

        ConnectionResult Fail(string why) => new(trace, TraceDisposition.Dropped, null, why, log.ToImmutable(), first.AnsweredBy);
    }

    /// <summary>The LB's probes over a stretch of the twin's timeline (facts azure-aks.md §2): every IntervalInSeconds
    /// each probe of each rule goes from 168.63.129.16 to every node of the pool; a TCP probe is a handshake then a
    /// FIN close, which leaves TIME_WAIT entries like the seed's `src=168.63.129.16 ... dport=&lt;NodePort&gt;`; an HTTP
    /// probe's status decides with the handshake. Each result is recorded in the backend's health (ProbeThreshold).
    /// Only probes inside <paramref name="to"/> minus <paramref name="keep"/> are walked packet by packet (older ones
    /// have left conntrack); all of them count for health.</summary>
    public int RunProbes(TwinClock clock, DateTimeOffset from, DateTimeOffset to, TimeSpan keep)
    {
        int walked = 0;
        foreach (var rule in Topology.LoadBalancer.LoadBalancingRules)
        {
            var probe = LoadBalancer.ProbeOf(rule);
            if (probe is null || probe.IntervalInSeconds <= 0) continue;
            var interval = TimeSpan.FromSeconds(probe.IntervalInSeconds);
            foreach (var node in LoadBalancer.Pool(rule))
            {
                var health = LoadBalancer.Health(probe.Name, node.Name);
                // Probes are aligned to the interval (any phase would do; a fixed one keeps runs reproducible).
                var ticks = from.UtcTicks - from.UtcTicks % interval.Ticks + interval.Ticks;
                for (var t = new DateTimeOffset(ticks, TimeSpan.Zero); t <= to; t += interval)
                {
                    if (health.LastProbe is { } last && t <= last) continue;
                    bool ok;
                    if (t < to - keep)
                    {
                        ok = ProbeSuccess(probe, node) >= 0.5;
                    }
                    else
                    {
                        bool result = false;
                        clock.At(t, () =>
                        {
                            var seed = (ulong)t.ToUnixTimeSeconds() ^ node.Ip.Value;
                            var target = new TraceTarget(node.Ip, (ushort)probe.Port, "probe " + probe.Name);
                            var c = Connect(new TraceSource.Probe(), target, seed, "GET", probe.RequestPath ?? "/", httpExchange: probe.Protocol is "Http" or "Https");
                            result = c.First.Paths[0].Disposition == TraceDisposition.Answered
                                && (probe.Protocol is not ("Http" or "Https") || HealthzStatus(node, probe.Port) == 200);
                        });
                        walked++;
                        ok = result;
                    }
                    health.Record(ok, probe.ProbeThreshold, immediateDown: probe.Protocol is "Http" or "Https", t);
                }
            }
        }
        return walked;
    }

    /// <summary>kube-proxy's `/healthz` answer for a Service with externalTrafficPolicy Local
    /// (pkg/proxy/healthcheck/service_health.go; facts azure-aks.md §2).</summary>
    HttpResponse HealthzResponse(TopologyNode node, ushort port)
    {
        var n = LocalEndpoints(node, port);
        return new HttpResponse(n > 0 ? "HTTP/1.1 200 OK" : "HTTP/1.1 503 Service Unavailable",
        [
            ("Content-Type", "application/json"),
            ("X-Content-Type-Options", "nosniff"),
            ("X-Load-Balancing-Endpoint-Weight", n.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            ("Date", NginxResponder.Rfc1123(Topology.Clock.GetUtcNow())),
        ], 0);
    }
}
