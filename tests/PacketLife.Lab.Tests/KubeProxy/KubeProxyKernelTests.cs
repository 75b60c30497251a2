using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using PacketLife.Core.Cluster;
using PacketLife.Core.KubeProxy;
using PacketLife.Manifests;
using Xunit.Abstractions;

namespace PacketLife.Lab.Tests.KubeProxy;

/// <summary>The proof against the real kernel: in a fresh network namespace (created and deleted by its exact
/// name `plt-XXXXXXXX`), do what kubelet and kube-proxy do on a clean node (canary chains in mangle, nat,
/// filter; the jump rules with `iptables -C` / `-I`; the payload with `iptables-restore --noflush --counters`),
/// then `iptables-legacy-save` must print exactly what `--format save` predicts (minus its timestamped
/// `#` lines). Needs root and iptables-legacy; otherwise each test prints why it did not run.</summary>
public class KubeProxyKernelTests(ITestOutputHelper output)
{
    internal static string? WhyNot()
    {
        if (!OperatingSystem.IsLinux()) return "not Linux";
        if (Environment.UserName != "root" && Environment.GetEnvironmentVariable("USER") != "root" && !IsRoot()) return "not root";
        foreach (var tool in new[] { "ip", "iptables-legacy", "iptables-legacy-restore", "iptables-legacy-save", "ip6tables-legacy", "ip6tables-legacy-restore", "ip6tables-legacy-save" })
            if (!new[] { "/usr/sbin", "/sbin", "/usr/bin", "/bin" }.Any(d => File.Exists(Path.Combine(d, tool))))
                return $"{tool} is missing (apt-get install -y iptables iproute2)";
        return null;
    }

    static bool IsRoot()
    {
        try { return File.ReadAllLines("/proc/self/status").Any(l => l.StartsWith("Uid:") && l.Split('\t', StringSplitOptions.RemoveEmptyEntries)[1] == "0"); }
        catch (IOException) { return false; }
    }

    static string GoldenDir([CallerFilePath] string here = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(here)!, "..", "..", "PacketLife.Tests", "Golden", "KubeProxy"));

    (int Code, string Out, string Err) Exec(string? stdin, params string[] argv)
    {
        var psi = new ProcessStartInfo(argv[0]) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = stdin is not null };
        foreach (var a in argv[1..]) psi.ArgumentList.Add(a);
        output.WriteLine("$ " + string.Join(' ', argv));
        using var p = Process.Start(psi)!;
        if (stdin is not null) { p.StandardInput.Write(stdin); p.StandardInput.Close(); }
        var o = p.StandardOutput.ReadToEndAsync();
        var e = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        return (p.ExitCode, o.Result, e.Result);
    }

    /// <summary>Runs <paramref name="body"/> with a fresh namespace, always deleting it by its exact name.</summary>
    void InNamespace(Action<string> body)
    {
        string ns = "plt-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));
        var add = Exec(null, "ip", "netns", "add", ns);
        Assert.True(add.Code == 0, add.Err);
        try { body(ns); }
        finally { Exec(null, "ip", "netns", "del", ns); }
    }

    /// <summary>kubelet's and kube-proxy's start-up (<see cref="NodeStartup"/>) on a clean node, then one full sync;
    /// with <paramref name="firstSync"/> false only kube-proxy's part (a resync on a node that has run before).</summary>
    string LoadLikeANode(string ns, KubeProxySyncResult sync, bool firstSync = true)
    {
        string ipt = sync.Family == IpFamily.IPv6 ? "ip6tables-legacy" : "iptables-legacy";
        foreach (var op in firstSync ? NodeStartup.Operations(sync) : NodeStartup.KubeProxy(sync))
        {
            switch (op)
            {
                case EnsureChainOp c:
                    // -N fails with "Chain already exists", which EnsureChain accepts
                    Exec(null, "ip", "netns", "exec", ns, ipt, "-w", "-t", c.Table, "-N", c.Chain);
                    break;
                case EnsureRuleOp r:
                    string[] rule = [r.Chain, .. SaveRuleFormatter.Tokenize(r.Spec)];
                    if (Exec(null, ["ip", "netns", "exec", ns, ipt, "-w", "-t", r.Table, "-C", .. rule]).Code != 0)
                        Check(Exec(null, ["ip", "netns", "exec", ns, ipt, "-w", "-t", r.Table, r.Prepend ? "-I" : "-A", .. rule]));
                    break;
            }
        }
        Check(Exec(sync.RestorePayload, "ip", "netns", "exec", ns, ipt + "-restore", "-w", "--noflush", "--counters"));
        var save = Exec(null, "ip", "netns", "exec", ns, ipt + "-save");
        Check(save);
        return string.Join("", save.Out.Split('\n').Where(l => l.Length > 0 && l[0] != '#').Select(l => l + "\n"));
    }

    static void Check((int Code, string Out, string Err) r) => Assert.True(r.Code == 0, r.Err);

    void AssertKernelPrintsPrediction(KubeProxySyncResult sync)
    {
        Assert.DoesNotContain(sync.Diagnostics, d => d.Severity == PacketLife.Core.Diagnostics.Severity.Error);
        var predicted = NodeIptablesView.AfterSync(sync).Save();
        InNamespace(ns =>
        {
            var actual = LoadLikeANode(ns, sync);
            if (actual != predicted)
            {
                output.WriteLine("--- predicted\n" + predicted + "--- kernel\n" + actual);
                var p = predicted.Split('\n');
                var a = actual.Split('\n');
                foreach (var l in p.Except(a)) output.WriteLine("only predicted: " + l);
                foreach (var l in a.Except(p)) output.WriteLine("only kernel:    " + l);
            }
            Assert.Equal(predicted, actual);
        });
    }

    public static TheoryData<string, string> SeedCases => new()
    {
        { "seed-pod", "aks-nodepool1-33086427-vmss000001" },
        { "seed-deployment", "aks-nodepool1-33086427-vmss000000" },
    };

    [LegacyIptablesTheory, MemberData(nameof(SeedCases))]
    public void Seed_cluster_payload_loads_and_iptables_save_prints_the_prediction(string scenario, string node)
    {
        var read = ManifestReader.ReadFiles([Path.Combine(GoldenDir(), scenario, "objects.yaml")]);
        var sync = IptablesProxier.Sync(new KubeProxySyncInput
        {
            Services = read.Objects.OfType<Service>().ToList(),
            EndpointSlices = read.Objects.OfType<EndpointSlice>().ToList(),
            Nodes = read.Objects.OfType<Node>().ToList(),
            Hostname = node,
            Configuration = KubeProxyConfiguration.AksKubenet,
        });
        AssertKernelPrintsPrediction(sync);
    }

    static ServicePort P(int port, string name = "p80", Protocol proto = Protocol.TCP, int nodePort = 0) =>
        new() { Name = name, Port = port, Protocol = proto, NodePort = nodePort };
    static Service S(string name, string ip, ServiceType type, params ServicePort[] ports) =>
        new() { Metadata = new ObjectMeta { Namespace = "ns", Name = name }, Spec = new ServiceSpec { Type = type, ClusterIP = ip, Ports = ports } };
    static EndpointSlice E(string svc, EndpointPort[] ports, params (string Ip, string? Node, bool? Ready, bool? Serving, bool? Term)[] eps) => new()
    {
        Metadata = new ObjectMeta { Namespace = "ns", Name = svc + "-x", Labels = new Dictionary<string, string> { ["kubernetes.io/service-name"] = svc } },
        Ports = ports,
        Endpoints = eps.Select(e => new Endpoint { Addresses = [e.Ip], NodeName = e.Node, Conditions = new EndpointConditions(e.Ready, e.Serving, e.Term) }).ToArray(),
    };
    static EndpointPort[] Tcp80 => [new EndpointPort("p80", Protocol.TCP, 8080)];

    /// <summary>Every feature of the spec tables in one node's sync.</summary>
    static (List<Service>, List<EndpointSlice>) AllFeatures()
    {
        var lb = new ServiceStatus { LoadBalancerIngress = [new LoadBalancerIngress("203.0.113.10")] };
        var svcs = new List<Service>
        {
            S("cip", "10.0.0.11", ServiceType.ClusterIP, P(80)),
            S("np", "10.0.0.12", ServiceType.NodePort, P(80, nodePort: 30012)),
            S("lb-local", "10.0.0.13", ServiceType.LoadBalancer, P(80, nodePort: 30013), P(443, "p443", nodePort: 30014)) with
                { Status = lb },
            S("ext", "10.0.0.14", ServiceType.ClusterIP, P(80)),
            S("affinity", "10.0.0.15", ServiceType.ClusterIP, P(80)),
            S("ranges", "10.0.0.16", ServiceType.LoadBalancer, P(80, nodePort: 30016)) with { Status = new ServiceStatus { LoadBalancerIngress = [new LoadBalancerIngress("203.0.113.16")] } },
            S("empty", "10.0.0.17", ServiceType.LoadBalancer, P(80, nodePort: 30017)) with { Status = new ServiceStatus { LoadBalancerIngress = [new LoadBalancerIngress("203.0.113.17")] } },
            S("itp", "10.0.0.18", ServiceType.ClusterIP, P(80)),
            S("itp-remote", "10.0.0.19", ServiceType.ClusterIP, P(80)),
            S("dns", "10.0.0.20", ServiceType.ClusterIP, P(53, "dns", Protocol.UDP)),
            S("sctp", "10.0.0.21", ServiceType.ClusterIP, P(80, "p80", Protocol.SCTP)),
            S("terminating", "10.0.0.22", ServiceType.NodePort, P(80, nodePort: 30022)),
        };
        svcs[2] = svcs[2] with { Spec = svcs[2].Spec with { ExternalTrafficPolicy = TrafficPolicy.Local, HealthCheckNodePort = 32000 } };
        svcs[3] = svcs[3] with { Spec = svcs[3].Spec with { ExternalIPs = ["198.51.100.14"] } };
        svcs[4] = svcs[4] with { Spec = svcs[4].Spec with { SessionAffinity = SessionAffinity.ClientIP } };
        svcs[5] = svcs[5] with { Spec = svcs[5].Spec with { LoadBalancerSourceRanges = ["198.51.100.0/24", "10.224.0.0/16"] } };
        svcs[7] = svcs[7] with { Spec = svcs[7].Spec with { InternalTrafficPolicy = TrafficPolicy.Local } };
        svcs[8] = svcs[8] with { Spec = svcs[8].Spec with { InternalTrafficPolicy = TrafficPolicy.Local } };
        svcs[11] = svcs[11] with { Spec = svcs[11].Spec with { ExternalTrafficPolicy = TrafficPolicy.Local } };
        const string me = "node0";
        var slices = new List<EndpointSlice>
        {
            E("cip", Tcp80, ("10.244.0.2", me, null, null, null), ("10.244.1.2", "node1", null, null, null), ("10.244.1.11", "node1", null, null, null)),
            E("np", Tcp80, ("10.244.1.3", "node1", null, null, null)),
            E("lb-local", [new EndpointPort("p80", Protocol.TCP, 8080), new EndpointPort("p443", Protocol.TCP, 8443)],
                ("10.244.0.4", me, null, null, null), ("10.244.1.4", "node1", null, null, null)),
            E("ext", Tcp80, ("10.244.1.5", "node1", null, null, null)),
            E("affinity", Tcp80, ("10.244.0.6", me, null, null, null), ("10.244.1.6", "node1", null, null, null)),
            E("ranges", Tcp80, ("10.244.1.7", "node1", null, null, null)),
            E("itp", Tcp80, ("10.244.0.8", me, null, null, null), ("10.244.1.8", "node1", null, null, null)),
            E("itp-remote", Tcp80, ("10.244.1.9", "node1", null, null, null)),
            E("dns", [new EndpointPort("dns", Protocol.UDP, 53)], ("10.244.1.10", "node1", null, null, null)),
            E("sctp", [new EndpointPort("p80", Protocol.SCTP, 80)], ("10.244.1.12", "node1", null, null, null)),
            E("terminating", Tcp80, ("10.244.0.13", me, false, true, true), ("10.244.1.13", "node1", null, null, null)),
        };
        return (svcs, slices);
    }

    public static TheoryData<string> Profiles => new() { "aks-kubenet", "defaults-clustercidr", "no-localhost-nodeports", "nodeport-addresses" };

    [LegacyIptablesTheory, MemberData(nameof(Profiles))]
    public void Every_feature_loads_and_iptables_save_prints_the_prediction(string profile)
    {
        var (svcs, slices) = AllFeatures();
        var cfg = profile switch
        {
            "aks-kubenet" => KubeProxyConfiguration.AksKubenet,
            "defaults-clustercidr" => new KubeProxyConfiguration { ClusterCIDR = "10.244.0.0/16" },
            "no-localhost-nodeports" => KubeProxyConfiguration.AksKubenet with { Iptables = new() { LocalhostNodePorts = false, MasqueradeAll = true } },
            _ => KubeProxyConfiguration.AksKubenet with { NodePortAddresses = ["10.224.0.0/16"] },
        };
        var sync = IptablesProxier.Sync(new KubeProxySyncInput
        {
            Services = svcs, EndpointSlices = slices, Hostname = "node0", NodeIPs = ["10.224.0.4"], Configuration = cfg,
        });
        AssertKernelPrintsPrediction(sync);
    }

    [LegacyIptablesFact]
    public void IPv6_proxier_payload_loads_with_ip6tables_and_ip6tables_save_prints_the_prediction()
    {
        var lb = new ServiceStatus { LoadBalancerIngress = [new LoadBalancerIngress("2001:db8::10")] };
        var svcs = new List<Service>
        {
            S("v6", "fd00:10:96::11", ServiceType.LoadBalancer, P(80, nodePort: 30080)) with { Status = lb },
            S("v6-affinity", "fd00:10:96::12", ServiceType.ClusterIP, P(80)),
            S("v6-empty", "fd00:10:96::13", ServiceType.NodePort, P(80, nodePort: 30081)),
            S("v6-ranges", "fd00:10:96::14", ServiceType.LoadBalancer, P(80, nodePort: 30082)) with { Status = new ServiceStatus { LoadBalancerIngress = [new LoadBalancerIngress("2001:db8::14")] } },
        };
        svcs[0] = svcs[0] with { Spec = svcs[0].Spec with { ExternalTrafficPolicy = TrafficPolicy.Local, HealthCheckNodePort = 32001 } };
        svcs[1] = svcs[1] with { Spec = svcs[1].Spec with { SessionAffinity = SessionAffinity.ClientIP } };
        svcs[3] = svcs[3] with { Spec = svcs[3].Spec with { LoadBalancerSourceRanges = ["2001:db8:1::/48"] } };
        EndpointSlice V6(EndpointSlice e) => e with { AddressType = "IPv6" };
        var slices = new List<EndpointSlice>
        {
            V6(E("v6", Tcp80, ("fd00:10:244::2", "node0", null, null, null), ("fd00:10:244:1::2", "node1", null, null, null))),
            V6(E("v6-affinity", Tcp80, ("fd00:10:244::3", "node0", null, null, null))),
            V6(E("v6-ranges", Tcp80, ("fd00:10:244:1::4", "node1", null, null, null))),
        };
        var sync = IptablesProxier.Sync(new KubeProxySyncInput
        {
            Services = svcs, EndpointSlices = slices, Hostname = "node0", NodeIPs = ["fd00:224::4"], Family = IpFamily.IPv6,
            Configuration = new KubeProxyConfiguration { ClusterCIDR = "10.244.0.0/16,fd00:10:244::/56" },
        });
        Assert.Contains("-j DNAT --to-destination [fd00:10:244::2]:8080", sync.RestorePayload);
        AssertKernelPrintsPrediction(sync);
    }

    /// <summary>A second full sync on a node that already has rules: Services and endpoints went away, so their
    /// chains are stale; the payload flushes and deletes them (`:CHAIN` + `-X`, facts §9), the jump rules already
    /// exist and are not added again, and iptables-save prints what the view predicts from the first save.</summary>
    [LegacyIptablesFact]
    public void Resync_deletes_stale_chains_and_iptables_save_prints_the_prediction()
    {
        var (svcs, slices) = AllFeatures();
        var first = IptablesProxier.Sync(new KubeProxySyncInput
        {
            Services = svcs, EndpointSlices = slices, Hostname = "node0", NodeIPs = ["10.224.0.4"], Configuration = KubeProxyConfiguration.AksKubenet,
        });
        InNamespace(ns =>
        {
            var before = LoadLikeANode(ns, first);
            // two Services deleted, one endpoint gone from "cip"
            var svcs2 = svcs.Where(s => s.Metadata.Name is not ("affinity" or "ranges")).ToList();
            var slices2 = slices.Select(s => s.Metadata.Name == "cip-x" ? s with { Endpoints = s.Endpoints.Skip(1).ToArray() } : s).ToList();
            var second = IptablesProxier.Sync(new KubeProxySyncInput
            {
                Services = svcs2, EndpointSlices = slices2, Hostname = "node0", NodeIPs = ["10.224.0.4"], Configuration = KubeProxyConfiguration.AksKubenet,
                ExistingNatChains = NodeIptablesView.NatChains(before),
            });
            Assert.Contains("\n-X KUBE-SEP-", second.RestorePayload);
            var predicted = NodeIptablesView.AfterSync(second, before).Save();
            var actual = LoadLikeANode(ns, second, firstSync: false);
            if (actual != predicted) output.WriteLine("--- predicted\n" + predicted + "--- kernel\n" + actual);
            Assert.Equal(predicted, actual);
            Assert.DoesNotContain("ns/affinity", actual);
        });
    }

    /// <summary>Why nfacct counters are off by default: in a namespace without nfacct objects (a fresh one, or
    /// a node where kube-proxy could not create them), a payload that names one does not load.</summary>
    [LegacyIptablesFact]
    public void A_payload_naming_a_missing_nfacct_counter_does_not_load()
    {
        var sync = IptablesProxier.Sync(new KubeProxySyncInput
        {
            Hostname = "node0", Configuration = KubeProxyConfiguration.AksKubenet,
            Environment = new KubeProxyEnvironment { Version = KubeProxyVersion.V1_30, NfacctCountersAvailable = true },
        });
        Assert.Contains("-m nfacct --nfacct-name ct_state_invalid_dropped_pkts", sync.RestorePayload);
        InNamespace(ns =>
        {
            var r = Exec(sync.RestorePayload, "ip", "netns", "exec", ns, "iptables-legacy-restore", "-w", "--noflush", "--counters");
            output.WriteLine(r.Err);
            Assert.NotEqual(0, r.Code);
        });
    }
}

/// <summary>Kernel facts of this file: root, Linux, the legacy iptables tools (IPv4 and IPv6); elsewhere skipped with
/// the reason printed by the runner.</summary>
public sealed class LegacyIptablesFactAttribute : FactAttribute
{
    public LegacyIptablesFactAttribute()
    {
        if (KubeProxyKernelTests.WhyNot() is { } why) Skip = why;
    }
}

public sealed class LegacyIptablesTheoryAttribute : TheoryAttribute
{
    public LegacyIptablesTheoryAttribute()
    {
        if (KubeProxyKernelTests.WhyNot() is { } why) Skip = why;
    }
}
