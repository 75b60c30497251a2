using PacketLife.App.Rendering;
using PacketLife.Manifests;

namespace PacketLife.Tests.Cluster;

public class KubectlVerbTests
{
    const string WebApp = """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web, labels: {app: web}}
        spec:
          replicas: 3
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec:
              containers:
              - name: web
                image: nginx:1.27.3
                ports: [{containerPort: 8080, name: http}, {containerPort: 8443, name: https}]
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: web}
        spec:
          type: LoadBalancer
          externalTrafficPolicy: Local
          sessionAffinity: ClientIP
          selector: {app: web}
          ports:
          - {name: http, port: 80, targetPort: http}
          - {name: https, port: 443, targetPort: https}
        """;

    [Fact]
    public void Apply_resolves_named_target_ports_into_endpoint_slices_and_describe()
    {
        using var h = new CliTestHost();
        var f = h.File("web.yaml", WebApp);
        var r = h.Run($"kubectl apply -f {f}");
        Assert.Equal((0, "deployment.apps/web created\nservice/web created\n"), (r.Code, r.Out));
        var slices = StateFile.Load(h.StatePath)!.EndpointSlices.Where(e => e.ServiceName == "web").ToList();
        var slice = Assert.Single(slices);
        Assert.Equal([("http", 8080), ("https", 8443)], slice.Ports.Select(p => (p.Name!, p.Port!.Value)));
        Assert.Equal(3, slice.Endpoints.Count);
        Assert.All(slice.Endpoints, e => Assert.True(e.Conditions.Ready));

        var d = h.Run("kubectl describe svc web").Out;
        Assert.Contains("Port:                     http  80/TCP\n", d);
        Assert.Contains("TargetPort:               http/TCP\n", d);
        Assert.Contains("Session Affinity:         ClientIP\n", d);
        Assert.Contains("External Traffic Policy:  Local\n", d);
        Assert.Matches(@"HealthCheck NodePort:     3\d{4}\n", d);
        Assert.Matches(@"Endpoints:                10\.244\.\d+\.\d+:8080,10\.244\.\d+\.\d+:8080,10\.244\.\d+\.\d+:8080\n", d);

        var ep = h.Run("kubectl get ep web").Out.Split('\n')[1];
        Assert.Matches(@"^web    (10\.244\.\d+\.\d+:8080,){2}10\.244\.\d+\.\d+:8080 \+ 3 more\.\.\.   \d+s$", ep);
    }

    [Fact]
    public void Get_yaml_output_applies_back_unchanged_and_a_change_is_configured()
    {
        using var h = new CliTestHost();
        Assert.Equal(0, h.Run($"kubectl apply -f {h.File("web.yaml", WebApp)}").Code);
        var svcYaml = h.Run("kubectl get svc web -o yaml").Out;
        var deployJson = h.Run("kubectl get deploy web -o json").Out;
        var r1 = h.Run($"kubectl apply -f {h.File("svc.yaml", svcYaml)}");
        Assert.Equal((0, "service/web unchanged\n", ""), r1);
        var r2 = h.Run($"kubectl apply -f {h.File("deploy.json", deployJson)}");
        Assert.Equal((0, "deployment.apps/web unchanged\n", ""), r2);
        var r3 = h.Run($"kubectl apply -f {h.File("svc2.yaml", svcYaml.Replace("sessionAffinity: ClientIP", "sessionAffinity: None"))}");
        Assert.Equal((0, "service/web configured\n"), (r3.Code, r3.Out));
        // The Service keeps its ClusterIP and NodePorts across the update.
        Assert.Equal(svcYaml.Split('\n').First(l => l.Contains("clusterIP:")), h.Run("kubectl get svc web -o yaml").Out.Split('\n').First(l => l.Contains("clusterIP:")));
    }

    [Fact]
    public void Scaling_creates_and_removes_pods_with_generated_names()
    {
        using var h = new CliTestHost();
        Assert.Equal((0, "deployment.apps/nginx created\n", ""), h.Run("kubectl create deploy nginx --image=nginx --port=80 --replicas=2"));
        Assert.Equal((0, "deployment.apps/nginx scaled\n", ""), h.Run("kubectl scale deploy nginx --replicas=3"));
        var names = h.Run("kubectl get po -l app=nginx -o name").Out.Trim().Split('\n');
        Assert.Equal(3, names.Length);
        Assert.All(names, n => Assert.Matches("^pod/nginx-[5-9bcdf][4-9bcdf]{5,9}-[bcdfghjklmnpqrstvwxz2456789]{5}$", n));
        Assert.Single(names.Select(n => n.Split('-')[1]).Distinct()); // one ReplicaSet
        Assert.Equal(0, h.Run("kubectl scale deploy nginx --replicas=1").Code);
        Assert.Single(h.Run("kubectl get po -l app=nginx -o name").Out.Trim().Split('\n'));
        var deploy = h.Run("kubectl get deploy nginx").Out;
        Assert.Equal("NAME    READY   UP-TO-DATE   AVAILABLE   AGE\nnginx   1/1     1            1           0s\n", deploy);
        Assert.Equal((0, "deployment.apps \"nginx\" deleted\n", ""), h.Run("kubectl delete deploy nginx"));
        Assert.Equal("No resources found in default namespace.\n", h.Run("kubectl get po -l app=nginx").Err);
        Assert.Equal("No resources found in default namespace.\n", h.Run("kubectl get rs").Err);
    }

    [Fact]
    public void Ages_grow_between_invocations()
    {
        using var h = new CliTestHost();
        Assert.Equal(0, h.Run("kubectl run nginx --image=nginx --port=80").Code);
        string Age() => h.Run("kubectl get po nginx").Out.Split('\n')[1].Split(' ', StringSplitOptions.RemoveEmptyEntries)[^1];
        Assert.Equal("0s", Age());
        h.Clock.Advance(TimeSpan.FromSeconds(322)); Assert.Equal("5m22s", Age());
        h.Clock.Advance(TimeSpan.FromMinutes(67)); Assert.Equal("72m", Age());
        h.Clock.Advance(TimeSpan.FromMinutes(112)); Assert.Equal("3h4m", Age());
    }

    [Fact]
    public void Same_seed_gives_the_same_cluster_and_allocations()
    {
        string Run()
        {
            using var h = new CliTestHost(init: false);
            Assert.Equal(0, h.Run("cluster init --seed 42 --nodes 3").Code);
            Assert.Equal(0, h.Run("kubectl create deploy nginx --image=nginx --port=80 --replicas=3").Code);
            Assert.Equal(0, h.Run("kubectl expose deploy nginx --type=LoadBalancer").Code);
            return h.Run("kubectl get svc -o wide").Out + h.Run("kubectl get po -o wide").Out + h.Run("kubectl get no -o wide").Out;
        }
        var a = Run();
        Assert.Equal(a, Run());
        Assert.Contains("vmss000002", a);
    }

    [Fact]
    public void All_namespaces_adds_the_namespace_column_and_kube_system_objects()
    {
        using var h = new CliTestHost();
        var svc = h.Run("kubectl get svc -A").Out.Split('\n');
        Assert.StartsWith("NAMESPACE     NAME             TYPE        CLUSTER-IP", svc[0]);
        Assert.StartsWith("kube-system   kube-dns         ClusterIP   10.0.0.10     <none>        53/UDP,53/TCP", svc[2]);
        var ep = h.Run("kubectl get ep -n kube-system kube-dns").Out.Split('\n')[1];
        // formatEndpoints walks ports, then addresses: 2 CoreDNS pods x (53/UDP, 53/TCP) = 4 entries.
        Assert.Matches(@"^kube-dns   10\.244\.\d+\.\d+:53,10\.244\.\d+\.\d+:53,10\.244\.\d+\.\d+:53 \+ 1 more\.\.\.   \d+m$", ep);
        Assert.Equal("node/aks-nodepool1-33086427-vmss000000\nnode/aks-nodepool1-33086427-vmss000001\n", h.Run("kubectl get no -o name").Out);
    }

    [Fact]
    public async Task Two_invocations_at_once_never_lose_an_update()
    {
        using var h = new CliTestHost();
        var codes = await Task.WhenAll(Enumerable.Range(0, 6).Select(i => Task.Run(() => h.Run($"kubectl run p{i} --image=nginx").Code)));
        Assert.All(codes, c => Assert.Equal(0, c));
        Assert.Equal(6, StateFile.Load(h.StatePath)!.Pods.Count(p => p.Metadata.Name.StartsWith('p')));
    }

    [Fact]
    public void Import_reads_real_objects_reports_unmodelled_fields_and_keeps_their_endpoints()
    {
        using var h = new CliTestHost();
        var f = h.File("real.yaml", """
            apiVersion: v1
            kind: List
            items:
            - apiVersion: v1
              kind: Service
              metadata: {name: api, namespace: prod, uid: 3ec62707-b798-4263-9e55-00b53b299d0f, managedFields: []}
              spec:
                type: LoadBalancer
                clusterIP: 10.0.147.49
                selector: {app: api}
                ports: [{port: 80, targetPort: 8080, nodePort: 32642, protocol: TCP}]
              status: {loadBalancer: {ingress: [{ip: 74.241.154.123, ipMode: VIP}]}}
            - apiVersion: discovery.k8s.io/v1
              kind: EndpointSlice
              metadata: {name: api-x7k2p, namespace: prod, labels: {kubernetes.io/service-name: api, endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io}}
              addressType: IPv4
              endpoints: [{addresses: [10.244.1.6], conditions: {ready: true}, nodeName: n1}]
              ports: [{port: 8080, protocol: TCP, name: ""}]
            - apiVersion: v1
              kind: ConfigMap
              metadata: {name: cfg}
            """);
        var r = h.Run($"cluster import {f}");
        Assert.Equal(0, r.Code);
        Assert.True(r.Err.Contains("real.yaml:6:85: warning PL3003: field items[0].metadata.managedFields is not modelled; ignored"), r.Err);
        Assert.Contains("kind ConfigMap (v1) is not modelled", r.Err);
        Assert.Equal("imported 1 EndpointSlice, 1 Service (1 fields not modelled, listed above)\n", r.Out);
        // A later verb runs the controllers: the imported endpoints and the real public IP stay.
        Assert.Equal(0, h.Run("kubectl run other --image=nginx").Code);
        Assert.StartsWith("NAME   ENDPOINTS         AGE", h.Run("kubectl get ep -n prod").Out);
        Assert.Contains("10.244.1.6:8080", h.Run("kubectl get ep -n prod").Out);
        Assert.Contains("74.241.154.123   80:32642/TCP", h.Run("kubectl get svc -n prod").Out);
        Assert.Contains("a3ec62707b79842639e5500b53b299d0-TCP-80", h.Run("az network lb probe list -g mc_rg_aks_swedencentral --lb-name kubernetes -o table").Out);
    }
}

/// <summary>Layout engines against the exact examples in facts azure-aks.md §4.4 and §5.</summary>
public class LayoutSpecTests
{
    [Fact]
    public void Kubectl_tabwriter_pads_columns_to_widest_plus_3_and_leaves_the_last_unpadded()
    {
        var w = KubectlTabWriter.ForGet();
        w.Row(["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]);
        w.Row(["kubernetes", "ClusterIP", "10.0.0.1", "<none>", "443/TCP", "49m"]);
        w.Row(["nginx", "LoadBalancer", "10.0.216.132", "<pending>", "80:32642/TCP", "2s"]);
        Assert.Equal("""
            NAME         TYPE           CLUSTER-IP     EXTERNAL-IP   PORT(S)        AGE
            kubernetes   ClusterIP      10.0.0.1       <none>        443/TCP        49m
            nginx        LoadBalancer   10.0.216.132   <pending>     80:32642/TCP   2s

            """.Replace("\r\n", "\n"), w.ToString());
    }

    [Fact]
    public void Az_table_sorts_keys_drops_id_type_etag_and_non_scalars_and_appends_late_columns()
    {
        var rows = new System.Text.Json.Nodes.JsonArray(
            new System.Text.Json.Nodes.JsonObject { ["name"] = "a3ec62707b79842639e5500b53b299d0-TCP-80", ["protocol"] = "Tcp", ["port"] = 32642, ["intervalInSeconds"] = 5, ["numberOfProbes"] = 2, ["probeThreshold"] = 2, ["provisioningState"] = "Succeeded", ["resourceGroup"] = "mc_rg_aks_swedencentral", ["id"] = "/x", ["etag"] = "e", ["type"] = "t", ["loadBalancingRules"] = new System.Text.Json.Nodes.JsonArray() },
            new System.Text.Json.Nodes.JsonObject { ["name"] = "a1b2c3d4e5f60718293a4b5c6d7e8f90-TCP-31934", ["protocol"] = "Http", ["port"] = 31934, ["intervalInSeconds"] = 5, ["numberOfProbes"] = 2, ["probeThreshold"] = 2, ["provisioningState"] = "Succeeded", ["resourceGroup"] = "mc_rg_aks_swedencentral", ["requestPath"] = "/healthz" });
        Assert.Equal("""
            IntervalInSeconds    Name                                        NumberOfProbes    Port    ProbeThreshold    Protocol    ProvisioningState    ResourceGroup            RequestPath
            -------------------  ------------------------------------------  ----------------  ------  ----------------  ----------  -------------------  -----------------------  -------------
            5                    a3ec62707b79842639e5500b53b299d0-TCP-80     2                 32642   2                 Tcp         Succeeded            mc_rg_aks_swedencentral
            5                    a1b2c3d4e5f60718293a4b5c6d7e8f90-TCP-31934  2                 31934   2                 Http        Succeeded            mc_rg_aks_swedencentral  /healthz

            """.Replace("\r\n", "\n"), AzOutput.Table(rows, sortKeys: true));
    }

    [Fact]
    public void Describe_matches_the_documented_layout()
    {
        using var h = new CliTestHost();
        Assert.Equal(0, h.Run("kubectl run nginx --image=nginx --port=80").Code);
        Assert.Equal(0, h.Run("kubectl expose po nginx --type=LoadBalancer").Code);
        h.Clock.Advance(TimeSpan.FromMinutes(2));
        var lines = h.Run("kubectl describe svc nginx").Out.Split('\n');
        Assert.Equal(["Name:                     nginx", "Namespace:                default", "Labels:                   run=nginx", "Annotations:              <none>",
            "Selector:                 run=nginx", "Type:                     LoadBalancer", "IP Family Policy:         SingleStack", "IP Families:              IPv4"], lines[..8]);
        Assert.Equal(["Events:", "  Type    Reason                Age   From                Message", "  ----    ------                ----  ----                -------",
            "  Normal  EnsuringLoadBalancer  2m    service-controller  Ensuring load balancer", "  Normal  EnsuredLoadBalancer   2m    service-controller  Ensured load balancer", ""], lines[^6..]);
    }
}

public class SeedFlagTests
{
    [Fact]
    public void Seed_flag_on_a_verb_reproduces_its_random_choices()
    {
        string Expose(bool extraDraws, string seed)
        {
            using var h = new CliTestHost();
            Assert.Equal(0, h.Run("kubectl run nginx --image=nginx --port=80").Code);
            // Without --seed, earlier random draws would change what expose allocates.
            if (extraDraws) Assert.Equal(0, h.Run("kubectl create deploy other --image=nginx --replicas=3").Code);
            Assert.Equal(0, h.Run($"kubectl expose po nginx --type=LoadBalancer {seed}").Code);
            return h.Run("kubectl get svc nginx -o wide").Out.Split('\n')[1].Split("   ", StringSplitOptions.RemoveEmptyEntries)[2..5].Aggregate((a, b) => a + "|" + b);
        }
        Assert.Equal(Expose(false, "--seed 31148"), Expose(true, "--seed 31148"));
        Assert.NotEqual(Expose(false, ""), Expose(true, ""));
        using var h2 = new CliTestHost();
        Assert.Equal("error: invalid argument \"x\" for \"--seed\" flag: strconv.ParseUint: parsing \"x\": invalid syntax\n", h2.Run("kubectl get svc --seed x").Err);
    }
}

public class ImportWorkloadTests
{
    [Fact]
    public void Imported_deployment_keeps_its_real_replicaset_and_pods_when_controllers_run_later()
    {
        using var h = new CliTestHost();
        var f = h.File("real.json", """
            {"apiVersion":"v1","kind":"List","items":[
             {"apiVersion":"v1","kind":"Node","metadata":{"name":"aks-nodepool1-14217322-vmss000000"},"spec":{"podCIDR":"10.244.2.0/24"},
              "status":{"addresses":[{"type":"InternalIP","address":"10.224.0.9"}],"conditions":[{"type":"Ready","status":"True"}],
                        "nodeInfo":{"kubeletVersion":"v1.29.7","osImage":"Ubuntu 22.04.4 LTS","kernelVersion":"5.15.0-1071-azure","containerRuntimeVersion":"containerd://1.7.20-1"}}},
             {"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"api","namespace":"default","uid":"11111111-1111-4111-8111-111111111111"},
              "spec":{"replicas":1,"selector":{"matchLabels":{"app":"api"}},"template":{"metadata":{"labels":{"app":"api"}},"spec":{"containers":[{"name":"api","image":"api:1"}]}}}},
             {"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":"api-7cd7f56848","namespace":"default","uid":"22222222-2222-4222-8222-222222222222",
               "labels":{"app":"api","pod-template-hash":"7cd7f56848"},
               "ownerReferences":[{"apiVersion":"apps/v1","kind":"Deployment","name":"api","uid":"11111111-1111-4111-8111-111111111111","controller":true}]},
              "spec":{"replicas":1,"selector":{"matchLabels":{"app":"api","pod-template-hash":"7cd7f56848"}},"template":{"metadata":{"labels":{"app":"api","pod-template-hash":"7cd7f56848"}},"spec":{"containers":[{"name":"api","image":"api:1"}]}}}},
             {"apiVersion":"v1","kind":"Pod","metadata":{"name":"api-7cd7f56848-fcvv7","namespace":"default","labels":{"app":"api","pod-template-hash":"7cd7f56848"},
               "ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"api-7cd7f56848","uid":"22222222-2222-4222-8222-222222222222","controller":true}]},
              "spec":{"nodeName":"aks-nodepool1-14217322-vmss000000","containers":[{"name":"api","image":"api:1"}]},
              "status":{"phase":"Running","podIP":"10.244.2.7","conditions":[{"type":"Ready","status":"True"}]}}
            ]}
            """);
        var r = h.Run($"cluster import --replace {f}");
        Assert.Equal((0, "imported 1 Deployment, 1 Node, 1 Pod, 1 ReplicaSet\n", ""), r);
        Assert.Equal(0, h.Run("kubectl expose deploy api --port=80 --target-port=8080").Code);
        Assert.Equal("pod/api-7cd7f56848-fcvv7\n", h.Run("kubectl get po -o name").Out);
        Assert.Equal("replicaset.apps/api-7cd7f56848\n", h.Run("kubectl get rs -o name").Out);
        Assert.Contains("10.244.2.7:8080", h.Run("kubectl get ep api").Out);
        Assert.EndsWith("aks-nodepool1-14217322-vmss000000   Ready    <none>   <unknown>   v1.29.7\n", h.Run("kubectl get no").Out); // no creationTimestamp in the import
        // Applying a new template takes the Deployment over: the simulated controller rolls it out.
        Assert.Equal(0, h.Run($"kubectl apply -f {h.File("d.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api}\nspec:\n  replicas: 2\n  selector: {matchLabels: {app: api}}\n  template:\n    metadata: {labels: {app: api}}\n    spec: {containers: [{name: api, image: 'api:2'}]}\n")}").Code);
        var pods = h.Run("kubectl get po -o name").Out.Trim().Split('\n');
        Assert.Equal(2, pods.Length);
        Assert.DoesNotContain("pod/api-7cd7f56848-fcvv7", pods);
    }
}

public class MultiKindGetTests
{
    [Fact]
    public void Get_of_several_kinds_prints_one_table_each_with_kind_prefixed_names()
    {
        using var h = new CliTestHost();
        Assert.Equal(0, h.Run("kubectl run nginx --image=nginx --port=80").Code);
        var lines = h.Run("kubectl get po,svc").Out.Split('\n');
        Assert.StartsWith("NAME        READY   STATUS    RESTARTS   AGE", lines[0]);
        Assert.StartsWith("pod/nginx   1/1     Running   0          0s", lines[1]);
        Assert.Equal("", lines[2]);
        Assert.StartsWith("NAME                 TYPE        CLUSTER-IP   EXTERNAL-IP   PORT(S)   AGE", lines[3]);
        Assert.StartsWith("service/kubernetes   ClusterIP   10.0.0.1     <none>        443/TCP", lines[4]);
        Assert.Equal("pod/nginx\nservice/kubernetes\n", h.Run("kubectl get po,svc -o name").Out);
    }
}

public class ApplyListTests
{
    [Fact]
    public void A_whole_namespace_dumped_as_yaml_applies_back_without_changing_the_workloads()
    {
        using var h = new CliTestHost();
        Assert.Equal(0, h.Run("kubectl create deploy web --image=nginx --port=80 --replicas=2").Code);
        Assert.Equal(0, h.Run("kubectl expose deploy web --type=NodePort").Code);
        var dump = h.Run("kubectl get deploy,rs,po,svc,endpointslices -o yaml").Out;
        var pods = h.Run("kubectl get po -o name").Out;
        var r = h.Run($"kubectl apply -f {h.File("all.yaml", dump)}");
        Assert.Equal(0, r.Code);
        Assert.Contains("deployment.apps/web unchanged\n", r.Out);
        Assert.Contains("service/web unchanged\n", r.Out);
        Assert.Equal(pods, h.Run("kubectl get po -o name").Out);
        // The ReplicaSet stays under the simulated controller: scaling still works.
        Assert.Equal(0, h.Run("kubectl scale deploy web --replicas=3").Code);
        Assert.Equal(3, h.Run("kubectl get po -l app=web -o name").Out.Trim().Split('\n').Length);
    }
}
