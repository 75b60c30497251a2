using PacketLife.Core.Cluster;
using PacketLife.Core.KubeProxy;
using PacketLife.Core.Netfilter;
using PacketLife.Core.Netfilter.Text;
using PacketLife.Manifests;
using static PacketLife.Tests.KubeProxy.K8s;

namespace PacketLife.Tests.KubeProxy;

/// <summary>The printed save view is what the netfilter engine runs: it parses without errors, writes back byte
/// for byte, every rule is already in the canonical form the netfilter area computes independently, and the
/// netfilter area's SaveView.AfterRestore of the payload onto the node's pre-restore state gives the same chains.</summary>
public class NetfilterEngineTests
{
    public static IEnumerable<object[]> Syncs()
    {
        foreach (var (scenario, node) in new[] { ("seed-pod", "aks-nodepool1-33086427-vmss000001"), ("seed-deployment", "aks-nodepool1-33086427-vmss000000") })
        {
            var dir = Path.Combine(AppContext.BaseDirectory, "Golden", "KubeProxy", scenario);
            var read = ManifestReader.ReadFiles([Path.Combine(dir, "objects.yaml")]);
            yield return [scenario, IptablesProxier.Sync(new KubeProxySyncInput
            {
                Services = read.Objects.OfType<Service>().ToList(), EndpointSlices = read.Objects.OfType<EndpointSlice>().ToList(),
                Nodes = read.Objects.OfType<Node>().ToList(), Hostname = node, Configuration = KubeProxyConfiguration.AksKubenet,
            })];
        }
        var lb = Svc("ns1/lb", "172.30.0.50", ServiceType.LoadBalancer, Port(80, "p80", nodePort: 3005), Port(53, "dns", Protocol.UDP, 3006))
            .With(s => s with { ExternalTrafficPolicy = TrafficPolicy.Local, HealthCheckNodePort = 30500, SessionAffinity = SessionAffinity.ClientIP,
                LoadBalancerSourceRanges = ["203.0.113.0/24", "192.168.0.0/16"], ExternalIPs = ["192.168.99.5"] })
            .WithLb("1.2.3.5");
        var slice = Slice("ns1/lb-x", "lb", [new EndpointPort("p80", Protocol.TCP, 8080), new EndpointPort("dns", Protocol.UDP, 53)],
            Ep("10.180.0.1", node: "test-hostname"), Ep("10.180.0.2"), Ep("10.180.0.3", ready: false, serving: true, terminating: true));
        yield return ["every feature, nfacct 1.31", Sync([lb, Svc("ns1/empty", "172.30.0.51", ServiceType.NodePort, Port(80, "p80", nodePort: 3007))], [slice],
            env: new KubeProxyEnvironment { Version = KubeProxyVersion.V1_31, NfacctCountersAvailable = true })];
    }

    [Theory, MemberData(nameof(Syncs))]
    public void Save_view_parses_round_trips_and_is_canonical(string name, KubeProxySyncResult sync)
    {
        _ = name;
        var (text, parsed) = KubeProxyNodeRules.Build(sync, "node/test");
        Assert.False(parsed.HasErrors, string.Join("\n", parsed.Diagnostics));
        Assert.Equal(text, IptablesSaveWriter.Write(parsed.RuleSet));
        foreach (var t in parsed.RuleSet.Tables)
            foreach (var c in t.Chains)
                foreach (var r in c.Rules)
                    Assert.Equal(r.Text, IptablesSaveWriter.WriteCanonicalRule(r));
    }

    [Theory, MemberData(nameof(Syncs))]
    public void Netfilter_SaveView_of_the_payload_gives_the_same_chains(string name, KubeProxySyncResult sync)
    {
        _ = name;
        var before = IptablesSaveReader.Read(NodeIptablesView.AfterSync(sync with { RestorePayload = "" }).Save(), "before");
        var payload = IptablesSaveReader.Read(sync.RestorePayload, "payload");
        Assert.False(payload.HasErrors, string.Join("\n", payload.Diagnostics));
        var theirs = SaveView.AfterRestore(payload.RuleSet, before.RuleSet);
        var mine = IptablesSaveReader.Read(NodeIptablesView.AfterSync(sync).Save(), "mine").RuleSet;
        foreach (var table in new[] { "filter", "nat", "mangle" })
        {
            var a = mine.Table(table)!;
            var b = theirs.Table(table)!;
            Assert.Equal(a.Chains.Select(c => c.Name), b.Chains.Select(c => c.Name));
            foreach (var c in a.Chains)
                Assert.Equal(c.Rules.Select(r => r.Text), b.Chain(c.Name)!.Rules.Select(IptablesSaveWriter.WriteCanonicalRule));
        }
    }
}
