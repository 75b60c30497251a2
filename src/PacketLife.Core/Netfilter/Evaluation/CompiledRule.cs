using PacketLife.Core.Net;
using PacketLife.Core.Netfilter.Matches;
using PacketLife.Core.Netfilter.Targets;

namespace PacketLife.Core.Netfilter.Evaluation;

/// <summary>A rule flattened for the hot path of <see cref="TableEvaluator"/>: the built-in fields inline (no pointer
/// chasing before the first test), matches that always match (comment, nfacct) left out, the first port match and a
/// trailing `statistic --mode random` inlined, the jump resolved to the position of the target chain's first rule.
/// Every chain of a table lives in one array of these, each chain followed by an end entry
/// (<see cref="IsEnd"/>), so that a walk reads few, adjacent cache lines: a 10k-Service dump does not fit in the
/// caches, and every separate object a decision touches is a likely miss. 56 bytes: addresses as (network, prefix
/// length), the statistic probability as a number in the evaluator's table of distinct probabilities, a NAT target's
/// range inline (the request is built per walk from it, so that reading it costs no miss on a shared object).</summary>
internal struct CompiledRule
{
    /// <summary>For NAT targets: the rule text the request quotes (see <see cref="NatRequest"/>); null otherwise.</summary>
    public string? NatRule;
    /// <summary>Matches evaluated through their objects; null when all were inlined or always match.</summary>
    public Match[]? Matches;
    int F;
    /// <summary>Jumps: the position of the target chain's first rule (its end entry when it is empty). NAT targets
    /// (never jumps): their port range, min in the low and max in the high 16 bits.</summary>
    public int JumpStart;
    public uint SrcNet, DstNet;
    /// <summary>NAT targets: the address range (`--to-destination`/`--to-source`), when given.</summary>
    public uint NatFirst, NatLast;
    // A tcp/udp match with only port tests, inlined (xt_tcpudp.c: non-first fragments never match).
    public ushort SportMin, SportMax, DportMin, DportMax;
    /// <summary>Jumps: the target chain's index (<see cref="ChainIndex"/> number), -1 when it is scanned.</summary>
    public short JumpIndex;
    /// <summary>An inlined `statistic --mode random` (the last match of kube-proxy's KUBE-SVC rules): its probability
    /// of matching is the evaluator's probability table at this number; 0 when there is none.</summary>
    public ushort Random;
    public byte SrcLen, DstLen;
    public IpProtocol PortProto;
    public IpProtocol Proto; // when HasProto and not "all"

    public bool HasPorts { readonly get => (F & 1) != 0; set => F = value ? F | 1 : F & ~1; }
    public bool SportNeg { readonly get => (F & 2) != 0; set => F = value ? F | 2 : F & ~2; }
    public bool DportNeg { readonly get => (F & 4) != 0; set => F = value ? F | 4 : F & ~4; }
    public bool HasSport { readonly get => (F & 8) != 0; set => F = value ? F | 8 : F & ~8; }
    public bool HasDport { readonly get => (F & 16) != 0; set => F = value ? F | 16 : F & ~16; }
    public bool IsJump { readonly get => (F & 32) != 0; set => F = value ? F | 32 : F & ~32; }
    public bool IsGoto { readonly get => (F & 64) != 0; set => F = value ? F | 64 : F & ~64; }
    public bool MissingChain { readonly get => (F & 128) != 0; set => F = value ? F | 128 : F & ~128; }
    public bool HasSrc { readonly get => (F & 256) != 0; set => F = value ? F | 256 : F & ~256; }
    public bool SrcNeg { readonly get => (F & 512) != 0; set => F = value ? F | 512 : F & ~512; }
    public bool HasDst { readonly get => (F & 1024) != 0; set => F = value ? F | 1024 : F & ~1024; }
    public bool DstNeg { readonly get => (F & 2048) != 0; set => F = value ? F | 2048 : F & ~2048; }
    public bool HasProto { readonly get => (F & 4096) != 0; set => F = value ? F | 4096 : F & ~4096; }
    public bool ProtoNeg { readonly get => (F & 8192) != 0; set => F = value ? F | 8192 : F & ~8192; }
    public bool ProtoAll { readonly get => (F & 16384) != 0; set => F = value ? F | 16384 : F & ~16384; }
    public bool HasIfaceOrFrag { readonly get => (F & 32768) != 0; set => F = value ? F | 32768 : F & ~32768; }
    public bool HasTarget { readonly get => (F & 65536) != 0; set => F = value ? F | 65536 : F & ~65536; }
    /// <summary>The entry after a chain's last rule: the walk returns (user chain) or applies the policy.</summary>
    public bool IsEnd { readonly get => (F & 131072) != 0; set => F = value ? F | 131072 : F & ~131072; }
    public bool IsNat { readonly get => (F & (1 << 18)) != 0; set => F = value ? F | (1 << 18) : F & ~(1 << 18); }
    bool NatHasAddresses { readonly get => (F & (1 << 19)) != 0; set => F = value ? F | (1 << 19) : F & ~(1 << 19); }
    bool NatHasPorts { readonly get => (F & (1 << 20)) != 0; set => F = value ? F | (1 << 20) : F & ~(1 << 20); }
    // Bits 21-22: NatKind; bits 23-25: NatFlags.
    NatKind NatKindBits { readonly get => (NatKind)((F >> 21) & 3); set => F = (F & ~(3 << 21)) | ((int)value << 21); }
    NatFlags NatFlagBits { readonly get => (NatFlags)((F >> 23) & 7); set => F = (F & ~(7 << 23)) | ((int)value << 23); }

    /// <summary>The NAT request of this rule (a NAT target): a new object per walk, equal by value every time.</summary>
    public readonly NatRequest NatRequest() => new(NatKindBits,
        NatHasAddresses ? new Ip4Range(new Ip4(NatFirst), new Ip4(NatLast)) : null,
        NatHasPorts ? new PortRange((ushort)JumpStart, (ushort)((uint)JumpStart >> 16)) : null,
        NatFlagBits, NatRule!);

    void SetNat(NatKind kind, Ip4Range? addresses, PortRange? ports, NatFlags flags, string text)
    {
        IsNat = true;
        NatKindBits = kind;
        NatFlagBits = flags;
        NatRule = text;
        if (addresses is { } a) { NatHasAddresses = true; NatFirst = a.First.Value; NatLast = a.Last.Value; }
        if (ports is { } p) { NatHasPorts = true; JumpStart = p.Min | (p.Max << 16); }
    }

    void Inline(IpProtocol proto, PortRange? sp, bool sn, PortRange? dp, bool dn)
    {
        HasPorts = true;
        PortProto = proto;
        if (sp is { } a) { HasSport = true; SportMin = a.Min; SportMax = a.Max; SportNeg = sn; }
        if (dp is { } b) { HasDport = true; DportMin = b.Min; DportMax = b.Max; DportNeg = dn; }
    }

    /// <summary>`-s`/`-d` as ip_packet_match tests them: (address &amp; mask) == network, mask from the prefix length
    /// (a 64-bit shift so that /0 matches everything).</summary>
    public static bool InPrefix(uint address, uint network, byte length) => ((ulong)(address ^ network) >> (32 - length)) == 0;

    public static CompiledRule End() => new() { IsEnd = true, JumpStart = -1, JumpIndex = -1 };

    /// <summary>Compiles <paramref name="r"/>; the jump's position and index are filled in once every chain is placed.
    /// <paramref name="probability"/> numbers a probability in the evaluator's table (0: no room left).</summary>
    public static CompiledRule From(Rule r, string text, Func<double, ushort> probability)
    {
        var cr = new CompiledRule
        {
            JumpStart = -1,
            JumpIndex = -1,
            HasIfaceOrFrag = r.InInterface is not null || r.OutInterface is not null || r.Fragment is not null,
            HasTarget = r.Target is not null,
        };
        var rest = new List<Match>(r.Matches.Length);
        foreach (var m in r.Matches)
        {
            if (m is CommentMatch or NfacctMatch) continue;
            // Only the first port match of a rule is inlined; it keeps its place because comment/nfacct (always
            // true, stateless) are the only matches that may precede it in the inlined form.
            if (!cr.HasPorts && rest.Count == 0 && m is TcpMatch { HasFlags: false, TcpOption: null } t)
            {
                cr.Inline(IpProtocol.Tcp, t.SourcePorts, t.SourceNegated, t.DestinationPorts, t.DestinationNegated);
                continue;
            }
            if (!cr.HasPorts && rest.Count == 0 && m is UdpMatch u)
            {
                cr.Inline(IpProtocol.Udp, u.SourcePorts, u.SourceNegated, u.DestinationPorts, u.DestinationNegated);
                continue;
            }
            rest.Add(m);
        }
        // Number 0 means the table is full: the match then stays an object (evaluated the same way, only slower).
        if (rest.Count > 0 && rest[^1] is StatisticMatch { Mode: StatisticMode.Random } st
            && probability(st.Negated ? 1 - st.Probability : st.Probability) is var k and not 0)
        {
            cr.Random = k;
            rest.RemoveAt(rest.Count - 1);
        }
        cr.Matches = rest.Count == 0 ? null : [.. rest];
        switch (r.Target)
        {
            case DnatTarget dn: cr.SetNat(NatKind.Dnat, dn.Range.Addresses, dn.Range.Ports, dn.Flags, text); break;
            case SnatTarget sn: cr.SetNat(NatKind.Snat, sn.Range.Addresses, sn.Range.Ports, sn.Flags, text); break;
            case MasqueradeTarget m: cr.SetNat(NatKind.Masquerade, null, m.Ports, m.Flags, text); break;
            case RedirectTarget rd: cr.SetNat(NatKind.Redirect, null, rd.Ports, rd.Flags, text); break;
        }
        if (r.Source is { } s) { cr.HasSrc = true; cr.SrcNeg = s.Negated; cr.SrcLen = (byte)s.Prefix.Length; cr.SrcNet = s.Prefix.Address.Value & s.Prefix.Mask; }
        if (r.Destination is { } d) { cr.HasDst = true; cr.DstNeg = d.Negated; cr.DstLen = (byte)d.Prefix.Length; cr.DstNet = d.Prefix.Address.Value & d.Prefix.Mask; }
        if (r.Protocol is { } p) { cr.HasProto = true; cr.ProtoNeg = p.Negated; cr.ProtoAll = p.Protocol is null; cr.Proto = p.Protocol ?? 0; }
        if (r.Target is JumpTarget j)
        {
            cr.IsJump = true;
            cr.IsGoto = j.IsGoto;
        }
        return cr;
    }
}

/// <summary>What the walk needs only when it records, reports or executes a target: kept out of the hot array (one
/// per entry of it, end entries included).</summary>
internal sealed class ColdRule
{
    /// <summary>Null for a chain's end entry.</summary>
    public Rule? Rule;
    /// <summary>1-based position in the chain (for an end entry: the number of rules + 1, as TRACE prints it).</summary>
    public required int Index;
    public required string ChainName;
    public string? Text;
    public Target? Target;
    /// <summary>The target's name (for a jump: the chain), copied here so that recording a visit does not read the
    /// target object, which the reader allocated far from everything else the walk touches.</summary>
    public string? TargetName;
    public InterfaceSpec? In, Out;
    public bool? Fragment;
}
