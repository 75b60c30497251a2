using PacketLife.Core.Cluster;
using PacketLife.Manifests;

namespace PacketLife.Tests.KubeProxy;

/// <summary>`packetlife kube-proxy sync` and `packetlife iptables-save` as a user runs them.</summary>
public class KubeProxyCliTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("pl-kp-").FullName;
    public void Dispose() => Directory.Delete(dir, recursive: true);

    static (int Code, string Out, string Err) Run(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = PacketLife.App.Program.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    string Write(string name, string text)
    {
        var p = Path.Combine(dir, name);
        File.WriteAllText(p, text);
        return p;
    }

    const string Objects = """
        apiVersion: v1
        kind: Service
        metadata: {name: web, namespace: shop}
        spec:
          type: NodePort
          clusterIP: 10.0.7.7
          ports: [{name: http, port: 80, protocol: TCP, targetPort: 8080, nodePort: 30080}]
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata:
          name: web-1
          namespace: shop
          labels: {kubernetes.io/service-name: web}
        addressType: IPv4
        endpoints:
        - addresses: [10.244.0.9]
          nodeName: n1
        ports: [{name: http, port: 8080, protocol: TCP}]
        """;

    [Fact]
    public void Sync_with_a_config_file_prints_the_payload_with_its_settings()
    {
        var objects = Write("objects.yaml", Objects);
        var cfg = Write("kube-proxy.yaml", """
            apiVersion: kubeproxy.config.k8s.io/v1alpha1
            kind: KubeProxyConfiguration
            mode: iptables
            clusterCIDR: 10.244.0.0/16
            detectLocalMode: BridgeInterface
            detectLocal:
              bridgeInterface: cbr0
            iptables:
              masqueradeBit: 15
              localhostNodePorts: false
            conntrack:
              tcpEstablishedTimeout: 24h0m0s
            """);
        var (code, stdout, stderr) = Run("kube-proxy", "sync", "--objects", objects, "--config", cfg, "--hostname", "n1", "--node-ip", "10.224.0.4");
        Assert.True(code == 0, stderr);
        var lines = stdout.Split('\n');
        Assert.Equal("*filter", lines[0]);
        Assert.Contains("-A KUBE-MARK-MASQ -j MARK --or-mark 0x00008000", lines);
        Assert.Contains("-A KUBE-SVC-" + Core.KubeProxy.ChainNames.PortProtoHash("shop/web:http", "tcp") +
            " -m comment --comment \"shop/web:http cluster IP\" -m tcp -p tcp -d 10.0.7.7 --dport 80 ! -i cbr0 -j KUBE-MARK-MASQ", lines);
        Assert.DoesNotContain(":KUBE-FIREWALL - [0:0]", lines);
    }

    [Fact]
    public void Sorted_output_orders_chains_like_kube_proxy_tests_and_save_format_prints_iptables_save()
    {
        var objects = Write("objects.yaml", Objects);
        var sorted = Run("kube-proxy", "sync", "--objects", objects, "--hostname", "n1", "--sorted");
        Assert.Equal(0, sorted.Code);
        var nat = sorted.Out.Split('\n').SkipWhile(l => l != "*nat").Skip(1).TakeWhile(l => l.StartsWith(':')).ToArray();
        Assert.Equal(":KUBE-NODEPORTS - [0:0]", nat[0]);
        Assert.Equal(":KUBE-SERVICES - [0:0]", nat[1]);
        Assert.Equal(nat[2..].Order(StringComparer.Ordinal), nat[2..]);

        var save = Run("kube-proxy", "sync", "--objects", objects, "--hostname", "n1", "--format", "save");
        Assert.Equal(0, save.Code);
        Assert.Contains("-A KUBE-NODEPORTS -p tcp -m comment --comment \"shop/web:http\" -m tcp --dport 30080 -j KUBE-EXT-" +
            Core.KubeProxy.ChainNames.PortProtoHash("shop/web:http", "tcp"), save.Out.Split('\n'));
    }

    [Fact]
    public void Existing_rules_make_stale_chains_go_away()
    {
        var objects = Write("objects.yaml", Objects);
        var existing = Write("before.iptables-save", """
            *nat
            :PREROUTING ACCEPT [0:0]
            :INPUT ACCEPT [0:0]
            :OUTPUT ACCEPT [0:0]
            :POSTROUTING ACCEPT [0:0]
            :KUBE-SEP-OLDOLDOLDOLDOLD1 - [0:0]
            :KUBE-SERVICES - [0:0]
            :KUBE-SVC-OLDOLDOLDOLDOLD1 - [0:0]
            :MY-CHAIN - [0:0]
            -A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
            -A KUBE-SEP-OLDOLDOLDOLDOLD1 -p tcp -m comment --comment "gone/svc" -m tcp -j DNAT --to-destination 10.244.9.9:80
            -A KUBE-SVC-OLDOLDOLDOLDOLD1 -m comment --comment "gone/svc -> 10.244.9.9:80" -j KUBE-SEP-OLDOLDOLDOLDOLD1
            -A MY-CHAIN -j RETURN
            COMMIT

            """);
        var restore = Run("kube-proxy", "sync", "--objects", objects, "--hostname", "n1", "--existing", existing);
        Assert.True(restore.Code == 0, restore.Err);
        var lines = restore.Out.Split('\n');
        Assert.Contains(":KUBE-SVC-OLDOLDOLDOLDOLD1 - [0:0]", lines);
        Assert.Contains("-X KUBE-SVC-OLDOLDOLDOLDOLD1", lines);
        Assert.Contains("-X KUBE-SEP-OLDOLDOLDOLDOLD1", lines);
        Assert.DoesNotContain("-X MY-CHAIN", lines);

        var save = Run("kube-proxy", "sync", "--objects", objects, "--hostname", "n1", "--existing", existing, "--format", "save", "--sorted");
        Assert.True(save.Code == 0, save.Err);
        Assert.DoesNotContain("OLDOLD", save.Out);
        Assert.Contains("-A MY-CHAIN -j RETURN", save.Out.Split('\n'));
        // the existing PREROUTING jump is not added a second time
        Assert.Single(save.Out.Split('\n'), l => l == "-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES");
    }

    [Fact]
    public void Json_input_as_kubectl_get_o_json_prints_the_same_payload_as_yaml()
    {
        var yaml = Write("objects.yaml", Objects);
        var json = Write("objects.json", """
            {"apiVersion": "v1", "kind": "List", "items": [
              {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop"},
               "spec": {"type": "NodePort", "clusterIP": "10.0.7.7",
                        "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080, "nodePort": 30080}]}},
              {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
               "metadata": {"name": "web-1", "namespace": "shop", "labels": {"kubernetes.io/service-name": "web"}},
               "addressType": "IPv4", "endpoints": [{"addresses": ["10.244.0.9"], "nodeName": "n1"}],
               "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}
            ]}
            """);
        var a = Run("kube-proxy", "sync", "--objects", yaml, "--hostname", "n1");
        var b = Run("kube-proxy", "sync", "--objects", json, "--hostname", "n1");
        Assert.Equal(0, b.Code);
        Assert.Contains("shop/web:http -> 10.244.0.9:8080", b.Out);
        Assert.Equal(a.Out, b.Out);
    }

    [Fact]
    public void Bad_objects_are_reported_on_stderr_the_rest_is_printed_and_the_exit_code_is_1()
    {
        var objects = Write("objects.yaml", Objects + """

            ---
            apiVersion: v1
            kind: Service
            metadata: {name: broken, namespace: shop}
            spec:
              clusterIP: 10.0.7.300
              ports: [{port: 80}]
            """);
        var (code, stdout, stderr) = Run("kube-proxy", "sync", "--objects", objects, "--hostname", "n1");
        Assert.Equal(1, code);
        Assert.Contains("shop/web:http cluster IP", stdout);
        Assert.DoesNotContain("Exception", stderr);
        Assert.Contains(stderr.Split('\n'), l => l.Contains("10.0.7.300"));
    }

    [Theory]
    [InlineData("missing.yaml", "the path")]
    public void Missing_files_give_a_one_line_error(string file, string message)
    {
        var (code, stdout, stderr) = Run("kube-proxy", "sync", "--objects", Path.Combine(dir, file), "--hostname", "n1");
        Assert.Equal(1, code);
        Assert.Equal("", stdout);
        Assert.Contains(message, stderr);
        Assert.Equal($"error: the path \"{Path.Combine(dir, file)}\" does not exist", stderr.Trim());
        var (code2, _, stderr2) = Run("kube-proxy", "sync", "--objects", Write("o.yaml", Objects), "--config", Path.Combine(dir, file), "--hostname", "n1");
        Assert.Equal(1, code2);
        Assert.Equal($"error: the path \"{Path.Combine(dir, file)}\" does not exist", stderr2.Trim());
    }

    [Fact]
    public void Invalid_config_file_is_reported_with_line_and_column()
    {
        var cfg = Write("kp.yaml", """
            apiVersion: kubeproxy.config.k8s.io/v1alpha1
            kind: KubeProxyConfiguration
            iptables:
              masqueradeBit: fourteen
            detectLocalMode: Pod
            """);
        var (code, stdout, stderr) = Run("kube-proxy", "sync", "--objects", Write("o.yaml", Objects), "--config", cfg, "--hostname", "n1");
        Assert.Equal(1, code);
        Assert.Contains($"{cfg}:4:18: error KP034: KubeProxyConfiguration: invalid value \"fourteen\" for iptables.masqueradeBit", stderr);
        Assert.Contains($"{cfg}:5:18: error KP034: KubeProxyConfiguration: invalid value \"Pod\" for detectLocalMode", stderr);
        Assert.Contains("--or-mark 0x00004000", stdout);
    }

    [Fact]
    public void Iptables_save_on_the_twin_shows_a_new_Service_at_once()
    {
        var state = ClusterState.EmbeddedDefault(TimeProvider.System);
        var api = new ClusterApi(state, TimeProvider.System);
        Assert.True(api.CreatePod(new Pod
        {
            Metadata = new ObjectMeta { Name = "nginx", Labels = new Dictionary<string, string> { ["run"] = "nginx" } },
            Spec = new PodSpec { Containers = [new Container { Name = "nginx", Image = "nginx", Ports = [new ContainerPort(80)] }] },
        }).Ok);
        var path = Path.Combine(dir, "cluster.json");
        StateFile.Save(path, state);
        var node = state.Nodes[0].Metadata.Name;
        var before = Run("iptables-save", "--cluster", path, "--node", node, "-t", "nat");
        Assert.True(before.Code == 0, before.Err);
        Assert.DoesNotContain("default/nginx", before.Out);

        Assert.True(api.CreateService(new Service
        {
            Metadata = new ObjectMeta { Name = "nginx" },
            Spec = new ServiceSpec { Type = ServiceType.LoadBalancer, Selector = new Dictionary<string, string> { ["run"] = "nginx" },
                Ports = [new ServicePort { Port = 80, TargetPort = IntOrString.FromInt(80) }] },
        }).Ok);
        StateFile.Save(path, state);
        var after = Run("iptables-save", "--cluster", path, "--node", node, "-t", "nat");
        Assert.True(after.Code == 0, after.Err);
        var lines = after.Out.Split('\n');
        Assert.Equal("*nat", lines[0]);
        Assert.Contains(lines, l => l.StartsWith("-A KUBE-SVC-2CMXP7HKUVJN7L6M ") && l.Contains("! -i azv+ -p tcp -m comment --comment \"default/nginx cluster IP\" -m tcp --dport 80 -j KUBE-MARK-MASQ"));
        Assert.Contains(lines, l => l.StartsWith("-A KUBE-SVC-2CMXP7HKUVJN7L6M -m comment --comment \"default/nginx -> "));
        Assert.DoesNotContain("*filter", after.Out);
    }

    [Fact]
    public void Iptables_save_for_an_unknown_node_is_an_error()
    {
        var path = Path.Combine(dir, "cluster.json");
        StateFile.Save(path, ClusterState.EmbeddedDefault(TimeProvider.System));
        var (code, _, stderr) = Run("iptables-save", "--cluster", path, "--node", "nope");
        Assert.Equal(1, code);
        Assert.Equal("Error from server (NotFound): nodes \"nope\" not found", stderr.Trim());
    }
}

public class KubeProxyVersionTests
{
    [Theory]
    [InlineData("1.27", Core.KubeProxy.KubeProxyVersion.V1_28)]
    [InlineData("1.28", Core.KubeProxy.KubeProxyVersion.V1_28)]
    [InlineData("1.29", Core.KubeProxy.KubeProxyVersion.V1_29)]
    [InlineData("1.30.6", Core.KubeProxy.KubeProxyVersion.V1_30)]
    [InlineData("v1.30.6", Core.KubeProxy.KubeProxyVersion.V1_30)]
    [InlineData("1.31", Core.KubeProxy.KubeProxyVersion.V1_31)]
    [InlineData("1.34.1", Core.KubeProxy.KubeProxyVersion.V1_31)]
    public void Release_lines(string version, Core.KubeProxy.KubeProxyVersion expected) =>
        Assert.Equal(expected, PacketLife.App.Cli.KubeProxyCommands.ParseVersion(version));
}
