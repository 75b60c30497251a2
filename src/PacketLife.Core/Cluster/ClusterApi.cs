using System.Globalization;
using System.Text.RegularExpressions;
using PacketLife.Core.Azure;
using PacketLife.Core.Diagnostics;
using PacketLife.Core.Net;

namespace PacketLife.Core.Cluster;

/// <summary>The outcome of an API call: either done (with the object's name as the API returned it) or an
/// error text in kubectl's wording. Expected failures are values here; the CLI turns them into exit 1.</summary>
public sealed record ApiResult(bool Ok, string? Error = null, string? Name = null)
{
    public static ApiResult Fail(string error) => new(false, error);
    public static ApiResult Done(string name) => new(true, null, name);
}

/// <summary>The API server plus the controllers, run to convergence synchronously after each change:
/// Deployment → ReplicaSet → Pods, scheduler, kubenet IPAM, ClusterIP/NodePort allocators, EndpointSlice
/// controller and the Azure cloud controller. Time and randomness are injected (the random word lives in
/// <see cref="ControllerState.RandomState"/> so the next invocation continues the same sequence).
/// Every call validates before it changes anything, so a failed call leaves the state as it was.</summary>
public sealed partial class ClusterApi
{
    readonly ClusterState _s;
    readonly TimeProvider _clock;
    readonly ClusterRandom _rng;

    public ClusterApi(ClusterState state, TimeProvider clock)
    {
        _s = state;
        _clock = clock;
        _rng = new ClusterRandom(state.Controllers.RandomState);
    }

    public ClusterState State => _s;
    public ClusterRandom Random => _rng;

    DateTimeOffset Now()
    {
        var t = _clock.GetUtcNow();
        return new DateTimeOffset(t.Ticks - t.Ticks % TimeSpan.TicksPerSecond, TimeSpan.Zero);
    }

    ObjectMeta Stamp(ObjectMeta m) => m with
    {
        Uid = _rng.NewUid(),
        CreationTimestamp = Now(),
        ResourceVersion = (++_s.Controllers.ResourceVersion).ToString(CultureInfo.InvariantCulture),
    };

    void Persist() => _s.Controllers.RandomState = _rng.State;

    /// <summary>Stores the random word after draws made outside an API call.</summary>
    public void SaveRandom() => Persist();

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")]
    private static partial Regex Dns1123Subdomain();

    [GeneratedRegex("^[a-z]([-a-z0-9]*[a-z0-9])?$")]
    private static partial Regex Dns1035Label();

    // ---------------------------------------------------------------- Pods

    public ApiResult CreatePod(Pod pod)
    {
        var name = pod.Metadata.Name;
        if (name.Length > 253 || !Dns1123Subdomain().IsMatch(name)) return ApiResult.Fail(ClusterMessages.BadName("Pod", name));
        if (_s.FindPod(pod.Metadata.Namespace, name) is not null) return ApiResult.Fail(ClusterMessages.AlreadyExists("Pod", name));
        if (ValidatePodSpec("Pod", name, pod.Spec, "spec") is { } err) return ApiResult.Fail(err);
        var created = pod with { Metadata = Stamp(pod.Metadata) };
        _s.Pods.Add(StartPod(created));
        ReconcileAll();
        return ApiResult.Done(name);
    }

    static string? ValidatePodSpec(string kind, string name, PodSpec spec, string path)
    {
        for (var c = 0; c < spec.Containers.Count; c++)
            for (var p = 0; p < spec.Containers[c].Ports.Count; p++)
            {
                var port = spec.Containers[c].Ports[p].Port;
                if (port is < 1 or > 65535) return ClusterMessages.PortNumber(kind, name, $"{path}.containers[{c}].ports[{p}].containerPort", port);
            }
        if (spec.Containers.Count == 0) return ClusterMessages.Invalid(kind, name, $"{path}.containers", "Required value");
        return null;
    }

    /// <summary>Scheduler + kubelet + CNI: binds the pod to a node, gives it an address and marks it running.</summary>
    Pod StartPod(Pod pod)
    {
        var nodeName = pod.Spec.NodeName ?? Schedule(pod);
        if (nodeName is null) return pod with { Status = new PodStatus { Phase = "Pending" } };
        var node = _s.FindNode(nodeName);
        if (node is null) return pod with { Spec = pod.Spec with { NodeName = nodeName }, Status = new PodStatus { Phase = "Pending" } };
        string? ip;
        if (pod.Spec.HostNetwork) ip = node.InternalIP;
        else
        {
            ip = AllocatePodIp(node);
            if (ip is null) // host-local has no address left: the sandbox cannot be created.
                return pod with { Spec = pod.Spec with { NodeName = nodeName }, Status = new PodStatus { Phase = "Pending", HostIP = node.InternalIP } };
        }
        return pod with
        {
            Spec = pod.Spec with { NodeName = nodeName },
            Status = new PodStatus { Phase = "Running", PodIP = ip, HostIP = node.InternalIP, Ready = true, StartTime = Now() },
        };
    }

    /// <summary>kube-scheduler, reduced to what decides placement on an idle AKS pool: filter ready,
    /// schedulable nodes; prefer the node with the fewest pods of the same owner (the default
    /// PodTopologySpread constraint on hostname), then the fewest pods (NodeResourcesBalancedAllocation on
    /// equal requests); ties are broken at random, as the scheduler's selectHost does.</summary>
    string? Schedule(Pod pod)
    {
        var candidates = _s.Nodes.Where(n => n.Ready && !n.Unschedulable).ToList();
        if (candidates.Count == 0) return null;
        var owner = pod.Metadata.OwnerReferences.FirstOrDefault()?.Uid;
        var live = _s.Pods.Where(p => p.Status.Phase is not ("Succeeded" or "Failed")).ToList();
        (int sameOwner, int total) Score(Node n) => (
            owner is null ? 0 : live.Count(p => p.Spec.NodeName == n.Metadata.Name && p.Metadata.OwnerReferences.FirstOrDefault()?.Uid == owner),
            live.Count(p => p.Spec.NodeName == n.Metadata.Name));
        var scored = candidates.Select(n => (n, s: Score(n))).ToList();
        var best = scored.Min(x => x.s);
        var ties = scored.Where(x => x.s == best).Select(x => x.n).ToList();
        return ties[ties.Count == 1 ? 0 : _rng.Next(ties.Count)].Metadata.Name;
    }

    string? AllocatePodIp(Node node)
    {
        if (node.PodCIDR is null || !Ip4Prefix.TryParse(node.PodCIDR, out var cidr)) return null;
        var used = _s.Pods.Where(p => p.Spec.NodeName == node.Metadata.Name && !p.Spec.HostNetwork && p.Status.PodIP is not null)
            .Select(p => Ip4.Parse(p.Status.PodIP!)).ToHashSet();
        Ip4? last = _s.Controllers.LastReservedIp.TryGetValue(node.Metadata.Name, out var l) ? Ip4.Parse(l) : null;
        var ip = HostLocalIpam.AllocateNext(cidr, last, used);
        if (ip is null) return null;
        _s.Controllers.LastReservedIp[node.Metadata.Name] = ip.Value.ToString();
        return ip.Value.ToString();
    }

    // ---------------------------------------------------------------- Deployments

    public ApiResult CreateDeployment(Deployment d)
    {
        var name = d.Metadata.Name;
        if (name.Length > 253 || !Dns1123Subdomain().IsMatch(name)) return ApiResult.Fail(ClusterMessages.BadName("Deployment", name));
        if (_s.FindDeployment(d.Metadata.Namespace, name) is not null) return ApiResult.Fail(ClusterMessages.AlreadyExists("Deployment", name));
        if (ValidateDeployment(d) is { } err) return ApiResult.Fail(err);
        _s.Deployments.Add(d with { Metadata = Stamp(d.Metadata) });
        ReconcileAll();
        return ApiResult.Done(name);
    }

    static string? ValidateDeployment(Deployment d)
    {
        var name = d.Metadata.Name;
        if (d.Replicas < 0) return ClusterMessages.NegativeReplicas("Deployment", name, d.Replicas);
        if (d.Selector.Count == 0) return ClusterMessages.Invalid("Deployment", name, "spec.selector", "Required value");
        if (!LabelSelector.MatchesMap(d.Selector, d.Template.Labels))
            return ClusterMessages.InvalidValue("Deployment", name, "spec.template.metadata.labels",
                "map[string]string{" + string.Join(", ", d.Template.Labels.Select(kv => $"\"{kv.Key}\":\"{kv.Value}\"")) + "}", "`selector` does not match template `labels`");
        return ValidatePodSpec("Deployment", name, d.Template.Spec, "spec.template.spec");
    }

    public ApiResult ScaleDeployment(string ns, string name, int replicas)
    {
        var d = _s.FindDeployment(ns, name);
        if (d is null) return ApiResult.Fail(ClusterMessages.NotFound("Deployment", name));
        if (replicas < 0) return ApiResult.Fail(ClusterMessages.NegativeReplicas("Deployment", name, replicas));
        Replace(_s.Deployments, d, d with { Replicas = replicas });
        ReconcileAll();
        return ApiResult.Done(name);
    }

    /// <summary>The Deployment's ReplicaSet whose pod template equals the Deployment's (ignoring the
    /// pod-template-hash label), as deployment util FindNewReplicaSet does.</summary>
    public static ReplicaSet? CurrentReplicaSet(ClusterState s, Deployment d)
    {
        var hash = Naming.PodTemplateHash(d.Template);
        var owned = s.ReplicaSets.Where(r => r.Metadata.Namespace == d.Metadata.Namespace && r.Metadata.OwnerReferences.Any(o => o.Uid == d.Metadata.Uid)).ToList();
        return owned.FirstOrDefault(r => r.Metadata.Name == $"{d.Metadata.Name}-{hash}")
            ?? owned.FirstOrDefault(r => Naming.PodTemplateHash(r.Template with { Labels = r.Template.Labels.Where(kv => kv.Key != "pod-template-hash").ToDictionary() }) == hash);
    }

    static void Replace<T>(List<T> list, T old, T @new) where T : class => list[list.IndexOf(old)] = @new;

    /// <summary>Deployment controller: one ReplicaSet per pod template (named by pod-template-hash), the
    /// current one scaled to the Deployment's replicas and older ones to 0. ReplicaSet controller: create
    /// pods with generateName `&lt;rs&gt;-` or delete the surplus (controller_utils ActivePodsWithRanks order,
    /// reduced to: not running first, then the node with the most pods of this set, then the newest).</summary>
    void ReconcileWorkloads()
    {
        foreach (var d in _s.Deployments.ToList())
        {
            if (_s.Controllers.Imported.Contains("Deployment/" + d.Metadata.Namespace + "/" + d.Metadata.Name)) continue;
            var hash = Naming.PodTemplateHash(d.Template);
            var rsName = $"{d.Metadata.Name}-{hash}";
            var owned = _s.ReplicaSets.Where(r => r.Metadata.Namespace == d.Metadata.Namespace && r.Metadata.OwnerReferences.Any(o => o.Uid == d.Metadata.Uid)).ToList();
            var current = CurrentReplicaSet(_s, d);
            if (current is null)
            {
                var labels = new Dictionary<string, string>(d.Template.Labels) { ["pod-template-hash"] = hash };
                var selector = new Dictionary<string, string>(d.Selector) { ["pod-template-hash"] = hash };
                current = new ReplicaSet
                {
                    Metadata = Stamp(new ObjectMeta
                    {
                        Name = rsName, Namespace = d.Metadata.Namespace, Labels = labels,
                        OwnerReferences = [new OwnerReference("apps/v1", "Deployment", d.Metadata.Name, d.Metadata.Uid)],
                        Annotations = new Dictionary<string, string> { ["deployment.kubernetes.io/desired-replicas"] = d.Replicas.ToString(CultureInfo.InvariantCulture), ["deployment.kubernetes.io/max-replicas"] = (d.Replicas + (d.Replicas + 3) / 4).ToString(CultureInfo.InvariantCulture), ["deployment.kubernetes.io/revision"] = (owned.Count + 1).ToString(CultureInfo.InvariantCulture) },
                    }),
                    Replicas = d.Replicas,
                    Selector = selector,
                    Template = d.Template with { Labels = labels },
                };
                _s.ReplicaSets.Add(current);
            }
            else if (current.Replicas != d.Replicas) Replace(_s.ReplicaSets, current, current = current with { Replicas = d.Replicas });
            foreach (var old in owned.Where(r => r.Metadata.Name != current.Metadata.Name && r.Replicas != 0))
                Replace(_s.ReplicaSets, old, old with { Replicas = 0 });
        }

        foreach (var rs in _s.ReplicaSets.ToList())
        {
            if (rs.Metadata.OwnerReferences.FirstOrDefault(o => o.Kind == "Deployment") is { } owner && _s.Controllers.Imported.Contains("Deployment/" + rs.Metadata.Namespace + "/" + owner.Name)) continue;
            if (_s.Controllers.Imported.Contains("ReplicaSet/" + rs.Metadata.Namespace + "/" + rs.Metadata.Name)) continue;
            var pods = _s.Pods.Where(p => p.Metadata.Namespace == rs.Metadata.Namespace && p.Metadata.OwnerReferences.Any(o => o.Uid == rs.Metadata.Uid)).ToList();
            for (var i = pods.Count; i < rs.Replicas; i++)
            {
                string podName;
                do podName = Naming.GenerateName(rs.Metadata.Name + "-", _rng); while (_s.FindPod(rs.Metadata.Namespace, podName) is not null);
                var pod = new Pod
                {
                    Metadata = Stamp(new ObjectMeta
                    {
                        Name = podName, Namespace = rs.Metadata.Namespace, GenerateName = rs.Metadata.Name + "-",
                        Labels = rs.Template.Labels,
                        OwnerReferences = [new OwnerReference("apps/v1", "ReplicaSet", rs.Metadata.Name, rs.Metadata.Uid)],
                    }),
                    Spec = rs.Template.Spec,
                };
                _s.Pods.Add(StartPod(pod));
            }
            if (pods.Count > rs.Replicas)
            {
                var victims = pods
                    .OrderBy(p => p.Status.Phase == "Running" ? 1 : 0)
                    .ThenByDescending(p => pods.Count(q => q.Spec.NodeName == p.Spec.NodeName))
                    .ThenByDescending(p => p.Metadata.CreationTimestamp)
                    .ThenBy(p => p.Metadata.Uid, StringComparer.Ordinal)
                    .Take(pods.Count - rs.Replicas).ToHashSet();
                _s.Pods.RemoveAll(victims.Contains);
            }
        }
    }

    // ---------------------------------------------------------------- Services

    public ApiResult CreateService(Service svc)
    {
        var name = svc.Metadata.Name;
        if (name.Length > 63 || !Dns1035Label().IsMatch(name)) return ApiResult.Fail(ClusterMessages.ServiceNameDns1035(name));
        if (_s.FindService(svc.Metadata.Namespace, name) is not null) return ApiResult.Fail(ClusterMessages.AlreadyExists("Service", name));
        var (defaulted, err) = AllocateService(svc, previous: null);
        if (err is not null) return ApiResult.Fail(err);
        _s.Services.Add(defaulted! with { Metadata = Stamp(svc.Metadata) });
        ReconcileAll();
        return ApiResult.Done(name);
    }

    /// <summary>API server defaulting + validation + allocation for a new or updated Service. Allocations of
    /// <paramref name="previous"/> are kept (a Service keeps its ClusterIP and NodePorts across updates).</summary>
    (Service? Service, string? Error) AllocateService(Service svc, Service? previous)
    {
        var name = svc.Metadata.Name;
        var spec = svc.Spec;
        if (spec.Type != ServiceType.ExternalName && spec.Ports.Count == 0) return (null, ClusterMessages.NoPorts(name));
        for (var i = 0; i < spec.Ports.Count; i++)
        {
            var p = spec.Ports[i];
            if (p.Port is < 1 or > 65535) return (null, ClusterMessages.PortNumber("Service", name, $"spec.ports[{i}].port", p.Port));
            if (p.TargetPort.IsInt && p.TargetPort.IntValue is < 1 or > 65535) return (null, ClusterMessages.PortNumber("Service", name, $"spec.ports[{i}].targetPort", p.TargetPort.IntValue!.Value));
            if (spec.Ports.Count > 1 && p.Name.Length == 0) return (null, ClusterMessages.PortNameRequired(name, i));
            for (var j = 0; j < i; j++)
                if (spec.Ports[j].Port == p.Port && spec.Ports[j].Protocol == p.Protocol) return (null, ClusterMessages.DuplicatePort(name, i));
        }
        var serviceCidr = Ip4Prefix.Parse(_s.Profile.ServiceCidr);
        var ipAlloc = new ClusterIpAllocator(serviceCidr);
        var usedIps = _s.Services.Where(s => s != previous).Select(s => s.Spec.ClusterIP).Where(ip => Ip4.TryParse(ip, out _)).Select(Ip4.Parse).ToHashSet();
        var clusterIp = spec.ClusterIP;
        if (spec.Type == ServiceType.ExternalName) clusterIp = "";
        else if (previous is not null && spec.ClusterIP.Length == 0) clusterIp = previous.Spec.ClusterIP;
        else if (clusterIp == "None") { }
        else if (clusterIp.Length > 0)
        {
            if (!Ip4.TryParse(clusterIp, out var want)) return (null, ClusterMessages.InvalidValue("Service", name, "spec.clusterIPs[0]", $"\"{clusterIp}\"", "must be a valid IP address"));
            if (previous?.Spec.ClusterIP != clusterIp)
            {
                if (!ipAlloc.InRange(want)) return (null, ClusterMessages.IpOutOfRange(name, clusterIp, _s.Profile.ServiceCidr));
                if (usedIps.Contains(want)) return (null, ClusterMessages.IpAllocated(name, clusterIp));
            }
        }
        else
        {
            var ip = ipAlloc.AllocateNext(usedIps, _rng);
            if (ip is null) return (null, ClusterMessages.ClusterIpRangeFull(name));
            clusterIp = ip.Value.ToString();
        }

        var external = spec.Type is ServiceType.NodePort or ServiceType.LoadBalancer;
        var etp = external ? spec.ExternalTrafficPolicy ?? TrafficPolicy.Cluster : (TrafficPolicy?)null;
        var npAlloc = new NodePortAllocator(_s.Profile.NodePortMin, _s.Profile.NodePortMax);
        var usedPorts = _s.Services.Where(s => s != previous).SelectMany(s => s.Spec.Ports.Select(p => p.NodePort).Append(s.Spec.HealthCheckNodePort)).Where(p => p > 0).ToHashSet();
        var ports = new List<ServicePort>();
        var allocate = external && (spec.Type != ServiceType.LoadBalancer || spec.AllocateLoadBalancerNodePorts != false);
        for (var i = 0; i < spec.Ports.Count; i++)
        {
            var p = spec.Ports[i];
            var target = p.TargetPort.IntValue is null && p.TargetPort.StringValue is null ? IntOrString.FromInt(p.Port) : p.TargetPort;
            var np = p.NodePort;
            if (!external) np = 0;
            else if (np > 0)
            {
                var prev = previous?.Spec.Ports.Any(q => q.NodePort == np) == true;
                if (!prev)
                {
                    if (!npAlloc.InRange(np)) return (null, ClusterMessages.PortOutOfRange(name, i, np, npAlloc.Min, npAlloc.Max));
                    if (usedPorts.Contains(np)) return (null, ClusterMessages.PortAllocated(name, i, np));
                }
            }
            else if (allocate)
            {
                var keep = previous?.Spec.Ports.FirstOrDefault(q => q.Port == p.Port && q.Protocol == p.Protocol && q.NodePort > 0)?.NodePort;
                var got = keep ?? npAlloc.AllocateNext(usedPorts, _rng);
                if (got is null) return (null, ClusterMessages.NodePortRangeFull(name, i));
                np = got.Value;
            }
            if (np > 0) usedPorts.Add(np);
            ports.Add(p with { TargetPort = target, NodePort = np });
        }
        var hcnp = 0;
        if (spec.Type == ServiceType.LoadBalancer && etp == TrafficPolicy.Local)
        {
            hcnp = spec.HealthCheckNodePort > 0 ? spec.HealthCheckNodePort : previous?.Spec.HealthCheckNodePort ?? 0;
            if (hcnp == 0)
            {
                var got = npAlloc.AllocateNext(usedPorts, _rng);
                if (got is null) return (null, ClusterMessages.Invalid("Service", name, "spec.healthCheckNodePort", "Internal error occurred: failed to allocate a nodePort: range is full"));
                hcnp = got.Value;
            }
        }
        var isIp = spec.Type != ServiceType.ExternalName && clusterIp != "None";
        return (svc with
        {
            Spec = spec with
            {
                ClusterIP = clusterIp,
                ClusterIPs = clusterIp.Length > 0 ? [clusterIp] : [],
                IpFamilies = spec.Type == ServiceType.ExternalName ? [] : ["IPv4"],
                IpFamilyPolicy = spec.Type == ServiceType.ExternalName ? null : spec.IpFamilyPolicy ?? "SingleStack",
                Ports = ports,
                ExternalTrafficPolicy = etp,
                InternalTrafficPolicy = spec.Type == ServiceType.ExternalName ? null : spec.InternalTrafficPolicy ?? TrafficPolicy.Cluster,
                HealthCheckNodePort = hcnp,
                SessionAffinityTimeoutSeconds = spec.SessionAffinity == SessionAffinity.ClientIP ? spec.SessionAffinityTimeoutSeconds ?? 10800 : null,
            },
            Status = previous?.Status ?? new ServiceStatus(),
        }, null);
    }

    // ---------------------------------------------------------------- Apply / delete

    /// <summary>`kubectl apply`: create, or replace the spec of an existing object keeping what the server
    /// owns (UID, creation time, allocations). Returns `created`, `configured` or `unchanged`.</summary>
    public (ApiResult Result, string Operation) Apply(object obj)
    {
        switch (obj)
        {
            case Service svc:
                {
                    _s.Controllers.Imported.Remove("Service/" + svc.Metadata.Namespace + "/" + svc.Metadata.Name);
                    var old = _s.FindService(svc.Metadata.Namespace, svc.Metadata.Name);
                    if (old is null) return (CreateService(svc with { Status = new ServiceStatus() }), "created");
                    var (updated, err) = AllocateService(svc with { Metadata = old.Metadata with { Labels = svc.Metadata.Labels, Annotations = svc.Metadata.Annotations } }, old);
                    if (err is not null) return (ApiResult.Fail(err), "");
                    if (Same(updated!.Spec, old.Spec) && SameMeta(updated.Metadata, old.Metadata)) return (ApiResult.Done(svc.Metadata.Name), "unchanged");
                    if (updated.Spec.Type != ServiceType.LoadBalancer) updated = updated with { Status = new ServiceStatus() };
                    Replace(_s.Services, old, updated with { Metadata = updated.Metadata with { ResourceVersion = (++_s.Controllers.ResourceVersion).ToString(CultureInfo.InvariantCulture) } });
                    ReconcileAll();
                    return (ApiResult.Done(svc.Metadata.Name), "configured");
                }
            case Deployment d:
                {
                    _s.Controllers.Imported.Remove("Deployment/" + d.Metadata.Namespace + "/" + d.Metadata.Name);
                    var old = _s.FindDeployment(d.Metadata.Namespace, d.Metadata.Name);
                    // Its ReplicaSets come under the simulated controller with it.
                    if (old is not null)
                        foreach (var rs in _s.ReplicaSets.Where(r => r.Metadata.OwnerReferences.Any(o => o.Uid == old.Metadata.Uid)))
                            _s.Controllers.Imported.Remove("ReplicaSet/" + rs.Metadata.Namespace + "/" + rs.Metadata.Name);
                    if (old is null) return (CreateDeployment(d), "created");
                    if (ValidateDeployment(d) is { } err) return (ApiResult.Fail(err), "");
                    var updated = old with { Replicas = d.Replicas, Selector = d.Selector, Template = d.Template, Metadata = old.Metadata with { Labels = d.Metadata.Labels, Annotations = d.Metadata.Annotations } };
                    if (old.Replicas == d.Replicas && Naming.PodTemplateHash(old.Template) == Naming.PodTemplateHash(d.Template) && SameMeta(updated.Metadata, old.Metadata))
                        return (ApiResult.Done(d.Metadata.Name), "unchanged");
                    if (!old.Selector.OrderBy(k => k.Key).SequenceEqual(d.Selector.OrderBy(k => k.Key)))
                        return (ApiResult.Fail(ClusterMessages.InvalidValue("Deployment", d.Metadata.Name, "spec.selector", "v1.LabelSelector{...}", "field is immutable")), "");
                    Replace(_s.Deployments, old, updated);
                    ReconcileAll();
                    return (ApiResult.Done(d.Metadata.Name), "configured");
                }
            case Pod p:
                {
                    var old = _s.FindPod(p.Metadata.Namespace, p.Metadata.Name);
                    if (old is null) return (CreatePod(p with { Status = new PodStatus() }), "created");
                    var sameSpec = old.Spec.Containers.Count == p.Spec.Containers.Count && old.Spec.Containers.Zip(p.Spec.Containers).All(x => x.First.Name == x.Second.Name && x.First.Image == x.Second.Image && x.First.Ports.SequenceEqual(x.Second.Ports));
                    if (sameSpec) return (ApiResult.Done(p.Metadata.Name), "unchanged");
                    return (ApiResult.Fail($"The Pod \"{p.Metadata.Name}\" is invalid: spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"), "");
                }
            default:
                return (ApiResult.Fail($"error: the server doesn't have a resource type \"{obj.GetType().Name.ToLowerInvariant()}\""), "");
        }
    }

    static bool SameMeta(ObjectMeta a, ObjectMeta b) =>
        a.Labels.OrderBy(k => k.Key).SequenceEqual(b.Labels.OrderBy(k => k.Key)) && a.Annotations.OrderBy(k => k.Key).SequenceEqual(b.Annotations.OrderBy(k => k.Key));

    static bool Same(ServiceSpec a, ServiceSpec b) =>
        a.Type == b.Type && a.ClusterIP == b.ClusterIP && a.Ports.SequenceEqual(b.Ports) &&
        a.Selector.OrderBy(k => k.Key).SequenceEqual(b.Selector.OrderBy(k => k.Key)) &&
        a.ExternalTrafficPolicy == b.ExternalTrafficPolicy && a.InternalTrafficPolicy == b.InternalTrafficPolicy &&
        a.SessionAffinity == b.SessionAffinity && a.SessionAffinityTimeoutSeconds == b.SessionAffinityTimeoutSeconds &&
        a.HealthCheckNodePort == b.HealthCheckNodePort && a.LoadBalancerSourceRanges.SequenceEqual(b.LoadBalancerSourceRanges) &&
        a.ExternalIPs.SequenceEqual(b.ExternalIPs);

    /// <summary>`kubectl delete KIND NAME`. Kinds: Pod, Service, Deployment, ReplicaSet, EndpointSlice, Node.</summary>
    public ApiResult Delete(string kind, string ns, string name)
    {
        bool removed = kind switch
        {
            "Pod" => _s.Pods.RemoveAll(p => p.Metadata.Namespace == ns && p.Metadata.Name == name) > 0,
            "Service" => _s.Services.RemoveAll(p => p.Metadata.Namespace == ns && p.Metadata.Name == name) > 0,
            "Deployment" => _s.Deployments.RemoveAll(p => p.Metadata.Namespace == ns && p.Metadata.Name == name) > 0,
            "ReplicaSet" => _s.ReplicaSets.RemoveAll(p => { var hit = p.Metadata.Namespace == ns && p.Metadata.Name == name; if (hit) _deletedUids.Add(p.Metadata.Uid); return hit; }) > 0,
            "EndpointSlice" => _s.EndpointSlices.RemoveAll(p => p.Metadata.Namespace == ns && p.Metadata.Name == name) > 0,
            "Node" => _s.Nodes.RemoveAll(p => p.Metadata.Name == name) > 0,
            _ => false,
        };
        if (!removed) return ApiResult.Fail(ClusterMessages.NotFound(kind, name));
        _s.Controllers.Imported.Remove(kind + "/" + ns + "/" + name);
        CollectGarbage();
        ReconcileAll();
        return ApiResult.Done(name);
    }

    /// <summary>Adds an object as-is (import of a real cluster's objects): no allocation, no scheduling;
    /// the controllers then reconcile around it.</summary>
    /// <param name="frozen">Imported from a real cluster: the simulated controllers leave the object's
    /// Service endpoints / ReplicaSets / Pods as imported. `kubectl apply` of such kinds passes false.</param>
    public ApiResult Import(object obj, bool frozen = true)
    {
        var key = obj switch
        {
            Service s => "Service/" + s.Metadata.Namespace + "/" + s.Metadata.Name,
            Deployment d => "Deployment/" + d.Metadata.Namespace + "/" + d.Metadata.Name,
            ReplicaSet r => "ReplicaSet/" + r.Metadata.Namespace + "/" + r.Metadata.Name,
            _ => null,
        };
        if (key is not null && frozen) _s.Controllers.Imported.Add(key);
        switch (obj)
        {
            case Node n: _s.Nodes.RemoveAll(x => x.Metadata.Name == n.Metadata.Name); _s.Nodes.Add(n); break;
            case Pod p: _s.Pods.RemoveAll(x => x.Metadata.Namespace == p.Metadata.Namespace && x.Metadata.Name == p.Metadata.Name); _s.Pods.Add(p); break;
            case Service s: _s.Services.RemoveAll(x => x.Metadata.Namespace == s.Metadata.Namespace && x.Metadata.Name == s.Metadata.Name); _s.Services.Add(s); break;
            case EndpointSlice e: _s.EndpointSlices.RemoveAll(x => x.Metadata.Namespace == e.Metadata.Namespace && x.Metadata.Name == e.Metadata.Name); _s.EndpointSlices.Add(e); break;
            case Deployment d: _s.Deployments.RemoveAll(x => x.Metadata.Namespace == d.Metadata.Namespace && x.Metadata.Name == d.Metadata.Name); _s.Deployments.Add(d); break;
            case ReplicaSet r: _s.ReplicaSets.RemoveAll(x => x.Metadata.Namespace == r.Metadata.Namespace && x.Metadata.Name == r.Metadata.Name); _s.ReplicaSets.Add(r); break;
            default: return ApiResult.Fail($"cannot import {obj.GetType().Name}");
        }
        return ApiResult.Done("");
    }

    /// <summary>The garbage collector's foreground cascade for what `kubectl delete` removed: ReplicaSets of a
    /// deleted Deployment, Pods of a deleted ReplicaSet (ownerReferences with `controller: true`).</summary>
    void CollectGarbage()
    {
        var deploymentUids = _s.Deployments.Select(d => d.Metadata.Uid).ToHashSet();
        var orphanSets = _s.ReplicaSets.Where(r => r.Metadata.OwnerReferences.Any(o => o.Kind == "Deployment" && !deploymentUids.Contains(o.Uid))).ToList();
        var gone = new HashSet<string>(_deletedUids);
        foreach (var r in orphanSets) { gone.Add(r.Metadata.Uid); _s.ReplicaSets.Remove(r); }
        _s.Pods.RemoveAll(p => p.Metadata.OwnerReferences.Any(o => gone.Contains(o.Uid)));
        _deletedUids.Clear();
    }

    readonly List<string> _deletedUids = [];

    /// <summary>Runs every controller once, in dependency order, and saves the random word.</summary>
    public void ReconcileAll()
    {
        ReconcileWorkloads();
        ReconcileEndpointSlices();
        ReconcileCloud();
        Persist();
    }
}
