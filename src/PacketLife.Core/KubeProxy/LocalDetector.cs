namespace PacketLife.Core.KubeProxy;

/// <summary>How kube-proxy recognises traffic from local pods (pkg/proxy/util/localdetector.go): the match
/// arguments of "is local" (used in KUBE-EXT "pod traffic" rules) and "is not local" (the KUBE-SVC masquerade
/// rule). The NoOp detector (no cluster CIDR, no node CIDR) is not implemented and adds neither rule.</summary>
public sealed record LocalDetector(string Mode, string IfLocal, string IfNotLocal)
{
    public static LocalDetector NoOp { get; } = new("NoOp", "", "");
    public bool IsImplemented => IfLocal.Length > 0;

    /// <summary>The option both matches use ("-s" or "-i") and its value, for writers that place options themselves.</summary>
    public string Option { get; init; } = "";
    public string Value { get; init; } = "";

    public static LocalDetector ForCidr(string mode, string cidr) => new(mode, $"-s {cidr}", $"! -s {cidr}") { Option = "-s", Value = cidr };
    public static LocalDetector ForBridge(string bridge) => new("BridgeInterface", $"-i {bridge}", $"! -i {bridge}") { Option = "-i", Value = bridge };
    /// <summary>`prefix+` is iptables' interface wildcard (iptables(8), -i).</summary>
    public static LocalDetector ForPrefix(string prefix) =>
        new("InterfaceNamePrefix", $"-i {prefix}+", $"! -i {prefix}+") { Option = "-i", Value = prefix + "+" };
}
