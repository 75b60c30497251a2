using PacketLife.Core.Net;

namespace PacketLife.Core.Cluster;

public sealed partial class ClusterApi
{
    public const string ManagedByLabel = "endpointslice.kubernetes.io/managed-by";
    public const string ManagedBy = "endpointslice-controller.k8s.io";
    public const string ServiceNameLabel = "kubernetes.io/service-name";

    /// <summary>The EndpointSlice controller (pkg/controller/endpointslice): for every Service with a selector,
    /// the pods matching it that have an IP; each service port's targetPort resolved per pod (a named
    /// targetPort is looked up among the pod's container ports; pods without it are left out of that
    /// port set); pods with the same resolved ports share a slice named `&lt;service&gt;-&lt;5 random&gt;`.
    /// Not-ready pods are listed with `ready: false`; terminating pods with `terminating: true`.</summary>
    void ReconcileEndpointSlices()
    {
        foreach (var svc in _s.Services.ToList())
        {
            if (svc.Spec.Selector.Count == 0 || svc.Spec.Type == ServiceType.ExternalName) continue;
            if (_s.Controllers.Imported.Contains("Service/" + svc.Metadata.Namespace + "/" + svc.Metadata.Name)) continue;
            var ns = svc.Metadata.Namespace;
            var groups = new Dictionary<string, (List<EndpointPort> Ports, List<Endpoint> Endpoints)>(StringComparer.Ordinal);
            var pods = _s.Pods.Where(p => p.Metadata.Namespace == ns && p.Status.PodIP is not null && LabelSelector.MatchesMap(svc.Spec.Selector, p.Metadata.Labels))
                .OrderBy(p => p.Metadata.Name, StringComparer.Ordinal);
            foreach (var pod in pods)
            {
                var ports = new List<EndpointPort>();
                foreach (var sp in svc.Spec.Ports)
                {
                    var port = ResolveTargetPort(sp, pod);
                    if (port is null) continue;
                    ports.Add(new EndpointPort(sp.Name, sp.Protocol, port));
                }
                if (ports.Count == 0 && svc.Spec.Ports.Count > 0) continue;
                var key = string.Join(";", ports.Select(p => $"{p.Name}/{p.Protocol}/{p.Port}"));
                if (!groups.TryGetValue(key, out var g)) groups[key] = g = (ports, []);
                var terminating = pod.Status.DeletionTimestamp is not null;
                g.Endpoints.Add(new Endpoint
                {
                    Addresses = [pod.Status.PodIP!],
                    Conditions = new EndpointConditions(Ready: pod.Status.Ready && !terminating, Serving: pod.Status.Ready, Terminating: terminating),
                    NodeName = pod.Spec.NodeName,
                    TargetRef = new EndpointTargetRef("Pod", pod.Metadata.Name, ns, pod.Metadata.Uid),
                });
            }
            var existing = _s.EndpointSlices.Where(e => e.Metadata.Namespace == ns && e.ServiceName == svc.Metadata.Name &&
                e.Metadata.Labels.TryGetValue(ManagedByLabel, out var m) && m == ManagedBy).ToList();
            // With no endpoints the controller keeps one empty slice carrying the service's ports.
            if (groups.Count == 0)
                groups[""] = (svc.Spec.Ports.Select(p => new EndpointPort(p.Name, p.Protocol, p.TargetPort.IntValue)).ToList(), []);
            var i = 0;
            foreach (var (_, (ports, endpoints)) in groups)
            {
                var reuse = i < existing.Count ? existing[i] : null;
                i++;
                var labels = new Dictionary<string, string>(svc.Metadata.Labels) { [ServiceNameLabel] = svc.Metadata.Name, [ManagedByLabel] = ManagedBy };
                if (reuse is not null)
                {
                    var next = reuse with { Endpoints = endpoints, Ports = ports, Metadata = reuse.Metadata with { Labels = labels } };
                    if (!next.Endpoints.SequenceEqual(reuse.Endpoints) || !next.Ports.SequenceEqual(reuse.Ports))
                        _s.EndpointSlices[_s.EndpointSlices.IndexOf(reuse)] = next;
                    continue;
                }
                string name;
                do name = Naming.GenerateName(svc.Metadata.Name + "-", _rng); while (_s.EndpointSlices.Any(e => e.Metadata.Namespace == ns && e.Metadata.Name == name));
                _s.EndpointSlices.Add(new EndpointSlice
                {
                    Metadata = Stamp(new ObjectMeta
                    {
                        Name = name, Namespace = ns, GenerateName = svc.Metadata.Name + "-", Labels = labels,
                        OwnerReferences = [new OwnerReference("v1", "Service", svc.Metadata.Name, svc.Metadata.Uid)],
                    }),
                    Endpoints = endpoints,
                    Ports = ports,
                });
            }
            foreach (var extra in existing.Skip(i)) _s.EndpointSlices.Remove(extra);
        }
        // Slices owned by a Service that no longer exists go with it.
        _s.EndpointSlices.RemoveAll(e => e.Metadata.Labels.TryGetValue(ManagedByLabel, out var m) && m == ManagedBy &&
            !_s.Services.Any(s => s.Metadata.Namespace == e.Metadata.Namespace && s.Metadata.Name == e.ServiceName &&
                (s.Spec.Selector.Count > 0 || _s.Controllers.Imported.Contains("Service/" + s.Metadata.Namespace + "/" + s.Metadata.Name))));
    }

    /// <summary>podutil.FindPort: an int targetPort is used as is; a name is looked up among the pod's
    /// container ports with the same protocol.</summary>
    public static int? ResolveTargetPort(ServicePort sp, Pod pod)
    {
        if (sp.TargetPort.IntValue is { } n) return n;
        if (sp.TargetPort.StringValue is not { Length: > 0 } portName) return sp.Port;
        foreach (var c in pod.Spec.Containers)
            foreach (var cp in c.Ports)
                if (cp.Name == portName && cp.Protocol == sp.Protocol) return cp.Port;
        return null;
    }

    /// <summary>The v1 Endpoints view kubectl `get ep` prints, derived like the Endpoints controller does:
    /// one subset per distinct port set, addresses sorted by IP string (LessEndpointAddress).</summary>
    public static IReadOnlyList<(IReadOnlyList<string> Ready, IReadOnlyList<string> NotReady, IReadOnlyList<EndpointPort> Ports)> EndpointsView(ClusterState s, Service svc)
    {
        var result = new List<(IReadOnlyList<string>, IReadOnlyList<string>, IReadOnlyList<EndpointPort>)>();
        foreach (var slice in s.EndpointSlices.Where(e => e.Metadata.Namespace == svc.Metadata.Namespace && e.ServiceName == svc.Metadata.Name))
        {
            var ready = slice.Endpoints.Where(e => e.Conditions.Ready != false).Select(e => e.Addresses[0]).Distinct().OrderBy(a => a, StringComparer.Ordinal).ToList();
            var notReady = slice.Endpoints.Where(e => e.Conditions.Ready == false).Select(e => e.Addresses[0]).Distinct().OrderBy(a => a, StringComparer.Ordinal).ToList();
            if (ready.Count + notReady.Count == 0) continue;
            result.Add((ready, notReady, slice.Ports));
        }
        return result;
    }
}
