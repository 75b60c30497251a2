using PacketLife.Core.Cluster;
using PacketLife.Core.Diagnostics;
using PacketLife.Core.Net;
using PacketLife.Core.Topology;

namespace PacketLife.Core.Tracing.Cluster;

/// <summary>Turns the words a user types (`internet`, `probe`, a node, `pod/NAME`; `IP:PORT`, `svc/NAME[:PORT]`,
/// `pod/NAME[:PORT]`) into a source and a target. A failure is a one-line message naming what is unknown and what
/// exists instead.</summary>
public static class TraceTargets
{
    public sealed record Resolved(TraceSource From, TraceTarget To, IpProtocol Protocol);

    public static (Resolved? Value, string? Error) Resolve(ClusterTopology topo, string? from, string to, IpProtocol proto, string ns = "default", ulong seed = 1)
    {
        var (src, e1) = Source(topo, from ?? "internet", ns, seed);
        if (src is null) return (null, e1);
        var (dst, e2) = Target(topo, src, to, proto, ns);
        if (dst is null) return (null, e2);
        return (new Resolved(src, dst, proto), null);
    }

    /// <summary>A client in 198.51.100.0/24 chosen by the seed (never .0 or .255).</summary>
    public static Ip4 InternetClient(ulong seed) => ClusterTopology.InternetClients.Network.Add(1 + (long)(seed % 254));

    public static (TraceSource? Source, string? Error) Source(ClusterTopology topo, string text, string ns, ulong seed)
    {
        if (text == "internet") return (new TraceSource.Internet(InternetClient(seed)), null);
        if (text == "probe") return (new TraceSource.Probe(), null);
        if (text.StartsWith("internet:", StringComparison.Ordinal) || Ip4.TryParse(text, out _))
        {
            var ipText = text.StartsWith("internet:", StringComparison.Ordinal) ? text[9..] : text;
            if (!Ip4.TryParse(ipText, out var ip)) return (null, TraceMessages.UnknownSource(text, NodeNames(topo)));
            if (topo.PodByIp(ip) is { } pip) return (new TraceSource.FromPod(pip), null);
            if (topo.NodeByIp(ip) is { } nip) return (new TraceSource.FromNode(nip), null);
            if (ip == ClusterTopology.ProbeSource) return (new TraceSource.Probe(), null);
            if (topo.PodCidr.Contains(ip) || topo.VnetSubnet.Contains(ip) || topo.ServiceCidr.Contains(ip))
                return (null, TraceMessages.UnknownSource(text, NodeNames(topo)));
            return (new TraceSource.Internet(ip), null);
        }
        if (topo.NodeByName(text) is { } n) return (new TraceSource.FromNode(n), null);
        var podName = text.StartsWith("pod/", StringComparison.Ordinal) ? text[4..] : text.StartsWith("node/", StringComparison.Ordinal) ? null : text;
        if (text.StartsWith("node/", StringComparison.Ordinal))
            return topo.NodeByName(text[5..]) is { } nn ? (new TraceSource.FromNode(nn), null) : (null, TraceMessages.UnknownSource(text, NodeNames(topo)));
        if (podName is not null)
        {
            var (pns, pname) = podName.Contains('/') ? (podName[..podName.IndexOf('/')], podName[(podName.IndexOf('/') + 1)..]) : (ns, podName);
            if (topo.PodByName(pns, pname) is { } pod) return (new TraceSource.FromPod(pod), null);
            if (text.StartsWith("pod/", StringComparison.Ordinal)) return (null, TraceMessages.PodNotFound(pns, pname, PodNames(topo, pns)));
        }
        return (null, TraceMessages.UnknownSource(text, NodeNames(topo)));
    }

    public static (TraceTarget? Target, string? Error) Target(ClusterTopology topo, TraceSource from, string text, IpProtocol proto, string ns)
    {
        string? port = null;
        var body = text;
        if (text.StartsWith("svc/", StringComparison.Ordinal) || text.StartsWith("service/", StringComparison.Ordinal) || text.StartsWith("pod/", StringComparison.Ordinal))
        {
            var colon = text.LastIndexOf(':');
            if (colon > 0) { body = text[..colon]; port = text[(colon + 1)..]; }
        }
        if (body.StartsWith("svc/", StringComparison.Ordinal) || body.StartsWith("service/", StringComparison.Ordinal))
        {
            var name = body[(body.IndexOf('/') + 1)..];
            var (sns, sname) = name.Contains('/') ? (name[..name.IndexOf('/')], name[(name.IndexOf('/') + 1)..]) : (ns, name);
            var svc = topo.State.FindService(sns, sname);
            if (svc is null) return (null, TraceMessages.ServiceNotFound(sns, sname, ServiceNames(topo, sns)));
            var ports = svc.Spec.Ports.Where(p => (p.Protocol == Protocol.UDP ? IpProtocol.Udp : IpProtocol.Tcp) == proto).ToList();
            var sp = port is null ? (ports.Count >= 1 ? ports[0] : null)
                : ports.FirstOrDefault(p => p.Name == port || p.Port.ToString(System.Globalization.CultureInfo.InvariantCulture) == port);
            if (sp is null)
                return (null, TraceMessages.NoSuchPort($"{sns}/{sname}", (port ?? "") + "/" + (proto == IpProtocol.Udp ? "udp" : "tcp"),
                    string.Join(", ", svc.Spec.Ports.Select(p => $"{(p.Name is { Length: > 0 } n ? n + " " : "")}{p.Port}/{p.Protocol.ToString().ToLowerInvariant()}"))));
            var label = $"svc/{sname}";
            if (from is TraceSource.Probe)
            {
                var rule = topo.LoadBalancer.LoadBalancingRules.FirstOrDefault(r => r.Service == $"{sns}/{sname}" && r.FrontendPort == sp.Port);
                if (rule is null) return (null, TraceMessages.NoExternalIp($"{sns}/{sname}"));
                return (new TraceTarget(Ip4.Any, (ushort)sp.NodePort, label, svc, rule), null);
            }
            if (from is TraceSource.Internet)
            {
                var ingress = svc.Status.LoadBalancerIngress.FirstOrDefault(i => i.Ip is not null)?.Ip;
                if (ingress is null || !Ip4.TryParse(ingress, out var lbIp)) return (null, TraceMessages.NoExternalIp($"{sns}/{sname}"));
                return (new TraceTarget(lbIp, (ushort)sp.Port, $"{label} ({lbIp}:{sp.Port}, load balancer IP)", svc), null);
            }
            if (!Ip4.TryParse(svc.Spec.ClusterIP, out var cip)) return (null, $"error: Service {sns}/{sname} has no ClusterIP (headless or ExternalName): nothing to trace");
            return (new TraceTarget(cip, (ushort)sp.Port, $"{label} ({cip}:{sp.Port}, ClusterIP)", svc), null);
        }
        if (body.StartsWith("pod/", StringComparison.Ordinal))
        {
            var name = body[4..];
            var (pns, pname) = name.Contains('/') ? (name[..name.IndexOf('/')], name[(name.IndexOf('/') + 1)..]) : (ns, name);
            var pod = topo.PodByName(pns, pname);
            if (pod is null) return (null, TraceMessages.PodNotFound(pns, pname, PodNames(topo, pns)));
            ushort pp = 80;
            if (port is not null && !ushort.TryParse(port, out pp)) return (null, $"error: invalid port \"{port}\" for pod/{pname}: a number 1-65535");
            if (port is null && pod.Listeners.FirstOrDefault(l => l.Protocol == proto) is { Port: > 0 } first) pp = first.Port;
            return (new TraceTarget(pod.Ip, pp, $"pod/{pname} ({pod.Ip}:{pp})"), null);
        }
        // IP[:PORT]
        var c = text.LastIndexOf(':');
        var ipPart = c > 0 ? text[..c] : text;
        ushort dport = 80;
        if (!Ip4.TryParse(ipPart, out var ip) || (c > 0 && (!ushort.TryParse(text[(c + 1)..], out dport) || dport == 0)))
            return (null, TraceMessages.UnknownDestination(text, ServiceNames(topo, ns)));
        if (!InSomeNetwork(topo, ip))
            return (null, TraceMessages.OutsideEveryNetwork(ip.ToString(),
                $"internet clients {ClusterTopology.InternetClients}, LB frontends {string.Join(",", topo.Frontends.Select(f => f.Ip))}, VNet {topo.VnetSubnet}, pods {topo.PodCidr}, Services {topo.ServiceCidr}"));
        return (new TraceTarget(ip, dport, $"{ip}:{dport}"), null);
    }

    static bool InSomeNetwork(ClusterTopology t, Ip4 ip) =>
        t.FrontendByIp(ip) is not null || t.VnetSubnet.Contains(ip) || t.PodCidr.Contains(ip) || t.ServiceCidr.Contains(ip) || ClusterTopology.InternetClients.Contains(ip) || ip.IsLoopback;

    static string NodeNames(ClusterTopology t) => string.Join(", ", t.Nodes.Take(5).Select(n => n.Name)) + (t.Nodes.Length > 5 ? $", ... ({t.Nodes.Length} nodes)" : "");
    static string ServiceNames(ClusterTopology t, string ns)
    {
        var names = t.State.Services.Where(s => s.Metadata.Namespace == ns).Select(s => s.Metadata.Name).ToList();
        return names.Count == 0 ? "none" : string.Join(", ", names.Take(10)) + (names.Count > 10 ? $", ... ({names.Count})" : "");
    }
    static string PodNames(ClusterTopology t, string ns)
    {
        var names = t.Pods.Where(p => p.Namespace == ns).Select(p => p.Name).ToList();
        return names.Count == 0 ? "none" : string.Join(", ", names.Take(10)) + (names.Count > 10 ? $", ... ({names.Count})" : "");
    }
}
