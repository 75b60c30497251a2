using System.Globalization;
using System.Text;
using PacketLife.Core.Cluster;

namespace PacketLife.App.Rendering;

/// <summary>`kubectl describe svc` (kubectl pkg/describe/describe.go describeService; facts azure-aks.md §4.4).</summary>
public static class KubectlDescribe
{
    public static string Service(ClusterState state, Service s, DateTimeOffset now)
    {
        var w = new KubectlTabWriter(0, 2);
        var sb = new StringBuilder();
        void L(string label, string value) => sb.Append(label).Append('\t').Append(value).Append('\n');
        void Multi(string label, IReadOnlyDictionary<string, string> m, string sep)
        {
            if (m.Count == 0) { L(label, "<none>"); return; }
            var first = true;
            foreach (var (k, v) in m.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                sb.Append(first ? label : "").Append('\t').Append(k).Append(sep).Append(v).Append('\n');
                first = false;
            }
        }
        L("Name:", s.Metadata.Name);
        L("Namespace:", s.Metadata.Namespace);
        Multi("Labels:", s.Metadata.Labels, "=");
        Multi("Annotations:", s.Metadata.Annotations, ": ");
        L("Selector:", s.Spec.Selector.Count == 0 ? "<none>" : KubectlPrinters.Selector(s.Spec.Selector));
        L("Type:", s.Spec.Type.ToString());
        if (s.Spec.IpFamilyPolicy is not null) L("IP Family Policy:", s.Spec.IpFamilyPolicy);
        L("IP Families:", s.Spec.IpFamilies.Count == 0 ? "<none>" : string.Join(",", s.Spec.IpFamilies));
        if (s.Spec.ClusterIP.Length > 0)
        {
            L("IP:", s.Spec.ClusterIP);
            L("IPs:", s.Spec.ClusterIPs.Count == 0 ? s.Spec.ClusterIP : string.Join(",", s.Spec.ClusterIPs));
        }
        if (s.Spec.ExternalIPs.Count > 0) L("External IPs:", string.Join(",", s.Spec.ExternalIPs));
        if (s.Spec.LoadBalancerIP is { Length: > 0 } lbip) L("Desired LoadBalancer IP:", lbip);
        if (s.Spec.ExternalName is not null) L("External Name:", s.Spec.ExternalName);
        if (s.Status.LoadBalancerIngress.Count > 0)
            L("LoadBalancer Ingress:", string.Join(", ", s.Status.LoadBalancerIngress.Select(i =>
                (i.Ip ?? i.Hostname ?? "") + (i.IpMode is { } m ? $" ({m})" : ""))));
        foreach (var p in s.Spec.Ports)
        {
            var name = p.Name.Length > 0 ? p.Name : "<unset>";
            sb.Append("Port:\t").Append(name).Append('\t').Append(p.Port.ToString(CultureInfo.InvariantCulture)).Append('/').Append(p.Protocol).Append('\n');
            L("TargetPort:", p.TargetPort.IsInt ? $"{p.TargetPort}/{p.Protocol}" : p.TargetPort.ToString() + "/" + p.Protocol);
            if (p.AppProtocol is not null) L("AppProtocol:", p.AppProtocol);
            if (p.NodePort != 0)
                sb.Append("NodePort:\t").Append(name).Append('\t').Append(p.NodePort.ToString(CultureInfo.InvariantCulture)).Append('/').Append(p.Protocol).Append('\n');
            L("Endpoints:", Endpoints(state, s, p));
        }
        L("Session Affinity:", s.Spec.SessionAffinity.ToString());
        if (s.Spec.ExternalTrafficPolicy is { } etp && s.Spec.Type is ServiceType.NodePort or ServiceType.LoadBalancer) L("External Traffic Policy:", etp.ToString());
        if (s.Spec.InternalTrafficPolicy is { } itp) L("Internal Traffic Policy:", itp.ToString());
        if (s.Spec.HealthCheckNodePort != 0) L("HealthCheck NodePort:", s.Spec.HealthCheckNodePort.ToString(CultureInfo.InvariantCulture));
        if (s.Spec.LoadBalancerSourceRanges.Count > 0) L("LoadBalancer Source Ranges:", string.Join(",", s.Spec.LoadBalancerSourceRanges));
        // The service controller's events for a LoadBalancer Service (k8s.io/cloud-provider controllers/service).
        if (s.Spec.Type == ServiceType.LoadBalancer && s.Status.LoadBalancerIngress.Count > 0)
        {
            var age = KubectlPrinters.Age(s.Metadata.CreationTimestamp, now);
            sb.Append("Events:\n");
            sb.Append("  Type\tReason\tAge\tFrom\tMessage\n");
            sb.Append("  ----\t------\t----\t----\t-------\n");
            sb.Append($"  Normal\tEnsuringLoadBalancer\t{age}\tservice-controller\tEnsuring load balancer\n");
            sb.Append($"  Normal\tEnsuredLoadBalancer\t{age}\tservice-controller\tEnsured load balancer\n");
        }
        else L("Events:", "<none>");
        w.Write(sb.ToString());
        return w.ToString();
    }

    /// <summary>describe.go formatEndpointsForService: ready addresses from the Service's EndpointSlices in
    /// slice order, matched to the port by name; at most 3 then ` + N more...`; `&lt;none&gt;` when none.</summary>
    static string Endpoints(ClusterState state, Service s, ServicePort sp)
    {
        var list = new List<string>();
        foreach (var slice in state.EndpointSlices.Where(e => e.Metadata.Namespace == s.Metadata.Namespace && e.ServiceName == s.Metadata.Name))
        {
            var port = slice.Ports.FirstOrDefault(p => (p.Name ?? "") == sp.Name);
            if (port is null) continue;
            foreach (var ep in slice.Endpoints)
                if (ep.Conditions.Ready != false)
                    list.Add(port.Port is { } n ? $"{ep.Addresses[0]}:{n}" : ep.Addresses[0]);
        }
        if (list.Count == 0) return "<none>";
        return list.Count > 3 ? string.Join(",", list.Take(3)) + $" + {list.Count - 3} more..." : string.Join(",", list);
    }
}
