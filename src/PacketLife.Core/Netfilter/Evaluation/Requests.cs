using PacketLife.Core.Net;

namespace PacketLife.Core.Netfilter.Evaluation;

/// <summary>Something the rules ask of the caller (conntrack/NAT/routing), returned as data.</summary>
public abstract record EvalRequest;

public enum NatKind
{
    Dnat,
    Snat,
    Masquerade,
    Redirect,
}

[Flags]
public enum NatFlags
{
    None = 0,
    Random = 1,
    RandomFully = 2,
    Persistent = 4,
}

public readonly record struct PortRange(ushort Min, ushort Max)
{
    public static readonly PortRange All = new(0, 65535);
    public bool Contains(ushort p) => p >= Min && p <= Max;
    public bool IsSingle => Min == Max;
    /// <summary>iptables' match form: `80` or `80:90`.</summary>
    public override string ToString() => Min == Max ? Min.ToString() : $"{Min}:{Max}";
    /// <summary>NAT target form: `80` or `80-90`.</summary>
    public string ToNatString() => Min == Max ? Min.ToString() : $"{Min}-{Max}";
}

/// <summary>A NAT binding to set up for this connection (nf_nat_core.c does the address/port choice):
/// DNAT/REDIRECT in PREROUTING/OUTPUT, SNAT/MASQUERADE in POSTROUTING/INPUT.</summary>
public sealed record NatRequest(NatKind Kind, Ip4Range? Addresses, PortRange? Ports, NatFlags Flags, string Rule) : EvalRequest;

/// <summary>The connection mark after CONNMARK rules ran (the caller stores it in the conntrack entry).</summary>
public sealed record ConnmarkRequest(uint OldMark, uint NewMark, string Rule) : EvalRequest;

/// <summary>`-j NOTRACK` / `-j CT --notrack`: the packet becomes UNTRACKED.</summary>
public sealed record NoTrackRequest(string Rule) : EvalRequest;

/// <summary>`-j CT --zone N` (and `--zone-orig`/`--zone-reply`).</summary>
public sealed record CtZoneRequest(ushort Zone, bool Original, bool Reply, string Rule) : EvalRequest;

/// <summary>`-j TRACE`: the packet is traced from here on.</summary>
public sealed record TraceRequest(string Rule) : EvalRequest;

/// <summary>`-j LOG` / `-j NFLOG`: a log line the kernel would emit.</summary>
public sealed record LogRequest(string Target, string Prefix, string Rule) : EvalRequest;

/// <summary>`-j TCPMSS` / `-j CHECKSUM`: header rewrites that do not change the 5-tuple.</summary>
public sealed record HeaderRewriteRequest(string What, string Rule) : EvalRequest;
