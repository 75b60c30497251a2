using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using PacketLife.Core.Cluster;

namespace PacketLife.App.Rendering;

/// <summary>Objects as the API serves them (`kubectl get -o json|yaml`): apiVersion, kind, metadata, spec,
/// status, with the API's field names, so that `apply -f` (ManifestReader) reads them back.</summary>
public static class KubectlObjects
{
    static string Time(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    static JsonObject Map(IReadOnlyDictionary<string, string> m)
    {
        var o = new JsonObject();
        foreach (var (k, v) in m.OrderBy(p => p.Key, StringComparer.Ordinal)) o[k] = v;
        return o;
    }

    static JsonArray Arr(IEnumerable<JsonNode?> items) => new([.. items]);

    static JsonObject Meta(ObjectMeta m, bool clusterScoped = false)
    {
        var o = new JsonObject();
        if (m.Annotations.Count > 0) o["annotations"] = Map(m.Annotations);
        o["creationTimestamp"] = m.CreationTimestamp == default ? null : Time(m.CreationTimestamp);
        if (m.GenerateName.Length > 0) o["generateName"] = m.GenerateName;
        if (m.Labels.Count > 0) o["labels"] = Map(m.Labels);
        o["name"] = m.Name;
        if (!clusterScoped) o["namespace"] = m.Namespace;
        if (m.OwnerReferences.Count > 0)
            o["ownerReferences"] = Arr(m.OwnerReferences.Select(r => (JsonNode)new JsonObject
            {
                ["apiVersion"] = r.ApiVersion, ["blockOwnerDeletion"] = true, ["controller"] = r.Controller, ["kind"] = r.Kind, ["name"] = r.Name, ["uid"] = r.Uid,
            }));
        if (m.ResourceVersion.Length > 0) o["resourceVersion"] = m.ResourceVersion;
        if (m.Uid.Length > 0) o["uid"] = m.Uid;
        return o;
    }

    public static JsonObject ToJson(ClusterState state, object obj) => obj switch
    {
        Pod p => Pod(p),
        Service s => Service(s),
        Node n => Node(n),
        Deployment d => Deployment(state, d),
        ReplicaSet r => ReplicaSet(state, r),
        EndpointSlice e => EndpointSlice(e),
        EndpointsObject e => Endpoints(state, e.Service),
        _ => throw new ArgumentOutOfRangeException(nameof(obj)),
    };

    /// <summary>The v1 Endpoints object of a Service (derived from its EndpointSlices).</summary>
    public sealed record EndpointsObject(Service Service);

    static JsonObject PodSpec(PodSpec s)
    {
        var o = new JsonObject
        {
            ["containers"] = Arr(s.Containers.Select(c =>
            {
                var co = new JsonObject { ["image"] = c.Image, ["name"] = c.Name };
                if (c.Ports.Count > 0)
                    co["ports"] = Arr(c.Ports.Select(p =>
                    {
                        var po = new JsonObject { ["containerPort"] = p.Port };
                        if (p.Name is { Length: > 0 }) po["name"] = p.Name;
                        po["protocol"] = p.Protocol.ToString();
                        return (JsonNode)po;
                    }));
                return (JsonNode)co;
            })),
        };
        if (s.HostNetwork) o["hostNetwork"] = true;
        if (s.NodeName is not null) o["nodeName"] = s.NodeName;
        o["restartPolicy"] = s.RestartPolicy;
        return o;
    }

    static JsonObject Pod(Pod p)
    {
        var status = new JsonObject
        {
            ["conditions"] = Arr([new JsonObject { ["status"] = p.Status.Ready ? "True" : "False", ["type"] = "Ready" }]),
            ["containerStatuses"] = Arr(p.Spec.Containers.Select(c => (JsonNode)new JsonObject { ["restartCount"] = p.Status.Restarts })),
        };
        if (p.Status.HostIP is not null) status["hostIP"] = p.Status.HostIP;
        status["phase"] = p.Status.Phase;
        if (p.Status.PodIP is not null) status["podIP"] = p.Status.PodIP;
        if (p.Status.StartTime is { } st) status["startTime"] = Time(st);
        return new JsonObject { ["apiVersion"] = "v1", ["kind"] = "Pod", ["metadata"] = Meta(p.Metadata), ["spec"] = PodSpec(p.Spec), ["status"] = status };
    }

    static JsonObject Service(Service s)
    {
        var spec = new JsonObject();
        if (s.Spec.AllocateLoadBalancerNodePorts is { } a) spec["allocateLoadBalancerNodePorts"] = a;
        if (s.Spec.ClusterIP.Length > 0) spec["clusterIP"] = s.Spec.ClusterIP;
        if (s.Spec.ClusterIPs.Count > 0) spec["clusterIPs"] = Arr(s.Spec.ClusterIPs.Select(x => (JsonNode)x));
        if (s.Spec.ExternalIPs.Count > 0) spec["externalIPs"] = Arr(s.Spec.ExternalIPs.Select(x => (JsonNode)x));
        if (s.Spec.ExternalName is not null) spec["externalName"] = s.Spec.ExternalName;
        if (s.Spec.ExternalTrafficPolicy is { } etp) spec["externalTrafficPolicy"] = etp.ToString();
        if (s.Spec.HealthCheckNodePort > 0) spec["healthCheckNodePort"] = s.Spec.HealthCheckNodePort;
        if (s.Spec.InternalTrafficPolicy is { } itp) spec["internalTrafficPolicy"] = itp.ToString();
        if (s.Spec.IpFamilies.Count > 0) spec["ipFamilies"] = Arr(s.Spec.IpFamilies.Select(x => (JsonNode)x));
        if (s.Spec.IpFamilyPolicy is not null) spec["ipFamilyPolicy"] = s.Spec.IpFamilyPolicy;
        if (s.Spec.LoadBalancerIP is not null) spec["loadBalancerIP"] = s.Spec.LoadBalancerIP;
        if (s.Spec.LoadBalancerSourceRanges.Count > 0) spec["loadBalancerSourceRanges"] = Arr(s.Spec.LoadBalancerSourceRanges.Select(x => (JsonNode)x));
        spec["ports"] = Arr(s.Spec.Ports.Select(p =>
        {
            var po = new JsonObject();
            if (p.AppProtocol is not null) po["appProtocol"] = p.AppProtocol;
            if (p.Name.Length > 0) po["name"] = p.Name;
            if (p.NodePort > 0) po["nodePort"] = p.NodePort;
            po["port"] = p.Port;
            po["protocol"] = p.Protocol.ToString();
            po["targetPort"] = p.TargetPort.IsInt ? JsonValue.Create(p.TargetPort.IntValue!.Value) : JsonValue.Create(p.TargetPort.StringValue ?? "");
            return (JsonNode)po;
        }));
        if (s.Spec.PublishNotReadyAddresses) spec["publishNotReadyAddresses"] = true;
        if (s.Spec.Selector.Count > 0) spec["selector"] = Map(s.Spec.Selector);
        spec["sessionAffinity"] = s.Spec.SessionAffinity.ToString();
        if (s.Spec.SessionAffinityTimeoutSeconds is { } t) spec["sessionAffinityConfig"] = new JsonObject { ["clientIP"] = new JsonObject { ["timeoutSeconds"] = t } };
        spec["type"] = s.Spec.Type.ToString();
        var lb = new JsonObject();
        if (s.Status.LoadBalancerIngress.Count > 0)
            lb["ingress"] = Arr(s.Status.LoadBalancerIngress.Select(i =>
            {
                var io = new JsonObject();
                if (i.Hostname is not null) io["hostname"] = i.Hostname;
                if (i.Ip is not null) io["ip"] = i.Ip;
                if (i.IpMode is not null) io["ipMode"] = i.IpMode;
                return (JsonNode)io;
            }));
        return new JsonObject { ["apiVersion"] = "v1", ["kind"] = "Service", ["metadata"] = Meta(s.Metadata), ["spec"] = spec, ["status"] = new JsonObject { ["loadBalancer"] = lb } };
    }

    static JsonObject Node(Node n)
    {
        var spec = new JsonObject();
        if (n.PodCIDR is not null) { spec["podCIDR"] = n.PodCIDR; spec["podCIDRs"] = Arr([n.PodCIDR]); }
        if (n.ProviderID is not null) spec["providerID"] = n.ProviderID;
        if (n.Unschedulable) spec["unschedulable"] = true;
        var status = new JsonObject
        {
            ["addresses"] = Arr(n.Addresses.Select(a => (JsonNode)new JsonObject { ["address"] = a.Address, ["type"] = a.Type })),
            ["conditions"] = Arr([new JsonObject { ["status"] = n.Ready ? "True" : "False", ["type"] = "Ready" }]),
            ["nodeInfo"] = new JsonObject
            {
                ["architecture"] = n.Info.Architecture, ["containerRuntimeVersion"] = n.Info.ContainerRuntimeVersion, ["kernelVersion"] = n.Info.KernelVersion,
                ["kubeletVersion"] = n.Info.KubeletVersion, ["operatingSystem"] = n.Info.OperatingSystem, ["osImage"] = n.Info.OsImage,
            },
        };
        return new JsonObject { ["apiVersion"] = "v1", ["kind"] = "Node", ["metadata"] = Meta(n.Metadata, clusterScoped: true), ["spec"] = spec, ["status"] = status };
    }

    static JsonObject Workload(string kind, ObjectMeta meta, int replicas, IReadOnlyDictionary<string, string> selector, PodTemplate t, JsonObject status)
    {
        var spec = new JsonObject
        {
            ["replicas"] = replicas,
            ["selector"] = new JsonObject { ["matchLabels"] = Map(selector) },
            ["template"] = new JsonObject { ["metadata"] = new JsonObject { ["labels"] = Map(t.Labels) }, ["spec"] = PodSpec(t.Spec) },
        };
        return new JsonObject { ["apiVersion"] = "apps/v1", ["kind"] = kind, ["metadata"] = Meta(meta), ["spec"] = spec, ["status"] = status };
    }

    static JsonObject Deployment(ClusterState s, Deployment d)
    {
        var row = KubectlPrinters.DeploymentRow(s, d, DateTimeOffset.UnixEpoch, false);
        var ready = int.Parse(row[3], CultureInfo.InvariantCulture);
        return Workload("Deployment", d.Metadata, d.Replicas, d.Selector, d.Template, new JsonObject
        {
            ["availableReplicas"] = ready, ["readyReplicas"] = ready, ["replicas"] = ready, ["updatedReplicas"] = int.Parse(row[2], CultureInfo.InvariantCulture),
        });
    }

    static JsonObject ReplicaSet(ClusterState s, ReplicaSet r)
    {
        var row = KubectlPrinters.ReplicaSetRow(s, r, DateTimeOffset.UnixEpoch, false);
        return Workload("ReplicaSet", r.Metadata, r.Replicas, r.Selector, r.Template, new JsonObject
        {
            ["readyReplicas"] = int.Parse(row[3], CultureInfo.InvariantCulture), ["replicas"] = int.Parse(row[2], CultureInfo.InvariantCulture),
        });
    }

    static JsonObject EndpointSlice(EndpointSlice e)
    {
        var o = new JsonObject
        {
            ["addressType"] = e.AddressType,
            ["apiVersion"] = "discovery.k8s.io/v1",
            ["endpoints"] = Arr(e.Endpoints.Select(x =>
            {
                var eo = new JsonObject
                {
                    ["addresses"] = Arr(x.Addresses.Select(a => (JsonNode)a)),
                    ["conditions"] = Conditions(x.Conditions),
                };
                if (x.NodeName is not null) eo["nodeName"] = x.NodeName;
                if (x.TargetRef is { } tr) eo["targetRef"] = new JsonObject { ["kind"] = tr.Kind, ["name"] = tr.Name, ["namespace"] = tr.Namespace, ["uid"] = tr.Uid };
                if (x.Zone is not null) eo["zone"] = x.Zone;
                return (JsonNode)eo;
            })),
            ["kind"] = "EndpointSlice",
            ["metadata"] = Meta(e.Metadata),
            ["ports"] = Arr(e.Ports.Select(p =>
            {
                var po = new JsonObject { ["name"] = p.Name ?? "" };
                if (p.Port is { } n) po["port"] = n;
                if (p.Protocol is { } pr) po["protocol"] = pr.ToString();
                return (JsonNode)po;
            })),
        };
        return o;
    }

    static JsonObject Conditions(EndpointConditions c)
    {
        var o = new JsonObject();
        if (c.Ready is { } r) o["ready"] = r;
        if (c.Serving is { } s) o["serving"] = s;
        if (c.Terminating is { } t) o["terminating"] = t;
        return o;
    }

    static JsonObject Endpoints(ClusterState state, Service svc)
    {
        var subsets = ClusterApi.EndpointsView(state, svc).Select(sub =>
        {
            var so = new JsonObject();
            if (sub.Ready.Count > 0) so["addresses"] = Arr(sub.Ready.Select(a => (JsonNode)new JsonObject { ["ip"] = a }));
            if (sub.NotReady.Count > 0) so["notReadyAddresses"] = Arr(sub.NotReady.Select(a => (JsonNode)new JsonObject { ["ip"] = a }));
            so["ports"] = Arr(sub.Ports.Select(p =>
            {
                var po = new JsonObject();
                if (p.Name is { Length: > 0 }) po["name"] = p.Name;
                if (p.Port is { } n) po["port"] = n;
                po["protocol"] = (p.Protocol ?? Protocol.TCP).ToString();
                return (JsonNode)po;
            }));
            return (JsonNode)so;
        }).ToList();
        var meta = Meta(svc.Metadata with { Uid = "", ResourceVersion = "", Annotations = new Dictionary<string, string>(), CreationTimestamp = KubectlPrinters.EndpointsCreated(state, svc) });
        var o = new JsonObject { ["apiVersion"] = "v1", ["kind"] = "Endpoints", ["metadata"] = meta };
        if (subsets.Count > 0) o["subsets"] = Arr(subsets);
        return o;
    }

    public static JsonObject List(IEnumerable<JsonObject> items) => new()
    {
        ["apiVersion"] = "v1",
        ["items"] = Arr(items),
        ["kind"] = "List",
        ["metadata"] = new JsonObject { ["resourceVersion"] = "" },
    };

    /// <summary>`-o json`: Go's json.MarshalIndent with 4 spaces.</summary>
    public static string Json(JsonNode node)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true, IndentSize = 4, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
            node.WriteTo(w);
        return Encoding.UTF8.GetString(ms.ToArray()) + "\n";
    }

    /// <summary>`-o yaml`: sigs.k8s.io/yaml (go-yaml v2) style: keys sorted, 2-space indent, list items at
    /// the parent key's indent, strings double-quoted when they would read back as another type.</summary>
    public static string Yaml(JsonNode node)
    {
        var sb = new StringBuilder();
        WriteYaml(sb, node, 0, inList: false);
        return sb.ToString();
    }

    static void WriteYaml(StringBuilder sb, JsonNode? node, int indent, bool inList)
    {
        switch (node)
        {
            case JsonObject o:
                var first = true;
                foreach (var (k, v) in o.OrderBy(p => p.Key, StringComparer.Ordinal))
                {
                    if (!(inList && first)) sb.Append(' ', indent);
                    first = false;
                    sb.Append(Scalar(k)).Append(':');
                    WriteValue(sb, v, indent);
                }
                break;
            case JsonArray a:
                foreach (var item in a)
                {
                    sb.Append(' ', indent).Append("- ");
                    if (item is JsonObject io && io.Count > 0) WriteYaml(sb, io, indent + 2, inList: true);
                    else sb.Append(ScalarOf(item)).Append('\n');
                }
                break;
        }
    }

    static void WriteValue(StringBuilder sb, JsonNode? v, int indent)
    {
        switch (v)
        {
            case JsonObject o when o.Count == 0: sb.Append(" {}\n"); break;
            case JsonArray a when a.Count == 0: sb.Append(" []\n"); break;
            case JsonObject o: sb.Append('\n'); WriteYaml(sb, o, indent + 2, false); break;
            case JsonArray a: sb.Append('\n'); WriteYaml(sb, a, indent, false); break;
            default: sb.Append(' ').Append(ScalarOf(v)).Append('\n'); break;
        }
    }

    static string ScalarOf(JsonNode? v) => v switch
    {
        null => "null",
        JsonValue jv when jv.GetValueKind() == JsonValueKind.String => Scalar(jv.GetValue<string>()),
        JsonValue jv when jv.GetValueKind() == JsonValueKind.True => "true",
        JsonValue jv when jv.GetValueKind() == JsonValueKind.False => "false",
        _ => v.ToJsonString(),
    };

    static string Scalar(string s)
    {
        var quote = s.Length == 0 || s != s.Trim() || s.Contains(": ", StringComparison.Ordinal) || s.Contains(" #", StringComparison.Ordinal) || s.EndsWith(':')
            || "-?:,[]{}#&*!|>'\"%@`".Contains(s[0]) || s.Contains('\n')
            || s.ToLowerInvariant() is "true" or "false" or "yes" or "no" or "on" or "off" or "y" or "n" or "null" or "~"
            || double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out _)
            || (char.IsAsciiDigit(s[0]) && DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.None, out _));
        if (!quote) return s;
        return "\"" + s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal) + "\"";
    }
}
