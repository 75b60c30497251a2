namespace PacketLife.Core.Azure;

// The Azure Network objects cloud-provider-azure maintains for an AKS cluster (facts azure-aks.md §1),
// with ARM's property names. IDs are derived from the names and the node resource group.

public sealed record FrontendIpConfiguration(string Name, string PublicIpAddressName, string PrivateIpAllocationMethod = "Dynamic");

public sealed record BackendAddressPool(string Name, IReadOnlyList<string> NodeNames);

/// <summary>One rule per Service port (CPA getExpectedLoadBalancingRulePropertiesForPort).</summary>
public sealed record LoadBalancingRule
{
    public required string Name { get; init; }
    public required string FrontendIpConfigurationName { get; init; }
    public string BackendAddressPoolName { get; init; } = "kubernetes";
    public string? ProbeName { get; init; }
    /// <summary>`Tcp`, `Udp` (ARM spelling).</summary>
    public string Protocol { get; init; } = "Tcp";
    public int FrontendPort { get; init; }
    /// <summary>The Service port, not the NodePort: floating IP keeps dst = frontend IP:port on the node.</summary>
    public int BackendPort { get; init; }
    public bool EnableFloatingIP { get; init; } = true;
    public bool EnableTcpReset { get; init; } = true;
    public bool DisableOutboundSnat { get; init; } = true;
    public int IdleTimeoutInMinutes { get; init; } = 4;
    /// <summary>`Default` (5-tuple hash) or `SourceIP` (sessionAffinity ClientIP).</summary>
    public string LoadDistribution { get; init; } = "Default";
    /// <summary>The Service (`namespace/name`) this rule belongs to; not an ARM field.</summary>
    public string? Service { get; init; }
}

public sealed record HealthProbe
{
    public required string Name { get; init; }
    /// <summary>`Tcp`, `Http`, `Https`.</summary>
    public string Protocol { get; init; } = "Tcp";
    public int Port { get; init; }
    public string? RequestPath { get; init; }
    public int IntervalInSeconds { get; init; } = 5;
    public int NumberOfProbes { get; init; } = 2;
    public int ProbeThreshold { get; init; } = 2;
    public string? Service { get; init; }
}

public sealed record OutboundRule
{
    public string Name { get; init; } = "aksOutboundRule";
    public IReadOnlyList<string> FrontendIpConfigurationNames { get; init; } = [];
    public string BackendAddressPoolName { get; init; } = "aksOutboundBackendPool";
    public string Protocol { get; init; } = "All";
    public int AllocatedOutboundPorts { get; init; }
    public bool EnableTcpReset { get; init; } = true;
    public int IdleTimeoutInMinutes { get; init; } = 30;
}

public sealed record LoadBalancer
{
    public string Name { get; init; } = "kubernetes";
    public IReadOnlyList<FrontendIpConfiguration> FrontendIpConfigurations { get; init; } = [];
    public IReadOnlyList<BackendAddressPool> BackendAddressPools { get; init; } = [];
    public IReadOnlyList<LoadBalancingRule> LoadBalancingRules { get; init; } = [];
    public IReadOnlyList<HealthProbe> Probes { get; init; } = [];
    public IReadOnlyList<OutboundRule> OutboundRules { get; init; } = [];
}

public sealed record PublicIpAddress
{
    public required string Name { get; init; }
    public required string IpAddress { get; init; }
    public string AllocationMethod { get; init; } = "Static";
    public string Sku { get; init; } = "Standard";
    public int IdleTimeoutInMinutes { get; init; } = 4;
    public IReadOnlyDictionary<string, string> Tags { get; init; } = new Dictionary<string, string>();
}

public sealed record AzureState
{
    public LoadBalancer LoadBalancer { get; init; } = new();
    public IReadOnlyList<PublicIpAddress> PublicIpAddresses { get; init; } = [];
}

/// <summary>ARM resource IDs: `/subscriptions/S/resourceGroups/RG/providers/Microsoft.Network/...`.</summary>
public static class AzureIds
{
    public static string Network(string sub, string rg, string type, string name) =>
        $"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/{type}/{name}";

    public static string LbChild(string sub, string rg, string lb, string childType, string name) =>
        Network(sub, rg, "loadBalancers", lb) + $"/{childType}/{name}";
}
