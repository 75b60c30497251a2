namespace PacketLife.Core.Diagnostics;

/// <summary>Every message of the cluster twin, worded as kubectl, the API server and azure-cli word them
/// (kubectl `cmd/util/helpers.go` StandardErrorMessage prints `Error from server (Reason): message`;
/// apimachinery `api/errors` builds `&lt;resource&gt; "&lt;name&gt;" not found` and friends), plus the
/// manifest reader's diagnostic codes.</summary>
public static class ClusterMessages
{
    /// <summary>The API's resource name for a kind, as errors print it (`pods`, `deployments.apps`).</summary>
    public static string Resource(string kind) => kind switch
    {
        "Pod" => "pods",
        "Service" => "services",
        "Node" => "nodes",
        "Endpoints" => "endpoints",
        "EndpointSlice" => "endpointslices.discovery.k8s.io",
        "Deployment" => "deployments.apps",
        "ReplicaSet" => "replicasets.apps",
        _ => kind.ToLowerInvariant() + "s",
    };

    public static string NotFound(string kind, string name) => $"Error from server (NotFound): {Resource(kind)} \"{name}\" not found";
    public static string AlreadyExists(string kind, string name) => $"Error from server (AlreadyExists): {Resource(kind)} \"{name}\" already exists";
    public static string Invalid(string kind, string name, string field, string detail) => $"The {kind} \"{name}\" is invalid: {field}: {detail}";
    public static string InvalidValue(string kind, string name, string field, string value, string why) => Invalid(kind, name, field, $"Invalid value: {value}: {why}");
    public static string NodePortRangeFull(string name, int index) => Invalid("Service", name, $"spec.ports[{index}].nodePort", "Internal error occurred: failed to allocate a nodePort: range is full");
    public static string ClusterIpRangeFull(string name) => Invalid("Service", name, "spec.clusterIPs", "Internal error occurred: failed to allocate a serviceIP: range is full");
    public static string PortAllocated(string name, int index, int port) => InvalidValue("Service", name, $"spec.ports[{index}].nodePort", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "provided port is already allocated");
    public static string PortOutOfRange(string name, int index, int port, int min, int max) => InvalidValue("Service", name, $"spec.ports[{index}].nodePort", port.ToString(System.Globalization.CultureInfo.InvariantCulture), $"provided port is not in the valid range. The range of valid ports is {min}-{max}");
    public static string IpAllocated(string name, string ip) => InvalidValue("Service", name, "spec.clusterIPs", $"[]string{{\"{ip}\"}}", $"failed to allocate IP {ip}: provided IP is already allocated");
    public static string IpOutOfRange(string name, string ip, string cidr) => InvalidValue("Service", name, "spec.clusterIPs", $"[]string{{\"{ip}\"}}", $"failed to allocate IP {ip}: the provided IP ({ip}) is not in the valid range. The range of valid IPs is {cidr}");
    public static string PortNumber(string kind, string name, string field, int port) => InvalidValue(kind, name, field, port.ToString(System.Globalization.CultureInfo.InvariantCulture), "must be between 1 and 65535, inclusive");
    public static string NegativeReplicas(string kind, string name, int n) => InvalidValue(kind, name, "spec.replicas", n.ToString(System.Globalization.CultureInfo.InvariantCulture), "must be greater than or equal to 0");
    public static string BadName(string kind, string name) => InvalidValue(kind, name, "metadata.name", $"\"{name}\"",
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')");
    public static string ServiceNameDns1035(string name) => InvalidValue("Service", name, "metadata.name", $"\"{name}\"",
        "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')");
    public static string NoPorts(string name) => Invalid("Service", name, "spec.ports", "Required value");
    public static string DuplicatePort(string name, int index) => Invalid("Service", name, $"spec.ports[{index}]", "Duplicate value: \"TCP\"");
    public static string PortNameRequired(string name, int index) => Invalid("Service", name, $"spec.ports[{index}].name", "Required value");
    public static string NoPublicIp => "the cluster's public IP prefixes have no free address left for a LoadBalancer frontend";

    // Manifest reader diagnostic codes (PL3xxx = cluster area).
    public const string YamlSyntax = "PL3001";
    public const string UnknownKind = "PL3002";
    public const string UnknownField = "PL3003";
    public const string BadValue = "PL3004";
    public const string MissingField = "PL3005";
    public const string DerivedKind = "PL3006";
}
