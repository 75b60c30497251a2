using System.Globalization;
using PacketLife.Core.Cluster;
using PacketLife.Core.Diagnostics;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace PacketLife.Manifests;

public sealed record ManifestReadResult(IReadOnlyList<object> Objects, IReadOnlyList<Diagnostic> Diagnostics)
{
    public bool HasErrors => Diagnostics.Any(d => d.Severity == Severity.Error);
}

/// <summary>Reads Kubernetes manifests (`kubectl get -o yaml|json` output, `apply -f` files) into the
/// <see cref="PacketLife.Core.Cluster"/> records. YAML and JSON both go through YamlDotNet's
/// representation model (JSON is YAML 1.2 flow syntax), which keeps every node's line and column for
/// diagnostics and starts in a fraction of KubernetesClient's time (facts dotnet-ecosystem.md: ~195 ms vs
/// ~500 ms). Multi-document streams, `kind: List` and `items:` are unwrapped; empty or comment-only
/// documents are skipped. Every field that is not modelled is reported (PL3003) with its location;
/// nothing is dropped silently.</summary>
public static class ManifestReader
{
    public static ManifestReadResult ReadFiles(IEnumerable<string> paths)
    {
        var objects = new List<object>();
        var diags = new List<Diagnostic>();
        foreach (var path in paths)
        {
            string text;
            try { text = File.ReadAllText(path); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                diags.Add(new Diagnostic(Severity.Error, ClusterMessages.YamlSyntax, $"the path \"{path}\" does not exist", new SourceLocation(path, 0, 0)));
                continue;
            }
            var r = ReadText(text, path);
            objects.AddRange(r.Objects);
            diags.AddRange(r.Diagnostics);
        }
        return new ManifestReadResult(objects, diags);
    }

    public static ManifestReadResult ReadText(string text, string source)
    {
        var objects = new List<object>();
        var diags = new List<Diagnostic>();
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException e)
        {
            diags.Add(new Diagnostic(Severity.Error, ClusterMessages.YamlSyntax, $"error converting YAML to JSON: yaml: line {e.Start.Line}: {e.InnerException?.Message ?? e.Message}",
                new SourceLocation(source, (int)e.Start.Line, (int)e.Start.Column), "check indentation and quoting at this position"));
            return new ManifestReadResult(objects, diags);
        }
        var ctx = new Ctx(source, diags);
        foreach (var doc in stream.Documents)
        {
            var root = doc.RootNode;
            if (root is YamlScalarNode { Value: null or "" }) continue;
            if (root is not YamlMappingNode map)
            {
                ctx.Error(root, ClusterMessages.BadValue, "a manifest document must be a mapping (an object with apiVersion and kind)");
                continue;
            }
            ReadObject(new M(map, ctx, ""), objects);
        }
        return new ManifestReadResult(objects, diags);
    }

    static void ReadObject(M m, List<object> objects)
    {
        var kind = m.Str("kind");
        var apiVersion = m.Str("apiVersion");
        if (kind is null)
        {
            m.Ctx.Error(m.Node, ClusterMessages.MissingField, "Object 'Kind' is missing", "every object needs `apiVersion` and `kind`");
            return;
        }
        object? obj = kind switch
        {
            "List" or "ServiceList" or "PodList" or "NodeList" or "DeploymentList" or "ReplicaSetList" or "EndpointSliceList" => ReadList(m, objects),
            "Service" => ReadService(m),
            "Pod" => ReadPod(m),
            "Node" => ReadNode(m),
            "Deployment" => ReadDeployment(m),
            "ReplicaSet" => ReadReplicaSet(m),
            "EndpointSlice" => ReadEndpointSlice(m),
            "Endpoints" => Derived(m),
            _ => Unknown(m, kind, apiVersion),
        };
        if (obj is not null and not Skip) objects.Add(obj);
    }

    sealed class Skip { public static readonly Skip Value = new(); }

    static object ReadList(M m, List<object> objects)
    {
        m.Map("metadata")?.Ignore("resourceVersion").Ignore("continue").Done();
        foreach (var item in m.Seq("items"))
            if (item.Mapping is { } im) ReadObject(im, objects);
            else m.Ctx.Error(item.Node, ClusterMessages.BadValue, "a List item must be an object");
        m.Done();
        return Skip.Value;
    }

    static object? Unknown(M m, string kind, string? apiVersion)
    {
        m.Ctx.Warn(m.Node, ClusterMessages.UnknownKind, $"kind {kind} ({apiVersion}) is not modelled; the object is ignored",
            "PacketLife models Services, EndpointSlices, Pods, Nodes, Deployments and ReplicaSets");
        return null;
    }

    static object? Derived(M m)
    {
        m.Ctx.Info(m.Node, ClusterMessages.DerivedKind, "v1 Endpoints are derived from EndpointSlices here; this object is ignored",
            "import the EndpointSlices (kubectl get endpointslices -A -o yaml) to keep the endpoints");
        return null;
    }

    static ObjectMeta Meta(M parent, bool clusterScoped = false)
    {
        var m = parent.Map("metadata");
        if (m is null)
        {
            parent.Ctx.Error(parent.Node, ClusterMessages.MissingField, "metadata.name: Required value");
            return new ObjectMeta { Name = "" };
        }
        var name = m.Str("name") ?? "";
        if (name.Length == 0 && m.Str("generateName") is null) m.Ctx.Error(m.Node, ClusterMessages.MissingField, "metadata.name: Required value", "give the object a name");
        var meta = new ObjectMeta
        {
            Name = name,
            Namespace = m.Str("namespace") ?? (clusterScoped ? "" : "default"),
            Uid = m.Str("uid") ?? "",
            CreationTimestamp = m.Time("creationTimestamp") ?? default,
            Labels = m.StrMap("labels"),
            Annotations = m.StrMap("annotations"),
            ResourceVersion = m.Str("resourceVersion") ?? "",
            GenerateName = m.Str("generateName") ?? "",
            OwnerReferences = m.Seq("ownerReferences").Select(i => i.Mapping).OfType<M>().Select(o =>
            {
                var r = new OwnerReference(o.Str("apiVersion") ?? "", o.Str("kind") ?? "", o.Str("name") ?? "", o.Str("uid") ?? "", o.Bool("controller") ?? false);
                o.Ignore("blockOwnerDeletion").Done();
                return r;
            }).ToList(),
        };
        m.Done();
        return meta;
    }

    static Service ReadService(M m)
    {
        var meta = Meta(m);
        var spec = m.Map("spec");
        var svc = new Service { Metadata = meta };
        if (spec is not null)
        {
            var type = spec.Enum("type", ServiceType.ClusterIP);
            svc = svc with
            {
                Spec = new ServiceSpec
                {
                    Type = type,
                    Selector = spec.StrMap("selector"),
                    Ports = spec.Seq("ports").Select(i => i.Mapping).OfType<M>().Select(p =>
                    {
                        var port = new ServicePort
                        {
                            Name = p.Str("name") ?? "",
                            Protocol = p.Enum("protocol", Protocol.TCP),
                            Port = p.Int("port") ?? (p.Has("port") ? 0 : Required(p, "port", 0)),
                            TargetPort = p.IntOrStr("targetPort") ?? default,
                            NodePort = p.Int("nodePort") ?? 0,
                            AppProtocol = p.Str("appProtocol"),
                        };
                        p.Done();
                        return port;
                    }).ToList(),
                    ClusterIP = spec.Str("clusterIP") ?? "",
                    ClusterIPs = spec.StrList("clusterIPs"),
                    IpFamilies = spec.StrList("ipFamilies"),
                    IpFamilyPolicy = spec.Str("ipFamilyPolicy"),
                    ExternalIPs = spec.StrList("externalIPs"),
                    ExternalName = spec.Str("externalName"),
                    ExternalTrafficPolicy = spec.Has("externalTrafficPolicy") ? spec.Enum("externalTrafficPolicy", TrafficPolicy.Cluster) : null,
                    InternalTrafficPolicy = spec.Has("internalTrafficPolicy") ? spec.Enum("internalTrafficPolicy", TrafficPolicy.Cluster) : null,
                    HealthCheckNodePort = spec.Int("healthCheckNodePort") ?? 0,
                    SessionAffinity = spec.Enum("sessionAffinity", SessionAffinity.None),
                    SessionAffinityTimeoutSeconds = spec.Map("sessionAffinityConfig") is { } sac && sac.Map("clientIP") is { } cip ? Finish(sac, Finish(cip, cip.Int("timeoutSeconds"))) : null,
                    LoadBalancerSourceRanges = spec.StrList("loadBalancerSourceRanges"),
                    LoadBalancerIP = spec.Str("loadBalancerIP"),
                    AllocateLoadBalancerNodePorts = spec.Bool("allocateLoadBalancerNodePorts"),
                    PublishNotReadyAddresses = spec.Bool("publishNotReadyAddresses") ?? false,
                },
            };
            spec.Done();
        }
        if (m.Map("status") is { } status)
        {
            var lb = status.Map("loadBalancer");
            var ingress = lb?.Seq("ingress").Select(i => i.Mapping).OfType<M>().Select(i =>
            {
                var r = new LoadBalancerIngress(i.Str("ip"), i.Str("hostname"), i.Str("ipMode"));
                i.Done();
                return r;
            }).ToList() ?? [];
            lb?.Done();
            svc = svc with { Status = new ServiceStatus { LoadBalancerIngress = ingress } };
            status.Done(Severity.Info);
        }
        m.Done();
        return svc;
    }

    static T Required<T>(M m, string field, T fallback)
    {
        m.Ctx.Error(m.Node, ClusterMessages.MissingField, $"{m.Path}{field}: Required value");
        return fallback;
    }

    static T Finish<T>(M m, T value)
    {
        m.Done();
        return value;
    }

    static PodSpec ReadPodSpec(M spec)
    {
        var ps = new PodSpec
        {
            Containers = spec.Seq("containers").Select(i => i.Mapping).OfType<M>().Select(c =>
            {
                var container = new Container
                {
                    Name = c.Str("name") ?? Required(c, "name", ""),
                    Image = c.Str("image") ?? "",
                    Ports = c.Seq("ports").Select(i => i.Mapping).OfType<M>().Select(p =>
                    {
                        var cp = new ContainerPort(p.Int("containerPort") ?? Required(p, "containerPort", 0), p.Str("name"), p.Enum("protocol", Protocol.TCP));
                        p.Done();
                        return cp;
                    }).ToList(),
                };
                c.Done();
                return container;
            }).ToList(),
            NodeName = spec.Str("nodeName"),
            HostNetwork = spec.Bool("hostNetwork") ?? false,
            RestartPolicy = spec.Str("restartPolicy") ?? "Always",
        };
        spec.Done();
        return ps;
    }

    static Pod ReadPod(M m)
    {
        var pod = new Pod { Metadata = Meta(m) };
        if (m.Map("spec") is { } spec) pod = pod with { Spec = ReadPodSpec(spec) };
        if (m.Map("status") is { } st)
        {
            var ready = false;
            foreach (var c in st.Seq("conditions").Select(i => i.Mapping).OfType<M>())
            {
                if (c.Str("type") == "Ready") ready = c.Str("status") == "True";
                c.Ignore("lastProbeTime").Ignore("lastTransitionTime").Ignore("message").Ignore("reason").Ignore("observedGeneration").Done(Severity.Info);
            }
            var restarts = 0;
            foreach (var cs in st.Seq("containerStatuses").Select(i => i.Mapping).OfType<M>())
            {
                restarts += cs.Int("restartCount") ?? 0;
                cs.Done(Severity.Info);
            }
            // podIPs/hostIPs repeat podIP/hostIP on a single-stack cluster; anything more (dual-stack) is reported.
            var podIp = st.Str("podIP");
            foreach (var ip in st.Seq("podIPs").Select(i => i.Mapping).OfType<M>())
            {
                if (ip.Str("ip") is { } extra && extra != podIp) ip.Ctx.Warn(ip.Node, ClusterMessages.UnknownField, $"{ip.Path}ip: additional pod IP {extra} is not modelled (single-stack IPv4 only); ignored");
                ip.Done();
            }
            var hostIp = st.Str("hostIP");
            foreach (var ip in st.Seq("hostIPs").Select(i => i.Mapping).OfType<M>())
            {
                if (ip.Str("ip") is { } extra && extra != hostIp) ip.Ctx.Warn(ip.Node, ClusterMessages.UnknownField, $"{ip.Path}ip: additional host IP {extra} is not modelled (single-stack IPv4 only); ignored");
                ip.Done();
            }
            pod = pod with
            {
                Status = new PodStatus
                {
                    Phase = st.Str("phase") ?? "Pending",
                    PodIP = st.Str("podIP"),
                    HostIP = st.Str("hostIP"),
                    StartTime = st.Time("startTime"),
                    Ready = ready,
                    Restarts = restarts,
                },
            };
            st.Done(Severity.Info);
        }
        m.Done();
        return pod;
    }

    static Node ReadNode(M m)
    {
        var node = new Node { Metadata = Meta(m, clusterScoped: true) };
        if (m.Map("spec") is { } spec)
        {
            var cidr = spec.Str("podCIDR");
            foreach (var extra in spec.StrList("podCIDRs").Where(c => c != cidr))
                spec.Ctx.Warn(spec.Node, ClusterMessages.UnknownField, $"{spec.Path}podCIDRs: additional pod CIDR {extra} is not modelled (single-stack IPv4 only); ignored");
            node = node with { PodCIDR = cidr, ProviderID = spec.Str("providerID"), Unschedulable = spec.Bool("unschedulable") ?? false };
            spec.Done();
        }
        if (m.Map("status") is { } st)
        {
            var addresses = st.Seq("addresses").Select(i => i.Mapping).OfType<M>().Select(a => Finish(a, new NodeAddress(a.Str("type") ?? "", a.Str("address") ?? ""))).ToList();
            var ready = true;
            foreach (var c in st.Seq("conditions").Select(i => i.Mapping).OfType<M>())
            {
                if (c.Str("type") == "Ready") ready = c.Str("status") == "True";
                c.Ignore("lastHeartbeatTime").Ignore("lastTransitionTime").Ignore("message").Ignore("reason").Done(Severity.Info);
            }
            var info = new NodeInfo();
            if (st.Map("nodeInfo") is { } ni)
            {
                info = new NodeInfo
                {
                    KubeletVersion = ni.Str("kubeletVersion") ?? "", OsImage = ni.Str("osImage") ?? "", KernelVersion = ni.Str("kernelVersion") ?? "",
                    ContainerRuntimeVersion = ni.Str("containerRuntimeVersion") ?? "", OperatingSystem = ni.Str("operatingSystem") ?? "linux", Architecture = ni.Str("architecture") ?? "amd64",
                };
                ni.Done(Severity.Info);
            }
            node = node with { Addresses = addresses, Ready = ready, Info = info };
            st.Done(Severity.Info);
        }
        m.Done();
        return node;
    }

    static (int Replicas, Dictionary<string, string> Selector, PodTemplate Template) ReadWorkloadSpec(M m)
    {
        var spec = m.Map("spec");
        if (spec is null) { m.Ctx.Error(m.Node, ClusterMessages.MissingField, "spec: Required value"); return (1, [], new PodTemplate()); }
        var replicas = spec.Int("replicas") ?? 1;
        var selector = new Dictionary<string, string>();
        if (spec.Map("selector") is { } sel)
        {
            foreach (var kv in sel.StrMap("matchLabels")) selector[kv.Key] = kv.Value;
            sel.Done();
        }
        var template = new PodTemplate();
        if (spec.Map("template") is { } t)
        {
            var labels = new Dictionary<string, string>();
            if (t.Map("metadata") is { } tm)
            {
                foreach (var kv in tm.StrMap("labels")) labels[kv.Key] = kv.Value;
                tm.Ignore("creationTimestamp").Done();
            }
            var ps = t.Map("spec") is { } tsp ? ReadPodSpec(tsp) : new PodSpec();
            template = new PodTemplate { Labels = labels, Spec = ps };
            t.Done();
        }
        spec.Done();
        return (replicas, selector, template);
    }

    static Deployment ReadDeployment(M m)
    {
        var meta = Meta(m);
        var (replicas, selector, template) = ReadWorkloadSpec(m);
        m.Map("status")?.Done(Severity.Info);
        m.Done();
        return new Deployment { Metadata = meta, Replicas = replicas, Selector = selector, Template = template };
    }

    static ReplicaSet ReadReplicaSet(M m)
    {
        var meta = Meta(m);
        var (replicas, selector, template) = ReadWorkloadSpec(m);
        m.Map("status")?.Done(Severity.Info);
        m.Done();
        return new ReplicaSet { Metadata = meta, Replicas = replicas, Selector = selector, Template = template };
    }

    static EndpointSlice ReadEndpointSlice(M m)
    {
        var meta = Meta(m);
        var slice = new EndpointSlice
        {
            Metadata = meta,
            AddressType = m.Str("addressType") ?? "IPv4",
            Endpoints = m.Seq("endpoints").Select(i => i.Mapping).OfType<M>().Select(e =>
            {
                var cond = e.Map("conditions");
                var ep = new Endpoint
                {
                    Addresses = e.StrList("addresses"),
                    Conditions = cond is null ? new EndpointConditions() : Finish(cond, new EndpointConditions(cond.Bool("ready"), cond.Bool("serving"), cond.Bool("terminating"))),
                    NodeName = e.Str("nodeName"),
                    Zone = e.Str("zone"),
                    Hostname = e.Str("hostname"),
                    TargetRef = e.Map("targetRef") is { } tr ? Finish(tr.Ignore("resourceVersion").Ignore("apiVersion"), new EndpointTargetRef(tr.Str("kind") ?? "", tr.Str("name") ?? "", tr.Str("namespace") ?? "", tr.Str("uid") ?? "")) : null,
                };
                e.Done();
                return ep;
            }).ToList(),
            Ports = m.Seq("ports").Select(i => i.Mapping).OfType<M>().Select(p => Finish(p, new EndpointPort(p.Str("name"), p.Has("protocol") ? p.Enum("protocol", Protocol.TCP) : null, p.Int("port"), p.Str("appProtocol")))).ToList(),
        };
        m.Done();
        return slice;
    }

    // ------------------------------------------------------------------ node access with tracking

    sealed class Ctx(string source, List<Diagnostic> diags)
    {
        public string Source { get; } = source;
        SourceLocation Loc(YamlNode n) => new(Source, (int)n.Start.Line, (int)n.Start.Column);
        public void Error(YamlNode n, string code, string msg, string? hint = null) => diags.Add(new Diagnostic(Severity.Error, code, msg, Loc(n), hint));
        public void Warn(YamlNode n, string code, string msg, string? hint = null) => diags.Add(new Diagnostic(Severity.Warning, code, msg, Loc(n), hint));
        public void Info(YamlNode n, string code, string msg, string? hint = null) => diags.Add(new Diagnostic(Severity.Info, code, msg, Loc(n), hint));
        public void Report(Severity sev, YamlNode n, string code, string msg, string? hint = null) => diags.Add(new Diagnostic(sev, code, msg, Loc(n), hint));
    }

    readonly record struct Item(YamlNode Node, M? Mapping);

    /// <summary>A mapping node that remembers which keys were read; <see cref="Done"/> reports the rest.</summary>
    sealed class M(YamlMappingNode node, Ctx ctx, string path)
    {
        readonly HashSet<string> _used = new(StringComparer.Ordinal);
        public YamlMappingNode Node { get; } = node;
        public Ctx Ctx { get; } = ctx;
        public string Path { get; } = path;

        YamlNode? Get(string key)
        {
            _used.Add(key);
            return Node.Children.TryGetValue(new YamlScalarNode(key), out var v) ? v : null;
        }

        public bool Has(string key) => Node.Children.ContainsKey(new YamlScalarNode(key));
        public M Ignore(string key) { _used.Add(key); return this; }

        static bool IsNull(YamlNode n) => n is YamlScalarNode s && s.Style == ScalarStyle.Plain && (s.Value is null or "" or "null" or "~");

        public string? Str(string key)
        {
            var n = Get(key);
            if (n is null || IsNull(n)) return null;
            if (n is YamlScalarNode s) return s.Value;
            Ctx.Error(n, ClusterMessages.BadValue, $"{Path}{key}: expected a string");
            return null;
        }

        public int? Int(string key)
        {
            var n = Get(key);
            if (n is null || IsNull(n)) return null;
            if (n is YamlScalarNode s && int.TryParse(s.Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v)) return v;
            Ctx.Error(n, ClusterMessages.BadValue, $"{Path}{key}: expected an integer, got {(n as YamlScalarNode)?.Value ?? "a collection"}");
            return null;
        }

        public bool? Bool(string key)
        {
            var n = Get(key);
            if (n is null || IsNull(n)) return null;
            if (n is YamlScalarNode { Value: "true" or "True" }) return true;
            if (n is YamlScalarNode { Value: "false" or "False" }) return false;
            Ctx.Error(n, ClusterMessages.BadValue, $"{Path}{key}: expected true or false");
            return null;
        }

        public DateTimeOffset? Time(string key)
        {
            var s = Str(key);
            if (s is null) return null;
            if (DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var t)) return t;
            Ctx.Error(Get(key)!, ClusterMessages.BadValue, $"{Path}{key}: expected an RFC 3339 time, got {s}");
            return null;
        }

        public IntOrString? IntOrStr(string key)
        {
            var n = Get(key);
            if (n is null || IsNull(n)) return null;
            if (n is YamlScalarNode s)
            {
                if (s.Style == ScalarStyle.Plain && int.TryParse(s.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var v)) return IntOrString.FromInt(v);
                return IntOrString.FromString(s.Value ?? "");
            }
            Ctx.Error(n, ClusterMessages.BadValue, $"{Path}{key}: expected a port number or name");
            return null;
        }

        public TEnum Enum<TEnum>(string key, TEnum fallback) where TEnum : struct, Enum
        {
            var s = Str(key);
            if (s is null || s.Length == 0) return fallback;
            if (System.Enum.TryParse<TEnum>(s, ignoreCase: false, out var v) && System.Enum.IsDefined(v)) return v;
            Ctx.Error(Get(key)!, ClusterMessages.BadValue, $"{Path}{key}: Unsupported value: \"{s}\": supported values: {string.Join(", ", System.Enum.GetNames<TEnum>().Select(x => $"\"{x}\""))}");
            return fallback;
        }

        public M? Map(string key)
        {
            var n = Get(key);
            if (n is null || IsNull(n)) return null;
            if (n is YamlMappingNode mm) return new M(mm, Ctx, $"{Path}{key}.");
            Ctx.Error(n, ClusterMessages.BadValue, $"{Path}{key}: expected an object");
            return null;
        }

        public IEnumerable<Item> Seq(string key)
        {
            var n = Get(key);
            if (n is null || IsNull(n)) return [];
            if (n is YamlSequenceNode seq)
                return seq.Children.Select((c, i) => new Item(c, c is YamlMappingNode cm ? new M(cm, Ctx, $"{Path}{key}[{i}].") : null)).ToList();
            Ctx.Error(n, ClusterMessages.BadValue, $"{Path}{key}: expected a list");
            return [];
        }

        public IReadOnlyList<string> StrList(string key) =>
            Seq(key).Select(i => i.Node is YamlScalarNode s ? s.Value ?? "" : BadItem(i.Node, key)).ToList();

        string BadItem(YamlNode n, string key)
        {
            Ctx.Error(n, ClusterMessages.BadValue, $"{Path}{key}: expected a list of strings");
            return "";
        }

        public IReadOnlyDictionary<string, string> StrMap(string key)
        {
            var n = Get(key);
            var result = new Dictionary<string, string>(StringComparer.Ordinal);
            if (n is null || IsNull(n)) return result;
            if (n is not YamlMappingNode mm) { Ctx.Error(n, ClusterMessages.BadValue, $"{Path}{key}: expected a map of strings"); return result; }
            foreach (var (k, v) in mm.Children)
                if (k is YamlScalarNode ks && v is YamlScalarNode vs) result[ks.Value ?? ""] = vs.Value ?? "";
                else Ctx.Error(v, ClusterMessages.BadValue, $"{Path}{key}: values must be strings");
            return result;
        }

        /// <summary>Reports every key that no reader asked for.</summary>
        public void Done(Severity severity = Severity.Warning)
        {
            foreach (var (k, v) in Node.Children)
            {
                var name = (k as YamlScalarNode)?.Value ?? "?";
                if (_used.Contains(name)) continue;
                Ctx.Report(severity, k, ClusterMessages.UnknownField, $"field {Path}{name} is not modelled; ignored",
                    "PacketLife keeps only the fields networking and `kubectl get` use");
            }
        }
    }
}
