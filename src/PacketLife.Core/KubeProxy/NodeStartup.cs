namespace PacketLife.Core.KubeProxy;

/// <summary>One iptables operation a node agent runs outside iptables-restore (pkg/util/iptables EnsureChain /
/// EnsureRule): `-N` when the chain is missing; `-C` and then `-I` (prepend) or `-A` (append) when the rule is missing.</summary>
public abstract record NodeIptablesOp(string Table);

public sealed record EnsureChainOp(string Table, string Chain) : NodeIptablesOp(Table);

/// <param name="Spec">The rule after `-A CHAIN`, as the agent writes it.</param>
public sealed record EnsureRuleOp(string Table, string Chain, bool Prepend, string Spec) : NodeIptablesOp(Table)
{
    public string Text => $"-A {Chain} {Spec}";
}

/// <summary>What runs on a node before kube-proxy's restore, in order: kubelet's start-up (its iptables "hint" chain,
/// for IPv4 the KUBE-FIREWALL chain with its two jumps and the martian-packet rule, then its canary monitor; kubelet
/// starts before the kube-proxy pod), then kube-proxy's canary monitor and its jump rules (§2.4, §2.5).
/// Sources: pkg/kubelet/kubelet_network_linux.go (syncIPTablesRules, initNetworkUtil), KEP-3178, proxier.go.</summary>
public static class NodeStartup
{
    public const string MartianRule =
        "-m comment --comment \"block incoming localnet connections\" --dst 127.0.0.0/8 ! --src 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP";

    public static IReadOnlyList<NodeIptablesOp> Kubelet(IpFamily family)
    {
        var ops = new List<NodeIptablesOp> { new EnsureChainOp("mangle", ChainNames.IptablesHint) };
        if (family == IpFamily.IPv4)
        {
            ops.Add(new EnsureChainOp("filter", ChainNames.Firewall));
            ops.Add(new EnsureRuleOp("filter", "OUTPUT", true, "-j KUBE-FIREWALL"));
            ops.Add(new EnsureRuleOp("filter", "INPUT", true, "-j KUBE-FIREWALL"));
            ops.Add(new EnsureRuleOp("filter", ChainNames.Firewall, false, MartianRule));
        }
        foreach (var t in new[] { "mangle", "nat", "filter" }) ops.Add(new EnsureChainOp(t, ChainNames.KubeletCanary));
        return ops;
    }

    public static IReadOnlyList<NodeIptablesOp> KubeProxy(KubeProxySyncResult sync)
    {
        var ops = new List<NodeIptablesOp>();
        foreach (var (t, c) in sync.Canaries) ops.Add(new EnsureChainOp(t, c));
        foreach (var j in sync.JumpRules)
        {
            ops.Add(new EnsureChainOp(j.Table, j.TargetChain));
            ops.Add(new EnsureRuleOp(j.Table, j.SourceChain, true, j.Text[(j.SourceChain.Length + 4)..]));
        }
        return ops;
    }

    /// <summary>A node's first full sync: kubelet (unless <paramref name="withKubelet"/> is false), then kube-proxy.</summary>
    public static IReadOnlyList<NodeIptablesOp> Operations(KubeProxySyncResult sync, bool withKubelet = true) =>
        [.. withKubelet ? Kubelet(sync.Family) : [], .. KubeProxy(sync)];
}
