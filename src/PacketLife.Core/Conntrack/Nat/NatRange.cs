using PacketLife.Core.Net;

namespace PacketLife.Core.Conntrack.Nat;

/// <summary>Which side of the tuple a NAT binding rewrites: SRC (SNAT, MASQUERADE; POSTROUTING/INPUT) or
/// DST (DNAT, REDIRECT; PREROUTING/OUTPUT). Kernel <c>enum nf_nat_manip_type</c>.</summary>
public enum NatManipType : byte
{
    Src = 0,
    Dst = 1,
}

/// <summary>Range flags, as the kernel's <c>NF_NAT_RANGE_*</c> (include/uapi/linux/netfilter/nf_nat.h).</summary>
[Flags]
public enum NatRangeFlags : byte
{
    None = 0,
    MapIps = 1 << 0,
    ProtoSpecified = 1 << 1,
    /// <summary>`--random`.</summary>
    ProtoRandom = 1 << 2,
    /// <summary>`--persistent`: the address hash ignores the destination.</summary>
    Persistent = 1 << 3,
    /// <summary>`--random-fully`.</summary>
    ProtoRandomFully = 1 << 4,
    ProtoRandomAll = ProtoRandom | ProtoRandomFully,
}

/// <summary>What a NAT rule asks for (kernel <c>struct nf_nat_range2</c>): an inclusive address range (with
/// <see cref="NatRangeFlags.MapIps"/>), an optional port (or ICMP id) range (with
/// <see cref="NatRangeFlags.ProtoSpecified"/>) and the random/persistent flags.</summary>
public sealed record NatRange(NatRangeFlags Flags, Ip4 MinIp, Ip4 MaxIp, ushort MinPort, ushort MaxPort)
{
    public bool MapsIps => (Flags & NatRangeFlags.MapIps) != 0;
    public bool PortSpecified => (Flags & NatRangeFlags.ProtoSpecified) != 0;
    public bool RandomAll => (Flags & NatRangeFlags.ProtoRandomAll) != 0;
    public bool Persistent => (Flags & NatRangeFlags.Persistent) != 0;

    /// <summary>A range as `--to-destination`/`--to-source` give it: addresses (optional) and ports (optional), plus flags.</summary>
    public static NatRange To(Ip4Range? addresses, ushort? minPort = null, ushort? maxPort = null, NatRangeFlags flags = NatRangeFlags.None)
    {
        var f = flags & ~(NatRangeFlags.MapIps | NatRangeFlags.ProtoSpecified);
        Ip4 lo = default, hi = default;
        if (addresses is { } r)
        {
            f |= NatRangeFlags.MapIps;
            lo = r.First;
            hi = r.Last;
        }
        ushort pl = 0, ph = 0;
        if (minPort is { } a)
        {
            f |= NatRangeFlags.ProtoSpecified;
            pl = a;
            ph = maxPort ?? a;
        }
        return new NatRange(f, lo, hi, pl, ph);
    }

    /// <summary>Reads the `[ip[-ip]][:port[-port]]` of `--to-destination`/`--to-source` (iptables-extensions(8)).</summary>
    public static bool TryParse(string text, NatRangeFlags flags, out NatRange range)
    {
        range = null!;
        var s = text.AsSpan();
        int colon = s.IndexOf(':');
        var ipPart = colon < 0 ? s : s[..colon];
        Ip4Range? ips = null;
        if (ipPart.Length > 0)
        {
            if (!Ip4Range.TryParse(ipPart, out var r)) return false;
            ips = r;
        }
        ushort? lo = null, hi = null;
        if (colon >= 0)
        {
            var portPart = s[(colon + 1)..];
            int dash = portPart.IndexOf('-');
            if (!ushort.TryParse(dash < 0 ? portPart : portPart[..dash], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var a)) return false;
            ushort b = a;
            if (dash >= 0 && !ushort.TryParse(portPart[(dash + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out b)) return false;
            if (b < a) return false;
            lo = a;
            hi = b;
        }
        if (ips is null && lo is null) return false;
        range = To(ips, lo, hi, flags);
        return true;
    }

    public override string ToString()
    {
        var ip = MapsIps ? (MinIp == MaxIp ? MinIp.ToString() : $"{MinIp}-{MaxIp}") : "";
        var port = PortSpecified ? (MinPort == MaxPort ? $":{MinPort}" : $":{MinPort}-{MaxPort}") : "";
        return ip + port;
    }
}
