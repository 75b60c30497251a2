using PacketLife.Core.Diagnostics;

namespace PacketLife.Core.Tracing.Host;

/// <summary>Every message of the host trace area (DESIGN: messages in one file per area).</summary>
public static class HostTraceMessages
{
    public const string PacketGrammar = "PROTO SRC[:PORT] -> DST[:PORT] (in IFACE [port BRIDGEPORT] | local) [flags S|SA|A|R|F...] [ttl N] [len N] [mark 0xN] [type N] [code N] [id N]";

    public static Diagnostic BadPacket(SourceLocation at, string what) =>
        new(Severity.Error, "PL-T001", $"bad packet: {what}", at, "write it as " + PacketGrammar + ", e.g. \"tcp 198.51.100.7:53108 -> 20.240.25.37:80 in eth0\"");
}
