using PacketLife.Core.Routing;

namespace PacketLife.Core.Topology;

/// <summary>How a node's kernel is set up beyond what the Kubernetes objects say.</summary>
/// <param name="Cbr0Scope">Scope of the bridge's gateway address. MASQUERADE picks its source with
/// `inet_select_addr(out dev, nexthop, RT_SCOPE_UNIVERSE)` (net/ipv4/devinet.c): a `scope link` cbr0 address is
/// skipped and eth0's global address (the node IP) is used, which is what the seed's conntrack lines show for a
/// local endpoint (netns-lab.md §7.1); `Global` gives the textbook cbr0 address instead.</param>
/// <param name="Hairpin">The bridge port's hairpin mode: kernel 5.15 (the seed's nodes) delivers a pod's packet back
/// through its own veth; ≥6.8 with AKS's template drops it (netns-lab.md §7.2, Azure/AKS#5669).</param>
/// <param name="VnetPrefixLength">eth0's prefix in the AKS subnet (10.224.0.0/16 by default).</param>
public sealed record NodeProfile(AddressScope Cbr0Scope = AddressScope.Link, bool Hairpin = true, int VnetPrefixLength = 16)
{
    /// <summary>The profile that reproduces the seed's AKS 1.30 / Ubuntu 22.04 / 5.15 nodes.</summary>
    public static NodeProfile SeedAks { get; } = new();

    /// <summary>The profile the cluster state's settings describe (`BridgeHairpin`, `Cbr0AddressScope`; null
    /// means the seed's kernel).</summary>
    public static NodeProfile From(PacketLife.Core.Cluster.ClusterProfile cluster) =>
        cluster.BridgeHairpin is null && cluster.Cbr0AddressScope is null
            ? SeedAks
            : new NodeProfile(
                string.Equals(cluster.Cbr0AddressScope, "global", StringComparison.OrdinalIgnoreCase) ? AddressScope.Global : AddressScope.Link,
                cluster.BridgeHairpin ?? true);
}
