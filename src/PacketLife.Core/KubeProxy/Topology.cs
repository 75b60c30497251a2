namespace PacketLife.Core.KubeProxy;

/// <summary>The endpoint sets of one service port (pkg/proxy/topology.go CategorizeEndpoints).</summary>
public sealed record EndpointCategories(
    IReadOnlyList<EndpointInfo> Cluster, IReadOnlyList<EndpointInfo> Local, IReadOnlyList<EndpointInfo> AllReachable, bool HasAnyEndpoints);

public static class Topology
{
    /// <summary>kube-proxy's CategorizeEndpoints (facts §4.1). Topology hints are not modelled (useTopology is
    /// always false). When the serving-terminating fallback merges cluster and local endpoints, kube-proxy
    /// iterates a Go map (random order); here the union is sorted by endpoint string so output is stable.</summary>
    public static EndpointCategories Categorize(ServicePortInfo svc, IReadOnlyList<EndpointInfo> endpoints)
    {
        IReadOnlyList<EndpointInfo> cluster = [];
        bool hasAny = false;
        if (svc.UsesClusterEndpoints)
        {
            cluster = Ready(endpoints);
            // No ready endpoint anywhere: fall back to serving + terminating ones (KEP-1669).
            if (cluster.Count == 0) cluster = endpoints.Where(e => e.Serving && e.Terminating).ToArray();
            hasAny = cluster.Count > 0;
        }
        if (!svc.UsesLocalEndpoints) return new(cluster, [], cluster, hasAny);

        bool localReady = false, localServingTerminating = false;
        foreach (var e in endpoints)
        {
            if (e.Ready) { hasAny = true; localReady |= e.IsLocal; }
            else if (e.Serving && e.Terminating) { hasAny = true; localServingTerminating |= e.IsLocal; }
        }
        IReadOnlyList<EndpointInfo> local = [];
        bool useServingTerminating = false;
        if (localReady) local = endpoints.Where(e => e.IsLocal && e.Ready).ToArray();
        else if (localServingTerminating)
        {
            useServingTerminating = true;
            local = endpoints.Where(e => e.IsLocal && e.Serving && e.Terminating).ToArray();
        }
        if (!svc.UsesClusterEndpoints) return new(cluster, local, local, hasAny);
        if (!useServingTerminating) return new(cluster, local, cluster, hasAny);
        var union = cluster.Concat(local).DistinctBy(e => e.Key).OrderBy(e => e.Key, StringComparer.Ordinal).ToArray();
        return new(cluster, local, union, hasAny);
    }

    /// <summary>The ready endpoints; the list itself when all are ready (the usual case: no copy).</summary>
    static IReadOnlyList<EndpointInfo> Ready(IReadOnlyList<EndpointInfo> endpoints)
    {
        int ready = 0;
        for (int i = 0; i < endpoints.Count; i++) if (endpoints[i].Ready) ready++;
        if (ready == endpoints.Count) return endpoints;
        var r = new EndpointInfo[ready];
        int n = 0;
        for (int i = 0; i < endpoints.Count; i++) if (endpoints[i].Ready) r[n++] = endpoints[i];
        return r;
    }
}
