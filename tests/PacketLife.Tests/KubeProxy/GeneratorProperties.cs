using CsCheck;
using PacketLife.Core.Cluster;
using PacketLife.Core.KubeProxy;
using PacketLife.Core.Netfilter.Text;
using static PacketLife.Tests.KubeProxy.K8s;

namespace PacketLife.Tests.KubeProxy;

/// <summary>Properties over random clusters: whatever the Services and endpoints, the payload is well formed
/// (parses, every jump target is a chain of the payload or a fixed chain, every declared service chain is
/// filled), sorting is idempotent, and the printed save view parses and round-trips.</summary>
public class GeneratorProperties
{
    static readonly Gen<Endpoint> GenEp =
        Gen.Select(Gen.Int[0, 40], Gen.Int[0, 3], Gen.Int[0, 4], (host, node, cond) => new Endpoint
        {
            Addresses = [$"10.244.{node}.{host}"],
            NodeName = node == 0 ? "test-hostname" : $"node-{node}",
            Conditions = cond switch
            {
                0 => new EndpointConditions(false, true, true),
                1 => new EndpointConditions(false, false, false),
                _ => new EndpointConditions(),
            },
        });

    static readonly Gen<(Service, EndpointSlice)> GenSvc =
        Gen.Select(Gen.Int[0, 3], Gen.Int[0, 7], GenEp.Array[0, 6], Gen.Int[0, 2]).Select((type, flags, eps, proto) =>
        {
            int i = Math.Abs(HashCode.Combine(type, flags, eps.Length)) % 200;
            var name = $"svc{type}{flags}{eps.Length}{proto}-{i}";
            var protocol = (Protocol)proto;
            var st = type switch { 0 => ServiceType.ClusterIP, 1 => ServiceType.NodePort, 2 => ServiceType.LoadBalancer, _ => ServiceType.ClusterIP };
            var svc = Svc($"ns/{name}", $"172.30.{type}.{i + 1}", st, Port(80, "p", protocol, nodePort: st == ServiceType.ClusterIP ? 0 : 30000 + i))
                .With(s => s with
                {
                    ExternalTrafficPolicy = (flags & 1) != 0 ? TrafficPolicy.Local : TrafficPolicy.Cluster,
                    InternalTrafficPolicy = (flags & 2) != 0 ? TrafficPolicy.Local : TrafficPolicy.Cluster,
                    SessionAffinity = (flags & 4) != 0 ? SessionAffinity.ClientIP : SessionAffinity.None,
                    HealthCheckNodePort = st == ServiceType.LoadBalancer && (flags & 1) != 0 ? 31000 + i : 0,
                    ExternalIPs = type == 3 ? ["192.168.99.1"] : [],
                    LoadBalancerSourceRanges = st == ServiceType.LoadBalancer && (flags & 2) != 0 ? ["203.0.113.0/24"] : [],
                });
            if (st == ServiceType.LoadBalancer) svc = svc.WithLb($"1.2.3.{i + 1}");
            var slice = Slice($"ns/{name}-x", name, [new EndpointPort("p", protocol, 8080)], eps);
            return (svc, slice);
        });

    [Fact]
    public void Payload_is_well_formed_for_any_cluster()
    {
        GenSvc.Array[0, 12].Sample(pairs =>
        {
            var unique = pairs.DistinctBy(p => p.Item1.Metadata.Name).ToArray();
            var r = Sync(unique.Select(p => p.Item1), unique.Select(p => p.Item2), cfg: KubeProxyConfiguration.AksKubenet);
            var parsed = IptablesSaveReader.Read(r.RestorePayload, "payload");
            Assert.False(parsed.HasErrors, string.Join("\n", parsed.Diagnostics));
            foreach (var table in new[] { "filter", "nat" })
            {
                var lines = Table(r.RestorePayload, table);
                var declared = lines.Where(l => l.StartsWith(':')).Select(l => l[1..l.IndexOf(' ')]).ToHashSet();
                Assert.Equal(declared.Count, lines.Count(l => l.StartsWith(':')));  // each chain declared once
                var rules = lines.Where(l => l.StartsWith("-A ")).ToArray();
                foreach (var rule in rules)
                {
                    var t = SaveRuleFormatter.Tokenize(rule);
                    Assert.Contains(t[1], declared);
                    int j = t.IndexOf("-j");
                    if (j > 0 && t[j + 1].StartsWith("KUBE-")) Assert.Contains(t[j + 1], declared);
                }
                foreach (var c in declared.Where(ChainNames.IsServicePortChain))
                    Assert.Contains(rules, x => x.StartsWith($"-A {c} "));
            }
            var sorted = RestoreSorter.Sort(r.RestorePayload);
            Assert.Equal(sorted, RestoreSorter.Sort(sorted));
            var (text, save) = KubeProxyNodeRules.Build(r, "node");
            Assert.False(save.HasErrors, string.Join("\n", save.Diagnostics));
            Assert.Equal(text, IptablesSaveWriter.Write(save.RuleSet));
        }, iter: 300);
    }

    static readonly KubeProxyConfiguration[] Configurations =
    [
        KubeProxyConfiguration.AksKubenet,
        TestConfig,
        TestConfig with { Iptables = new IptablesConfiguration { MasqueradeAll = true } },
        new() { DetectLocalMode = DetectLocalMode.BridgeInterface, DetectLocal = new DetectLocalConfiguration { BridgeInterface = "cbr0" } },
        new() { DetectLocalMode = DetectLocalMode.NodeCIDR },
        new() { ClusterCIDR = "10.0.0.0/8", NodePortAddresses = ["192.168.0.0/16"] },
    ];

    /// <summary>The sync writes each rule's save form beside its restore text (for the node view); whatever the cluster,
    /// configuration and version, that is what the save formatter makes of the restore line, and the view printed from
    /// it is the view printed from the payload text.</summary>
    [Fact]
    public void Save_forms_written_by_the_sync_are_the_formatter_s_and_give_the_same_view()
    {
        Gen.Select(GenSvc.Array[0, 12], Gen.Int[0, Configurations.Length - 1], Gen.Bool, Gen.Bool).Sample((pairs, c, v128, nfacct) =>
        {
            var unique = pairs.DistinctBy(p => p.Item1.Metadata.Name).ToArray();
            var env = new KubeProxyEnvironment { Version = v128 ? KubeProxyVersion.V1_28 : KubeProxyVersion.V1_31, NfacctCountersAvailable = nfacct };
            var r = Sync(unique.Select(p => p.Item1), unique.Select(p => p.Item2), cfg: Configurations[c], env: env);
            AssertSaveFormsMatch(r);
        }, iter: 300);
    }

    /// <summary>The same, past the large-cluster threshold (no comments on the SVC→SEP and SEP rules).</summary>
    [Fact]
    public void Save_forms_match_in_large_cluster_mode()
    {
        var svcs = new List<Service>();
        var slices = new List<EndpointSlice>();
        for (int i = 0; i < 210; i++)
        {
            var svc = Svc($"ns/s{i}", $"172.30.1.{i + 1}", i % 2 == 0 ? ServiceType.NodePort : ServiceType.ClusterIP,
                Port(80, "p", nodePort: i % 2 == 0 ? 30000 + i : 0));
            if (i % 3 == 0) svc = svc.With(s => s with { SessionAffinity = SessionAffinity.ClientIP });
            svcs.Add(svc);
            slices.Add(Slice($"ns/s{i}-x", $"s{i}", "p", 8080, [.. Enumerable.Range(0, 5).Select(j => Ep($"10.244.{i}.{j + 1}", j == 0 ? "test-hostname" : "n2"))]));
        }
        var r = Sync(svcs, slices, cfg: KubeProxyConfiguration.AksKubenet);
        Assert.True(r.LargeClusterMode);
        AssertSaveFormsMatch(r);
    }

    static void AssertSaveFormsMatch(KubeProxySyncResult r)
    {
        Assert.NotNull(r.SaveForms);
        var lines = r.RestorePayload.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var ops = r.SaveForms.Ops.ToArray();
        Assert.Equal(lines.Length, ops.Length);
        for (int i = 0; i < lines.Length; i++)
        {
            var op = ops[i];
            if (op.Kind == PayloadOpKind.Rule) Assert.Equal(SaveRuleFormatter.Format(lines[i], r.Family), op.Save.ToString());
            else Assert.Equal(op.Kind switch
            {
                PayloadOpKind.Table => "*" + op.Name, PayloadOpKind.Chain => $":{op.Name} - [0:0]",
                PayloadOpKind.Delete => "-X " + op.Name, _ => "COMMIT",
            }, lines[i]);
        }
        // The view from the sync's save forms, and from the text (a payload that is not the sync's own string).
        var copy = r with { RestorePayload = new string(r.RestorePayload.AsSpan()) };
        Assert.Equal(NodeIptablesView.AfterSync(copy).Save(), NodeIptablesView.AfterSync(r).Save());
    }

    /// <summary>A user-written text the restore tokenizer would read back differently (here a bridge name with a quote)
    /// makes the sync give no save forms; the view then reads the payload text, as before.</summary>
    [Fact]
    public void Unsafe_user_text_falls_back_to_reading_the_payload()
    {
        var cfg = new KubeProxyConfiguration
        {
            DetectLocalMode = DetectLocalMode.BridgeInterface, DetectLocal = new DetectLocalConfiguration { BridgeInterface = "cb\"r0" },
        };
        var svc = Svc("ns/a", "172.30.0.1", ServiceType.NodePort, Port(80, "p", nodePort: 30001));
        var r = Sync([svc], [Slice("ns/a-x", "a", "p", 8080, Ep("10.244.0.2", "test-hostname"))], cfg: cfg);
        Assert.Null(r.SaveForms);
        Assert.Contains("-A KUBE-SVC-", NodeIptablesView.AfterSync(r).Save());
        var ok = Sync([svc], [Slice("ns/a-x", "a", "p", 8080, Ep("10.244.0.2", "test-hostname"))], cfg: cfg with
        {
            DetectLocal = new DetectLocalConfiguration { BridgeInterface = "cbr0" },
        });
        Assert.NotNull(ok.SaveForms);
    }
}
