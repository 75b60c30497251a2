using System.Globalization;
using PacketLife.Core.Cluster;
using PacketLife.Core.KubeProxy;
using PacketLife.Core.Net;
using PacketLife.Core.Netfilter;
using PacketLife.Core.Netfilter.Evaluation;
using PacketLife.Manifests;
using static PacketLife.Tests.KubeProxy.K8s;

namespace PacketLife.Tests.KubeProxy;

/// <summary>Packet-flow tables through the generated rules, like kube-proxy's own tracer tests
/// (proxier_test.go runPacketFlowTests): the node's rules are the parse of its printed iptables-save; the netfilter
/// engine walks nat (PREROUTING or OUTPUT), filter (FORWARD, INPUT or OUTPUT) and nat POSTROUTING for a new
/// connection, in explain mode, and the row states which endpoints are reached with which probability, whether
/// the source is masqueraded, or the verdict when nothing is reached.</summary>
public class PacketFlowTests
{
    /// <summary>One new connection through one node. `In` is the input interface, or "local" for a packet a process
    /// on the node sends (OUTPUT hook).</summary>
    static (Dictionary<string, double> Endpoints, bool[] Masq, string Verdict) Flow(KubeProxySyncResult sync, string[] nodeLocal, string packet, string @in)
    {
        var (_, parsed) = KubeProxyNodeRules.Build(sync, "node");
        Assert.False(parsed.HasErrors, string.Join("\n", parsed.Diagnostics));
        var nat = new TableEvaluator(parsed.RuleSet.Table("nat")!);
        var filter = new TableEvaluator(parsed.RuleSet.Table("filter")!);
        var local = nodeLocal.Select(Ip4.Parse).ToHashSet();
        AddressType TypeOf(Ip4 ip, string? _) => ip.IsLoopback || local.Contains(ip) ? AddressType.Local : AddressType.Unicast;

        var parts = packet.Split(' ');  // "tcp 10.0.0.1:1234 -> 10.0.0.2:80"
        var proto = parts[0] switch { "tcp" => IpProtocol.Tcp, "udp" => IpProtocol.Udp, _ => IpProtocol.Sctp };
        var (src, sport) = HostPort(parts[1]);
        var (dst, dport) = HostPort(parts[3]);
        var p0 = new Packet(proto, src, sport, dst, dport);
        bool fromLocal = @in == "local";
        string? inIf = fromLocal ? null : @in;

        var eps = new Dictionary<string, double>();
        var masq = new List<bool>();
        var verdicts = new HashSet<string>();
        foreach (var n in nat.Explain(new PacketContext
        {
            Packet = p0, Hook = fromLocal ? NetfilterHook.Output : NetfilterHook.Prerouting, InInterface = inIf,
            AddressTypeOf = TypeOf, Conntrack = ConntrackView.NewFor(p0),
        }))
        {
            Assert.False(n.IsUncertain, string.Join("; ", n.Uncertain));
            var p1 = n.Packet;
            string? ep = null;
            if (n.Nat is { Kind: NatKind.Dnat } d)
            {
                ep = $"{d.Addresses!.Value.First}:{d.Ports!.Value.Min}";
                p1 = p1 with { Dst = d.Addresses.Value.First, DstPort = d.Ports.Value.Min };
            }
            var hook = fromLocal ? NetfilterHook.Output : TypeOf(p1.Dst, null) == AddressType.Local ? NetfilterHook.Input : NetfilterHook.Forward;
            foreach (var f in filter.Explain(new PacketContext
            {
                Packet = p1, Hook = hook, InInterface = inIf, OutInterface = hook == NetfilterHook.Input ? null : "eth0",
                AddressTypeOf = TypeOf, Conntrack = ConntrackView.NewFor(p0),
            }))
            {
                Assert.False(f.IsUncertain, string.Join("; ", f.Uncertain));
                double prob = n.Probability * f.Probability;
                if (f.Verdict.Kind != VerdictKind.Accept) { verdicts.Add(f.Verdict.ToString()); continue; }
                verdicts.Add("ACCEPT");
                eps[ep ?? "(no DNAT)"] = eps.GetValueOrDefault(ep ?? "(no DNAT)") + prob;
                if (hook == NetfilterHook.Input) { masq.Add(false); continue; } // delivered to the node itself
                var post = nat.Explain(new PacketContext
                {
                    Packet = f.Packet, Hook = NetfilterHook.Postrouting, OutInterface = "eth0", AddressTypeOf = TypeOf, Conntrack = ConntrackView.NewFor(p0),
                }).Single();
                masq.Add(post.Nat is { Kind: NatKind.Masquerade });
            }
        }
        return (eps, masq.ToArray(), string.Join(",", verdicts.Order()));
    }

    static (Ip4, ushort) HostPort(string s)
    {
        int c = s.LastIndexOf(':');
        return (Ip4.Parse(s[..c]), ushort.Parse(s[(c + 1)..], CultureInfo.InvariantCulture));
    }

    static Dictionary<string, double> Expect(string spec) => spec.Length == 0 ? [] :
        spec.Split(", ").Select(x => x.Split('=')).ToDictionary(x => x[0], x => double.Parse(x[1], CultureInfo.InvariantCulture));

    static void AssertFlow(KubeProxySyncResult sync, string[] nodeLocal, string packet, string @in, string endpoints, bool? masq, string verdict)
    {
        var (eps, m, v) = Flow(sync, nodeLocal, packet, @in);
        Assert.Equal(verdict, v);
        var want = Expect(endpoints);
        Assert.Equal(want.Keys.Order(), eps.Keys.Order());
        foreach (var (k, p) in want) Assert.Equal(p, eps[k], 9);
        if (masq is { } mq) Assert.All(m, x => Assert.Equal(mq, x));
    }

    // ---- the seed's second cluster, seen from vmss000000 (10.224.0.4), AKS kubenet profile ----

    static KubeProxySyncResult SeedDeployment()
    {
        var read = ManifestReader.ReadFiles([Path.Combine(AppContext.BaseDirectory, "Golden", "KubeProxy", "seed-deployment", "objects.yaml")]);
        return IptablesProxier.Sync(new KubeProxySyncInput
        {
            Services = read.Objects.OfType<Service>().ToList(), EndpointSlices = read.Objects.OfType<EndpointSlice>().ToList(),
            Nodes = read.Objects.OfType<Node>().ToList(), Hostname = "aks-nodepool1-33086427-vmss000000", Configuration = KubeProxyConfiguration.AksKubenet,
        });
    }

    public static TheoryData<string, string, string, string, bool> SeedFlows => new()
    {
        // case                               packet                                             in         endpoints reached                               masqueraded
        { "pod to ClusterIP",                "tcp 10.244.1.5:40000 -> 10.0.42.82:80",           "azv1a2b", "10.244.0.113:80=0.5, 10.244.1.136:80=0.5", false },
        { "node process to ClusterIP",       "tcp 10.224.0.4:40000 -> 10.0.42.82:80",           "local",   "10.244.0.113:80=0.5, 10.244.1.136:80=0.5", true },
        { "internet to LB IP",               "tcp 198.51.100.7:53108 -> 4.225.83.202:80",       "eth0",    "10.244.0.113:80=0.5, 10.244.1.136:80=0.5", true },
        { "LB probe to NodePort",            "tcp 168.63.129.16:53108 -> 10.224.0.4:32670",     "eth0",    "10.244.0.113:80=0.5, 10.244.1.136:80=0.5", true },
        { "node to NodePort on localhost",   "tcp 127.0.0.1:40000 -> 127.0.0.1:32670",          "local",   "10.244.0.113:80=0.5, 10.244.1.136:80=0.5", true },
        { "pod to LB IP (hairpin)",          "tcp 10.244.1.5:40000 -> 4.225.83.202:80",         "azv1a2b", "10.244.0.113:80=0.5, 10.244.1.136:80=0.5", true },
        { "other port is not a Service",     "tcp 198.51.100.7:53108 -> 4.225.83.202:443",      "eth0",    "(no DNAT)=1", false },
    };

    [Theory, MemberData(nameof(SeedFlows))]
    public void Seed_deployment_flows(string name, string packet, string @in, string endpoints, bool masq)
    {
        _ = name;
        AssertFlow(SeedDeployment(), ["10.224.0.4"], packet, @in, endpoints, masq, "ACCEPT");
    }

    // ---- traffic policies and affinity on node "test-hostname" (192.168.0.2), AKS kubenet profile ----

    static KubeProxySyncResult Policies()
    {
        Service Lb(string name, string ip, string vip, int np) =>
            Svc($"ns1/{name}", ip, ServiceType.LoadBalancer, Port(80, "p80", nodePort: np)).With(s => s with { ExternalTrafficPolicy = TrafficPolicy.Local, HealthCheckNodePort = np + 1000 }).WithLb(vip);
        var svcs = new[]
        {
            Lb("etp-local", "172.30.0.1", "1.2.3.1", 30001),
            Lb("etp-remote", "172.30.0.2", "1.2.3.2", 30002),
            Svc("ns1/itp-local", "172.30.0.3", ServiceType.ClusterIP, Port(80, "p80")).With(s => s with { InternalTrafficPolicy = TrafficPolicy.Local }),
            Svc("ns1/itp-remote", "172.30.0.4", ServiceType.ClusterIP, Port(80, "p80")).With(s => s with { InternalTrafficPolicy = TrafficPolicy.Local }),
            Svc("ns1/none", "172.30.0.5", ServiceType.NodePort, Port(80, "p80", nodePort: 30005)),
            Svc("ns1/sticky", "172.30.0.6", ServiceType.ClusterIP, Port(80, "p80")).With(s => s with { SessionAffinity = SessionAffinity.ClientIP }),
            Svc("ns1/dns", "172.30.0.7", ServiceType.ClusterIP, Port(53, "dns", Protocol.UDP)),
        };
        const string me = "test-hostname";
        var slices = new[]
        {
            Slice("ns1/etp-local-x", "etp-local", "p80", 80, Ep("10.244.0.11", node: me), Ep("10.244.1.11", node: "other")),
            Slice("ns1/etp-remote-x", "etp-remote", "p80", 80, Ep("10.244.1.12", node: "other")),
            Slice("ns1/itp-local-x", "itp-local", "p80", 80, Ep("10.244.0.13", node: me), Ep("10.244.1.13", node: "other")),
            Slice("ns1/itp-remote-x", "itp-remote", "p80", 80, Ep("10.244.1.14", node: "other")),
            Slice("ns1/sticky-x", "sticky", "p80", 80, Ep("10.244.0.16", node: me), Ep("10.244.1.16", node: "other")),
            Slice("ns1/dns-x", "dns", [new EndpointPort("dns", Protocol.UDP, 5353)], Ep("10.244.1.17", node: "other"), Ep("10.244.1.18", node: "other"), Ep("10.244.0.17", node: me)),
        };
        return IptablesProxier.Sync(new KubeProxySyncInput
        {
            Services = svcs, EndpointSlices = slices, Hostname = me, NodeIPs = ["192.168.0.2"], Configuration = KubeProxyConfiguration.AksKubenet,
        });
    }

    public static TheoryData<string, string, string, string, bool?, string> PolicyFlows => new()
    {
        // case                                           packet                                          in        endpoints                                   masq   verdict
        { "eTP Local: external to LB IP, local endpoint only, source kept", "tcp 198.51.100.7:1000 -> 1.2.3.1:80", "eth0", "10.244.0.11:80=1", false, "ACCEPT" },
        { "eTP Local: external to NodePort, local endpoint only",         "tcp 198.51.100.7:1000 -> 192.168.0.2:30001", "eth0", "10.244.0.11:80=1", false, "ACCEPT" },
        { "eTP Local: pod to LB IP uses every endpoint",                  "tcp 10.244.0.5:1000 -> 1.2.3.1:80", "azv1", "10.244.0.11:80=0.5, 10.244.1.11:80=0.5", false, "ACCEPT" },
        { "eTP Local: node to LB IP uses every endpoint, masqueraded",     "tcp 192.168.0.2:1000 -> 1.2.3.1:80", "local", "10.244.0.11:80=0.5, 10.244.1.11:80=0.5", true, "ACCEPT" },
        { "eTP Local: pod to cluster IP is Cluster policy",               "tcp 10.244.0.5:1000 -> 172.30.0.1:80", "azv1", "10.244.0.11:80=0.5, 10.244.1.11:80=0.5", false, "ACCEPT" },
        { "eTP Local without local endpoints: external to LB IP dropped", "tcp 198.51.100.7:1000 -> 1.2.3.2:80", "eth0", "", null, "DROP" },
        { "eTP Local without local endpoints: external to NodePort dropped", "tcp 198.51.100.7:1000 -> 192.168.0.2:30002", "eth0", "", null, "DROP" },
        { "eTP Local without local endpoints: pod to LB IP still served", "tcp 10.244.0.5:1000 -> 1.2.3.2:80", "azv1", "10.244.1.12:80=1", false, "ACCEPT" },
        { "eTP Local: health check node port accepted on the node",       "tcp 168.63.129.16:1000 -> 192.168.0.2:31001", "eth0", "(no DNAT)=1", false, "ACCEPT" },
        { "iTP Local: pod to cluster IP reaches the local endpoint only", "tcp 10.244.0.5:1000 -> 172.30.0.3:80", "azv1", "10.244.0.13:80=1", false, "ACCEPT" },
        { "iTP Local without local endpoints: pod to cluster IP dropped", "tcp 10.244.0.5:1000 -> 172.30.0.4:80", "azv1", "", null, "DROP" },
        { "no endpoints: pod to cluster IP rejected",                     "tcp 10.244.0.5:1000 -> 172.30.0.5:80", "azv1", "", null, "REJECT icmp-port-unreachable" },
        { "no endpoints: external to NodePort rejected",                  "tcp 198.51.100.7:1000 -> 192.168.0.2:30005", "eth0", "", null, "REJECT icmp-port-unreachable" },
        { "UDP: three endpoints a third each",                            "udp 10.244.0.5:1000 -> 172.30.0.7:53", "azv1", "10.244.0.17:5353=0.3333333333, 10.244.1.17:5353=0.3333333333, 10.244.1.18:5353=0.3333333334", false, "ACCEPT" },
        { "affinity, first connection: either endpoint",                  "tcp 10.244.0.5:1000 -> 172.30.0.6:80", "azv1", "10.244.0.16:80=0.5, 10.244.1.16:80=0.5", false, "ACCEPT" },
    };

    [Theory, MemberData(nameof(PolicyFlows))]
    public void Policy_flows(string name, string packet, string @in, string endpoints, bool? masq, string verdict)
    {
        _ = name;
        AssertFlow(Policies(), ["192.168.0.2"], packet, @in, endpoints, masq, verdict);
    }

    [Fact]
    public void Affinity_sticks_after_the_first_connection()
    {
        var (_, parsed) = KubeProxyNodeRules.Build(Policies(), "node");
        var nat = new TableEvaluator(parsed.RuleSet.Table("nat")!);
        var state = new NetfilterState();
        var p = new Packet(IpProtocol.Tcp, Ip4.Parse("10.244.0.5"), 1000, Ip4.Parse("172.30.0.6"), 80);
        PacketContext Ctx(Packet x) => new() { Packet = x, Hook = NetfilterHook.Prerouting, InInterface = "azv1", State = state,
            AddressTypeOf = (ip, _) => ip == Ip4.Parse("192.168.0.2") ? AddressType.Local : AddressType.Unicast, Conntrack = ConntrackView.NewFor(x) };
        var first = nat.Sample(Ctx(p), new Random(7));
        var chosen = first.Nat!.Addresses!.Value.First;
        // a later connection from the same client (new source port) goes to the same endpoint, with certainty
        var again = nat.Explain(Ctx(p with { SrcPort = 2000 }));
        var o = Assert.Single(again);
        Assert.Equal(1.0, o.Probability);
        Assert.Equal(chosen, o.Nat!.Addresses!.Value.First);
    }
}
