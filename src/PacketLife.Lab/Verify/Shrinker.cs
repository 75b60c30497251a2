using System.Globalization;

namespace PacketLife.Lab.Verify;

/// <summary>Runs one case on one cluster and says what disagreed. The real one builds the cluster in the lab and
/// compares it with the twin; tests inject a fake "kernel" that disagrees on a chosen feature.</summary>
public interface IVerifyOracle
{
    /// <summary>The kinds of disagreement (<see cref="CaseResult.Kinds"/>; empty when the twin and the kernel agree),
    /// or null when the case names something this cluster does not have (no pod to send from, no such port).</summary>
    IReadOnlyList<string>? Check(ClusterSpec cluster, CaseSpec c);
}

/// <summary>One accepted reduction: what changed, and the cluster and case after it.</summary>
public sealed record ShrinkStep(string Change, ClusterSpec Cluster, CaseSpec Case);

/// <summary>The smallest failing cluster and case the shrinker found, the steps that led there, and how many
/// candidates it tried.</summary>
public sealed record ShrinkResult(ClusterSpec Cluster, CaseSpec Case, IReadOnlyList<string> Kinds, IReadOnlyList<ShrinkStep> Steps, int Tries, bool Exhausted);

/// <summary>Greedy shrinking of a failing verify case (in the manner of QuickCheck's shrinking and Zeller's delta
/// debugging): try reductions of the cluster and the case, biggest first (fewer nodes, fewer Deployments and
/// Services, fewer replicas and ports, features dropped, simpler Service types, smaller indices), keep the first
/// that still disagrees in one of the same kinds, and start again from it; stop when no reduction still fails.
/// Every accepted step makes <see cref="Weight"/> smaller, so it ends.</summary>
public static class Shrinker
{
    public static ShrinkResult Shrink(ClusterSpec cluster, CaseSpec c, IReadOnlyList<string> kinds, IVerifyOracle oracle, int maxTries = 200, Action<string>? progress = null)
    {
        var steps = new List<ShrinkStep>();
        int tries = 0;
        var found = kinds;
        bool exhausted = false;
        while (true)
        {
            bool improved = false;
            foreach (var (change, nextCluster, nextCase) in Candidates(cluster, c))
            {
                if (Weight(nextCluster, nextCase) >= Weight(cluster, c) || !nextCase.AppliesTo(nextCluster)) continue;
                if (tries >= maxTries) { exhausted = true; break; }
                tries++;
                var result = oracle.Check(nextCluster, nextCase);
                bool fails = result is not null && result.Intersect(kinds).Any();
                progress?.Invoke($"shrink try {tries}: {change}: {(result is null ? "does not apply" : fails ? "still disagrees" : "agrees")}");
                if (!fails) continue;
                (cluster, c, found) = (nextCluster, nextCase, result!);
                steps.Add(new ShrinkStep(change, cluster, c));
                improved = true;
                break;
            }
            if (!improved || exhausted) break;
        }
        return new ShrinkResult(cluster, c, found, steps, tries, exhausted);
    }

    /// <summary>The order shrinking descends: the cluster's <see cref="ClusterSpec.Size"/>, plus Service ports
    /// other than 80 and the case's indices (so "port 80" and "pod #0" count as smaller).</summary>
    public static int Weight(ClusterSpec s, CaseSpec c) =>
        s.Size + s.Services.Sum(x => x.Ports.Count(p => p.Port != 80)) + c.TargetNode + c.Probe + SourceIndex(c);

    static int SourceIndex(CaseSpec c) =>
        c.Source.IndexOf('#') is var i and >= 0 ? int.Parse(c.Source[(i + 1)..], CultureInfo.InvariantCulture) : 0;

    static string WithIndex(string source, int index) => source[..(source.IndexOf('#') + 1)] + index.ToString(CultureInfo.InvariantCulture);

    /// <summary>Every one-step reduction of (cluster, case), biggest first.</summary>
    public static IEnumerable<(string Change, ClusterSpec Cluster, CaseSpec Case)> Candidates(ClusterSpec s, CaseSpec c)
    {
        // Fewer nodes: one, then one less. Node positions in the case wrap to the new count.
        foreach (var n in new[] { 1, s.Nodes - 1 }.Where(n => n >= 1 && n < s.Nodes).Distinct())
            yield return ($"{n} node{(n == 1 ? "" : "s")} instead of {s.Nodes}", s with { Nodes = n }, WrapNodes(c, n));

        var caseDeployment = s.DeploymentOf(c.Service)?.Name;
        // Fewer Deployments (with their Services): any the case does not use.
        foreach (var d in s.Deployments.Where(d => d.Name != caseDeployment && d.Name != c.SourceDeployment))
            yield return ($"without Deployment {d.Name} and its Services", s with { Deployments = [.. s.Deployments.Where(x => x != d)] }, c);

        // Fewer Services: any the case does not use.
        foreach (var d in s.Deployments)
            foreach (var svc in d.Services.Where(x => x.Name != c.Service))
                yield return ($"without Service {svc.Name}", Replace(s, d, d with { Services = [.. d.Services.Where(x => x != svc)] }), c);

        // Fewer replicas: none, one, one less.
        foreach (var d in s.Deployments)
            foreach (var r in new[] { 0, 1, d.Replicas - 1 }.Where(r => r >= 0 && r < d.Replicas).Distinct())
                yield return ($"Deployment {d.Name} with {r} replica{(r == 1 ? "" : "s")} instead of {d.Replicas}", Replace(s, d, d with { Replicas = r }),
                    d.Name == c.SourceDeployment && r > 0 ? c with { Source = WithIndex(c.Source, SourceIndex(c) % r) } : c);

        // Fewer ports: any the case does not use.
        foreach (var d in s.Deployments)
            foreach (var svc in d.Services)
                // A Service keeps at least one port (the API server refuses one without: spec.ports: Required value).
                foreach (var p in svc.Ports.Count < 2 ? [] : svc.Ports.Where(p => !(svc.Name == c.Service && p.Name == c.Port)))
                    yield return ($"Service {svc.Name} without port {p.Name} ({p.Port})", Replace(s, d, d with { Services = Replace(d.Services, svc, svc with { Ports = [.. svc.Ports.Where(x => x != p)] }) }), c);

        // Features dropped and simpler types, Service by Service.
        foreach (var d in s.Deployments)
            foreach (var svc in d.Services)
                foreach (var (change, simpler) in Simpler(svc))
                    yield return ($"Service {svc.Name}: {change}", Replace(s, d, d with { Services = Replace(d.Services, svc, simpler) }), c);

        // Smaller positions in the case.
        if (SourceIndex(c) > 0) yield return ("the first pod or node as the source", s, c with { Source = WithIndex(c.Source, 0) });
        if (c.TargetNode > 0) yield return ("the first node as the target", s, c with { TargetNode = 0 });
        if (c.Probe > 0) yield return ("the Service's first probe", s, c with { Probe = 0 });
    }

    static IEnumerable<(string, RandomService)> Simpler(RandomService svc)
    {
        if (svc.EtpLocal) yield return ("externalTrafficPolicy Cluster instead of Local", svc with { EtpLocal = false });
        if (svc.ItpLocal) yield return ("internalTrafficPolicy Cluster instead of Local", svc with { ItpLocal = false });
        if (svc.Affinity) yield return ("no session affinity", svc with { Affinity = false });
        if (svc.SourceRange is not null) yield return ("no loadBalancerSourceRanges", svc with { SourceRange = null });
        // A simpler type drops what only the richer one has (eTP and source ranges need external access).
        if (svc.Type == "LoadBalancer") yield return ("type NodePort instead of LoadBalancer", svc with { Type = "NodePort", SourceRange = null });
        if (svc.Type == "NodePort") yield return ("type ClusterIP instead of NodePort", svc with { Type = "ClusterIP", EtpLocal = false, SourceRange = null });
        foreach (var p in svc.Ports.Where(p => p.TargetPort != 80))
            yield return ($"port {p.Name} targets 80 instead of {p.TargetPort}", svc with { Ports = Replace(svc.Ports, p, p with { TargetPort = 80 }) });
        foreach (var p in svc.Ports.Where(p => p.Port != 80 && svc.Ports.All(x => x.Port != 80)))
            yield return ($"port {p.Name} is 80 instead of {p.Port}", svc with { Ports = Replace(svc.Ports, p, p with { Port = 80 }) });
    }

    static CaseSpec WrapNodes(CaseSpec c, int nodes) =>
        c with
        {
            TargetNode = c.TargetNode % nodes,
            Source = c.Source.StartsWith("node#", StringComparison.Ordinal) ? WithIndex(c.Source, SourceIndex(c) % nodes) : c.Source,
        };

    static ClusterSpec Replace(ClusterSpec s, RandomDeployment old, RandomDeployment now) => s with { Deployments = Replace(s.Deployments, old, now) };

    static IReadOnlyList<T> Replace<T>(IReadOnlyList<T> list, T old, T now) where T : class =>
        [.. list.Select(x => ReferenceEquals(x, old) ? now : x)];
}
