namespace PacketLife.Core.Cluster;

/// <summary>What `az aks create` decided for a cluster: names, address plans, versions. The defaults are
/// the seed's AKS kubenet cluster (facts azure-aks.md §3).</summary>
public sealed record ClusterProfile
{
    public string Name { get; init; } = "aks";
    public string ResourceGroup { get; init; } = "rg";
    public string Region { get; init; } = "swedencentral";
    /// <summary>AKS names it `MC_&lt;rg&gt;_&lt;cluster&gt;_&lt;region&gt;`; after the cloud provider's first PUT
    /// azure-cli shows it in lower case (facts §1.2), which is what the seed prints.</summary>
    public string NodeResourceGroup { get; init; } = "mc_rg_aks_swedencentral";
    public string SubscriptionId { get; init; } = "3f2b8c1e-7d4a-4e6b-9a1c-5e8f2d7b4c90";
    public string NodePoolName { get; init; } = "nodepool1";
    /// <summary>The 8 digits in `aks-nodepool1-33086427-vmss000000`.</summary>
    public string NodePoolId { get; init; } = "33086427";
    public string NodeSubnet { get; init; } = "10.224.0.0/16";
    public string PodCidr { get; init; } = "10.244.0.0/16";
    public int NodeCidrMaskSize { get; init; } = 24;
    public string ServiceCidr { get; init; } = "10.0.0.0/16";
    public string DnsServiceIP { get; init; } = "10.0.0.10";
    public int NodePortMin { get; init; } = 30000;
    public int NodePortMax { get; init; } = 32767;
    public string KubernetesVersion { get; init; } = "1.30.6";
    public string OsImage { get; init; } = "Ubuntu 22.04.5 LTS";
    public string KernelVersion { get; init; } = "5.15.0-1074-azure";
    public string ContainerRuntimeVersion { get; init; } = "containerd://1.7.23-1";
    public string VmSize { get; init; } = "Standard_DS2_v2";
    /// <summary>Prefixes the cloud hands LoadBalancer frontends their public IPs from. The defaults are
    /// swedencentral prefixes that give the seed's shapes (20.240.25.37, 4.225.83.202); the lab sets
    /// 203.0.113.0/24 (TEST-NET-3).</summary>
    public IReadOnlyList<string> PublicIpPrefixes { get; init; } = ["20.240.0.0/16", "4.225.0.0/16"];
    /// <summary>The API server's public endpoint, the `default/kubernetes` endpoint (facts §3).</summary>
    public string ApiServerIP { get; init; } = "20.91.140.17";
    public string DnsPrefix { get; init; } = "aks-rg-3f2b8c";
    /// <summary>Node kernel behaviour that differs between kernels (issue 6 item 4, netns-lab.md §7.2): whether a
    /// pod reaches its own Service through the bridge (hairpin). True is what the seed's 5.15 nodes do; kubenet's
    /// template leaves hairpinMode off, which breaks this on kernels from 6.8 (Azure/AKS#5669). Null (state files
    /// written before the setting existed) means true.</summary>
    public bool? BridgeHairpin { get; init; }
    /// <summary>The scope of the node's cbr0 gateway address (netns-lab.md §7.1). MASQUERADE takes the first
    /// primary address of the out interface whose scope fits the destination (inet_select_addr): with `link`
    /// it skips cbr0's address for a pod and falls back to the node IP, which is what the seed shows; with
    /// `global` the pod sees the cbr0 address (10.244.x.1). Null means `link`.</summary>
    public string? Cbr0AddressScope { get; init; }

    /// <summary>Whether the control plane is at least major.minor (behaviour that changed with a release).</summary>
    public bool AtLeast(int major, int minor)
    {
        var parts = KubernetesVersion.TrimStart('v').Split('.');
        return parts.Length >= 2 && int.TryParse(parts[0], out var ma) && int.TryParse(parts[1], out var mi) && (ma > major || (ma == major && mi >= minor));
    }
}
