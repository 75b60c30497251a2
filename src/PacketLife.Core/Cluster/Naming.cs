using System.Globalization;
using System.Text;

namespace PacketLife.Core.Cluster;

/// <summary>How Kubernetes names generated objects (apimachinery pkg/util/rand, apiserver storage/names,
/// pkg/controller/controller_utils.go ComputeHash).</summary>
public static class Naming
{
    /// <summary>`rand.String`'s alphabet: no vowels and no look-alikes (0, 1, 3), 27 characters.</summary>
    public const string Alphanums = "bcdfghjklmnpqrstvwxz2456789";

    /// <summary>`names.SimpleNameGenerator`: base (truncated to 58 characters) + 5 random characters.</summary>
    public static string GenerateName(string prefix, ClusterRandom random)
    {
        if (prefix.Length > 58) prefix = prefix[..58];
        Span<char> s = stackalloc char[5];
        for (var i = 0; i < 5; i++) s[i] = Alphanums[random.Next(Alphanums.Length)];
        return prefix + new string(s);
    }

    /// <summary>`rand.SafeEncodeString`: each character c becomes alphanums[c % 27], so a decimal number
    /// maps its digits to `456789bcdf`.</summary>
    public static string SafeEncodeString(string s)
    {
        var sb = new StringBuilder(s.Length);
        foreach (var c in s) sb.Append(Alphanums[c % Alphanums.Length]);
        return sb.ToString();
    }

    /// <summary>pod-template-hash: the Deployment controller hashes the pod template (+ collisionCount)
    /// with FNV-32a, prints the uint32 in decimal and safe-encodes it. Kubernetes hashes a Go dump of the
    /// template, which is not reproducible here; we hash a canonical text of the same template instead,
    /// which keeps the properties that matter: same template ⇒ same hash, alphabet `456789bcdf`.</summary>
    public static string PodTemplateHash(PodTemplate template, int collisionCount = 0)
    {
        var sb = new StringBuilder();
        foreach (var (k, v) in template.Labels.OrderBy(p => p.Key, StringComparer.Ordinal)) sb.Append("label ").Append(k).Append('=').Append(v).Append('\n');
        foreach (var c in template.Spec.Containers)
        {
            sb.Append("container ").Append(c.Name).Append(' ').Append(c.Image).Append('\n');
            foreach (var p in c.Ports) sb.Append("port ").Append(p.Port).Append(' ').Append(p.Name).Append(' ').Append(p.Protocol).Append('\n');
        }
        sb.Append("hostNetwork ").Append(template.Spec.HostNetwork).Append('\n');
        if (collisionCount > 0) sb.Append("collision ").Append(collisionCount);
        var h = Fnv32a(Encoding.UTF8.GetBytes(sb.ToString()));
        return SafeEncodeString(h.ToString(CultureInfo.InvariantCulture));
    }

    public static uint Fnv32a(ReadOnlySpan<byte> data)
    {
        var h = 2166136261u;
        foreach (var b in data) { h ^= b; h *= 16777619u; }
        return h;
    }

    /// <summary>cloudprovider.DefaultLoadBalancerName: "a" + UID without dashes, cut to 32 characters
    /// (so the UID's last hex digit is dropped). cloud-provider-azure names the frontend, rules and probes
    /// after it (facts azure-aks.md §1.1).</summary>
    public static string AzureLoadBalancerBaseName(string uid)
    {
        var n = "a" + uid.Replace("-", "", StringComparison.Ordinal);
        return n.Length > 32 ? n[..32] : n;
    }

    /// <summary>AKS VMSS instance name: `aks-&lt;pool&gt;-&lt;8 digits&gt;-vmss` + instance id in base 36, 6 wide.</summary>
    public static string AksNodeName(string pool, string poolId, int instance)
    {
        const string digits = "0123456789abcdefghijklmnopqrstuvwxyz";
        Span<char> s = stackalloc char[6];
        for (var i = 5; i >= 0; i--) { s[i] = digits[instance % 36]; instance /= 36; }
        return $"aks-{pool}-{poolId}-vmss{new string(s)}";
    }
}
