using System.Globalization;
using PacketLife.Core.Diagnostics;
using PacketLife.Core.KubeProxy;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace PacketLife.Manifests;

/// <summary>Reads a `kubeproxy.config.k8s.io/v1alpha1` KubeProxyConfiguration (YAML or JSON) into the Core model.
/// Missing fields take kube-proxy's defaults; every field is either modelled, reported as not affecting the
/// iptables rules (info), or reported as unknown (warning), each with its line and column.</summary>
public static class KubeProxyConfigReader
{
    public const string ApiVersion = "kubeproxy.config.k8s.io/v1alpha1";

    public static (KubeProxyConfiguration Config, IReadOnlyList<Diagnostic> Diagnostics) ReadFile(string path) =>
        Read(File.ReadAllText(path), path);

    /// <summary>Fields of v1alpha1 that exist but do not change what iptables mode programs.</summary>
    static readonly HashSet<string> NotModelled =
    [
        "bindAddress", "healthzBindAddress", "metricsBindAddress", "bindAddressHardFail", "enableProfiling",
        "showHiddenMetricsForVersion", "clientConnection", "featureGates", "hostnameOverride", "ipvs", "nftables",
        "winkernel", "oomScoreAdj", "portRange", "configSyncPeriod", "logging", "windowsRunAsService",
        "iptables.syncPeriod", "iptables.minSyncPeriod", "conntrack.udpTimeout", "conntrack.udpStreamTimeout",
        "conntrack.maxPerCore", "conntrack.min", "conntrack.tcpEstablishedTimeout", "conntrack.tcpCloseWaitTimeout",
        "syncPeriod", "minSyncPeriod",
    ];

    public static (KubeProxyConfiguration Config, IReadOnlyList<Diagnostic> Diagnostics) Read(string text, string source)
    {
        var diags = new List<Diagnostic>();
        var cfg = KubeProxyConfiguration.Default;
        YamlMappingNode root;
        try
        {
            var stream = new YamlStream();
            stream.Load(new StringReader(text));
            if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode m)
            {
                diags.Add(KubeProxyMessages.ConfigNotYaml(new SourceLocation(source, 1, 1), "the document is not a mapping"));
                return (cfg, diags);
            }
            root = m;
        }
        catch (YamlException e)
        {
            diags.Add(KubeProxyMessages.ConfigNotYaml(new SourceLocation(source, (int)e.Start.Line, (int)e.Start.Column), e.Message));
            return (cfg, diags);
        }

        SourceLocation At(YamlNode n) => new(source, (int)n.Start.Line, (int)n.Start.Column);
        string apiVersion = Scalar(root, "apiVersion") ?? "", kind = Scalar(root, "kind") ?? "";
        if (apiVersion != ApiVersion || kind != "KubeProxyConfiguration")
        {
            diags.Add(KubeProxyMessages.ConfigWrongKind(At(root), apiVersion, kind));
            return (cfg, diags);
        }

        var iptables = cfg.Iptables;
        var conntrack = cfg.Conntrack;
        var detectLocal = cfg.DetectLocal;
        foreach (var (k, v) in root.Children)
        {
            string key = ((YamlScalarNode)k).Value ?? "";
            switch (key)
            {
                case "apiVersion" or "kind": break;
                case "mode": cfg = cfg with { Mode = Str(v) ?? "" }; break;
                case "clusterCIDR": cfg = cfg with { ClusterCIDR = Str(v) ?? "" }; break;
                case "detectLocalMode":
                    {
                        var s = Str(v) ?? "";
                        if (s == "") break; // "" is defaulted to ClusterCIDR
                        if (Enum.TryParse<DetectLocalMode>(s, ignoreCase: false, out var mode) && Enum.IsDefined(mode))
                            cfg = cfg with { DetectLocalMode = mode };
                        else diags.Add(KubeProxyMessages.ConfigBadValue(At(v), key, s, "ClusterCIDR, NodeCIDR, BridgeInterface or InterfaceNamePrefix"));
                        break;
                    }
                case "detectLocal":
                    foreach (var (k2, v2, kn) in Map(v, key))
                        switch (k2)
                        {
                            case "bridgeInterface": detectLocal = detectLocal with { BridgeInterface = Str(v2) ?? "" }; break;
                            case "interfaceNamePrefix": detectLocal = detectLocal with { InterfaceNamePrefix = Str(v2) ?? "" }; break;
                            default: diags.Add(KubeProxyMessages.ConfigUnknownField(At(kn), $"{key}.{k2}")); break;
                        }
                    break;
                case "nodePortAddresses":
                    if (v is YamlSequenceNode seq) cfg = cfg with { NodePortAddresses = seq.Children.Select(c => Str(c) ?? "").ToArray() };
                    else if (!IsNull(v)) diags.Add(KubeProxyMessages.ConfigBadValue(At(v), key, v.ToString(), "a list of CIDRs"));
                    break;
                case "iptables":
                    foreach (var (k2, v2, kn) in Map(v, key))
                        switch (k2)
                        {
                            case "masqueradeBit": if (Int(v2, $"{key}.{k2}") is { } bit) iptables = iptables with { MasqueradeBit = bit }; break;
                            case "masqueradeAll": if (Bool(v2, $"{key}.{k2}") is { } all) iptables = iptables with { MasqueradeAll = all }; break;
                            case "localhostNodePorts": if (Bool(v2, $"{key}.{k2}") is { } lnp) iptables = iptables with { LocalhostNodePorts = lnp }; break;
                            case "syncPeriod": if (Duration(v2, $"{key}.{k2}") is { } sp) iptables = iptables with { SyncPeriod = sp }; break;
                            case "minSyncPeriod": if (Duration(v2, $"{key}.{k2}") is { } msp) iptables = iptables with { MinSyncPeriod = msp }; break;
                            default: diags.Add(KubeProxyMessages.ConfigUnknownField(At(kn), $"{key}.{k2}")); break;
                        }
                    break;
                case "conntrack":
                    foreach (var (k2, v2, kn) in Map(v, key))
                        switch (k2)
                        {
                            case "maxPerCore": conntrack = conntrack with { MaxPerCore = Int(v2, $"{key}.{k2}") ?? conntrack.MaxPerCore }; break;
                            case "min": conntrack = conntrack with { Min = Int(v2, $"{key}.{k2}") ?? conntrack.Min }; break;
                            case "tcpEstablishedTimeout": conntrack = conntrack with { TcpEstablishedTimeout = Duration(v2, $"{key}.{k2}") ?? conntrack.TcpEstablishedTimeout }; break;
                            case "tcpCloseWaitTimeout": conntrack = conntrack with { TcpCloseWaitTimeout = Duration(v2, $"{key}.{k2}") ?? conntrack.TcpCloseWaitTimeout }; break;
                            case "tcpBeLiberal": conntrack = conntrack with { TcpBeLiberal = Bool(v2, $"{key}.{k2}") ?? false }; break;
                            case "udpTimeout": conntrack = conntrack with { UdpTimeout = Duration(v2, $"{key}.{k2}") }; break;
                            case "udpStreamTimeout": conntrack = conntrack with { UdpStreamTimeout = Duration(v2, $"{key}.{k2}") }; break;
                            default: diags.Add(KubeProxyMessages.ConfigUnknownField(At(kn), $"{key}.{k2}")); break;
                        }
                    break;
                case "hostnameOverride": cfg = cfg with { HostnameOverride = Str(v) ?? "" }; break;
                default:
                    diags.Add(NotModelled.Contains(key) ? KubeProxyMessages.ConfigFieldNotModelled(At(k), key) : KubeProxyMessages.ConfigUnknownField(At(k), key));
                    break;
            }
        }
        return (cfg with { Iptables = iptables, Conntrack = conntrack, DetectLocal = detectLocal }, diags);

        IEnumerable<(string, YamlNode, YamlNode)> Map(YamlNode n, string path)
        {
            if (n is YamlMappingNode mm) return mm.Children.Select(kv => (((YamlScalarNode)kv.Key).Value ?? "", kv.Value, kv.Key));
            if (!IsNull(n)) diags.Add(KubeProxyMessages.ConfigBadValue(At(n), path, n.ToString(), "a mapping"));
            return [];
        }
        int? Int(YamlNode n, string path)
        {
            var s = Str(n);
            if (s is null) return null;
            if (int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var i)) return i;
            diags.Add(KubeProxyMessages.ConfigBadValue(At(n), path, s, "an integer"));
            return null;
        }
        bool? Bool(YamlNode n, string path)
        {
            var s = Str(n);
            if (s is null) return null;
            if (s is "true" or "True") return true;
            if (s is "false" or "False") return false;
            diags.Add(KubeProxyMessages.ConfigBadValue(At(n), path, s, "true or false"));
            return null;
        }
        TimeSpan? Duration(YamlNode n, string path)
        {
            var s = Str(n);
            if (s is null) return null;
            if (GoDuration.TryParse(s, out var d)) return d;
            diags.Add(KubeProxyMessages.ConfigBadValue(At(n), path, s, "a Go duration such as 24h0m0s or 3600s"));
            return null;
        }
    }

    static bool IsNull(YamlNode n) => n is YamlScalarNode { Value: null or "" or "null" or "~" } s && s.Style == ScalarStyle.Plain;
    static string? Str(YamlNode n) => n is YamlScalarNode s && !IsNull(n) ? s.Value : null;
    static string? Scalar(YamlMappingNode m, string key) =>
        m.Children.TryGetValue(new YamlScalarNode(key), out var v) ? Str(v) : null;
}

/// <summary>Go's time.ParseDuration: a sequence of decimal numbers with units ns, us, µs, ms, s, m, h ("24h0m0s", "1.5h", "0").</summary>
public static class GoDuration
{
    public static bool TryParse(string s, out TimeSpan value)
    {
        value = default;
        if (s == "0") return true;
        if (s.Length == 0) return false;
        int i = 0;
        bool neg = false;
        if (s[0] is '-' or '+') { neg = s[0] == '-'; i++; }
        double totalNs = 0;
        bool any = false;
        while (i < s.Length)
        {
            int start = i;
            while (i < s.Length && (char.IsAsciiDigit(s[i]) || s[i] == '.')) i++;
            if (i == start || !double.TryParse(s.AsSpan(start, i - start), NumberStyles.Float, CultureInfo.InvariantCulture, out var num)) return false;
            int us = i;
            while (i < s.Length && !char.IsAsciiDigit(s[i]) && s[i] != '.') i++;
            double unit = s[us..i] switch
            {
                "ns" => 1, "us" or "µs" or "μs" => 1e3, "ms" => 1e6, "s" => 1e9, "m" => 60e9, "h" => 3600e9, _ => double.NaN,
            };
            if (double.IsNaN(unit)) return false;
            totalNs += num * unit;
            any = true;
        }
        if (!any) return false;
        value = TimeSpan.FromTicks((long)Math.Round(totalNs / 100) * (neg ? -1 : 1));
        return true;
    }
}
