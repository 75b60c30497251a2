using System.Text;

namespace PacketLife.Core.KubeProxy;

/// <summary>kube-proxy's chain names (pkg/proxy/iptables/proxier.go portProtoHash and servicePort*ChainName):
/// the first 16 characters of the standard base32 encoding of sha256(svcPortName + protocol [+ endpoint]).
/// The protocol is lower-case ("tcp", "udp", "sctp"); the endpoint is "ip:port" or "[ipv6]:port".</summary>
public static class ChainNames
{
    public const string Services = "KUBE-SERVICES";
    public const string ExternalServices = "KUBE-EXTERNAL-SERVICES";
    public const string Forward = "KUBE-FORWARD";
    public const string NodePorts = "KUBE-NODEPORTS";
    public const string ProxyFirewall = "KUBE-PROXY-FIREWALL";
    public const string Firewall = "KUBE-FIREWALL";
    public const string Postrouting = "KUBE-POSTROUTING";
    public const string MarkMasq = "KUBE-MARK-MASQ";
    public const string ProxyCanary = "KUBE-PROXY-CANARY";
    public const string KubeletCanary = "KUBE-KUBELET-CANARY";
    public const string IptablesHint = "KUBE-IPTABLES-HINT";

    public static string PortProtoHash(string svcPortName, string protocol) => Hash16("", svcPortName, protocol, "");

    public static string ServiceChain(string hash) => "KUBE-SVC-" + hash;
    public static string LocalChain(string hash) => "KUBE-SVL-" + hash;
    public static string ExternalChain(string hash) => "KUBE-EXT-" + hash;
    public static string FirewallChain(string hash) => "KUBE-FW-" + hash;

    public static string EndpointChain(string svcPortName, string protocol, string endpoint) =>
        Hash16("KUBE-SEP-", svcPortName, protocol, endpoint);

    /// <summary>The chain prefixes kube-proxy owns per service port; stale ones are flushed and deleted (§9).</summary>
    public static bool IsServicePortChain(string chain) =>
        chain.StartsWith("KUBE-SVC-", StringComparison.Ordinal) || chain.StartsWith("KUBE-SVL-", StringComparison.Ordinal) ||
        chain.StartsWith("KUBE-EXT-", StringComparison.Ordinal) || chain.StartsWith("KUBE-FW-", StringComparison.Ordinal) ||
        chain.StartsWith("KUBE-SEP-", StringComparison.Ordinal);

    const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

    /// <summary>prefix + the hash of the concatenation a+b+c (no string made for the concatenation).</summary>
    static string Hash16(string prefix, string a, string b, string c)
    {
        int length = a.Length + b.Length + c.Length;
        Span<byte> utf8 = length <= 256 ? stackalloc byte[length * 3] : new byte[length * 3];
        int n = Encoding.UTF8.GetBytes(a, utf8);
        n += Encoding.UTF8.GetBytes(b, utf8[n..]);
        n += Encoding.UTF8.GetBytes(c, utf8[n..]);
        Span<byte> digest = stackalloc byte[32];
        ShortSha256.Hash(utf8[..n], digest);
        // 16 base32 characters = 80 bits = the first 10 bytes, 5 bits at a time, most significant first.
        Span<char> text = stackalloc char[prefix.Length + 16];
        prefix.CopyTo(text);
        var chars = text[prefix.Length..];
        ulong hi = 0;
        for (int i = 0; i < 8; i++) hi = hi << 8 | digest[i];
        uint lo = (uint)(digest[8] << 8 | digest[9]);
        for (int i = 0; i < 12; i++) chars[i] = Alphabet[(int)(hi >> (59 - 5 * i)) & 31];
        // bits 60..79: the low 4 bits of hi followed by the 16 bits of lo.
        ulong tail = (hi & 0xF) << 16 | lo;
        for (int i = 0; i < 4; i++) chars[12 + i] = Alphabet[(int)(tail >> (15 - 5 * i)) & 31];
        return new string(text);
    }
}
