using System.Globalization;
using System.Text;
using PacketLife.Core.Diagnostics;

namespace PacketLife.Core.KubeProxy;

/// <summary>kube-proxy's iptables mode (pkg/proxy/iptables/proxier.go syncProxyRules), one full sync:
/// Services + EndpointSlices + node + configuration → the restore payload, byte for byte, with service ports
/// in a stable order (kube-proxy's own order is Go map order, i.e. random; see facts §6).</summary>
public static class IptablesProxier
{
    /// <summary>kube-proxy's largeClusterEndpointsThreshold.</summary>
    public const int LargeClusterEndpointsThreshold = 1000;

    const string NodePortsLastComment = "\"kubernetes service nodeports; NOTE: this must be the last rule in this chain\"";

    public static KubeProxySyncResult Sync(KubeProxySyncInput input)
    {
        var diags = new List<Diagnostic>();
        var cfg = input.Configuration;
        var env = input.Environment;
        var family = input.Family;
        bool isIPv6 = family == IpFamily.IPv6;
        var cfgAt = input.ConfigurationLocation;

        if (cfg.Mode is not ("" or "iptables")) diags.Add(KubeProxyMessages.UnsupportedMode(cfgAt, cfg.Mode));
        int bit = cfg.Iptables.MasqueradeBit;
        if (bit is < 0 or > 31)
        {
            diags.Add(KubeProxyMessages.InvalidConfig(cfgAt, "iptables.masqueradeBit", bit.ToString(CultureInfo.InvariantCulture), "14", "a bit number 0-31"));
            bit = 14;
        }
        uint markValue = 1u << bit;
        // kube-proxy formats the mark with fmt.Sprintf("%#08x", v); Go prints bit 14 as "0x00004000" (facts §2.3, verified).
        string mark = env.FakeProxierMarkFormat ? $"0x{markValue:x}" : $"0x{markValue:x8}";

        var node = input.Nodes.FirstOrDefault(n => n.Metadata.Name == input.Hostname);
        var nodeIPs = input.NodeIPs.Count > 0 ? input.NodeIPs : node?.InternalIP is { } nip ? [nip] : [];
        var nodeIPsOfFamily = new List<string>();
        foreach (var ip in nodeIPs)
            if (KubeIp.TryCanonicalIp(ip, out var c, out var f) && f == family) nodeIPsOfFamily.Add(c);

        var detector = ResolveDetector(cfg, family, node, input.Hostname, cfgAt, diags);
        var nodePortAddresses = NodePortAddresses.Parse(cfg.NodePortAddresses, family, cfgAt, diags);
        // localhostNodePorts only for IPv4, and only when nodePortAddresses can include 127.0.0.1 (server_linux.go).
        bool localhostNodePorts = cfg.Iptables.LocalhostNodePorts && !isIPv6 && nodePortAddresses.ContainsIPv4Loopback;
        bool beLiberal = env.ConntrackTcpBeLiberal ?? cfg.Conntrack.TcpBeLiberal;
        bool dropInvalid = env.Version < KubeProxyVersion.V1_29 || !beLiberal;
        bool nfacct = env.NfacctCountersAvailable;

        var ports = ServiceSnapshot.Build(input.Services, input.EndpointSlices, input.Hostname, family, env, input.Locate, diags);
        int totalEndpoints = 0;
        foreach (var p in ports) totalEndpoints += p.Endpoints.Count;
        bool largeCluster = totalEndpoints > LargeClusterEndpointsThreshold;

        var w = new RuleWriter(family, ports.Count, totalEndpoints, largeCluster);
        w.Check(detector.Value);
        // --- fixed chains and rules written before the services (facts §2.1, §2.2) ---
        foreach (var c in new[] { ChainNames.Services, ChainNames.ExternalServices, ChainNames.Forward, ChainNames.NodePorts, ChainNames.ProxyFirewall })
            w.FilterChain(c);
        if (localhostNodePorts) w.FilterChain(ChainNames.Firewall);
        foreach (var c in new[] { ChainNames.Services, ChainNames.NodePorts, ChainNames.Postrouting, ChainNames.MarkMasq })
            w.NatChain(c);
        w.NatRule($"-A KUBE-POSTROUTING -m mark ! --mark {mark}/{mark} -j RETURN");
        w.NatRule($"-A KUBE-POSTROUTING -j MARK --xor-mark {mark}");
        w.NatRule("-A KUBE-POSTROUTING -m comment --comment \"kubernetes service traffic requiring SNAT\" -j MASQUERADE" + (env.HasRandomFully ? " --random-fully" : ""));
        w.NatRule($"-A KUBE-MARK-MASQ -j MARK --or-mark {mark}");
        if (localhostNodePorts)
            w.FilterRule("-A KUBE-FIREWALL -m comment --comment \"block incoming localnet connections\" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP");

        // The chains this sync fills, needed only to find stale ones among the node's existing chains.
        HashSet<string>? active = input.ExistingNatChains.Count > 0 ? new(StringComparer.Ordinal) : null;
        var emittedSep = new HashSet<string>(totalEndpoints, StringComparer.Ordinal);
        foreach (var spe in ports)
            WriteServicePort(w, spe, detector, cfg.Iptables.MasqueradeAll, localhostNodePorts && nfacct && env.Version >= KubeProxyVersion.V1_31,
                largeCluster, nodeIPsOfFamily, active, emittedSep);

        // --- stale service-port chains: flushed (chain line) and deleted (-X), before the last rule (§9) ---
        foreach (var chain in input.ExistingNatChains.Where(c => ChainNames.IsServicePortChain(c) && !active!.Contains(c)).Order(StringComparer.Ordinal))
        {
            w.NatChain(chain);
            w.NatDelete(chain);
        }

        // --- the nodeports jump, which must be the last rule of nat KUBE-SERVICES ---
        if (nodePortAddresses.MatchAll)
        {
            string dest = isIPv6 ? "-m addrtype --dst-type LOCAL ! -d ::1/128"
                : localhostNodePorts ? "-m addrtype --dst-type LOCAL" : "-m addrtype --dst-type LOCAL ! -d 127.0.0.0/8";
            w.NatRule($"-A KUBE-SERVICES -m comment --comment {NodePortsLastComment} {dest} -j KUBE-NODEPORTS");
        }
        else
        {
            // The node's local addresses in interface order: lo first, then the node IPs.
            IEnumerable<string> local = isIPv6 ? ["::1", .. nodeIPsOfFamily] : ["127.0.0.1", .. nodeIPsOfFamily];
            foreach (var ip in local.Distinct().Where(nodePortAddresses.Contains))
            {
                bool loopback = isIPv6 ? ip == "::1" : ip.StartsWith("127.", StringComparison.Ordinal);
                if (loopback && (isIPv6 || !localhostNodePorts)) continue;
                w.NatRule($"-A KUBE-SERVICES -m comment --comment {NodePortsLastComment} -d {ip} -j KUBE-NODEPORTS");
            }
        }

        // --- KUBE-FORWARD, written last in filter ---
        if (dropInvalid)
            w.FilterRule("-A KUBE-FORWARD -m conntrack --ctstate INVALID" +
                (nfacct && env.Version >= KubeProxyVersion.V1_30 ? " -m nfacct --nfacct-name ct_state_invalid_dropped_pkts" : "") + " -j DROP");
        w.FilterRule($"-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding rules\" -m mark --mark {mark}/{mark} -j ACCEPT");
        w.FilterRule("-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding conntrack rule\" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT");

        var (payload, saveForms) = w.Payload();
        return new KubeProxySyncResult
        {
            RestorePayload = payload,
            SaveForms = saveForms,
            Diagnostics = diags,
            JumpRules = JumpRules(),
            Canaries = Canaries,
            ServicePorts = ports,
            RuleCount = w.RuleCount,
            LargeClusterMode = largeCluster,
            MasqueradeMark = mark,
            Family = family,
        };
    }

    /// <summary>kube-proxy's canary chain, created by its iptables Monitor in mangle, nat and filter (§2.5).</summary>
    public static IReadOnlyList<(string Table, string Chain)> Canaries { get; } =
        [("mangle", ChainNames.ProxyCanary), ("nat", ChainNames.ProxyCanary), ("filter", ChainNames.ProxyCanary)];

    /// <summary>iptablesJumpChains followed by iptablesKubeletJumpChains (the two `-j KUBE-FIREWALL` rules kubelet also
    /// creates), in ensure order (§2.4). kube-proxy ensures the kubelet pair unconditionally, whatever the family
    /// and localhostNodePorts (proxier.go: `append(iptablesJumpChains, iptablesKubeletJumpChains...)`).</summary>
    public static IReadOnlyList<JumpRule> JumpRules()
    {
        const string extPortals = "-m conntrack --ctstate NEW -m comment --comment \"kubernetes externally-visible service portals\"";
        const string portalsNew = "-m conntrack --ctstate NEW -m comment --comment \"kubernetes service portals\"";
        const string lbFirewall = "-m conntrack --ctstate NEW -m comment --comment \"kubernetes load balancer firewall\"";
        var list = new List<JumpRule>
        {
            new("filter", "INPUT", extPortals, ChainNames.ExternalServices),
            new("filter", "FORWARD", extPortals, ChainNames.ExternalServices),
            new("filter", "INPUT", "-m comment --comment \"kubernetes health check service ports\"", ChainNames.NodePorts),
            new("filter", "FORWARD", portalsNew, ChainNames.Services),
            new("filter", "OUTPUT", portalsNew, ChainNames.Services),
            new("filter", "FORWARD", "-m comment --comment \"kubernetes forwarding rules\"", ChainNames.Forward),
            new("filter", "INPUT", lbFirewall, ChainNames.ProxyFirewall),
            new("filter", "OUTPUT", lbFirewall, ChainNames.ProxyFirewall),
            new("filter", "FORWARD", lbFirewall, ChainNames.ProxyFirewall),
            new("nat", "OUTPUT", "-m comment --comment \"kubernetes service portals\"", ChainNames.Services),
            new("nat", "PREROUTING", "-m comment --comment \"kubernetes service portals\"", ChainNames.Services),
            new("nat", "POSTROUTING", "-m comment --comment \"kubernetes postrouting rules\"", ChainNames.Postrouting),
        };
        list.Add(new("filter", "INPUT", "", ChainNames.Firewall));
        list.Add(new("filter", "OUTPUT", "", ChainNames.Firewall));
        return list;
    }

    static LocalDetector ResolveDetector(KubeProxyConfiguration cfg, IpFamily family, Cluster.Node? node, string hostname,
        SourceLocation at, List<Diagnostic> diags)
    {
        string fam = family == IpFamily.IPv4 ? "IPv4" : "IPv6";
        switch (cfg.DetectLocalMode)
        {
            case DetectLocalMode.ClusterCIDR:
                {
                    string? cidr = null;
                    foreach (var part in cfg.ClusterCIDR.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                    {
                        if (!KubeIp.TryParseCidr(part, out var c))
                            diags.Add(KubeProxyMessages.InvalidConfig(at, "clusterCIDR", part, "no cluster CIDR", "a CIDR such as 10.244.0.0/16"));
                        else if (c.Family == family) cidr ??= c.Text;
                    }
                    if (cidr is null)
                    {
                        diags.Add(KubeProxyMessages.NoClusterCIDRForFamily(at, fam));
                        return LocalDetector.NoOp;
                    }
                    return LocalDetector.ForCidr("ClusterCIDR", cidr);
                }
            case DetectLocalMode.NodeCIDR:
                {
                    if (node?.PodCIDR is { } pc && KubeIp.TryParseCidr(pc, out var c) && c.Family == family)
                        return LocalDetector.ForCidr("NodeCIDR", c.Text);
                    diags.Add(KubeProxyMessages.NoNodeCIDR(at, hostname));
                    return LocalDetector.NoOp;
                }
            case DetectLocalMode.BridgeInterface:
                if (cfg.DetectLocal.BridgeInterface.Length == 0)
                {
                    diags.Add(KubeProxyMessages.InvalidConfig(at, "detectLocal.bridgeInterface", "", "no local detection", "BridgeInterface mode needs detectLocal.bridgeInterface, e.g. cbr0"));
                    return LocalDetector.NoOp;
                }
                return LocalDetector.ForBridge(cfg.DetectLocal.BridgeInterface);
            case DetectLocalMode.InterfaceNamePrefix:
                if (cfg.DetectLocal.InterfaceNamePrefix.Length == 0)
                {
                    diags.Add(KubeProxyMessages.InvalidConfig(at, "detectLocal.interfaceNamePrefix", "", "no local detection", "InterfaceNamePrefix mode needs detectLocal.interfaceNamePrefix, e.g. azv"));
                    return LocalDetector.NoOp;
                }
                return LocalDetector.ForPrefix(cfg.DetectLocal.InterfaceNamePrefix);
            default:
                return LocalDetector.NoOp;
        }
    }

    /// <summary>The per-service-port block (facts §4.2), in kube-proxy's write order. Rules are written piece by piece
    /// (<see cref="RuleWriter"/>) so that their save form comes with them; the rare shapes (session affinity, the
    /// localhost NodePort counter) are written as text.</summary>
    static void WriteServicePort(RuleWriter w, ServicePortEndpoints spe, LocalDetector detector, bool masqueradeAll, bool localhostNpsCounter,
        bool largeCluster, IReadOnlyList<string> nodeIPs, HashSet<string>? active, HashSet<string> emittedSep)
    {
        var svc = spe.Port;
        var cat = Topology.Categorize(svc, spe.Endpoints);
        string name = svc.SvcPortName, p = svc.Proto;
        w.Check(name);
        string svcChain = svc.ClusterPolicyChain, svlChain = svc.LocalPolicyChain, extChain = svc.ExternalChain, fwChain = svc.FirewallChain;

        bool usesClusterChain = cat.Cluster.Count > 0 && svc.UsesClusterEndpoints;
        bool usesLocalChain = cat.Local.Count > 0 && svc.UsesLocalEndpoints;
        string internalChain = svc.InternalPolicyLocal ? svlChain : svcChain;
        string externalPolicyChain = svc.ExternalPolicyLocal ? svlChain : svcChain;
        bool hasInternal = cat.HasAnyEndpoints && !(svc.InternalPolicyLocal && cat.Local.Count == 0);
        bool hasExternal = cat.HasAnyEndpoints && !(svc.ExternalPolicyLocal && cat.Local.Count == 0);
        bool usesExt = cat.HasAnyEndpoints && svc.ExternallyAccessible;
        bool usesFw = cat.HasAnyEndpoints && svc.LoadBalancerVIPs.Count > 0 && svc.LoadBalancerSourceRanges.Count > 0;
        string lbTarget = usesFw ? fwChain : extChain;

        // "has no endpoints" → REJECT; "has no local endpoints" → DROP (same text for internal and external traffic)
        string verdict = cat.HasAnyEndpoints ? "DROP" : "REJECT";
        string noEndpoints = cat.HasAnyEndpoints ? " has no local endpoints" : " has no endpoints";
        string cip = svc.ClusterIP;
        string port = svc.Port.ToString(CultureInfo.InvariantCulture);

        // 1. cluster IP
        if (hasInternal)
            w.Rule(true, ChainNames.Services).Comment(name, " cluster IP").Proto(p).Dst(cip).Opt("--dport", port).Jump(internalChain).End();
        else
            w.Rule(false, ChainNames.Services).Comment(name, noEndpoints).Proto(p).Dst(cip).Opt("--dport", port).Jump(verdict).End();

        // 2. external IPs
        foreach (var ip in svc.ExternalIPs)
        {
            if (cat.HasAnyEndpoints)
                w.Rule(true, ChainNames.Services).Comment(name, " external IP").Proto(p).Dst(ip).Opt("--dport", port).Jump(extChain).End();
            if (!hasExternal)
                w.Rule(false, ChainNames.ExternalServices).Comment(name, noEndpoints).Proto(p).Dst(ip).Opt("--dport", port).Jump(verdict).End();
        }

        // 3. load balancer ingress IPs
        foreach (var ip in svc.LoadBalancerVIPs)
        {
            if (cat.HasAnyEndpoints)
                w.Rule(true, ChainNames.Services).Comment(name, " loadbalancer IP").Proto(p).Dst(ip).Opt("--dport", port).Jump(lbTarget).End();
            if (usesFw)
                w.Rule(false, ChainNames.ProxyFirewall).Comment(name, " traffic not accepted by ", fwChain).Proto(p).Dst(ip).Opt("--dport", port).Jump("DROP").End();
        }
        // 4. no (local) endpoints for external traffic to the LB IPs
        if (!hasExternal)
            foreach (var ip in svc.LoadBalancerVIPs)
                w.Rule(false, ChainNames.ExternalServices).Comment(name, noEndpoints).Proto(p).Dst(ip).Opt("--dport", port).Jump(verdict).End();

        // 5. NodePort (never through KUBE-FW: source ranges do not apply to NodePorts)
        if (svc.NodePort != 0)
        {
            string np = svc.NodePort.ToString(CultureInfo.InvariantCulture);
            if (cat.HasAnyEndpoints)
            {
                if (localhostNpsCounter)
                    w.NatRule($"-A KUBE-NODEPORTS -m comment --comment {name} -m {p} -p {p} -d 127.0.0.0/8 --dport {np} -m nfacct --nfacct-name localhost_nps_accepted_pkts -j {extChain}");
                w.Rule(true, ChainNames.NodePorts).Comment(name, quoted: false).Proto(p).Opt("--dport", np).Jump(extChain).End();
            }
            if (!hasExternal)
                w.Rule(false, ChainNames.ExternalServices).Comment(name, noEndpoints).Match("addrtype").Opt("--dst-type", "LOCAL")
                    .Proto(p).Opt("--dport", np).Jump(verdict).End();
        }

        // 6. health check node port (always tcp; emitted with or without endpoints)
        if (svc.HealthCheckNodePort != 0)
            w.Rule(false, ChainNames.NodePorts).Comment(name, " health check node port").Proto("tcp")
                .Opt("--dport", svc.HealthCheckNodePort.ToString(CultureInfo.InvariantCulture)).Jump("ACCEPT").End();

        // 7. masquerade off-node traffic to the cluster IP, in the internal chain only
        if (hasInternal && (masqueradeAll || detector.IsImplemented))
        {
            w.Rule(true, internalChain).Comment(name, " cluster IP").Proto(p).Dst(cip).Opt("--dport", port);
            if (!masqueradeAll) w.Detector(detector, negated: true);
            w.Jump(ChainNames.MarkMasq).End();
        }

        // 8. KUBE-EXT
        if (usesExt)
        {
            w.NatChain(extChain);
            active?.Add(extChain);
            if (!svc.ExternalPolicyLocal)
                w.Rule(true, extChain).Comment("masquerade traffic for ", name, " external destinations").Jump(ChainNames.MarkMasq).End();
            else
            {
                // Pods and the node itself may use the cluster-wide endpoints even under eTP=Local.
                if (detector.IsImplemented)
                    w.Rule(true, extChain).Comment("pod traffic for ", name, " external destinations").Detector(detector, negated: false).Jump(svcChain).End();
                w.Rule(true, extChain).Comment("masquerade LOCAL traffic for ", name, " external destinations").Match("addrtype").Opt("--src-type", "LOCAL")
                    .Jump(ChainNames.MarkMasq).End();
                w.Rule(true, extChain).Comment("route LOCAL traffic for ", name, " external destinations").Match("addrtype").Opt("--src-type", "LOCAL")
                    .Jump(svcChain).End();
            }
            if (hasExternal) w.Rule(true, extChain).Jump(externalPolicyChain).End();
        }

        // 9. KUBE-FW (loadBalancerSourceRanges)
        if (usesFw)
        {
            w.NatChain(fwChain);
            active?.Add(fwChain);
            foreach (var src in svc.LoadBalancerSourceRangeTexts)
            {
                w.Check(src);
                w.Rule(true, fwChain).Comment(name, " loadbalancer IP").Src(src).Jump(extChain).End();
            }
            // Hairpin from the node: allow the LB IPs as sources when a range holds a node IP.
            if (nodeIPs.Any(ip => svc.LoadBalancerSourceRanges.Any(r => r.Contains(ip))))
                foreach (var ip in svc.LoadBalancerVIPs)
                    w.Rule(true, fwChain).Comment(name, " loadbalancer IP").Src(ip).Jump(extChain).End();
            w.Rule(true, fwChain).Comment("other traffic to ", name, " will be dropped by KUBE-PROXY-FIREWALL").End();
        }

        if (cat.AllReachable.Count == 0 && cat.Cluster.Count == 0 && cat.Local.Count == 0) return;
        // One SHA-256 per endpoint: the SEP name is used by the SVC, SVL and SEP rules.
        var sepNames = new SepNames(spe.Endpoints, name, p);

        // 10. KUBE-SVC / KUBE-SVL → KUBE-SEP
        if (usesClusterChain)
        {
            w.NatChain(svcChain);
            active?.Add(svcChain);
            WriteServiceToEndpoints(w, svc, svcChain, cat.Cluster, largeCluster, sepNames);
        }
        if (usesLocalChain)
        {
            w.NatChain(svlChain);
            active?.Add(svlChain);
            WriteServiceToEndpoints(w, svc, svlChain, cat.Local, largeCluster, sepNames);
        }

        // 11. KUBE-SEP per reachable endpoint
        foreach (var ep in cat.AllReachable)
        {
            string sep = sepNames.Of(ep);
            if (!emittedSep.Add(sep)) continue;
            w.NatChain(sep);
            active?.Add(sep);
            w.Rule(true, sep);
            if (!largeCluster) w.Comment(name, quoted: false);
            w.Src(ep.Ip).Jump(ChainNames.MarkMasq).End();
            if (svc.ClientIPAffinity)
            {
                string head = largeCluster ? $"-A {sep}" : $"-A {sep} -m comment --comment {name}";
                w.NatRule($"{head} -m recent --name {sep} --set -m {p} -p {p} -j DNAT --to-destination {ep.Key}");
                continue;
            }
            w.Rule(true, sep);
            if (!largeCluster) w.Comment(name, quoted: false);
            w.Proto(p).Jump("DNAT").TargetOpt("--to-destination", ep.Key).End();
        }
    }

    static void WriteServiceToEndpoints(RuleWriter w, ServicePortInfo svc, string chain, IReadOnlyList<EndpointInfo> eps, bool largeCluster,
        SepNames sepNames)
    {
        string name = svc.SvcPortName;
        if (svc.ClientIPAffinity)
        {
            string seconds = svc.StickyMaxAgeSeconds.ToString(CultureInfo.InvariantCulture);
            foreach (var ep in eps)
            {
                string sep = sepNames.Of(ep);
                string comment = largeCluster ? "" : $" -m comment --comment \"{name} -> {ep.Key}\"";
                w.NatRule($"-A {chain}{comment} -m recent --name {sep} --rcheck --seconds {seconds} --reap -j {sep}");
            }
        }
        int n = eps.Count;
        for (int i = 0; i < n; i++)
        {
            var ep = eps[i];
            w.Rule(true, chain);
            if (!largeCluster) w.Comment(name, " -> ", ep.Key);
            if (i < n - 1)
            {
                var (written, saved) = RuleWriter.ProbabilityOf(n - i);
                w.Match("statistic").Opt("--mode", "random").Probability(written, saved);
            }
            w.Jump(sepNames.Of(ep)).End();
        }
    }

    /// <summary>The KUBE-SEP chain of each endpoint of a service port, hashed once (the SVC, SVL and SEP rules all name
    /// it). The endpoint categories hold the port's own EndpointInfo objects, so they are found by reference.</summary>
    sealed class SepNames(IReadOnlyList<EndpointInfo> endpoints, string svcPortName, string proto)
    {
        readonly string?[] names = new string?[endpoints.Count];
        Dictionary<EndpointInfo, int>? index;

        public string Of(EndpointInfo ep)
        {
            int i = IndexOf(ep);
            return names[i] ??= ChainNames.EndpointChain(svcPortName, proto, ep.Key);
        }

        int IndexOf(EndpointInfo ep)
        {
            if (index is null)
            {
                // Small ports: a scan; large ones: a map built once.
                if (endpoints.Count <= 16)
                {
                    for (int i = 0; i < endpoints.Count; i++)
                        if (ReferenceEquals(endpoints[i], ep)) return i;
                    throw new InvalidOperationException("endpoint not of this service port");
                }
                index = new Dictionary<EndpointInfo, int>(endpoints.Count, ReferenceEqualityComparer.Instance);
                for (int i = 0; i < endpoints.Count; i++) index[endpoints[i]] = i;
            }
            return index[ep];
        }
    }
}
