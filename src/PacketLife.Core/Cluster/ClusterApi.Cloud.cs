using PacketLife.Core.Azure;
using PacketLife.Core.Net;

namespace PacketLife.Core.Cluster;

public sealed partial class ClusterApi
{
    /// <summary>The cloud-provider-azure service controller for the `kubernetes` Standard LB (facts azure-aks.md
    /// §1): per LoadBalancer Service a frontend named `a`+UID (cut to 32), a public IP `kubernetes-&lt;base&gt;`
    /// from the profile's prefixes, one rule per port (floating IP, backend port = service port, TCP reset,
    /// idle 4, outbound SNAT disabled, `SourceIP` distribution for ClientIP affinity) and probes (TCP on the
    /// NodePort for ETP Cluster; one HTTP `/healthz` probe on healthCheckNodePort for ETP Local); the
    /// Service's `status.loadBalancer.ingress` gets the IP with ipMode VIP. Services that are gone or no
    /// longer LoadBalancer lose their frontend, rules, probes and public IP; both backend pools hold every node.</summary>
    void ReconcileCloud()
    {
        var lb = _s.Azure.LoadBalancer;
        var pips = _s.Azure.PublicIpAddresses.ToList();
        var lbServices = _s.Services.Where(s => s.Spec.Type == ServiceType.LoadBalancer && s.Metadata.Uid.Length > 0).ToList();
        var wanted = lbServices.ToDictionary(s => Naming.AzureLoadBalancerBaseName(s.Metadata.Uid), StringComparer.Ordinal);
        var serviceTag = "k8s-azure-service";

        var frontends = lb.FrontendIpConfigurations.Where(f => !IsServiceFrontend(f.Name) || wanted.ContainsKey(f.Name)).ToList();
        var rules = lb.LoadBalancingRules.Where(r => r.Service is null).ToList();
        var probes = lb.Probes.Where(p => p.Service is null).ToList();
        pips.RemoveAll(p => p.Tags.ContainsKey(serviceTag) && !wanted.ContainsKey(p.Name.Replace("kubernetes-", "", StringComparison.Ordinal)));

        foreach (var svc in lbServices)
        {
            var @base = Naming.AzureLoadBalancerBaseName(svc.Metadata.Uid);
            var svcKey = $"{svc.Metadata.Namespace}/{svc.Metadata.Name}";
            var pipName = svc.Metadata.Annotations.TryGetValue("service.beta.kubernetes.io/azure-pip-name", out var custom) ? custom : "kubernetes-" + @base;
            var pip = pips.Find(p => p.Name == pipName);
            if (pip is null)
            {
                // An imported Service already has its address from the real cloud; keep it.
                var ip = svc.Status.LoadBalancerIngress.FirstOrDefault()?.Ip is { } existing && !pips.Any(p => p.IpAddress == existing) ? existing : AllocatePublicIp(pips);
                if (ip is null) continue; // stays <pending>, as when Azure has no capacity
                pip = new PublicIpAddress
                {
                    Name = pipName, IpAddress = ip,
                    Tags = new Dictionary<string, string> { [serviceTag] = svcKey, ["k8s-azure-cluster-name"] = "kubernetes" },
                };
                pips.Add(pip);
            }
            if (!frontends.Any(f => f.Name == @base)) frontends.Add(new FrontendIpConfiguration(@base, pipName));
            var local = svc.Spec.ExternalTrafficPolicy == TrafficPolicy.Local;
            string? sharedProbe = null;
            if (local)
            {
                sharedProbe = $"{@base}-TCP-{svc.Spec.HealthCheckNodePort}";
                probes.Add(new HealthProbe { Name = sharedProbe, Protocol = "Http", Port = svc.Spec.HealthCheckNodePort, RequestPath = "/healthz", Service = svcKey });
            }
            foreach (var p in svc.Spec.Ports)
            {
                var ruleName = $"{@base}-{p.Protocol}-{p.Port}";
                string? probeName = sharedProbe;
                if (!local && p.Protocol == Protocol.TCP && p.NodePort > 0)
                {
                    probeName = ruleName;
                    probes.Add(new HealthProbe { Name = ruleName, Protocol = "Tcp", Port = p.NodePort, Service = svcKey });
                }
                rules.Add(new LoadBalancingRule
                {
                    Name = ruleName, FrontendIpConfigurationName = @base, ProbeName = probeName,
                    Protocol = p.Protocol switch { Protocol.UDP => "Udp", Protocol.SCTP => "All", _ => "Tcp" },
                    FrontendPort = p.Port, BackendPort = p.Port,
                    EnableTcpReset = p.Protocol == Protocol.TCP,
                    LoadDistribution = svc.Spec.SessionAffinity == SessionAffinity.ClientIP ? "SourceIP" : "Default",
                    IdleTimeoutInMinutes = svc.Metadata.Annotations.TryGetValue("service.beta.kubernetes.io/azure-load-balancer-tcp-idle-timeout", out var idle) && int.TryParse(idle, out var m) && m is >= 4 and <= 100 ? m : 4,
                    Service = svcKey,
                });
            }
            // The API server defaults ipMode to VIP since the LoadBalancerIPMode gate (beta, on by default, 1.30).
            var ingress = new LoadBalancerIngress(pip.IpAddress, null, _s.Profile.AtLeast(1, 30) ? "VIP" : null);
            if (svc.Status.LoadBalancerIngress.Count != 1 || svc.Status.LoadBalancerIngress[0] != ingress)
                _s.Services[_s.Services.IndexOf(svc)] = svc with { Status = new ServiceStatus { LoadBalancerIngress = [ingress] } };
        }
        var nodes = _s.Nodes.Select(n => n.Metadata.Name).ToList();
        var pools = lb.BackendAddressPools.Select(p => p with { NodeNames = nodes }).ToList();
        _s.Azure = _s.Azure with
        {
            LoadBalancer = lb with { FrontendIpConfigurations = frontends, LoadBalancingRules = rules, Probes = probes, BackendAddressPools = pools },
            PublicIpAddresses = pips,
        };
    }

    /// <summary>Service frontends are `a` + 31 hex digits; AKS's outbound frontend is a dashed GUID.</summary>
    static bool IsServiceFrontend(string name) => name.Length == 32 && name[0] == 'a' && name.Skip(1).All(char.IsAsciiHexDigitLower);

    internal string? AllocatePublicIp(List<PublicIpAddress> pips)
    {
        var used = pips.Select(p => p.IpAddress).ToHashSet(StringComparer.Ordinal);
        var prefixes = _s.Profile.PublicIpPrefixes.Select(Ip4Prefix.Parse).ToList();
        // Usable hosts per prefix: without network and broadcast (a /32 is one address).
        var sizes = prefixes.Select(p => p.Length >= 31 ? (long)p.Last.Value - p.Network.Value + 1 : (long)p.Last.Value - p.Network.Value - 1).ToList();
        var total = sizes.Sum();
        if (total <= 0) return null;
        var start = (long)(_rng.NextUInt64() % (ulong)total);
        for (long i = 0; i < total; i++)
        {
            var k = (start + i) % total;
            var pi = 0;
            while (k >= sizes[pi]) { k -= sizes[pi]; pi++; }
            var p = prefixes[pi];
            var ip = p.Length >= 31 ? p.Network.Add(k) : p.Network.Add(k + 1);
            var text = ip.ToString();
            if (!used.Contains(text)) return text;
        }
        return null;
    }
}
