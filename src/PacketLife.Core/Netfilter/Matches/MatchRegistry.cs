using PacketLife.Core.Net;

namespace PacketLife.Core.Netfilter.Matches;

/// <summary>The `-m` modules PacketLife models, by name.</summary>
public static class MatchRegistry
{
    static readonly Dictionary<string, MatchModule> Modules = new[]
    {
        TcpMatch.Spec, UdpMatch.Spec, SctpMatch.Spec, IcmpMatch.Spec, MultiportMatch.Spec, CommentMatch.Spec,
        StatisticMatch.Spec, MarkMatch.Spec, ConnmarkMatch.Spec, ConntrackMatch.Spec, StateMatch.Spec, AddrtypeMatch.Spec,
        RecentMatch.Spec, IprangeMatch.Spec, PhysdevMatch.Spec, LimitMatch.Spec, LengthMatch.Spec, TtlMatch.Spec,
        OwnerMatch.Spec, SetMatch.Spec, NfacctMatch.Spec,
    }.ToDictionary(m => m.Name, StringComparer.Ordinal);

    public static IEnumerable<string> Names => Modules.Keys;

    public static MatchModule? Find(string name) => Modules.GetValueOrDefault(name);

    /// <summary>The module `-p PROTO` loads when one of its options appears without `-m`.</summary>
    public static MatchModule? ImplicitFor(IpProtocol p) => p switch
    {
        IpProtocol.Tcp => TcpMatch.Spec,
        IpProtocol.Udp => UdpMatch.Spec,
        IpProtocol.Sctp => SctpMatch.Spec,
        IpProtocol.Icmp => IcmpMatch.Spec,
        _ => null,
    };

    /// <summary>Protocol matches are only valid with the same `-p` (kernel: "tcp match: only valid for protocol 6").</summary>
    public static IpProtocol? RequiredProtocol(string module) => module switch
    {
        "tcp" => IpProtocol.Tcp,
        "udp" => IpProtocol.Udp,
        "sctp" => IpProtocol.Sctp,
        "icmp" => IpProtocol.Icmp,
        _ => null,
    };

    internal static Match WithImplicit(Match m)
    {
        m.Implicit = true;
        return m;
    }
}
