using PacketLife.Core.Cluster;
using PacketLife.Core.Diagnostics;

namespace PacketLife.Core.KubeProxy;

/// <summary>A service port with its endpoints, sorted and de-duplicated as kube-proxy's EndpointSliceCache
/// hands them to the proxier.</summary>
public sealed record ServicePortEndpoints(ServicePortInfo Port, IReadOnlyList<EndpointInfo> Endpoints);

/// <summary>Builds kube-proxy's internal view (ServicePortMap + EndpointsMap) from Service and EndpointSlice
/// objects for one node and one IP family (pkg/proxy/servicechangetracker.go, serviceport.go,
/// endpointslicecache.go). Bad objects or fields get a diagnostic and are skipped, as kube-proxy does.</summary>
public static class ServiceSnapshot
{
    public static IReadOnlyList<ServicePortEndpoints> Build(
        IEnumerable<Service> services, IEnumerable<EndpointSlice> slices, string hostname, IpFamily family,
        KubeProxyEnvironment env, Func<object, SourceLocation>? locate, List<Diagnostic> diagnostics)
    {
        locate ??= DefaultLocation;
        var ports = new List<ServicePortInfo>();
        var known = new HashSet<(string, string)>();
        foreach (var svc in services)
        {
            known.Add((svc.Metadata.Namespace, svc.Metadata.Name));
            AddServicePorts(svc, family, env, locate, ports, diagnostics);
        }

        // (namespace, service) -> slices, in input order.
        var byService = new Dictionary<(string, string), List<EndpointSlice>>();
        foreach (var slice in slices)
        {
            // Where the slice was read and its name are needed only for a diagnostic.
            SourceLocation At() => locate(slice);
            string SliceName() => $"{slice.Metadata.Namespace}/{slice.Metadata.Name}";
            if (slice.ServiceName is not { Length: > 0 } svcName)
            {
                diagnostics.Add(KubeProxyMessages.SliceWithoutServiceLabel(At(), SliceName()));
                continue;
            }
            if (!known.Contains((slice.Metadata.Namespace, svcName)))
            {
                diagnostics.Add(KubeProxyMessages.SliceForUnknownService(At(), SliceName(), $"{slice.Metadata.Namespace}/{svcName}"));
                continue;
            }
            if (slice.AddressType is not ("IPv4" or "IPv6"))
            {
                diagnostics.Add(KubeProxyMessages.UnsupportedAddressType(At(), SliceName(), slice.AddressType));
                continue;
            }
            var key = (slice.Metadata.Namespace, svcName);
            if (!byService.TryGetValue(key, out var list)) byService[key] = list = [];
            list.Add(slice);
        }

        var result = new List<ServicePortEndpoints>(ports.Count);
        var reported = new HashSet<string>();
        foreach (var port in ports)
        {
            byService.TryGetValue((port.Namespace, port.Name), out var svcSlices);
            int capacity = 0;
            if (svcSlices is not null) foreach (var slice in svcSlices) capacity += slice.Endpoints.Count;
            var eps = new Dictionary<string, EndpointInfo>(capacity, StringComparer.Ordinal);
            if (svcSlices is not null)
                foreach (var slice in svcSlices)
                    AddEndpoints(port, slice, hostname, family, locate, eps, diagnostics, reported);
            var sorted = eps.Values.ToArray();
            // kube-proxy sorts by the "ip:port" string, not numerically (§1.2, §11.1).
            Array.Sort(sorted, static (a, b) => string.CompareOrdinal(a.Key, b.Key));
            result.Add(new ServicePortEndpoints(port, sorted));
        }
        return result;
    }

    public static SourceLocation DefaultLocation(object o) => o switch
    {
        Service s => new SourceLocation($"service/{s.Metadata.Namespace}/{s.Metadata.Name}", 0, 0),
        EndpointSlice e => new SourceLocation($"endpointslice/{e.Metadata.Namespace}/{e.Metadata.Name}", 0, 0),
        Node n => new SourceLocation($"node/{n.Metadata.Name}", 0, 0),
        _ => new SourceLocation(o.GetType().Name, 0, 0),
    };

    static void AddServicePorts(Service svc, IpFamily family, KubeProxyEnvironment env, Func<object, SourceLocation> locate,
        List<ServicePortInfo> ports, List<Diagnostic> diagnostics)
    {
        // Where the Service was read is needed only for a diagnostic.
        SourceLocation At() => locate(svc);
        var spec = svc.Spec;
        // proxyutil.ShouldSkipService: ExternalName and headless Services get no rules.
        if (spec.Type == ServiceType.ExternalName || spec.ClusterIP is "" or "None") return;
        string name = $"{svc.Metadata.Namespace}/{svc.Metadata.Name}";

        // GetClusterIPByFamily: spec.clusterIPs when set, else spec.clusterIP.
        IReadOnlyList<string> candidates = spec.ClusterIPs.Count > 0 ? spec.ClusterIPs : [spec.ClusterIP];
        string? clusterIP = null;
        foreach (var c in candidates)
        {
            if (!KubeIp.TryCanonicalIp(c, out var canon, out var f))
            {
                diagnostics.Add(KubeProxyMessages.InvalidClusterIP(At(), name, c));
                return;
            }
            if (f == family && clusterIP is null) clusterIP = canon;
        }
        if (clusterIP is null) return; // a Service of the other family: the other proxier's job.

        bool typeExternallyAccessible = spec.Type is ServiceType.LoadBalancer or ServiceType.NodePort
            || (spec.Type == ServiceType.ClusterIP && spec.ExternalIPs.Count > 0);
        bool etpLocal = typeExternallyAccessible && spec.ExternalTrafficPolicy == TrafficPolicy.Local;
        bool itpLocal = spec.InternalTrafficPolicy == TrafficPolicy.Local;

        // Most Services have none of these lists: they stay the shared empty list.
        List<string>? externalIPs = null;
        foreach (var ip in spec.ExternalIPs)
        {
            if (!KubeIp.TryCanonicalIp(ip.Trim(), out var canon, out var f)) diagnostics.Add(KubeProxyMessages.InvalidExternalIP(At(), name, ip));
            else if (f == family) (externalIPs ??= []).Add(canon);
        }
        List<string>? vips = null;
        foreach (var ing in svc.Status.LoadBalancerIngress)
        {
            if (string.IsNullOrEmpty(ing.Ip)) continue; // hostname-only ingress is not proxied
            // LoadBalancerIPMode (1.30+): with ipMode Proxy the load balancer delivers to the node itself.
            if (env.Version >= KubeProxyVersion.V1_30 && ing.IpMode == "Proxy") continue;
            if (!KubeIp.TryCanonicalIp(ing.Ip, out var canon, out var f)) diagnostics.Add(KubeProxyMessages.InvalidIngressIP(At(), name, ing.Ip));
            else if (f == family) (vips ??= []).Add(canon);
        }
        List<KubeIp.Cidr>? ranges = null;
        List<string>? rangeTexts = null;
        foreach (var r in spec.LoadBalancerSourceRanges)
        {
            var t = r.Trim();
            if (!KubeIp.TryParseCidr(t, out var cidr)) diagnostics.Add(KubeProxyMessages.InvalidSourceRange(At(), name, r));
            else if (cidr.Family == family)
            {
                (ranges ??= []).Add(cidr);
                (rangeTexts ??= []).Add(env.Version >= KubeProxyVersion.V1_30 ? cidr.Text : t);
            }
        }
        int hc = 0;
        if (spec.Type == ServiceType.LoadBalancer && etpLocal && spec.HealthCheckNodePort != 0)
        {
            if (spec.HealthCheckNodePort is < 1 or > 65535) diagnostics.Add(KubeProxyMessages.InvalidHealthCheckNodePort(At(), name, spec.HealthCheckNodePort));
            else hc = spec.HealthCheckNodePort;
        }

        foreach (var p in spec.Ports)
        {
            string PortLabel() => p.Name is { Length: > 0 } ? $"\"{p.Name}\"" : p.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (p.Port is < 1 or > 65535)
            {
                diagnostics.Add(KubeProxyMessages.InvalidServicePort(At(), name, PortLabel(), p.Port));
                continue;
            }
            int nodePort = p.NodePort;
            if (nodePort is < 0 or > 65535)
            {
                diagnostics.Add(KubeProxyMessages.InvalidNodePort(At(), name, PortLabel(), nodePort));
                nodePort = 0;
            }
            string svcPortName = p.Name is { Length: > 0 } ? $"{name}:{p.Name}" : name;
            string proto = ProtoText(p.Protocol);
            ports.Add(new ServicePortInfo
            {
                Namespace = svc.Metadata.Namespace,
                Name = svc.Metadata.Name,
                PortName = p.Name ?? "",
                SvcPortName = svcPortName,
                Protocol = p.Protocol,
                Proto = proto,
                ClusterIP = clusterIP,
                Port = p.Port,
                NodePort = nodePort,
                ExternalIPs = (IReadOnlyList<string>?)externalIPs ?? [],
                LoadBalancerVIPs = (IReadOnlyList<string>?)vips ?? [],
                LoadBalancerSourceRanges = (IReadOnlyList<KubeIp.Cidr>?)ranges ?? [],
                LoadBalancerSourceRangeTexts = (IReadOnlyList<string>?)rangeTexts ?? [],
                ExternalPolicyLocal = etpLocal,
                InternalPolicyLocal = itpLocal,
                HealthCheckNodePort = hc,
                ClientIPAffinity = spec.SessionAffinity == SessionAffinity.ClientIP,
                StickyMaxAgeSeconds = spec.SessionAffinityTimeoutSeconds ?? 10800,
                Hash = ChainNames.PortProtoHash(svcPortName, proto),
            });
        }
    }

    public static string ProtoText(Protocol p) => p switch
    {
        Protocol.TCP => "tcp",
        Protocol.UDP => "udp",
        Protocol.SCTP => "sctp",
        _ => throw new ArgumentOutOfRangeException(nameof(p)),
    };

    static void AddEndpoints(ServicePortInfo port, EndpointSlice slice, string hostname, IpFamily family, Func<object, SourceLocation> locate,
        Dictionary<string, EndpointInfo> eps, List<Diagnostic> diagnostics, HashSet<string> reported)
    {
        var sliceFamily = slice.AddressType == "IPv6" ? IpFamily.IPv6 : IpFamily.IPv4;
        if (sliceFamily != family) return;
        // Where the slice was read and its name are needed only for a diagnostic.
        SourceLocation At() => locate(slice);
        string sliceName() => $"{slice.Metadata.Namespace}/{slice.Metadata.Name}";
        foreach (var sp in slice.Ports)
        {
            if (sp.Port is not (>= 1 and <= 65535))
            {
                if (reported.Add($"port\0{sliceName()}\0{sp.Name}"))
                    diagnostics.Add(KubeProxyMessages.InvalidEndpointPort(At(), sliceName(), sp.Name ?? "(unnamed)"));
                continue;
            }
            // A slice port serves the service port with the same (name, protocol) (endpointslicecache.go).
            if ((sp.Name ?? "") != port.PortName || (sp.Protocol ?? Protocol.TCP) != port.Protocol) continue;
            foreach (var ep in slice.Endpoints)
            {
                if (ep.Addresses.Count == 0)
                {
                    if (reported.Add($"noaddr\0{sliceName()}")) diagnostics.Add(KubeProxyMessages.EndpointWithoutAddress(At(), sliceName()));
                    continue;
                }
                // Only addresses[0] is used (§1.2, §11.16).
                var addr = ep.Addresses[0];
                if (!KubeIp.TryCanonicalIp(addr, out var ip, out var f) || f != family)
                {
                    if (reported.Add($"addr\0{sliceName()}\0{addr}")) diagnostics.Add(KubeProxyMessages.InvalidEndpointAddress(At(), sliceName(), addr));
                    continue;
                }
                var info = new EndpointInfo(ip, sp.Port.Value,
                    Ready: ep.Conditions.Ready ?? true,
                    Serving: ep.Conditions.Serving ?? true,
                    Terminating: ep.Conditions.Terminating ?? false,
                    IsLocal: ep.NodeName is { Length: > 0 } nn && nn == hostname,
                    Family: family);
                if (eps.TryGetValue(info.Key, out var existing))
                {
                    diagnostics.Add(KubeProxyMessages.DuplicateEndpoint(At(), sliceName(), port.SvcPortName, info.Key));
                    if (!existing.IsLocal && info.IsLocal) eps[info.Key] = info; // the local copy wins
                    continue;
                }
                eps[info.Key] = info;
            }
        }
    }
}
