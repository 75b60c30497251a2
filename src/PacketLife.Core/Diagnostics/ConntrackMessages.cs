namespace PacketLife.Core.Diagnostics;

/// <summary>Every diagnostic the conntrack area reports (`conntrack -L` reader, table loading), with its stable code.</summary>
public static class ConntrackMessages
{
    public static Diagnostic UnexpectedEnd(SourceLocation at, string expected) =>
        new(Severity.Error, "PLCT001", $"line ends where {expected} was expected", at,
            "paste whole lines of `conntrack -L` output");

    public static Diagnostic ExpectedField(SourceLocation at, string expected, string found) =>
        new(Severity.Error, "PLCT002", $"expected {expected}, found \"{found}\"", at,
            "fields follow conntrack(8)'s order: proto num timeout [state] src= dst= sport= dport= ... use=");

    public static Diagnostic InvalidAddress(SourceLocation at, string field, string value) =>
        new(Severity.Error, "PLCT003", $"invalid IPv4 address \"{value}\" in {field}", at,
            "only IPv4 entries are modelled; list them with `conntrack -L -f ipv4`");

    public static Diagnostic InvalidNumber(SourceLocation at, string field, string value, string range) =>
        new(Severity.Error, "PLCT004", $"invalid {field} \"{value}\"", at, $"expected {range}");

    public static Diagnostic UnknownTcpState(SourceLocation at, string value) =>
        new(Severity.Error, "PLCT005", $"unknown TCP state \"{value}\"", at,
            "states are NONE, SYN_SENT, SYN_RECV, ESTABLISHED, FIN_WAIT, CLOSE_WAIT, LAST_ACK, TIME_WAIT, CLOSE, SYN_SENT2");

    public static Diagnostic ProtocolMismatch(SourceLocation at, string name, string number) =>
        new(Severity.Error, "PLCT006", $"protocol name \"{name}\" does not match number {number}", at,
            "conntrack prints e.g. `tcp      6`, `udp      17`, `icmp     1`, `unknown  2`");

    public static Diagnostic UnknownField(SourceLocation at, string token) =>
        new(Severity.Error, "PLCT007", $"unknown field \"{token}\"", at,
            "after the reply tuple conntrack prints [ASSURED] mark= secmark= secctx= zone= delta-time= helper= use= id=, in that order");

    public static Diagnostic ProtocolNotModelled(SourceLocation at, string name) =>
        new(Severity.Error, "PLCT008", $"conntrack entries of protocol {name} are not modelled", at,
            "filter the dump with `conntrack -L -p tcp` (or udp, icmp)");

    public static Diagnostic NotExactFormat(SourceLocation at) =>
        new(Severity.Warning, "PLCT009", "line is not spaced exactly as `conntrack -L` prints it; it will print back normalized", at,
            "compare with the line as conntrack printed it (single spaces, protocol name padded to 8)");

    public static Diagnostic DuplicateTuple(SourceLocation at, string tuple) =>
        new(Severity.Error, "PLCT010", $"entry clashes with an earlier line: tuple {tuple} is already in the table", at,
            "a conntrack table holds each tuple once; remove the duplicate line");

    public static Diagnostic SummaryMismatch(SourceLocation at, int said, int read) =>
        new(Severity.Warning, "PLCT011", $"summary says {said} flow entries, {read} were read", at,
            "the dump may be truncated or filtered with grep");

    public static Diagnostic IcmpTypeNotTracked(SourceLocation at, int type) =>
        new(Severity.Error, "PLCT012", $"ICMP type {type} cannot be a conntrack entry", at,
            "conntrack tracks echo (8), timestamp (13), info (15) and address mask (17) requests and their replies");

    public static Diagnostic TooLong(SourceLocation at, string field, string value) =>
        new(Severity.Error, "PLCT013", $"{field} \"{value}\" is out of range", at, "check the number");
}
