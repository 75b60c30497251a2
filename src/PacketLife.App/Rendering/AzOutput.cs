using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using PacketLife.Core.Azure;
using PacketLife.Core.Cluster;

namespace PacketLife.App.Rendering;

/// <summary>azure-cli's view of the cluster's Azure objects and its output layer (knack output.py;
/// facts azure-aks.md §5): AAZ-flattened dicts (`properties.*` top-level) with `resourceGroup` added from
/// the id; `-o json` = sorted keys, 2-space indent; `-o table` = sorted scalar keys minus id/type/etag,
/// first letter upper-cased, python-tabulate "simple"; `-o tsv` = raw values, tab separated.</summary>
public static class AzOutput
{
    // ------------------------------------------------------------------ objects

    static string Etag(string seed) => $"W/\"{Guid(seed)}\"";

    /// <summary>A stable GUID-shaped value derived from a name (resourceGuid, etag): deterministic output.</summary>
    static string Guid(string seed)
    {
        var a = Naming.Fnv32a(Encoding.UTF8.GetBytes(seed));
        var b = Naming.Fnv32a(Encoding.UTF8.GetBytes(seed + "#1"));
        var c = Naming.Fnv32a(Encoding.UTF8.GetBytes(seed + "#2"));
        var d = Naming.Fnv32a(Encoding.UTF8.GetBytes(seed + "#3"));
        var hex = $"{a:x8}{b:x8}{c:x8}{d:x8}";
        return $"{hex[..8]}-{hex[8..12]}-4{hex[13..16]}-a{hex[17..20]}-{hex[20..]}";
    }

    static JsonObject Ref(string id) => new() { ["id"] = id, ["resourceGroup"] = ResourceGroupOf(id) };

    public static string ResourceGroupOf(string id)
    {
        var parts = id.Split('/');
        for (var i = 0; i + 1 < parts.Length; i++)
            if (parts[i].Equals("resourceGroups", StringComparison.OrdinalIgnoreCase)) return parts[i + 1];
        return "";
    }

    sealed record Ids(ClusterProfile P)
    {
        public string Lb => AzureIds.Network(P.SubscriptionId, P.NodeResourceGroup, "loadBalancers", "kubernetes");
        public string Child(string type, string name) => AzureIds.LbChild(P.SubscriptionId, P.NodeResourceGroup, "kubernetes", type, name);
        public string Pip(string name) => AzureIds.Network(P.SubscriptionId, P.NodeResourceGroup, "publicIPAddresses", name);
    }

    public static JsonObject Frontend(ClusterState s, FrontendIpConfiguration f)
    {
        var ids = new Ids(s.Profile);
        var lb = s.Azure.LoadBalancer;
        var id = ids.Child("frontendIPConfigurations", f.Name);
        var o = new JsonObject
        {
            ["etag"] = Etag(id),
            ["id"] = id,
            ["name"] = f.Name,
            ["privateIPAllocationMethod"] = f.PrivateIpAllocationMethod,
            ["provisioningState"] = "Succeeded",
            ["publicIPAddress"] = Ref(ids.Pip(f.PublicIpAddressName)),
            ["resourceGroup"] = ResourceGroupOf(id),
            ["type"] = "Microsoft.Network/loadBalancers/frontendIPConfigurations",
        };
        var rules = lb.LoadBalancingRules.Where(r => r.FrontendIpConfigurationName == f.Name).Select(r => (JsonNode)Ref(ids.Child("loadBalancingRules", r.Name))).ToList();
        if (rules.Count > 0) o["loadBalancingRules"] = new JsonArray([.. rules]);
        var outbound = lb.OutboundRules.Where(r => r.FrontendIpConfigurationNames.Contains(f.Name)).Select(r => (JsonNode)Ref(ids.Child("outboundRules", r.Name))).ToList();
        if (outbound.Count > 0) o["outboundRules"] = new JsonArray([.. outbound]);
        return o;
    }

    public static JsonObject Rule(ClusterState s, LoadBalancingRule r)
    {
        var ids = new Ids(s.Profile);
        var id = ids.Child("loadBalancingRules", r.Name);
        var o = new JsonObject
        {
            ["backendAddressPool"] = Ref(ids.Child("backendAddressPools", r.BackendAddressPoolName)),
            ["backendAddressPools"] = new JsonArray(Ref(ids.Child("backendAddressPools", r.BackendAddressPoolName))),
            ["backendPort"] = r.BackendPort,
            ["disableOutboundSnat"] = r.DisableOutboundSnat,
            ["enableFloatingIP"] = r.EnableFloatingIP,
            ["enableTcpReset"] = r.EnableTcpReset,
            ["etag"] = Etag(id),
            ["frontendIPConfiguration"] = Ref(ids.Child("frontendIPConfigurations", r.FrontendIpConfigurationName)),
            ["frontendPort"] = r.FrontendPort,
            ["id"] = id,
            ["idleTimeoutInMinutes"] = r.IdleTimeoutInMinutes,
            ["loadDistribution"] = r.LoadDistribution,
            ["name"] = r.Name,
            ["protocol"] = r.Protocol,
            ["provisioningState"] = "Succeeded",
            ["resourceGroup"] = ResourceGroupOf(id),
            ["type"] = "Microsoft.Network/loadBalancers/loadBalancingRules",
        };
        if (r.ProbeName is not null) o["probe"] = Ref(ids.Child("probes", r.ProbeName));
        return o;
    }

    public static JsonObject Probe(ClusterState s, HealthProbe p)
    {
        var ids = new Ids(s.Profile);
        var id = ids.Child("probes", p.Name);
        var o = new JsonObject
        {
            ["etag"] = Etag(id),
            ["id"] = id,
            ["intervalInSeconds"] = p.IntervalInSeconds,
            ["loadBalancingRules"] = new JsonArray([.. s.Azure.LoadBalancer.LoadBalancingRules.Where(r => r.ProbeName == p.Name).Select(r => (JsonNode)Ref(ids.Child("loadBalancingRules", r.Name)))]),
            ["name"] = p.Name,
            ["numberOfProbes"] = p.NumberOfProbes,
            ["port"] = p.Port,
            ["probeThreshold"] = p.ProbeThreshold,
            ["protocol"] = p.Protocol,
            ["provisioningState"] = "Succeeded",
            ["resourceGroup"] = ResourceGroupOf(id),
            ["type"] = "Microsoft.Network/loadBalancers/probes",
        };
        if (p.RequestPath is not null) o["requestPath"] = p.RequestPath;
        return o;
    }

    public static JsonObject LoadBalancer(ClusterState s)
    {
        var ids = new Ids(s.Profile);
        var lb = s.Azure.LoadBalancer;
        return new JsonObject
        {
            ["backendAddressPools"] = new JsonArray([.. lb.BackendAddressPools.Select(p =>
            {
                var pid = ids.Child("backendAddressPools", p.Name);
                return (JsonNode)new JsonObject { ["etag"] = Etag(pid), ["id"] = pid, ["name"] = p.Name, ["provisioningState"] = "Succeeded", ["resourceGroup"] = ResourceGroupOf(pid), ["type"] = "Microsoft.Network/loadBalancers/backendAddressPools" };
            })]),
            ["etag"] = Etag(ids.Lb),
            ["frontendIPConfigurations"] = new JsonArray([.. lb.FrontendIpConfigurations.Select(f => (JsonNode)Frontend(s, f))]),
            ["id"] = ids.Lb,
            ["inboundNatPools"] = new JsonArray(),
            ["inboundNatRules"] = new JsonArray(),
            ["loadBalancingRules"] = new JsonArray([.. lb.LoadBalancingRules.Select(r => (JsonNode)Rule(s, r))]),
            ["location"] = s.Profile.Region,
            ["name"] = lb.Name,
            ["outboundRules"] = new JsonArray([.. lb.OutboundRules.Select(r =>
            {
                var rid = ids.Child("outboundRules", r.Name);
                return (JsonNode)new JsonObject
                {
                    ["allocatedOutboundPorts"] = r.AllocatedOutboundPorts,
                    ["backendAddressPool"] = Ref(ids.Child("backendAddressPools", r.BackendAddressPoolName)),
                    ["enableTcpReset"] = r.EnableTcpReset, ["etag"] = Etag(rid),
                    ["frontendIPConfigurations"] = new JsonArray([.. r.FrontendIpConfigurationNames.Select(n => (JsonNode)Ref(ids.Child("frontendIPConfigurations", n)))]),
                    ["id"] = rid, ["idleTimeoutInMinutes"] = r.IdleTimeoutInMinutes, ["name"] = r.Name, ["protocol"] = r.Protocol,
                    ["provisioningState"] = "Succeeded", ["resourceGroup"] = ResourceGroupOf(rid), ["type"] = "Microsoft.Network/loadBalancers/outboundRules",
                };
            })]),
            ["probes"] = new JsonArray([.. lb.Probes.Select(p => (JsonNode)Probe(s, p))]),
            ["provisioningState"] = "Succeeded",
            ["resourceGroup"] = s.Profile.NodeResourceGroup,
            ["resourceGuid"] = Guid(ids.Lb),
            ["sku"] = new JsonObject { ["name"] = "Standard", ["tier"] = "Regional" },
            ["tags"] = new JsonObject { ["aks-managed-cluster-name"] = s.Profile.Name, ["aks-managed-cluster-rg"] = s.Profile.ResourceGroup },
            ["type"] = "Microsoft.Network/loadBalancers",
        };
    }

    public static JsonObject PublicIp(ClusterState s, PublicIpAddress p)
    {
        var ids = new Ids(s.Profile);
        var id = ids.Pip(p.Name);
        var tags = new JsonObject();
        foreach (var (k, v) in p.Tags.OrderBy(t => t.Key, StringComparer.Ordinal)) tags[k] = v;
        var o = new JsonObject
        {
            ["ddosSettings"] = new JsonObject { ["protectionMode"] = "VirtualNetworkInherited" },
            ["etag"] = Etag(id),
            ["id"] = id,
            ["idleTimeoutInMinutes"] = p.IdleTimeoutInMinutes,
            ["ipAddress"] = p.IpAddress,
            ["ipTags"] = new JsonArray(),
            ["location"] = s.Profile.Region,
            ["name"] = p.Name,
            ["provisioningState"] = "Succeeded",
            ["publicIPAddressVersion"] = "IPv4",
            ["publicIPAllocationMethod"] = p.AllocationMethod,
            ["resourceGroup"] = s.Profile.NodeResourceGroup,
            ["resourceGuid"] = Guid(id),
            ["sku"] = new JsonObject { ["name"] = p.Sku, ["tier"] = "Regional" },
            ["tags"] = tags,
            ["type"] = "Microsoft.Network/publicIPAddresses",
        };
        if (s.Azure.LoadBalancer.FrontendIpConfigurations.FirstOrDefault(f => f.PublicIpAddressName == p.Name) is { } fe)
            o["ipConfiguration"] = Ref(ids.Child("frontendIPConfigurations", fe.Name));
        return o;
    }

    public static JsonObject ManagedCluster(ClusterState s)
    {
        var p = s.Profile;
        var id = $"/subscriptions/{p.SubscriptionId}/resourcegroups/{p.ResourceGroup}/providers/Microsoft.ContainerService/managedClusters/{p.Name}";
        var nodeRg = $"MC_{p.ResourceGroup}_{p.Name}_{p.Region}";
        return new JsonObject
        {
            ["agentPoolProfiles"] = new JsonArray(new JsonObject
            {
                ["count"] = s.Nodes.Count, ["currentOrchestratorVersion"] = p.KubernetesVersion, ["enableAutoScaling"] = false, ["maxPods"] = 110,
                ["mode"] = "System", ["name"] = p.NodePoolName, ["orchestratorVersion"] = p.KubernetesVersion, ["osDiskSizeGb"] = 128, ["osDiskType"] = "Managed",
                ["osSku"] = "Ubuntu", ["osType"] = "Linux", ["powerState"] = new JsonObject { ["code"] = "Running" }, ["provisioningState"] = "Succeeded",
                ["type"] = "VirtualMachineScaleSets", ["vmSize"] = p.VmSize,
            }),
            ["currentKubernetesVersion"] = p.KubernetesVersion,
            ["dnsPrefix"] = p.DnsPrefix,
            ["fqdn"] = $"{p.DnsPrefix}-{p.SubscriptionId[..8]}.hcp.{p.Region}.azmk8s.io",
            ["id"] = id,
            ["kubernetesVersion"] = p.KubernetesVersion,
            ["location"] = p.Region,
            ["name"] = p.Name,
            ["networkProfile"] = new JsonObject
            {
                ["dnsServiceIp"] = p.DnsServiceIP, ["ipFamilies"] = new JsonArray("IPv4"), ["loadBalancerSku"] = "standard",
                ["loadBalancerProfile"] = new JsonObject
                {
                    ["effectiveOutboundIPs"] = new JsonArray([.. s.Azure.PublicIpAddresses.Where(x => !x.Tags.ContainsKey("k8s-azure-service")).Select(x =>
                        (JsonNode)new JsonObject { ["id"] = AzureIds.Network(p.SubscriptionId, nodeRg, "publicIPAddresses", x.Name), ["resourceGroup"] = nodeRg })]),
                    ["managedOutboundIPs"] = new JsonObject { ["count"] = 1 },
                },
                ["networkPlugin"] = "kubenet", ["outboundType"] = "loadBalancer", ["podCidr"] = p.PodCidr, ["podCidrs"] = new JsonArray(p.PodCidr),
                ["serviceCidr"] = p.ServiceCidr, ["serviceCidrs"] = new JsonArray(p.ServiceCidr),
            },
            ["nodeResourceGroup"] = nodeRg,
            ["powerState"] = new JsonObject { ["code"] = "Running" },
            ["provisioningState"] = "Succeeded",
            ["resourceGroup"] = p.ResourceGroup,
            ["sku"] = new JsonObject { ["name"] = "Base", ["tier"] = "Free" },
            ["type"] = "Microsoft.ContainerService/ManagedClusters",
        };
    }

    /// <summary>azure-cli's `aks show` table transformer (acs `_format.py` aks_show_table_format).</summary>
    public static JsonObject ManagedClusterTableRow(JsonObject mc) => new()
    {
        ["Name"] = mc["name"]?.DeepClone(), ["Location"] = mc["location"]?.DeepClone(), ["ResourceGroup"] = mc["resourceGroup"]?.DeepClone(),
        ["KubernetesVersion"] = mc["kubernetesVersion"]?.DeepClone(), ["CurrentKubernetesVersion"] = mc["currentKubernetesVersion"]?.DeepClone(),
        ["ProvisioningState"] = mc["provisioningState"]?.DeepClone(), ["Fqdn"] = mc["fqdn"]?.DeepClone(),
    };

    // ------------------------------------------------------------------ output formats

    public static string Json(JsonNode? node)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true, IndentSize = 2, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
            Sorted(node)?.WriteTo(w);
        if (node is null) return "null\n";
        return Encoding.UTF8.GetString(ms.ToArray()) + "\n";
    }

    static JsonNode? Sorted(JsonNode? n) => n switch
    {
        JsonObject o => new JsonObject(o.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => KeyValuePair.Create(p.Key, Sorted(p.Value)))),
        JsonArray a => new JsonArray([.. a.Select(Sorted)]),
        null => null,
        _ => n.DeepClone(),
    };

    static bool IsScalar(JsonNode? v) => v is JsonValue;

    static string Cell(JsonNode? v) => v switch
    {
        null => "",
        JsonValue jv when jv.GetValueKind() == JsonValueKind.String => jv.GetValue<string>(),
        JsonValue jv when jv.GetValueKind() == JsonValueKind.True => "True",
        JsonValue jv when jv.GetValueKind() == JsonValueKind.False => "False",
        _ => v.ToJsonString(),
    };

    /// <summary>knack `_TableOutput` + tabulate(tablefmt="simple", disable_numparse=True).</summary>
    public static string Table(JsonNode? result, bool sortKeys)
    {
        var rows = result switch
        {
            JsonArray a => a.ToList(),
            null => [],
            _ => [result],
        };
        var columns = new List<string>();
        var data = new List<Dictionary<string, string>>();
        foreach (var row in rows)
        {
            var cells = new Dictionary<string, string>(StringComparer.Ordinal);
            if (row is JsonObject o)
            {
                var keys = sortKeys ? o.Select(p => p.Key).Order(StringComparer.Ordinal) : o.Select(p => p.Key);
                foreach (var k in keys)
                {
                    if (k is "id" or "type" or "etag") continue;
                    var v = o[k];
                    if (v is null || !IsScalar(v)) continue;
                    var header = char.ToUpperInvariant(k[0]) + k[1..];
                    if (!columns.Contains(header)) columns.Add(header);
                    cells[header] = Cell(v);
                }
            }
            else if (row is JsonValue)
            {
                if (!columns.Contains("Result")) columns.Add("Result");
                cells["Result"] = Cell(row);
            }
            data.Add(cells);
        }
        if (columns.Count == 0) return "";
        var widths = columns.Select(c => Math.Max(c.Length + 2, data.Select(d => d.GetValueOrDefault(c, "").Length).DefaultIfEmpty(0).Max())).ToList();
        var sb = new StringBuilder();
        void Line(IEnumerable<string> cells) => sb.Append(string.Join("  ", cells.Select((c, i) => c.PadRight(widths[i]))).TrimEnd()).Append('\n');
        Line(columns);
        Line(widths.Select(w => new string('-', w)));
        foreach (var d in data) Line(columns.Select(c => d.GetValueOrDefault(c, "")));
        return sb.ToString();
    }

    /// <summary>knack `_TsvOutput`: scalars raw (bools lower-case), a dict's scalar values tab-separated in
    /// key order, nested dicts empty, lists by their length; a list prints one line per item.</summary>
    public static string Tsv(JsonNode? result)
    {
        var sb = new StringBuilder();
        if (result is JsonArray a) foreach (var item in a) sb.Append(TsvLine(item)).Append('\n');
        else if (result is not null) sb.Append(TsvLine(result)).Append('\n');
        return sb.ToString();
    }

    static string TsvLine(JsonNode? n) => n switch
    {
        JsonObject o => string.Join("\t", o.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => p.Value switch
        {
            JsonObject => "",
            JsonArray arr => arr.Count.ToString(CultureInfo.InvariantCulture),
            _ => TsvScalar(p.Value),
        })),
        JsonArray arr => string.Join("\t", arr.Select(TsvScalar)),
        _ => TsvScalar(n),
    };

    static string TsvScalar(JsonNode? v) => v switch
    {
        null => "",
        JsonValue jv when jv.GetValueKind() == JsonValueKind.String => jv.GetValue<string>(),
        JsonValue jv when jv.GetValueKind() == JsonValueKind.True => "true",
        JsonValue jv when jv.GetValueKind() == JsonValueKind.False => "false",
        _ => v.ToJsonString(),
    };
}
