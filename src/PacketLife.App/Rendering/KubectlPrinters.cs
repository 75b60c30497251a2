using System.Globalization;
using PacketLife.Core.Cluster;

namespace PacketLife.App.Rendering;

/// <summary>The server-side table printers kubectl shows for `get` (kubernetes pkg/printers/internalversion
/// printers.go; facts azure-aks.md §4.2): column sets, `-o wide` columns, cell rules.</summary>
public static class KubectlPrinters
{
    public static string Age(DateTimeOffset created, DateTimeOffset now) =>
        created == default ? "<unknown>" : HumanDuration.Format(now - created);

    static string I(int v) => v.ToString(CultureInfo.InvariantCulture);

    public static IReadOnlyList<string> Headers(string kind, bool wide) => kind switch
    {
        "Pod" => wide ? ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED NODE", "READINESS GATES"] : ["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
        "Service" => wide ? ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE", "SELECTOR"] : ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"],
        "Endpoints" => ["NAME", "ENDPOINTS", "AGE"],
        "EndpointSlice" => ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"],
        "Node" => wide ? ["NAME", "STATUS", "ROLES", "AGE", "VERSION", "INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME"] : ["NAME", "STATUS", "ROLES", "AGE", "VERSION"],
        "Deployment" => wide ? ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"] : ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
        "ReplicaSet" => wide ? ["NAME", "DESIRED", "CURRENT", "READY", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"] : ["NAME", "DESIRED", "CURRENT", "READY", "AGE"],
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    public static IReadOnlyList<string> PodRow(Pod p, DateTimeOffset now, bool wide)
    {
        var total = p.Spec.Containers.Count;
        var ready = p.Status.Ready ? total : 0;
        var status = p.Status.DeletionTimestamp is not null ? "Terminating"
            : p.Status.Phase == "Pending" && p.Spec.NodeName is not null ? "ContainerCreating" : p.Status.Phase;
        List<string> row = [p.Metadata.Name, $"{I(ready)}/{I(total)}", status, I(p.Status.Restarts), Age(p.Metadata.CreationTimestamp, now)];
        if (wide) row.AddRange([p.Status.PodIP ?? "<none>", p.Spec.NodeName ?? "<none>", "<none>", "<none>"]);
        return row;
    }

    public static string ExternalIp(Service s, bool wide)
    {
        switch (s.Spec.Type)
        {
            case ServiceType.ClusterIP:
            case ServiceType.NodePort:
                return s.Spec.ExternalIPs.Count > 0 ? string.Join(",", s.Spec.ExternalIPs) : "<none>";
            case ServiceType.ExternalName:
                return s.Spec.ExternalName ?? "<none>";
            default:
                var ips = s.Status.LoadBalancerIngress.Select(i => i.Ip ?? i.Hostname ?? "").Where(x => x.Length > 0)
                    .Concat(s.Spec.ExternalIPs).Distinct().Order(StringComparer.Ordinal).ToList();
                if (ips.Count == 0) return "<pending>";
                var text = string.Join(",", ips);
                // printers.go loadBalancerStatusStringer: clipped to 16 characters unless -o wide.
                return !wide && text.Length > 16 ? text[..13] + "..." : text;
        }
    }

    public static string Ports(Service s) => s.Spec.Ports.Count == 0 ? "<none>" : string.Join(",", s.Spec.Ports.Select(p =>
        p.NodePort > 0 ? $"{I(p.Port)}:{I(p.NodePort)}/{p.Protocol}" : $"{I(p.Port)}/{p.Protocol}"));

    public static string Selector(IReadOnlyDictionary<string, string> sel) =>
        sel.Count == 0 ? "<none>" : string.Join(",", sel.OrderBy(k => k.Key, StringComparer.Ordinal).Select(k => $"{k.Key}={k.Value}"));

    public static IReadOnlyList<string> ServiceRow(Service s, DateTimeOffset now, bool wide)
    {
        var clusterIp = s.Spec.ClusterIPs.Count > 0 ? s.Spec.ClusterIPs[0] : s.Spec.ClusterIP is { Length: > 0 } c ? c : "<none>";
        List<string> row = [s.Metadata.Name, s.Spec.Type.ToString(), clusterIp, ExternalIp(s, wide), Ports(s), Age(s.Metadata.CreationTimestamp, now)];
        if (wide) row.Add(Selector(s.Spec.Selector));
        return row;
    }

    /// <summary>printers.go formatEndpoints: ip:port for each subset, port, address; at most 3, then
    /// ` + N more...`; `&lt;none&gt;` without subsets; blank when every address is not ready.</summary>
    public static string EndpointsCell(ClusterState state, Service s)
    {
        var subsets = ClusterApi.EndpointsView(state, s);
        if (subsets.Count == 0) return "<none>";
        var list = new List<string>();
        var count = 0;
        foreach (var (ready, _, ports) in subsets)
        {
            var portNums = ports.Count == 0 ? [null] : ports.Select(p => p.Port).ToList();
            foreach (var port in portNums)
                foreach (var a in ready)
                {
                    count++;
                    if (list.Count < 3) list.Add(port is null ? a : $"{a}:{I(port.Value)}");
                }
        }
        var text = string.Join(",", list);
        return count > 3 ? $"{text} + {I(count - 3)} more..." : text;
    }

    public static IReadOnlyList<string> EndpointsRow(ClusterState state, Service s, DateTimeOffset now) =>
        [s.Metadata.Name, EndpointsCell(state, s), Age(EndpointsCreated(state, s), now)];

    /// <summary>The Endpoints object is written by the endpoints controller when the Service appears.</summary>
    public static DateTimeOffset EndpointsCreated(ClusterState state, Service s) =>
        state.EndpointSlices.Where(e => e.Metadata.Namespace == s.Metadata.Namespace && e.ServiceName == s.Metadata.Name)
            .Select(e => e.Metadata.CreationTimestamp).DefaultIfEmpty(s.Metadata.CreationTimestamp).Min();

    public static IReadOnlyList<string> EndpointSliceRow(EndpointSlice e, DateTimeOffset now)
    {
        var ports = e.Ports.Count == 0 ? "<unset>" : string.Join(",", e.Ports.Select(p => p.Port is null ? "<unset>" : I(p.Port.Value)));
        var addrs = e.Endpoints.SelectMany(x => x.Addresses).ToList();
        var eps = addrs.Count == 0 ? "<unset>" : string.Join(",", addrs.Take(3)) + (addrs.Count > 3 ? $" + {I(addrs.Count - 3)} more..." : "");
        return [e.Metadata.Name, e.AddressType, ports, eps, Age(e.Metadata.CreationTimestamp, now)];
    }

    public static IReadOnlyList<string> NodeRow(Node n, DateTimeOffset now, bool wide)
    {
        var status = n.Ready ? "Ready" : "NotReady";
        if (n.Unschedulable) status += ",SchedulingDisabled";
        var roles = n.Metadata.Labels.Keys.Where(k => k.StartsWith("node-role.kubernetes.io/", StringComparison.Ordinal)).Select(k => k["node-role.kubernetes.io/".Length..])
            .Concat(n.Metadata.Labels.TryGetValue("kubernetes.io/role", out var r) ? [r] : []).Where(x => x.Length > 0).Order(StringComparer.Ordinal).ToList();
        List<string> row = [n.Metadata.Name, status, roles.Count == 0 ? "<none>" : string.Join(",", roles), Age(n.Metadata.CreationTimestamp, now), n.Info.KubeletVersion];
        if (wide)
            row.AddRange([n.InternalIP ?? "<none>", n.Addresses.FirstOrDefault(a => a.Type == "ExternalIP")?.Address ?? "<none>",
                n.Info.OsImage is { Length: > 0 } os ? os : "<unknown>", n.Info.KernelVersion is { Length: > 0 } k ? k : "<unknown>", n.Info.ContainerRuntimeVersion is { Length: > 0 } cr ? cr : "<unknown>"]);
        return row;
    }

    static IEnumerable<Pod> PodsOf(ClusterState s, ReplicaSet rs) =>
        s.Pods.Where(p => p.Metadata.Namespace == rs.Metadata.Namespace && p.Metadata.OwnerReferences.Any(o => o.Uid == rs.Metadata.Uid));

    public static IReadOnlyList<string> DeploymentRow(ClusterState s, Deployment d, DateTimeOffset now, bool wide)
    {
        var sets = s.ReplicaSets.Where(r => r.Metadata.OwnerReferences.Any(o => o.Uid == d.Metadata.Uid)).ToList();
        var current = ClusterApi.CurrentReplicaSet(s, d);
        var pods = sets.SelectMany(r => PodsOf(s, r)).ToList();
        var ready = pods.Count(p => p.Status.Ready);
        var upToDate = current is null ? 0 : PodsOf(s, current).Count();
        List<string> row = [d.Metadata.Name, $"{I(ready)}/{I(d.Replicas)}", I(upToDate), I(ready), Age(d.Metadata.CreationTimestamp, now)];
        if (wide) row.AddRange(Workload(d.Template, d.Selector));
        return row;
    }

    static IEnumerable<string> Workload(PodTemplate t, IReadOnlyDictionary<string, string> selector) =>
        [string.Join(",", t.Spec.Containers.Select(c => c.Name)), string.Join(",", t.Spec.Containers.Select(c => c.Image)), Selector(selector)];

    public static IReadOnlyList<string> ReplicaSetRow(ClusterState s, ReplicaSet r, DateTimeOffset now, bool wide)
    {
        var pods = PodsOf(s, r).ToList();
        List<string> row = [r.Metadata.Name, I(r.Replicas), I(pods.Count), I(pods.Count(p => p.Status.Ready)), Age(r.Metadata.CreationTimestamp, now)];
        if (wide) row.AddRange(Workload(r.Template, r.Selector));
        return row;
    }
}
