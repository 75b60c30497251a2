using System.Globalization;
using PacketLife.Core.Azure;
using PacketLife.Core.Net;

namespace PacketLife.Core.Cluster;

/// <summary>Builds a fresh AKS kubenet cluster the way `az aks create` leaves it: VMSS nodes registering
/// and getting their pod /24s, the `kubernetes` Service, the kube-system add-ons of AKS 1.30 (CoreDNS,
/// its autoscaler, konnectivity-agent, metrics-server, and the host-network DaemonSets), and the
/// `kubernetes` Standard LB with only its outbound frontend, pools and rule (facts azure-aks.md §1.2, §3).</summary>
public static class EmbeddedCluster
{
    /// <summary>The seed word of the embedded default. With it the scheduler places the add-ons so that the
    /// seed's first pod lands on vmss000001, as it did on the real cluster.</summary>
    public const ulong DefaultSeed = 20241128;

    /// <summary>The seed cluster's outbound frontend (and public IP) name.</summary>
    public const string SeedOutboundFrontend = "77d48a65-578b-46d1-9425-8e099370353a";

    sealed class ShiftedClock(TimeProvider inner, TimeSpan back) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => inner.GetUtcNow() - back;
    }

    /// <param name="registrationOrder">VMSS instance ids in the order the nodes registered (which decides
    /// which /24 each gets: the seed shows vmss000001 with 10.244.0.0/24); null = random under the seed.</param>
    public static ClusterState Build(ClusterProfile profile, TimeProvider clock, ulong seed, int nodeCount, IReadOnlyList<int>? registrationOrder, string? outboundFrontend = SeedOutboundFrontend)
    {
        var state = new ClusterState { Profile = profile };
        state.Controllers.RandomState = seed;
        // Nodes registered 61 minutes before first use; the add-ons a minute later.
        var nodeApi = new ClusterApi(state, new ShiftedClock(clock, TimeSpan.FromMinutes(61)));
        var rng = nodeApi.Random;
        var order = registrationOrder?.ToList() ?? Enumerable.Range(0, nodeCount).OrderBy(_ => rng.NextUInt64()).ToList();
        var podCidr = Ip4Prefix.Parse(profile.PodCidr);
        var subnet = Ip4Prefix.Parse(profile.NodeSubnet);
        var usedCidrs = new HashSet<Ip4Prefix>();
        var nodes = new List<Node>();
        foreach (var instance in order)
        {
            var name = Naming.AksNodeName(profile.NodePoolName, profile.NodePoolId, instance);
            var alloc = NodeCidrAllocator.AllocateNext(podCidr, profile.NodeCidrMaskSize, state.Controllers.NextNodeCidrCandidate, usedCidrs)
                ?? throw new InvalidOperationException("pod CIDR exhausted");
            usedCidrs.Add(alloc.Cidr);
            state.Controllers.NextNodeCidrCandidate = alloc.NextCandidate;
            // Azure reserves .0-.3 of a subnet, so VMSS instance n gets .4+n (kubenet).
            var ip = subnet.Network.Add(4 + instance).ToString();
            var now = clock.GetUtcNow() - TimeSpan.FromMinutes(61);
            nodes.Add(new Node
            {
                Metadata = new ObjectMeta
                {
                    Name = name, Namespace = "", Uid = rng.NewUid(),
                    CreationTimestamp = new DateTimeOffset(now.Ticks - now.Ticks % TimeSpan.TicksPerSecond, TimeSpan.Zero),
                    Labels = new Dictionary<string, string>
                    {
                        ["agentpool"] = profile.NodePoolName,
                        ["beta.kubernetes.io/arch"] = "amd64",
                        ["beta.kubernetes.io/os"] = "linux",
                        ["kubernetes.azure.com/agentpool"] = profile.NodePoolName,
                        ["kubernetes.azure.com/cluster"] = $"MC_{profile.ResourceGroup}_{profile.Name}_{profile.Region}",
                        ["kubernetes.azure.com/mode"] = "system",
                        ["kubernetes.azure.com/network-plugin"] = "kubenet",
                        ["kubernetes.azure.com/role"] = "agent",
                        ["kubernetes.io/arch"] = "amd64",
                        ["kubernetes.io/hostname"] = name,
                        ["kubernetes.io/os"] = "linux",
                        ["node.kubernetes.io/instance-type"] = profile.VmSize,
                        ["topology.kubernetes.io/region"] = profile.Region,
                        ["topology.kubernetes.io/zone"] = "0",
                    },
                },
                PodCIDR = alloc.Cidr.ToString(),
                ProviderID = $"azure:///subscriptions/{profile.SubscriptionId}/resourceGroups/{profile.NodeResourceGroup}/providers/Microsoft.Compute/virtualMachineScaleSets/aks-{profile.NodePoolName}-{profile.NodePoolId}-vmss/virtualMachines/{instance}",
                Addresses = [new NodeAddress("InternalIP", ip), new NodeAddress("Hostname", name)],
                Info = new NodeInfo
                {
                    KubeletVersion = "v" + profile.KubernetesVersion, OsImage = profile.OsImage,
                    KernelVersion = profile.KernelVersion, ContainerRuntimeVersion = profile.ContainerRuntimeVersion,
                },
            });
            state.Controllers.NextVmssInstance = Math.Max(state.Controllers.NextVmssInstance, instance + 1);
        }
        state.Nodes.AddRange(nodes.OrderBy(n => n.Metadata.Name, StringComparer.Ordinal));
        var outbound = outboundFrontend ?? rng.NewUid();
        state.Azure = new AzureState
        {
            LoadBalancer = new LoadBalancer
            {
                FrontendIpConfigurations = [new FrontendIpConfiguration(outbound, outbound)],
                BackendAddressPools = [new BackendAddressPool("aksOutboundBackendPool", []), new BackendAddressPool("kubernetes", [])],
                OutboundRules = [new OutboundRule { FrontendIpConfigurationNames = [outbound] }],
            },
        };
        nodeApi.ReconcileAll();
        var outboundIp = nodeApi.AllocatePublicIp([]) ?? throw new InvalidOperationException("no public IP for the outbound frontend");
        nodeApi.SaveRandom();
        state.Azure = state.Azure with
        {
            PublicIpAddresses = [new PublicIpAddress { Name = outbound, IpAddress = outboundIp, Tags = new Dictionary<string, string> { ["aks-managed-type"] = "aks-managed-outbound-ip" } }],
        };

        var api = new ClusterApi(state, new ShiftedClock(clock, TimeSpan.FromMinutes(60)));
        api.Import(new Service
        {
            Metadata = new ObjectMeta
            {
                Name = "kubernetes", Uid = api.Random.NewUid(), CreationTimestamp = Truncate(clock.GetUtcNow() - TimeSpan.FromMinutes(62)),
                Labels = new Dictionary<string, string> { ["component"] = "apiserver", ["provider"] = "kubernetes" },
            },
            Spec = new ServiceSpec
            {
                Type = ServiceType.ClusterIP, ClusterIP = Ip4Prefix.Parse(profile.ServiceCidr).Network.Add(1).ToString(),
                ClusterIPs = [Ip4Prefix.Parse(profile.ServiceCidr).Network.Add(1).ToString()], IpFamilies = ["IPv4"], IpFamilyPolicy = "SingleStack",
                Ports = [new ServicePort { Name = "https", Port = 443, TargetPort = IntOrString.FromInt(443) }],
                InternalTrafficPolicy = TrafficPolicy.Cluster,
            },
        });
        api.Import(new EndpointSlice
        {
            Metadata = new ObjectMeta
            {
                Name = "kubernetes", Uid = api.Random.NewUid(), CreationTimestamp = Truncate(clock.GetUtcNow() - TimeSpan.FromMinutes(62)),
                Labels = new Dictionary<string, string> { [ClusterApi.ServiceNameLabel] = "kubernetes" },
            },
            Endpoints = [new Endpoint { Addresses = [profile.ApiServerIP], Conditions = new EndpointConditions(true) }],
            Ports = [new EndpointPort("https", Protocol.TCP, 443)],
        });
        var ks = "kube-system";
        var addon = new Dictionary<string, string> { ["addonmanager.kubernetes.io/mode"] = "Reconcile" };
        Check(api.CreateService(new Service
        {
            Metadata = new ObjectMeta { Name = "kube-dns", Namespace = ks, Labels = new Dictionary<string, string>(addon) { ["k8s-app"] = "kube-dns", ["kubernetes.io/cluster-service"] = "true", ["kubernetes.io/name"] = "CoreDNS" } },
            Spec = new ServiceSpec
            {
                ClusterIP = profile.DnsServiceIP, Selector = new Dictionary<string, string> { ["k8s-app"] = "kube-dns" },
                Ports = [new ServicePort { Name = "dns", Protocol = Protocol.UDP, Port = 53, TargetPort = IntOrString.FromInt(53) }, new ServicePort { Name = "dns-tcp", Port = 53, TargetPort = IntOrString.FromInt(53) }],
            },
        }));
        Check(api.CreateService(new Service
        {
            Metadata = new ObjectMeta { Name = "metrics-server", Namespace = ks, Labels = new Dictionary<string, string>(addon) { ["k8s-app"] = "metrics-server", ["kubernetes.io/cluster-service"] = "true", ["kubernetes.io/name"] = "Metrics-server" } },
            Spec = new ServiceSpec { Selector = new Dictionary<string, string> { ["k8s-app"] = "metrics-server" }, Ports = [new ServicePort { Port = 443, TargetPort = IntOrString.FromString("https") }] },
        }));
        Check(api.CreateDeployment(AddonDeployment("coredns", "kube-dns", 2, "mcr.microsoft.com/oss/v2/kubernetes/coredns:v1.11.3-2",
            [new ContainerPort(53, "dns", Protocol.UDP), new ContainerPort(53, "dns-tcp"), new ContainerPort(9153, "metrics")])));
        Check(api.CreateDeployment(AddonDeployment("coredns-autoscaler", "coredns-autoscaler", 1, "mcr.microsoft.com/oss/v2/kubernetes/autoscaler/cluster-proportional-autoscaler:v1.8.11-5", [])));
        Check(api.CreateDeployment(AddonDeployment("konnectivity-agent", "konnectivity-agent", 2, "mcr.microsoft.com/oss/kubernetes/apiserver-network-proxy/agent:v0.30.3-hotfix.20240819", [], labelKey: "app")));
        Check(api.CreateDeployment(AddonDeployment("metrics-server", "metrics-server", 2, "mcr.microsoft.com/oss/v2/kubernetes/metrics-server:v0.7.2-1", [new ContainerPort(4443, "https")])));
        // DaemonSet pods run on the host network: they take the node's IP, not one from its pod CIDR.
        foreach (var (ds, image) in new[]
        {
            ("azure-ip-masq-agent", "mcr.microsoft.com/aks/ip-masq-agent-v2:v0.1.13"),
            ("cloud-node-manager", "mcr.microsoft.com/oss/kubernetes/azure-cloud-node-manager:v1.30.7"),
            ("csi-azuredisk-node", "mcr.microsoft.com/oss/kubernetes-csi/azuredisk-csi:v1.30.5"),
            ("csi-azurefile-node", "mcr.microsoft.com/oss/kubernetes-csi/azurefile-csi:v1.30.6"),
            ("kube-proxy", $"mcr.microsoft.com/oss/kubernetes/kube-proxy:v{profile.KubernetesVersion}"),
        })
        {
            var dsUid = api.Random.NewUid();
            foreach (var node in state.Nodes)
                Check(api.CreatePod(new Pod
                {
                    Metadata = new ObjectMeta
                    {
                        Name = Naming.GenerateName(ds + "-", api.Random), Namespace = ks, GenerateName = ds + "-",
                        Labels = new Dictionary<string, string> { ["component"] = ds, ["tier"] = "node" },
                        OwnerReferences = [new OwnerReference("apps/v1", "DaemonSet", ds, dsUid)],
                    },
                    Spec = new PodSpec { NodeName = node.Metadata.Name, HostNetwork = true, Containers = [new Container { Name = ds, Image = image }] },
                }));
        }
        return state;
    }

    static DateTimeOffset Truncate(DateTimeOffset t) => new(t.Ticks - t.Ticks % TimeSpan.TicksPerSecond, TimeSpan.Zero);

    static Deployment AddonDeployment(string name, string app, int replicas, string image, IReadOnlyList<ContainerPort> ports, string labelKey = "k8s-app")
    {
        var labels = new Dictionary<string, string> { [labelKey] = app };
        return new Deployment
        {
            Metadata = new ObjectMeta { Name = name, Namespace = "kube-system", Labels = new Dictionary<string, string>(labels) { ["addonmanager.kubernetes.io/mode"] = "Reconcile" } },
            Replicas = replicas,
            Selector = labels,
            Template = new PodTemplate { Labels = labels, Spec = new PodSpec { Containers = [new Container { Name = name, Image = image, Ports = ports }] } },
        };
    }

    static void Check(ApiResult r)
    {
        if (!r.Ok) throw new InvalidOperationException("embedded cluster: " + r.Error);
    }
}
