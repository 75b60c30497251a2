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

        var w = new Writer(ports.Count);
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

        var active = new HashSet<string>(StringComparer.Ordinal);
        var emittedSep = new HashSet<string>(StringComparer.Ordinal);
        foreach (var spe in ports)
            WriteServicePort(w, spe, detector, cfg.Iptables.MasqueradeAll, localhostNodePorts && nfacct && env.Version >= KubeProxyVersion.V1_31,
                largeCluster, nodeIPsOfFamily, active, emittedSep);

        // --- stale service-port chains: flushed (chain line) and deleted (-X), before the last rule (§9) ---
        foreach (var chain in input.ExistingNatChains.Where(c => ChainNames.IsServicePortChain(c) && !active.Contains(c)).Order(StringComparer.Ordinal))
        {
            w.NatChain(chain);
            w.NatRule($"-X {chain}");
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

        return new KubeProxySyncResult
        {
            RestorePayload = w.Payload(),
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

    static string Probability(int n) => (1.0 / n).ToString("F10", CultureInfo.InvariantCulture);

    /// <summary>The per-service-port block (facts §4.2), in kube-proxy's write order.</summary>
    static void WriteServicePort(Writer w, ServicePortEndpoints spe, LocalDetector detector, bool masqueradeAll, bool localhostNpsCounter,
        bool largeCluster, IReadOnlyList<string> nodeIPs, HashSet<string> active, HashSet<string> emittedSep)
    {
        var svc = spe.Port;
        var cat = Topology.Categorize(svc, spe.Endpoints);
        // One SHA-256 per endpoint: the SEP name is used by the SVC, SVL and SEP rules.
        var sepNames = new Dictionary<string, string>(spe.Endpoints.Count, StringComparer.Ordinal);
        foreach (var ep in spe.Endpoints) sepNames[ep.Key] = ChainNames.EndpointChain(svc.SvcPortName, svc.Proto, ep.Key);
        string name = svc.SvcPortName, p = svc.Proto, h = svc.Hash;
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

        string internalVerdict, internalComment, externalVerdict, externalComment;
        if (!cat.HasAnyEndpoints)
        {
            internalVerdict = externalVerdict = "REJECT";
            internalComment = externalComment = $"\"{name} has no endpoints\"";
        }
        else
        {
            internalVerdict = externalVerdict = "DROP";
            internalComment = externalComment = $"\"{name} has no local endpoints\"";
        }
        string mp = $"-m {p} -p {p}";
        string cip = svc.ClusterIP;
        string port = svc.Port.ToString(CultureInfo.InvariantCulture);

        // 1. cluster IP
        if (hasInternal)
            w.NatRule($"-A KUBE-SERVICES -m comment --comment \"{name} cluster IP\" {mp} -d {cip} --dport {port} -j {internalChain}");
        else
            w.FilterRule($"-A KUBE-SERVICES -m comment --comment {internalComment} {mp} -d {cip} --dport {port} -j {internalVerdict}");

        // 2. external IPs
        foreach (var ip in svc.ExternalIPs)
        {
            if (cat.HasAnyEndpoints)
                w.NatRule($"-A KUBE-SERVICES -m comment --comment \"{name} external IP\" {mp} -d {ip} --dport {port} -j {extChain}");
            if (!hasExternal)
                w.FilterRule($"-A KUBE-EXTERNAL-SERVICES -m comment --comment {externalComment} {mp} -d {ip} --dport {port} -j {externalVerdict}");
        }

        // 3. load balancer ingress IPs
        foreach (var ip in svc.LoadBalancerVIPs)
        {
            if (cat.HasAnyEndpoints)
                w.NatRule($"-A KUBE-SERVICES -m comment --comment \"{name} loadbalancer IP\" {mp} -d {ip} --dport {port} -j {lbTarget}");
            if (usesFw)
                w.FilterRule($"-A KUBE-PROXY-FIREWALL -m comment --comment \"{name} traffic not accepted by {fwChain}\" {mp} -d {ip} --dport {port} -j DROP");
        }
        // 4. no (local) endpoints for external traffic to the LB IPs
        if (!hasExternal)
            foreach (var ip in svc.LoadBalancerVIPs)
                w.FilterRule($"-A KUBE-EXTERNAL-SERVICES -m comment --comment {externalComment} {mp} -d {ip} --dport {port} -j {externalVerdict}");

        // 5. NodePort (never through KUBE-FW: source ranges do not apply to NodePorts)
        if (svc.NodePort != 0)
        {
            string np = svc.NodePort.ToString(CultureInfo.InvariantCulture);
            if (cat.HasAnyEndpoints)
            {
                if (localhostNpsCounter)
                    w.NatRule($"-A KUBE-NODEPORTS -m comment --comment {name} {mp} -d 127.0.0.0/8 --dport {np} -m nfacct --nfacct-name localhost_nps_accepted_pkts -j {extChain}");
                w.NatRule($"-A KUBE-NODEPORTS -m comment --comment {name} {mp} --dport {np} -j {extChain}");
            }
            if (!hasExternal)
                w.FilterRule($"-A KUBE-EXTERNAL-SERVICES -m comment --comment {externalComment} -m addrtype --dst-type LOCAL {mp} --dport {np} -j {externalVerdict}");
        }

        // 6. health check node port (always tcp; emitted with or without endpoints)
        if (svc.HealthCheckNodePort != 0)
            w.FilterRule($"-A KUBE-NODEPORTS -m comment --comment \"{name} health check node port\" -m tcp -p tcp --dport {svc.HealthCheckNodePort.ToString(CultureInfo.InvariantCulture)} -j ACCEPT");

        // 7. masquerade off-node traffic to the cluster IP, in the internal chain only
        if (hasInternal)
        {
            string args = $"-A {internalChain} -m comment --comment \"{name} cluster IP\" {mp} -d {cip} --dport {port}";
            if (masqueradeAll) w.NatRule($"{args} -j KUBE-MARK-MASQ");
            else if (detector.IsImplemented) w.NatRule($"{args} {detector.IfNotLocal} -j KUBE-MARK-MASQ");
        }

        // 8. KUBE-EXT
        if (usesExt)
        {
            w.NatChain(extChain);
            active.Add(extChain);
            if (!svc.ExternalPolicyLocal)
                w.NatRule($"-A {extChain} -m comment --comment \"masquerade traffic for {name} external destinations\" -j KUBE-MARK-MASQ");
            else
            {
                // Pods and the node itself may use the cluster-wide endpoints even under eTP=Local.
                if (detector.IsImplemented)
                    w.NatRule($"-A {extChain} -m comment --comment \"pod traffic for {name} external destinations\" {detector.IfLocal} -j {svcChain}");
                w.NatRule($"-A {extChain} -m comment --comment \"masquerade LOCAL traffic for {name} external destinations\" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ");
                w.NatRule($"-A {extChain} -m comment --comment \"route LOCAL traffic for {name} external destinations\" -m addrtype --src-type LOCAL -j {svcChain}");
            }
            if (hasExternal) w.NatRule($"-A {extChain} -j {externalPolicyChain}");
        }

        // 9. KUBE-FW (loadBalancerSourceRanges)
        if (usesFw)
        {
            w.NatChain(fwChain);
            active.Add(fwChain);
            foreach (var src in svc.LoadBalancerSourceRangeTexts)
                w.NatRule($"-A {fwChain} -m comment --comment \"{name} loadbalancer IP\" -s {src} -j {extChain}");
            // Hairpin from the node: allow the LB IPs as sources when a range holds a node IP.
            if (nodeIPs.Any(ip => svc.LoadBalancerSourceRanges.Any(r => r.Contains(ip))))
                foreach (var ip in svc.LoadBalancerVIPs)
                    w.NatRule($"-A {fwChain} -m comment --comment \"{name} loadbalancer IP\" -s {ip} -j {extChain}");
            w.NatRule($"-A {fwChain} -m comment --comment \"other traffic to {name} will be dropped by KUBE-PROXY-FIREWALL\"");
        }

        // 10. KUBE-SVC / KUBE-SVL → KUBE-SEP
        if (usesClusterChain)
        {
            w.NatChain(svcChain);
            active.Add(svcChain);
            WriteServiceToEndpoints(w, svc, svcChain, cat.Cluster, largeCluster, sepNames);
        }
        if (usesLocalChain)
        {
            w.NatChain(svlChain);
            active.Add(svlChain);
            WriteServiceToEndpoints(w, svc, svlChain, cat.Local, largeCluster, sepNames);
        }

        // 11. KUBE-SEP per reachable endpoint
        foreach (var ep in cat.AllReachable)
        {
            string sep = sepNames[ep.Key];
            if (!emittedSep.Add(sep)) continue;
            w.NatChain(sep);
            active.Add(sep);
            string head = largeCluster ? $"-A {sep}" : $"-A {sep} -m comment --comment {name}";
            w.NatRule($"{head} -s {ep.Ip} -j KUBE-MARK-MASQ");
            string affinity = svc.ClientIPAffinity ? $" -m recent --name {sep} --set" : "";
            w.NatRule($"{head}{affinity} {mp} -j DNAT --to-destination {ep.Key}");
        }
    }

    static void WriteServiceToEndpoints(Writer w, ServicePortInfo svc, string chain, IReadOnlyList<EndpointInfo> eps, bool largeCluster,
        Dictionary<string, string> sepNames)
    {
        string name = svc.SvcPortName;
        if (svc.ClientIPAffinity)
        {
            string seconds = svc.StickyMaxAgeSeconds.ToString(CultureInfo.InvariantCulture);
            foreach (var ep in eps)
            {
                string sep = sepNames[ep.Key];
                string comment = largeCluster ? "" : $" -m comment --comment \"{name} -> {ep.Key}\"";
                w.NatRule($"-A {chain}{comment} -m recent --name {sep} --rcheck --seconds {seconds} --reap -j {sep}");
            }
        }
        int n = eps.Count;
        for (int i = 0; i < n; i++)
        {
            var ep = eps[i];
            string sep = sepNames[ep.Key];
            string comment = largeCluster ? "" : $" -m comment --comment \"{name} -> {ep.Key}\"";
            string stat = i < n - 1 ? $" -m statistic --mode random --probability {Probability(n - i)}" : "";
            w.NatRule($"-A {chain}{comment}{stat} -j {sep}");
        }
    }

    /// <summary>The four line buffers of syncProxyRules, joined into one payload at the end.</summary>
    sealed class Writer(int ports)
    {
        readonly StringBuilder filterChains = new(256), filterRules = new(1024 + ports * 64),
            natChains = new(256 + ports * 96), natRules = new(1024 + ports * 900);
        public int RuleCount { get; private set; }

        public void FilterChain(string c) => filterChains.Append(':').Append(c).Append(" - [0:0]\n");
        public void NatChain(string c) => natChains.Append(':').Append(c).Append(" - [0:0]\n");
        public void FilterRule(string r) { filterRules.Append(r).Append('\n'); RuleCount++; }
        public void NatRule(string r) { natRules.Append(r).Append('\n'); if (!r.StartsWith("-X ", StringComparison.Ordinal)) RuleCount++; }

        public string Payload()
        {
            var sb = new StringBuilder(filterChains.Length + filterRules.Length + natChains.Length + natRules.Length + 32);
            sb.Append("*filter\n").Append(filterChains).Append(filterRules).Append("COMMIT\n")
              .Append("*nat\n").Append(natChains).Append(natRules).Append("COMMIT\n");
            return sb.ToString();
        }
    }
}
