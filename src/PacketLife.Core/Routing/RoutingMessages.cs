using PacketLife.Core.Diagnostics;

namespace PacketLife.Core.Routing;

/// <summary>Every diagnostic of the routing area (host file, `ip -j addr`/`ip -j route` readers), with its stable code.</summary>
public static class RoutingMessages
{
    public static Diagnostic UnknownStatement(SourceLocation at, string word) =>
        new(Severity.Error, "PLRT001", $"unknown statement \"{word}\"", at,
            "a host file line starts with host, sysctl, interface, address, route or rule (docs/host-file.md)");

    public static Diagnostic Expected(SourceLocation at, string what, string? found) =>
        new(Severity.Error, "PLRT002", found is null ? $"line ends where {what} was expected" : $"expected {what}, found \"{found}\"", at,
            "see docs/host-file.md for the grammar");

    public static Diagnostic InvalidAddress(SourceLocation at, string value) =>
        new(Severity.Error, "PLRT003", $"invalid IPv4 address or prefix \"{value}\"", at, "write a.b.c.d or a.b.c.d/len");

    public static Diagnostic InvalidNumber(SourceLocation at, string what, string value) =>
        new(Severity.Error, "PLRT004", $"invalid {what} \"{value}\"", at, "write a decimal number (marks may be hex: 0x4000)");

    public static Diagnostic UnknownInterface(SourceLocation at, string name) =>
        new(Severity.Error, "PLRT005", $"interface \"{name}\" is not declared", at, "declare it first: `interface NAME KIND`");

    public static Diagnostic DuplicateInterface(SourceLocation at, string name) =>
        new(Severity.Error, "PLRT006", $"interface \"{name}\" is declared twice", at, "declare each interface once");

    public static Diagnostic AddressRefused(SourceLocation at, string address, string why) =>
        new(Severity.Error, "PLRT007", $"address {address} refused: {why}", at, "the kernel refuses the same `ip addr add`");

    public static Diagnostic UnknownOption(SourceLocation at, string word, string statement) =>
        new(Severity.Error, "PLRT008", $"unknown {statement} option \"{word}\"", at, "see docs/host-file.md");

    public static Diagnostic UnknownSysctl(SourceLocation at, string key) =>
        new(Severity.Warning, "PLRT009", $"sysctl {key} is not modelled and is ignored", at,
            "modelled: net.ipv4.ip_forward, net.ipv4.conf.*.rp_filter/route_localnet/accept_local, net.bridge.bridge-nf-call-iptables, net.netfilter.nf_conntrack_*");

    public static Diagnostic NoAddressBeforeInterface(SourceLocation at) =>
        new(Severity.Error, "PLRT010", "address line before any interface", at, "put `address` lines under `interface NAME KIND`, or add `dev NAME`");

    public static Diagnostic Json(SourceLocation at, string what) =>
        new(Severity.Error, "PLRT011", $"invalid `ip -j` JSON: {what}", at, "pass the output of `ip -j addr` or `ip -j route` unchanged");

    public static Diagnostic JsonSkipped(SourceLocation at, string what) =>
        new(Severity.Info, "PLRT012", what, at, null);
}
