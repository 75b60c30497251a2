namespace PacketLife.Core.Diagnostics;

/// <summary>The tracer's explanation catalogue (issue 5 item 3) and its bad-input messages, in one place. Each
/// reason code names a cause a user can act on; the tracer ties it to the rule text and the Kubernetes object.</summary>
public static class TraceMessages
{
    public const string SourceIpLost = "PLT001";
    public const string EtpLocalNoEndpoint = "PLT002";
    public const string Hairpin = "PLT003";
    public const string NoEndpoints = "PLT004";
    public const string AsymmetricReturn = "PLT005";
    public const string StaleConntrack = "PLT006";
    public const string NodeOutOfRotation = "PLT007";
    public const string FloatingIp = "PLT008";
    public const string NotListening = "PLT009";
    public const string LbHash = "PLT010";
    public const string SourceIpKept = "PLT011";
    public const string HairpinOff = "PLT012";
    public const string NoLbRule = "PLT013";

    public static string SourceIpLostText(string service, string masqAddress) =>
        $"the client's source IP is lost: {service} is externalTrafficPolicy Cluster, so kube-proxy marks the packet (KUBE-MARK-MASQ) and POSTROUTING masquerades it to {masqAddress}; the pod sees {masqAddress}. externalTrafficPolicy: Local keeps the client IP (and the LB then only uses nodes with a local endpoint)";

    public static string SourceIpLostInsideText(string service, string masqAddress, string? rule) =>
        rule is not null && rule.Contains("! -i azv+", StringComparison.Ordinal)
            ? $"the source IP is lost: kube-proxy masquerades traffic to {service}'s ClusterIP that does not come in on an azv+ interface (AKS's detect-local prefix, meant for Azure CNI); kubenet pods sit on veth ports of cbr0, so their traffic is masqueraded too, to {masqAddress}"
            : $"the source IP is lost: kube-proxy's rule for {service} marks the packet (KUBE-MARK-MASQ) and POSTROUTING masquerades it to {masqAddress}";

    public static string SourceIpKeptText(string service) =>
        $"the client's source IP is kept: {service} is externalTrafficPolicy Local, so kube-proxy sends the packet only to endpoints on this node and does not masquerade it";

    public static string SourceIpKeptUnmasqueradedText(string service) =>
        $"the client's source IP is kept although {service} is externalTrafficPolicy Cluster: no MASQUERADE or SNAT acted on this path, so the node's rules are not the ones kube-proxy writes (a given dump?). Without it the reply may bypass the node that translated the request";

    public static string EtpLocalNoEndpointText(string service, string node) =>
        $"{service} is externalTrafficPolicy Local and node {node} has no ready local endpoint: kube-proxy drops the packet here. The LB's health probe on the healthCheckNodePort gets 503 from this node, so once the probe has failed ProbeThreshold times the LB stops sending new flows to it";

    public static string HairpinText(string pod, string service) =>
        $"hairpin: pod {pod} reached itself through {service}; kube-proxy's KUBE-SEP rule `-s <pod IP> -j KUBE-MARK-MASQ` masquerades it so the reply comes back through the node instead of straight to the pod, and the bridge port must be in hairpin mode to send the packet back out the veth it came in on";

    public static string HairpinOffText(string veth) =>
        $"the bridge port {veth} is not in hairpin mode: cbr0 will not send a frame back out the port it came in on, so a pod cannot reach itself through its Service (kernel ≥ 6.8 with AKS's bridge template, Azure/AKS#5669)";

    public static string NoEndpointsText(string service) =>
        $"{service} has no ready endpoints: kube-proxy installs a REJECT rule for it in KUBE-SERVICES (ClusterIP) / KUBE-EXTERNAL-SERVICES (NodePort, LB IP), so the client gets ICMP port unreachable at once instead of a timeout";

    public static string AsymmetricText(string expected, string got) =>
        $"asymmetric return path: the client sent to {expected} but the answer came back from {got}, because the reply did not pass the node that translated the request; the client's TCP stack drops it (no socket for that 4-tuple) and answers RST";

    public static string StaleConntrackText(string entry, string pod) =>
        $"stale conntrack entry: {entry} still points at {pod}, which no longer exists; UDP packets of this flow keep following it until the entry times out or kube-proxy deletes it (conntrack -D on endpoint removal)";

    public static string NodeOutOfRotationText(string node, string probe, int interval, int threshold) =>
        $"node {node} is out of rotation: its probe {probe} fails, and the LB stops new flows to a backend after {threshold} consecutive failed probes ({interval} s apart, so within {interval * threshold} s)";

    public static string FloatingIpText(string frontend, string rule) =>
        $"floating IP: LB rule {rule} delivers the packet with the frontend IP {frontend} still as destination (no DNAT in Azure); kube-proxy's \"loadbalancer IP\" rule in KUBE-SERVICES matches it on the node";

    public static string NotListeningText(string target, string port) =>
        $"nothing listens on {port} in {target}: the kernel answers the SYN with RST (connection refused)";

    public static string LbHashText(int healthy) =>
        $"the LB spreads new flows over its {healthy} healthy backend(s) by a hash of the 5-tuple (src IP, src port, dst IP, dst port, protocol); a new connection, with a new source port, may land elsewhere";

    public static string NoLbRuleText(string frontend, string port, string rules) =>
        $"the LB has no rule for {port} on frontend {frontend} (rules there: {rules}): Azure drops the packet";

    // Bad input: one line, naming what is unknown and what exists (exit code 2).
    public static string UnknownSource(string src, string known) => $"error: unknown source \"{src}\": use internet, probe, a node ({known}), a pod (pod/NAME or NAMESPACE/NAME) or an IP in the cluster";
    public static string UnknownDestination(string dst, string known) => $"error: unknown destination \"{dst}\": use IP:PORT, svc/NAME[:PORT] or pod/NAME[:PORT]; Services: {known}";
    public static string ServiceNotFound(string ns, string name, string known) => $"Error from server (NotFound): services \"{name}\" not found in namespace \"{ns}\" (Services there: {known})";
    public static string PodNotFound(string ns, string name, string known) => $"Error from server (NotFound): pods \"{name}\" not found in namespace \"{ns}\" (pods there: {known})";
    public static string NoSuchPort(string service, string port, string ports) => $"error: Service {service} has no port {port}; its ports: {ports}";
    public static string OutsideEveryNetwork(string ip, string networks) => $"error: {ip} is outside every network of the cluster ({networks})";
    public static string NoExternalIp(string service) => $"error: Service {service} has no load balancer IP (it is not type LoadBalancer or its IP is pending); trace it from a pod or a node to use its ClusterIP";
}
