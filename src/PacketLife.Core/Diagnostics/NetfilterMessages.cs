namespace PacketLife.Core.Diagnostics;

/// <summary>Every diagnostic the netfilter reader and checker emit (codes NF0001..), in one place so that
/// wording and codes stay stable. Where iptables or iptables-restore has a message for the same problem, the
/// message repeats its wording (iptables 1.8.9) so a user recognises it.</summary>
public static class NetfilterMessages
{
    static Diagnostic E(string code, string message, SourceLocation at, string? hint) => new(Severity.Error, code, message, at, hint);
    static Diagnostic W(string code, string message, SourceLocation at, string? hint) => new(Severity.Warning, code, message, at, hint);

    public static Diagnostic EmptyFile(SourceLocation at) =>
        E("NF0001", "empty file: no table found", at, "an iptables-save dump starts with a table line such as `*filter`");

    public static Diagnostic NonUtf8(SourceLocation at) =>
        E("NF0002", "invalid UTF-8 byte sequence", at, "iptables-save writes ASCII; the file may be truncated or in another encoding");

    public static Diagnostic UnknownTable(SourceLocation at, string table) =>
        E("NF0003", $"unknown table \"{table}\"", at, "tables are raw, mangle, nat, filter and security");

    public static Diagnostic MissingCommitBeforeTable(SourceLocation at, string open, string next) =>
        E("NF0004", $"table \"{open}\" is not closed with COMMIT before \"*{next}\"", at, "add a line `COMMIT` at the end of each table");

    public static Diagnostic MissingCommitAtEnd(SourceLocation at, string open) =>
        E("NF0005", $"unexpected end of file: table \"{open}\" has no COMMIT (truncated file?)", at, "iptables-restore discards a table without COMMIT; add `COMMIT`");

    public static Diagnostic OutsideTable(SourceLocation at, string what) =>
        E("NF0006", $"{what} outside a table", at, "start a table with a line such as `*filter`");

    public static Diagnostic BadChainLine(SourceLocation at, string text) =>
        E("NF0007", $"bad chain line \"{text}\"", at, "the form is `:NAME POLICY [packets:bytes]`, POLICY is ACCEPT, DROP or - for user chains");

    public static Diagnostic BadPolicy(SourceLocation at, string policy) =>
        E("NF0008", $"Bad policy name. (\"{policy}\")", at, "built-in chains take ACCEPT or DROP; user chains `-`");

    public static Diagnostic PolicyOnUserChain(SourceLocation at, string chain) =>
        E("NF0009", $"Bad built-in chain name. (\"{chain}\" is a user chain and has no policy)", at, "write `:CHAIN - [0:0]` for a user chain");

    public static Diagnostic UnknownCommand(SourceLocation at, string token) =>
        E("NF0010", $"unknown command \"{token}\"", at, "rule lines start with -A CHAIN (also accepted: -I, -N, -X, -F, -P)");

    public static Diagnostic UnsupportedCommand(SourceLocation at, string token) =>
        W("NF0011", $"command {token} is kept but not applied by PacketLife", at, "only -A, -I, -N, -X, -F and -P change the model");

    public static Diagnostic UndefinedChain(SourceLocation at, string chain, string table) =>
        E("NF0012", $"Couldn't load target `{chain}': no chain \"{chain}\" in table \"{table}\"", at, $"declare it with `:{chain} - [0:0]` in table {table}");

    public static Diagnostic ChainNotDeclared(SourceLocation at, string chain, string table) =>
        E("NF0013", $"chain \"{chain}\" does not exist in table \"{table}\"", at, $"declare it with `:{chain} - [0:0]` before its rules");

    public static Diagnostic DuplicateChain(SourceLocation at, string chain) =>
        E("NF0014", $"chain \"{chain}\" is declared twice", at, "iptables-restore refuses a second declaration in one table");

    public static Diagnostic UnterminatedQuote(SourceLocation at) =>
        E("NF0015", "unterminated quote", at, "close the double quote; inside quotes escape `\"` and `\\` with a backslash");

    public static Diagnostic BadAddress(SourceLocation at, string text) =>
        E("NF0016", $"host/network `{text}' not found", at, "an IPv4 address, address/length or address/dotted-mask (10.0.0.0/8)");

    public static Diagnostic BadPort(SourceLocation at, string text) =>
        E("NF0017", $"invalid port/service `{text}' specified", at, "a port 0..65535, a range a:b, or a service name");

    public static Diagnostic BadProtocol(SourceLocation at, string text) =>
        E("NF0018", $"unknown protocol \"{text}\" specified", at, "a name (tcp, udp, icmp, sctp, ...), a number 0..255 or all");

    public static Diagnostic BadInterface(SourceLocation at, string text) =>
        E("NF0019", $"interface name `{text}' must be shorter than IFNAMSIZ (15)", at, null);

    public static Diagnostic MissingArgument(SourceLocation at, string option) =>
        E("NF0020", $"option \"{option}\" requires an argument", at, null);

    public static Diagnostic UnknownModule(SourceLocation at, string module) =>
        W("NF0021", $"match module \"{module}\" is not modelled; the rule is kept and traces reaching it are uncertain", at,
            "modelled modules: " + string.Join(", ", Netfilter.Matches.MatchRegistry.Names.Order(StringComparer.Ordinal)));

    public static Diagnostic UnknownOption(SourceLocation at, string option) =>
        W("NF0022", $"unknown option \"{option}\": not modelled; the rule is kept and traces reaching it are uncertain", at, "if it belongs to a protocol, give `-p` before it");

    public static Diagnostic UnknownTarget(SourceLocation at, string target) =>
        W("NF0023", $"target \"{target}\" is not modelled; the rule is kept and traces reaching it are uncertain", at,
            "modelled targets: ACCEPT, DROP, RETURN, jumps and gotos, " + string.Join(", ", Netfilter.Targets.TargetRegistry.Names.Order(StringComparer.Ordinal)));

    public static Diagnostic BadValue(SourceLocation at, string module, string option, string value, string? detail = null) =>
        E("NF0024", detail ?? $"{module}: Bad value for \"{option}\" option: \"{value}\"", at, null);

    public static Diagnostic OptionProblem(SourceLocation at, string message, string? hint = null) =>
        E("NF0025", message, at, hint);

    public static Diagnostic CannotInvert(SourceLocation at, string module, string option) =>
        E("NF0026", $"{module}: option \"{option}\" cannot be inverted.", at, null);

    // iptables 1.8.9 no longer accepts `--option ! value` (verified: `-s ! 10.0.0.0/8` → "Bad argument `10.0.0.0/8'",
    // `--dport ! 80` → "invalid port/service `!' specified"): `!` goes before the option.
    public static Diagnostic IntrapositionedNegation(SourceLocation at) =>
        E("NF0027", "intrapositioned negation (`--option ! value`) is refused by iptables 1.8", at, "write `! --option value`");

    public static Diagnostic DuplicateOption(SourceLocation at, string option) =>
        E("NF0028", $"multiple {option} flags not allowed", at, null);

    public static Diagnostic HookRestriction(SourceLocation at, string message, string? hint = null) =>
        E("NF0029", message, at, hint);

    public static Diagnostic DropInNat(SourceLocation at) =>
        E("NF0030", "The \"nat\" table is not intended for filtering, the use of DROP is therefore inhibited.", at, "filter in the filter table");

    public static Diagnostic UnsupportedOption(SourceLocation at, string module, string option) =>
        W("NF0031", $"{module}: option \"{option}\" is parsed but not modelled; traces reaching the rule are uncertain", at, null);

    public static Diagnostic StrayNegation(SourceLocation at) =>
        E("NF0032", "unexpected `!` at the end of the rule", at, null);

    public static Diagnostic MissingTableName(SourceLocation at) =>
        E("NF0033", "table line without a name", at, "write `*filter`, `*nat`, ...");

    public static Diagnostic DeleteNonEmpty(SourceLocation at, string chain) =>
        W("NF0034", $"-X {chain}: chain still referenced or not empty", at, "iptables-restore fails with `Directory not empty`/`Too many links`");

    public static Diagnostic BadCounters(SourceLocation at, string text) =>
        E("NF0035", $"bad counters \"{text}\"", at, "the form is [packets:bytes] with decimal numbers");

    public static Diagnostic BuiltinAsTarget(SourceLocation at, string chain) =>
        E("NF0036", $"cannot jump to built-in chain \"{chain}\"", at, null);

    public static Diagnostic UnknownIpset(SourceLocation at, string set) =>
        W("NF0037", $"Set {set} doesn't exist.", at, "pass the node's `ipset save` output with --ipset; without it the match is uncertain");

    public static Diagnostic CommentTruncated(SourceLocation at, int length, int max) =>
        W("NF0039", $"comment is {length} characters; iptables keeps only the first {max}", at, "shorten the comment");

    public static Diagnostic IpsetTypeNotModelled(SourceLocation at, string type, string set) =>
        W("NF0040", $"ipset type {type} is not modelled; rules using set {set} are uncertain", at, "modelled: hash:ip, hash:net, hash:ip,port, hash:net,port, hash:ip,port,ip, hash:ip,port,net, hash:net,net, bitmap:port");

    public static Diagnostic IpsetProblem(SourceLocation at, string message) =>
        E("NF0038", message, at, null);
}
