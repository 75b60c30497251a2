using PacketLife.Core.Net;

namespace PacketLife.Core.Conntrack;

/// <summary>The kernel's TCP state table (net/netfilter/nf_conntrack_proto_tcp.c, <c>tcp_conntracks[2][6][10]</c>):
/// for each direction, flag class (<see cref="TcpIndex"/>) and current state, the next state, or
/// <see cref="Invalid"/> (sIV: the packet is INVALID) or <see cref="Ignore"/> (sIG: let through, no state change).</summary>
public static class TcpConntrack
{
    /// <summary>sIV: TCP_CONNTRACK_MAX in the kernel.</summary>
    public const TcpConntrackState Invalid = (TcpConntrackState)10;
    /// <summary>sIG: TCP_CONNTRACK_IGNORE.</summary>
    public const TcpConntrackState Ignore = (TcpConntrackState)11;

    private const TcpConntrackState sNO = TcpConntrackState.None, sSS = TcpConntrackState.SynSent, sSR = TcpConntrackState.SynRecv,
        sES = TcpConntrackState.Established, sFW = TcpConntrackState.FinWait, sCW = TcpConntrackState.CloseWait,
        sLA = TcpConntrackState.LastAck, sTW = TcpConntrackState.TimeWait, sCL = TcpConntrackState.Close,
        sS2 = TcpConntrackState.SynSent2, sIV = Invalid, sIG = Ignore;

    // Columns: sNO, sSS, sSR, sES, sFW, sCW, sLA, sTW, sCL, sS2 (the kernel's order).
    private static readonly TcpConntrackState[,,] Table =
    {
        { // ORIGINAL
            /*syn*/    { sSS, sSS, sIG, sIG, sIG, sIG, sIG, sSS, sSS, sS2 },
            /*synack*/ { sIV, sIV, sSR, sIV, sIV, sIV, sIV, sIV, sIV, sSR },
            /*fin*/    { sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV },
            /*ack*/    { sES, sIV, sES, sES, sCW, sCW, sTW, sTW, sCL, sIV },
            /*rst*/    { sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL },
            /*none*/   { sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV },
        },
        { // REPLY
            /*syn*/    { sIV, sS2, sIV, sIV, sIV, sIV, sIV, sSS, sIV, sS2 },
            /*synack*/ { sIV, sSR, sIG, sIG, sIG, sIG, sIG, sIG, sIG, sSR },
            /*fin*/    { sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV },
            /*ack*/    { sIV, sIG, sSR, sES, sCW, sCW, sTW, sTW, sCL, sIG },
            /*rst*/    { sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL },
            /*none*/   { sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV },
        },
    };

    public static TcpConntrackState Next(ConntrackDirection dir, TcpIndex index, TcpConntrackState state) =>
        Table[(int)dir, (int)index, (int)state];

    /// <summary>Kernel <c>get_conntrack_index</c>: RST wins, then SYN (with or without ACK), FIN, ACK.</summary>
    public static TcpIndex IndexOf(TcpFlags f) =>
        (f & TcpFlags.Rst) != 0 ? TcpIndex.Rst
        : (f & TcpFlags.Syn) != 0 ? ((f & TcpFlags.Ack) != 0 ? TcpIndex.SynAck : TcpIndex.Syn)
        : (f & TcpFlags.Fin) != 0 ? TcpIndex.Fin
        : (f & TcpFlags.Ack) != 0 ? TcpIndex.Ack
        : TcpIndex.None;

    /// <summary>Kernel <c>tcp_error</c> / <c>tcp_valid_flags</c>: the flag combinations conntrack accepts at all
    /// (ECE, CWR and PSH ignored). Anything else (SYN+FIN, a FIN without ACK, no flags) is INVALID.</summary>
    public static bool ValidFlags(TcpFlags f)
    {
        var m = f & ~(TcpFlags.Ece | TcpFlags.Cwr | TcpFlags.Psh);
        return m is TcpFlags.Syn or (TcpFlags.Syn | TcpFlags.Urg) or (TcpFlags.Syn | TcpFlags.Ack)
            or TcpFlags.Rst or (TcpFlags.Rst | TcpFlags.Ack)
            or (TcpFlags.Fin | TcpFlags.Ack) or (TcpFlags.Fin | TcpFlags.Ack | TcpFlags.Urg)
            or TcpFlags.Ack or (TcpFlags.Ack | TcpFlags.Urg);
    }
}
