namespace PacketLife.Core.Conntrack;

/// <summary>The per-namespace conntrack sysctls (Documentation/networking/nf_conntrack-sysctl.rst), in seconds.
/// Defaults are the kernel's compiled defaults, which every new network namespace starts with;
/// <see cref="KubeProxy"/> is what kube-proxy sets on a node (established 86400 s, close-wait 3600 s).</summary>
public sealed record ConntrackSettings
{
    public int TcpTimeoutSynSent { get; init; } = 120;
    public int TcpTimeoutSynRecv { get; init; } = 60;
    public int TcpTimeoutEstablished { get; init; } = 432000;
    public int TcpTimeoutFinWait { get; init; } = 120;
    public int TcpTimeoutCloseWait { get; init; } = 60;
    public int TcpTimeoutLastAck { get; init; } = 30;
    public int TcpTimeoutTimeWait { get; init; } = 120;
    public int TcpTimeoutClose { get; init; } = 10;
    /// <summary>SYN_SENT2 has no sysctl of its own; the kernel's default is 2 minutes.</summary>
    public int TcpTimeoutSynSent2 { get; init; } = 120;
    /// <summary>`nf_conntrack_tcp_timeout_unacknowledged`: caps the timeout of a picked-up ESTABLISHED entry that has seen no reply.</summary>
    public int TcpTimeoutUnacknowledged { get; init; } = 300;
    public int TcpTimeoutMaxRetrans { get; init; } = 300;
    /// <summary>`nf_conntrack_tcp_loose`: 1 lets a lone ACK pick up a connection (NEW, state ESTABLISHED).</summary>
    public bool TcpLoose { get; init; } = true;
    /// <summary>`nf_conntrack_tcp_be_liberal`: only out-of-window RSTs are invalid. Window tracking is not modelled
    /// (packets carry no sequence numbers), so every segment is treated as in window either way.</summary>
    public bool TcpBeLiberal { get; init; }
    public int UdpTimeout { get; init; } = 30;
    public int UdpTimeoutStream { get; init; } = 120;
    public int IcmpTimeout { get; init; } = 30;
    /// <summary>`nf_conntrack_generic_timeout`, for protocols without their own tracker.</summary>
    public int GenericTimeout { get; init; } = 600;
    /// <summary>`nf_conntrack_acct`: new entries count packets and bytes per direction.</summary>
    public bool Accounting { get; init; }

    public static ConntrackSettings Default { get; } = new();

    /// <summary>kube-proxy's conntrack settings (pkg/proxy/conntrack: --conntrack-tcp-timeout-established=24h,
    /// --conntrack-tcp-timeout-close-wait=1h), which AKS nodes show (the seed's ESTABLISHED 86395).</summary>
    public static ConntrackSettings KubeProxy { get; } = new() { TcpTimeoutEstablished = 86400, TcpTimeoutCloseWait = 3600 };

    public int TcpTimeout(TcpConntrackState s) => s switch
    {
        TcpConntrackState.SynSent => TcpTimeoutSynSent,
        TcpConntrackState.SynRecv => TcpTimeoutSynRecv,
        TcpConntrackState.Established => TcpTimeoutEstablished,
        TcpConntrackState.FinWait => TcpTimeoutFinWait,
        TcpConntrackState.CloseWait => TcpTimeoutCloseWait,
        TcpConntrackState.LastAck => TcpTimeoutLastAck,
        TcpConntrackState.TimeWait => TcpTimeoutTimeWait,
        TcpConntrackState.Close => TcpTimeoutClose,
        TcpConntrackState.SynSent2 => TcpTimeoutSynSent2,
        _ => TcpTimeoutClose,
    };

    /// <summary>Reads the sysctl names `net.netfilter.nf_conntrack_*` (with or without the prefix). Returns false for a name
    /// this model does not know; throws nothing.</summary>
    public static bool TryApply(ConntrackSettings s, string name, string value, out ConntrackSettings result)
    {
        result = s;
        var key = name.StartsWith("net.netfilter.", StringComparison.Ordinal) ? name["net.netfilter.".Length..] : name;
        if (!int.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var v)) return false;
        ConntrackSettings? r = key switch
        {
            "nf_conntrack_tcp_timeout_syn_sent" => s with { TcpTimeoutSynSent = v },
            "nf_conntrack_tcp_timeout_syn_recv" => s with { TcpTimeoutSynRecv = v },
            "nf_conntrack_tcp_timeout_established" => s with { TcpTimeoutEstablished = v },
            "nf_conntrack_tcp_timeout_fin_wait" => s with { TcpTimeoutFinWait = v },
            "nf_conntrack_tcp_timeout_close_wait" => s with { TcpTimeoutCloseWait = v },
            "nf_conntrack_tcp_timeout_last_ack" => s with { TcpTimeoutLastAck = v },
            "nf_conntrack_tcp_timeout_time_wait" => s with { TcpTimeoutTimeWait = v },
            "nf_conntrack_tcp_timeout_close" => s with { TcpTimeoutClose = v },
            "nf_conntrack_tcp_timeout_unacknowledged" => s with { TcpTimeoutUnacknowledged = v },
            "nf_conntrack_tcp_timeout_max_retrans" => s with { TcpTimeoutMaxRetrans = v },
            "nf_conntrack_tcp_loose" => s with { TcpLoose = v != 0 },
            "nf_conntrack_tcp_be_liberal" => s with { TcpBeLiberal = v != 0 },
            "nf_conntrack_udp_timeout" => s with { UdpTimeout = v },
            "nf_conntrack_udp_timeout_stream" => s with { UdpTimeoutStream = v },
            "nf_conntrack_icmp_timeout" => s with { IcmpTimeout = v },
            "nf_conntrack_generic_timeout" => s with { GenericTimeout = v },
            "nf_conntrack_acct" => s with { Accounting = v != 0 },
            _ => null,
        };
        if (r is null) return false;
        result = r;
        return true;
    }
}
