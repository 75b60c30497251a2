namespace PacketLife.Core.Diagnostics;

/// <summary>Every diagnostic the kube-proxy generator reports, in one place (codes KP0xx). Each names the
/// object (kind namespace/name) and says what kube-proxy does with it: it skips bad objects and goes on.</summary>
public static class KubeProxyMessages
{
    static Diagnostic E(string code, SourceLocation at, string message, string? hint = null) => new(Severity.Error, code, message, at, hint);
    static Diagnostic W(string code, SourceLocation at, string message, string? hint = null) => new(Severity.Warning, code, message, at, hint);

    public static Diagnostic InvalidClusterIP(SourceLocation at, string svc, string ip) =>
        E("KP001", at, $"Service {svc}: invalid spec.clusterIP \"{ip}\"; the Service is skipped", "use an IPv4 or IPv6 address, \"None\" for a headless Service");
    public static Diagnostic InvalidServicePort(SourceLocation at, string svc, string port, int value) =>
        E("KP002", at, $"Service {svc}: port {port} has invalid port number {value}; this port is skipped", "ports are 1-65535");
    public static Diagnostic InvalidNodePort(SourceLocation at, string svc, string port, int value) =>
        E("KP003", at, $"Service {svc}: port {port} has invalid nodePort {value}; treated as no NodePort", "nodePorts are 1-65535 (the API allocates 30000-32767)");
    public static Diagnostic InvalidExternalIP(SourceLocation at, string svc, string ip) =>
        E("KP004", at, $"Service {svc}: invalid spec.externalIPs entry \"{ip}\"; ignored");
    public static Diagnostic InvalidIngressIP(SourceLocation at, string svc, string ip) =>
        E("KP005", at, $"Service {svc}: invalid status.loadBalancer.ingress ip \"{ip}\"; ignored");
    public static Diagnostic InvalidSourceRange(SourceLocation at, string svc, string cidr) =>
        E("KP006", at, $"Service {svc}: invalid spec.loadBalancerSourceRanges entry \"{cidr}\"; ignored", "write a CIDR such as 203.0.113.0/24");
    public static Diagnostic InvalidHealthCheckNodePort(SourceLocation at, string svc, int value) =>
        E("KP007", at, $"Service {svc}: invalid spec.healthCheckNodePort {value}; no health check rule", "1-65535");
    public static Diagnostic SliceForUnknownService(SourceLocation at, string slice, string svc) =>
        W("KP010", at, $"EndpointSlice {slice}: Service {svc} does not exist (or is not proxied); the slice is ignored");
    public static Diagnostic SliceWithoutServiceLabel(SourceLocation at, string slice) =>
        W("KP011", at, $"EndpointSlice {slice}: no kubernetes.io/service-name label; the slice is ignored", "kube-proxy only reads slices labelled with their Service");
    public static Diagnostic InvalidEndpointPort(SourceLocation at, string slice, string port) =>
        E("KP012", at, $"EndpointSlice {slice}: port {port} has no valid port number; ignored");
    public static Diagnostic InvalidEndpointAddress(SourceLocation at, string slice, string address) =>
        E("KP013", at, $"EndpointSlice {slice}: invalid endpoint address \"{address}\"; the endpoint is skipped");
    public static Diagnostic EndpointWithoutAddress(SourceLocation at, string slice) =>
        E("KP014", at, $"EndpointSlice {slice}: an endpoint has no addresses; skipped");
    public static Diagnostic DuplicateEndpoint(SourceLocation at, string slice, string svcPort, string ep) =>
        W("KP015", at, $"EndpointSlice {slice}: endpoint {ep} of {svcPort} is already listed by another slice; one copy is used (the local one, if any)");
    public static Diagnostic UnsupportedAddressType(SourceLocation at, string slice, string type) =>
        W("KP016", at, $"EndpointSlice {slice}: addressType {type} is not proxied by kube-proxy; ignored");

    public static Diagnostic InvalidConfig(SourceLocation at, string field, string value, string assumed, string hint) =>
        E("KP020", at, $"KubeProxyConfiguration: invalid {field} \"{value}\"; using {assumed}", hint);
    public static Diagnostic NoClusterCIDRForFamily(SourceLocation at, string family) =>
        W("KP021", at, $"KubeProxyConfiguration: detectLocalMode ClusterCIDR but no {family} clusterCIDR; local traffic is not detected (no masquerade rule in KUBE-SVC)", "set clusterCIDR");
    public static Diagnostic NoNodeCIDR(SourceLocation at, string node) =>
        W("KP022", at, $"KubeProxyConfiguration: detectLocalMode NodeCIDR but node {node} has no podCIDR; local traffic is not detected", "give the Node object spec.podCIDR");
    public static Diagnostic UnsupportedMode(SourceLocation at, string mode) =>
        E("KP023", at, $"KubeProxyConfiguration: mode \"{mode}\" is not modelled; generating iptables mode", "PacketLife models mode: iptables");
    public static Diagnostic ConfigNotYaml(SourceLocation at, string error) =>
        E("KP030", at, $"cannot read KubeProxyConfiguration: {error}");
    public static Diagnostic ConfigWrongKind(SourceLocation at, string apiVersion, string kind) =>
        E("KP031", at, $"expected kind KubeProxyConfiguration in apiVersion kubeproxy.config.k8s.io/v1alpha1, found kind \"{kind}\" apiVersion \"{apiVersion}\"");
    public static Diagnostic ConfigUnknownField(SourceLocation at, string path) =>
        W("KP032", at, $"unknown field \"{path}\" in KubeProxyConfiguration; ignored", "check the spelling against kubeproxy.config.k8s.io/v1alpha1");
    public static Diagnostic ConfigFieldNotModelled(SourceLocation at, string path) =>
        new(Severity.Info, "KP033", $"KubeProxyConfiguration field \"{path}\" does not change the iptables rules; not modelled", at);
    public static Diagnostic ConfigBadValue(SourceLocation at, string path, string value, string expected) =>
        E("KP034", at, $"KubeProxyConfiguration: invalid value \"{value}\" for {path}; the default is used", expected);
}
