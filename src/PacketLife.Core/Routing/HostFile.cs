using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using PacketLife.Core.Conntrack;
using PacketLife.Core.Diagnostics;
using PacketLife.Core.Net;

namespace PacketLife.Core.Routing;

/// <summary>The result of reading a host description: the host (null when there were errors) and every problem at once.</summary>
public sealed record HostReadResult(Host? Host, IReadOnlyList<Diagnostic> Diagnostics)
{
    public bool HasErrors => Diagnostics.Any(d => d.Severity == Severity.Error);
}

/// <summary>
/// The PacketLife host file: one host's interfaces, addresses, routes, policy rules and sysctls, in words borrowed from
/// iproute2 so that `ip route` lines can be pasted. Grammar (one statement per line; `#` starts a comment; indentation
/// is free):
/// <code>
/// file       = { [ statement ] [ "#" text ] NEWLINE } ;
/// statement  = "host" NAME
///            | "sysctl" KEY "=" VALUE
///            | "interface" NAME KIND { "index" N | "master" NAME | "hairpin" | "down" }
///            | "address" IP "/" LEN [ "scope" ( "global" | "link" | "host" | "site" ) ] [ "noprefixroute" ] [ "dev" NAME ]
///            | "route" [ TYPE ] ( PREFIX | IP | "default" ) { ROPT } { "nexthop" [ "via" IP ] [ "dev" NAME ] [ "weight" N ] }
///            | "rule" [ "pref" N ] [ "from" PREFIX ] [ "to" PREFIX ] [ "iif" NAME ] [ "fwmark" MARK [ "/" MASK ] ] ( "lookup" | "table" ) TABLE ;
/// KIND       = "loopback" | "ethernet" | "veth" | "bridge" | "other" ;
/// TYPE       = "unicast" | "local" | "broadcast" | "blackhole" | "unreachable" | "prohibit" | "throw" ;
/// ROPT       = "via" IP | "dev" NAME | "src" IP | "metric" N | "scope" SCOPE | "proto" WORD | "table" TABLE ;
/// TABLE      = "main" | "local" | "default" | N ;
/// KEY        = net.ipv4.ip_forward | net.ipv4.conf.(all|default|IFACE).(rp_filter|route_localnet|accept_local)
///            | net.bridge.bridge-nf-call-iptables | net.netfilter.nf_conntrack_* ;
/// </code>
/// An `address` line belongs to the interface declared last (or to `dev NAME`); addresses are added as `ip addr add`
/// adds them, so the kernel's list order and the secondary flag follow (see <see cref="Interface.AddAddress"/>). The
/// local table and the connected routes are derived from the addresses, as the kernel derives them; a pasted
/// `proto kernel` route equal to a derived one is merged with it. Interfaces with no `index` are numbered in order.
/// If no loopback interface is declared, `lo` with 127.0.0.1/8 scope host is added first, as every namespace has it.
/// </summary>
public static class HostFile
{
    public static HostReadResult Read(string text, string source)
    {
        var diags = new List<Diagnostic>();
        var host = new Host("host");
        var sysctls = new List<(SourceLocation At, string Key, string Value)>();
        var routes = new List<(SourceLocation At, Route Route)>();
        var rules = new List<PolicyRule>();
        var addresses = new List<(SourceLocation At, string Dev, Ip4 Ip, int Len, AddressScope Scope, bool NoPrefixRoute)>();
        var ifaces = new List<(SourceLocation At, string Name, InterfaceKind Kind, int? Index, string? Master, bool Hairpin, bool Down)>();
        string? current = null;
        int lineNo = 0;
        foreach (var raw in text.Split('\n'))
        {
            lineNo++;
            var line = raw.TrimEnd('\r');
            int hash = line.IndexOf('#');
            if (hash >= 0) line = line[..hash];
            var toks = Tokens(line);
            if (toks.Count == 0) continue;
            var t = new Toks(toks, source, lineNo, diags, line.Length);
            var word = t.Next("statement")!;
            switch (word)
            {
                case "host":
                    if (t.Next("host name") is { } hostName) host.Name = hostName;
                    break;
                case "sysctl":
                {
                    var key = t.Next("sysctl key");
                    if (key is null) break;
                    var at = t.LastAt;
                    string? value;
                    int eqi = key.IndexOf('=');
                    if (eqi >= 0) { value = key[(eqi + 1)..]; key = key[..eqi]; if (value.Length == 0) value = t.Next("value"); }
                    else
                    {
                        var eq = t.Next("=");
                        if (eq is null) break;
                        if (eq.StartsWith('=')) value = eq.Length > 1 ? eq[1..] : t.Next("value");
                        else { t.Fail(RoutingMessages.Expected(t.LastAt, "=", eq)); break; }
                    }
                    if (value is not null) sysctls.Add((at, key, value));
                    break;
                }
                case "interface":
                {
                    var name = t.Next("interface name");
                    var kindText = name is null ? null : t.Next("interface kind");
                    if (kindText is null) break;
                    InterfaceKind kind;
                    switch (kindText)
                    {
                        case "loopback": kind = InterfaceKind.Loopback; break;
                        case "ethernet": kind = InterfaceKind.Ethernet; break;
                        case "veth": kind = InterfaceKind.Veth; break;
                        case "bridge": kind = InterfaceKind.Bridge; break;
                        case "other": kind = InterfaceKind.Other; break;
                        default: t.Fail(RoutingMessages.Expected(t.LastAt, "loopback, ethernet, veth, bridge or other", kindText)); continue;
                    }
                    int? index = null;
                    string? master = null;
                    bool hairpin = false, down = false;
                    while (t.More)
                    {
                        var opt = t.Next("option")!;
                        switch (opt)
                        {
                            case "index": index = t.Int("index"); break;
                            case "master": master = t.Next("bridge name"); break;
                            case "hairpin": hairpin = true; break;
                            case "down": down = true; break;
                            default: t.Fail(RoutingMessages.UnknownOption(t.LastAt, opt, "interface")); break;
                        }
                    }
                    if (t.Failed) break;
                    if (ifaces.Any(i => i.Name == name))
                    {
                        diags.Add(RoutingMessages.DuplicateInterface(t.FirstAt, name!));
                        break;
                    }
                    ifaces.Add((t.FirstAt, name!, kind, index, master, hairpin, down));
                    current = name;
                    break;
                }
                case "address":
                {
                    var spec = t.Next("address/len");
                    if (spec is null) break;
                    var at = t.LastAt;
                    if (!Ip4Prefix.TryParse(spec, out var p))
                    {
                        t.Fail(RoutingMessages.InvalidAddress(at, spec));
                        break;
                    }
                    var scope = AddressScope.Global;
                    bool noPrefixRoute = false;
                    string? dev = current;
                    while (t.More)
                    {
                        var opt = t.Next("option")!;
                        switch (opt)
                        {
                            case "scope":
                                var s = t.Next("scope");
                                if (s is not null && !AddressScopes.TryParse(s, out scope)) t.Fail(RoutingMessages.Expected(t.LastAt, "global, link, host or site", s));
                                break;
                            case "dev": dev = t.Next("interface name"); break;
                            case "noprefixroute": noPrefixRoute = true; break;
                            default: t.Fail(RoutingMessages.UnknownOption(t.LastAt, opt, "address")); break;
                        }
                    }
                    if (t.Failed) break;
                    if (dev is null) { diags.Add(RoutingMessages.NoAddressBeforeInterface(at)); break; }
                    addresses.Add((at, dev, p.Address, p.Length, scope, noPrefixRoute));
                    break;
                }
                case "route":
                    if (ReadRoute(t) is { } r) routes.Add((t.FirstAt, r));
                    break;
                case "rule":
                    if (ReadRule(t) is { } rule) rules.Add(rule);
                    break;
                default:
                    diags.Add(RoutingMessages.UnknownStatement(t.FirstAt, word));
                    break;
            }
        }

        // Every namespace has lo, first in the device list, with 127.0.0.1/8 scope host: add it when not declared.
        if (!ifaces.Any(i => i.Kind == InterfaceKind.Loopback))
        {
            var lo = host.AddInterface("lo", InterfaceKind.Loopback, ifaces.Any(i => i.Index == 1) ? ifaces.Where(i => i.Index is not null).Max(i => i.Index!.Value) + 1 : 1);
            lo.AddAddress(new Ip4(0x7F000001), 8, AddressScope.Host);
        }
        foreach (var (at, name, kind, index, master, hairpin, down) in ifaces)
        {
            if (index is { } ix && host.Interfaces.Any(i => i.Index == ix))
            {
                diags.Add(RoutingMessages.InvalidNumber(at, "interface index (already used)", ix.ToString(CultureInfo.InvariantCulture)));
                continue;
            }
            var i = host.AddInterface(name, kind, index ?? Math.Max(host.Interfaces.Count == 0 ? 0 : host.Interfaces.Max(x => x.Index), ifaces.Where(x => x.Index is not null).Select(x => x.Index!.Value).DefaultIfEmpty(0).Max()) + 1);
            i.Master = master;
            i.Hairpin = hairpin;
            i.Up = !down;
        }
        foreach (var (at, dev, ip, len, scope, noPrefixRoute) in addresses)
        {
            var i = host.FindInterface(dev);
            if (i is null) { diags.Add(RoutingMessages.UnknownInterface(at, dev)); continue; }
            if (!i.AddAddress(ip, len, scope, noPrefixRoute))
                diags.Add(RoutingMessages.AddressRefused(at, $"{ip}/{len}", "duplicate address, or another scope than the subnet's primary"));
        }
        foreach (var (at, key, value) in sysctls) ApplySysctl(host, at, key, value, diags);
        foreach (var (at, r) in routes)
        {
            foreach (var nh in r.Nexthops)
                if (nh.Device is { } d && host.FindInterface(d) is null) diags.Add(RoutingMessages.UnknownInterface(at, d));
            host.AddRoute(r);
        }
        foreach (var i in host.Interfaces)
            if (i.Master is { } m && host.FindInterface(m) is null) diags.Add(RoutingMessages.UnknownInterface(new SourceLocation(source, 0, 0), m));
        if (rules.Count > 0)
        {
            host.Rules.AddRange(rules);
            host.Rules.Sort((a, b) => a.Priority.CompareTo(b.Priority));
        }
        host.RebuildKernelRoutes();
        return new HostReadResult(diags.Any(d => d.Severity == Severity.Error) ? null : host, diags);
    }

    private static Route? ReadRoute(Toks t)
    {
        var first = t.Next("route prefix");
        if (first is null) return null;
        var type = RouteType.Unicast;
        if (RouteTypes.TryParse(first, out var rt))
        {
            type = rt;
            first = t.Next("route prefix");
            if (first is null) return null;
        }
        Ip4Prefix prefix;
        if (first == "default") prefix = Ip4Prefix.All;
        else if (Ip4Prefix.TryParse(first, out var p)) prefix = new Ip4Prefix(p.Network, p.Length);
        else { t.Fail(RoutingMessages.InvalidAddress(t.LastAt, first)); return null; }
        Ip4? via = null, src = null;
        string? dev = null, proto = null;
        int metric = 0, table = type is RouteType.Local or RouteType.Broadcast ? RouteTables.Local : RouteTables.Main;
        var scope = type is RouteType.Local ? AddressScope.Host : AddressScope.Global;
        bool scopeGiven = false;
        var nexthops = ImmutableArray.CreateBuilder<Nexthop>();
        while (t.More && !t.Failed)
        {
            var opt = t.Next("route option")!;
            switch (opt)
            {
                case "via": via = t.Ip("gateway"); break;
                case "dev": dev = t.Next("device"); break;
                case "src": src = t.Ip("source"); break;
                case "metric": metric = t.Int("metric") ?? 0; break;
                case "proto": proto = t.Next("protocol"); break;
                case "scope":
                    var s = t.Next("scope");
                    if (s is not null && AddressScopes.TryParse(s, out var sc)) { scope = sc; scopeGiven = true; }
                    else t.Fail(RoutingMessages.Expected(t.LastAt, "a scope", s));
                    break;
                case "table":
                    var tb = t.Next("table");
                    if (tb is not null && !RouteTables.TryParse(tb, out table)) t.Fail(RoutingMessages.InvalidNumber(t.LastAt, "table", tb));
                    break;
                case "nexthop":
                {
                    Ip4? g = null;
                    string? d = null;
                    int w = 1;
                    while (t.More && t.PeekIs("via", "dev", "weight"))
                    {
                        var k = t.Next("nexthop option");
                        if (k == "via") g = t.Ip("gateway");
                        else if (k == "dev") d = t.Next("device");
                        else w = t.Int("weight") ?? 1;
                    }
                    nexthops.Add(new Nexthop(g, d, w));
                    break;
                }
                case "onlink" or "linkdown" or "dead": break; // flags `ip route` prints; no effect on the lookup model
                default: t.Fail(RoutingMessages.UnknownOption(t.LastAt, opt, "route")); break;
            }
        }
        if (t.Failed) return null;
        // A connected route without an explicit scope is scope link (ip-route(8): "link" when there is no gateway).
        if (!scopeGiven && type == RouteType.Unicast && via is null && nexthops.Count == 0 && dev is not null) scope = AddressScope.Link;
        if (!scopeGiven && type == RouteType.Broadcast) scope = AddressScope.Link;
        var hops = nexthops.Count > 0 ? nexthops.ToImmutable() : via is null && dev is null ? ImmutableArray<Nexthop>.Empty : [new Nexthop(via, dev)];
        return new Route(type, prefix, hops, src, metric, scope, proto, table);
    }

    private static PolicyRule? ReadRule(Toks t)
    {
        int pref = 100;
        int? table = null;
        uint? mark = null;
        uint mask = uint.MaxValue;
        Ip4Prefix? from = null, to = null;
        string? iif = null;
        while (t.More && !t.Failed)
        {
            var opt = t.Next("rule option")!;
            switch (opt)
            {
                case "pref" or "priority": pref = t.Int("priority") ?? 0; break;
                case "from": from = t.Prefix("from"); break;
                case "to": to = t.Prefix("to"); break;
                case "iif": iif = t.Next("interface"); break;
                case "fwmark":
                {
                    var m = t.Next("mark");
                    if (m is null) break;
                    int slash = m.IndexOf('/');
                    if (!TryMark(slash < 0 ? m : m[..slash], out var v) || (slash >= 0 && !TryMark(m[(slash + 1)..], out mask)))
                        t.Fail(RoutingMessages.InvalidNumber(t.LastAt, "fwmark", m));
                    else mark = v;
                    break;
                }
                case "lookup" or "table":
                    var tb = t.Next("table");
                    if (tb is not null && RouteTables.TryParse(tb, out var id)) table = id;
                    else t.Fail(RoutingMessages.InvalidNumber(t.LastAt, "table", tb ?? ""));
                    break;
                default: t.Fail(RoutingMessages.UnknownOption(t.LastAt, opt, "rule")); break;
            }
        }
        if (t.Failed) return null;
        if (table is null) { t.Fail(RoutingMessages.Expected(t.FirstAt, "lookup TABLE", null)); return null; }
        return new PolicyRule(pref, table.Value, mark, mask, from, to, iif);
    }

    internal static bool TryMark(string s, out uint v) =>
        s.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? uint.TryParse(s.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out v)
            : uint.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out v);

    private static void ApplySysctl(Host host, SourceLocation at, string key, string value, List<Diagnostic> diags)
    {
        if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var v))
        {
            diags.Add(RoutingMessages.InvalidNumber(at, key, value));
            return;
        }
        key = key.Replace('/', '.');
        if (key == "net.ipv4.ip_forward") { host.IpForward = v != 0; return; }
        if (key == "net.bridge.bridge-nf-call-iptables") { host.BridgeNfCallIptables = v != 0; return; }
        if (key.StartsWith("net.netfilter.", StringComparison.Ordinal))
        {
            if (ConntrackSettings.TryApply(host.Conntrack, key, value, out var s)) host.Conntrack = s;
            else diags.Add(RoutingMessages.UnknownSysctl(at, key));
            return;
        }
        const string conf = "net.ipv4.conf.";
        if (key.StartsWith(conf, StringComparison.Ordinal))
        {
            var rest = key[conf.Length..];
            int dot = rest.LastIndexOf('.');
            if (dot > 0)
            {
                var dev = rest[..dot];
                var name = rest[(dot + 1)..];
                if (dev is "all" or "default")
                {
                    switch (name)
                    {
                        case "rp_filter" when dev == "all": host.RpFilterAll = v; return;
                        case "route_localnet" when dev == "all": host.RouteLocalnetAll = v != 0; return;
                        case "accept_local" when dev == "all": host.AcceptLocal = v != 0; return;
                        case "rp_filter" or "route_localnet" or "accept_local" when dev == "default":
                            foreach (var i in host.Interfaces) Set(i, name, v);
                            return;
                    }
                }
                else if (host.FindInterface(dev) is { } iface && name is "rp_filter" or "route_localnet" or "accept_local")
                {
                    Set(iface, name, v);
                    return;
                }
                else if (host.FindInterface(dev) is null && name is "rp_filter" or "route_localnet" or "accept_local")
                {
                    diags.Add(RoutingMessages.UnknownInterface(at, dev));
                    return;
                }
            }
        }
        diags.Add(RoutingMessages.UnknownSysctl(at, key));

        static void Set(Interface i, string name, int v)
        {
            if (name == "rp_filter") i.RpFilter = v;
            else if (name == "route_localnet") i.RouteLocalnet = v != 0;
            else if (name == "accept_local") i.AcceptLocal = v != 0;
        }
    }

    /// <summary>Writes a host back in this format: sysctls that differ from a new namespace's defaults, interfaces with
    /// their addresses (kernel order), configured routes (not the derived ones) and non-default rules.</summary>
    public static string Write(Host host)
    {
        var sb = new StringBuilder();
        sb.Append("host ").Append(host.Name).Append('\n');
        if (host.IpForward) sb.Append("sysctl net.ipv4.ip_forward = 1\n");
        if (host.RpFilterAll != 0) sb.Append("sysctl net.ipv4.conf.all.rp_filter = ").Append(host.RpFilterAll).Append('\n');
        if (host.RouteLocalnetAll) sb.Append("sysctl net.ipv4.conf.all.route_localnet = 1\n");
        if (host.AcceptLocal) sb.Append("sysctl net.ipv4.conf.all.accept_local = 1\n");
        if (!host.BridgeNfCallIptables) sb.Append("sysctl net.bridge.bridge-nf-call-iptables = 0\n");
        var d = ConntrackSettings.Default;
        var c = host.Conntrack;
        void Ct(string name, int value, int def) { if (value != def) sb.Append("sysctl net.netfilter.nf_conntrack_").Append(name).Append(" = ").Append(value).Append('\n'); }
        Ct("tcp_timeout_established", c.TcpTimeoutEstablished, d.TcpTimeoutEstablished);
        Ct("tcp_timeout_close_wait", c.TcpTimeoutCloseWait, d.TcpTimeoutCloseWait);
        Ct("tcp_timeout_time_wait", c.TcpTimeoutTimeWait, d.TcpTimeoutTimeWait);
        Ct("tcp_loose", c.TcpLoose ? 1 : 0, 1);
        Ct("tcp_be_liberal", c.TcpBeLiberal ? 1 : 0, 0);
        Ct("udp_timeout", c.UdpTimeout, d.UdpTimeout);
        Ct("udp_timeout_stream", c.UdpTimeoutStream, d.UdpTimeoutStream);
        Ct("acct", c.Accounting ? 1 : 0, 0);
        foreach (var i in host.Interfaces)
        {
            sb.Append("interface ").Append(i.Name).Append(' ').Append(i.Kind.ToString().ToLowerInvariant()).Append(" index ").Append(i.Index);
            if (i.Master is { } m) sb.Append(" master ").Append(m);
            if (i.Hairpin) sb.Append(" hairpin");
            if (!i.Up) sb.Append(" down");
            sb.Append('\n');
            foreach (var a in i.Addresses)
            {
                sb.Append("  address ").Append(a.Address).Append('/').Append(a.PrefixLength);
                if (a.Scope != AddressScope.Global) sb.Append(" scope ").Append(AddressScopes.Name(a.Scope));
                if (a.NoPrefixRoute) sb.Append(" noprefixroute");
                sb.Append('\n');
            }
            if (i.RpFilter != 0) sb.Append("sysctl net.ipv4.conf.").Append(i.Name).Append(".rp_filter = ").Append(i.RpFilter).Append('\n');
            if (i.RouteLocalnet) sb.Append("sysctl net.ipv4.conf.").Append(i.Name).Append(".route_localnet = 1\n");
            if (i.AcceptLocal) sb.Append("sysctl net.ipv4.conf.").Append(i.Name).Append(".accept_local = 1\n");
        }
        foreach (var t in host.Tables)
            foreach (var r in t.Routes.Where(r => r.Protocol != "kernel"))
            {
                sb.Append("route ").Append(r);
                bool defaultTable = r.Table == (r.Type is RouteType.Local or RouteType.Broadcast ? RouteTables.Local : RouteTables.Main);
                if (!defaultTable) sb.Append(" table ").Append(RouteTables.Name(r.Table));
                sb.Append('\n');
            }
        foreach (var r in host.Rules.Where(r => r.Priority is not (0 or 32766 or 32767)))
        {
            sb.Append("rule pref ").Append(r.Priority);
            if (r.From is { } f) sb.Append(" from ").Append(f);
            if (r.To is { } to) sb.Append(" to ").Append(to);
            if (r.Iif is { } iif) sb.Append(" iif ").Append(iif);
            if (r.FwMark is { } fm) sb.Append(" fwmark 0x").Append(fm.ToString("x", CultureInfo.InvariantCulture)).Append(r.FwMask == uint.MaxValue ? "" : "/0x" + r.FwMask.ToString("x", CultureInfo.InvariantCulture));
            sb.Append(" lookup ").Append(RouteTables.Name(r.Table)).Append('\n');
        }
        return sb.ToString();
    }

    private static List<(string Text, int Col)> Tokens(string line)
    {
        var list = new List<(string, int)>();
        int i = 0;
        while (i < line.Length)
        {
            while (i < line.Length && char.IsWhiteSpace(line[i])) i++;
            if (i >= line.Length) break;
            int s = i;
            while (i < line.Length && !char.IsWhiteSpace(line[i])) i++;
            list.Add((line[s..i], s + 1));
        }
        return list;
    }

    private sealed class Toks(List<(string Text, int Col)> toks, string source, int line, List<Diagnostic> diags, int lineLength)
    {
        private int _i;
        public bool Failed { get; private set; }
        public bool More => _i < toks.Count;
        public SourceLocation LastAt { get; private set; } = new(source, line, 1);
        public SourceLocation FirstAt => new(source, line, toks[0].Col);

        public bool PeekIs(params string[] words) => _i < toks.Count && words.Contains(toks[_i].Text);

        public string? Next(string what)
        {
            if (_i >= toks.Count)
            {
                Fail(RoutingMessages.Expected(new SourceLocation(source, line, lineLength + 1), what, null));
                return null;
            }
            var (text, col) = toks[_i++];
            LastAt = new SourceLocation(source, line, col);
            return text;
        }

        public void Fail(Diagnostic d)
        {
            if (!Failed) diags.Add(d);
            Failed = true;
        }

        public int? Int(string what)
        {
            var s = Next(what);
            if (s is null) return null;
            if (int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var v)) return v;
            Fail(RoutingMessages.InvalidNumber(LastAt, what, s));
            return null;
        }

        public Ip4? Ip(string what)
        {
            var s = Next(what);
            if (s is null) return null;
            if (Ip4.TryParse(s, out var ip)) return ip;
            Fail(RoutingMessages.InvalidAddress(LastAt, s));
            return null;
        }

        public Ip4Prefix? Prefix(string what)
        {
            var s = Next(what);
            if (s is null) return null;
            if (s == "all") return Ip4Prefix.All;
            if (Ip4Prefix.TryParse(s, out var p)) return p;
            Fail(RoutingMessages.InvalidAddress(LastAt, s));
            return null;
        }
    }
}
