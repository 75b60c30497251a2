using System.Collections.Immutable;
using System.Text.Json;
using PacketLife.Core.Diagnostics;
using PacketLife.Core.Net;

namespace PacketLife.Core.Routing;

/// <summary>Readers for iproute2's JSON output (`ip -j addr`, `ip -j -d addr`, `ip -j route`, `ip -j route show table all`),
/// so a node's real interfaces and routes can be loaded. Uses System.Text.Json (part of .NET, no package).</summary>
public static class IpJson
{
    /// <summary>Builds a host from `ip -j addr` (and optionally `ip -j route`) output. Interfaces keep the dump's order
    /// (the kernel's device list) and addresses the dump's order and secondary flags. Interface kinds: `link_type`
    /// loopback; `linkinfo.info_kind` (with `-d`) veth/bridge; otherwise a device that is some other device's `master`
    /// is a bridge, one with a `link_index`/`link_netnsid` peer a veth, and `ether` an ethernet device.</summary>
    public static HostReadResult ReadHost(string addrJson, string? routeJson, string source, string hostName = "host")
    {
        var diags = new List<Diagnostic>();
        var host = new Host(hostName);
        if (!TryParse(addrJson, source, diags, out var addr)) return new HostReadResult(null, diags);
        using (addr)
        {
            if (addr.RootElement.ValueKind != JsonValueKind.Array)
            {
                diags.Add(RoutingMessages.Json(new SourceLocation(source, 1, 1), "expected a JSON array of interfaces"));
                return new HostReadResult(null, diags);
            }
            var masters = new HashSet<string>();
            foreach (var dev in addr.RootElement.EnumerateArray())
                if (Str(dev, "master") is { } m) masters.Add(m);
            foreach (var dev in addr.RootElement.EnumerateArray())
            {
                var name = Str(dev, "ifname");
                if (name is null || !dev.TryGetProperty("ifindex", out var ix) || !ix.TryGetInt32(out var index))
                {
                    diags.Add(RoutingMessages.Json(new SourceLocation(source, 0, 0), "an interface lacks ifname or ifindex"));
                    continue;
                }
                var kindInfo = dev.TryGetProperty("linkinfo", out var li) ? Str(li, "info_kind") : null;
                var kind = Str(dev, "link_type") == "loopback" ? InterfaceKind.Loopback
                    : kindInfo == "veth" ? InterfaceKind.Veth
                    : kindInfo == "bridge" || masters.Contains(name) ? InterfaceKind.Bridge
                    : dev.TryGetProperty("link_index", out _) || dev.TryGetProperty("link_netnsid", out _) ? InterfaceKind.Veth
                    : Str(dev, "link_type") == "ether" ? InterfaceKind.Ethernet
                    : InterfaceKind.Other;
                if (host.FindInterface(name) is not null)
                {
                    diags.Add(RoutingMessages.DuplicateInterface(new SourceLocation(source, 0, 0), name));
                    continue;
                }
                var iface = host.AddInterface(name, kind, index);
                iface.Master = Str(dev, "master");
                if (dev.TryGetProperty("flags", out var flags) && flags.ValueKind == JsonValueKind.Array)
                    iface.Up = flags.EnumerateArray().Any(f => f.GetString() == "UP");
                if (dev.TryGetProperty("linkinfo", out var li2) && li2.TryGetProperty("info_slave_data", out var sd)
                    && sd.TryGetProperty("hairpin", out var hp) && hp.ValueKind is JsonValueKind.True)
                    iface.Hairpin = true;
                if (!dev.TryGetProperty("addr_info", out var infos) || infos.ValueKind != JsonValueKind.Array) continue;
                foreach (var a in infos.EnumerateArray())
                {
                    if (Str(a, "family") != "inet") continue;
                    var local = Str(a, "local");
                    if (local is null || !Ip4.TryParse(local, out var ip) || !a.TryGetProperty("prefixlen", out var pl) || !pl.TryGetInt32(out var len) || len is < 0 or > 32)
                    {
                        diags.Add(RoutingMessages.Json(new SourceLocation(source, 0, 0), $"bad inet address on {name}"));
                        continue;
                    }
                    AddressScopes.TryParse(Str(a, "scope") ?? "global", out var scope);
                    bool secondary = a.TryGetProperty("secondary", out var sec) && sec.ValueKind == JsonValueKind.True;
                    bool noPrefixRoute = a.TryGetProperty("noprefixroute", out var npr) && npr.ValueKind == JsonValueKind.True;
                    iface.AppendAddress(new InterfaceAddress(ip, len, scope, secondary) { NoPrefixRoute = noPrefixRoute });
                }
            }
        }
        if (routeJson is not null) ReadRoutes(routeJson, source, host, diags);
        host.RebuildKernelRoutes();
        return new HostReadResult(diags.Any(d => d.Severity == Severity.Error) ? null : host, diags);
    }

    /// <summary>Adds the routes of `ip -j route [show table all]` output to <paramref name="host"/>.</summary>
    public static void ReadRoutes(string json, string source, Host host, List<Diagnostic> diags)
    {
        if (!TryParse(json, source, diags, out var doc)) return;
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Array)
            {
                diags.Add(RoutingMessages.Json(new SourceLocation(source, 1, 1), "expected a JSON array of routes"));
                return;
            }
            int n = 0;
            foreach (var r in doc.RootElement.EnumerateArray())
            {
                n++;
                var typeText = Str(r, "type") ?? "unicast";
                if (!RouteTypes.TryParse(typeText, out var type))
                {
                    diags.Add(RoutingMessages.Json(new SourceLocation(source, 0, 0), $"route {n}: unknown type {typeText}"));
                    continue;
                }
                var dst = Str(r, "dst");
                Ip4Prefix prefix;
                if (dst == "default") prefix = Ip4Prefix.All;
                else if (dst is not null && Ip4Prefix.TryParse(dst, out var p)) prefix = new Ip4Prefix(p.Network, p.Length);
                else
                {
                    // IPv6 or multicast routes in a mixed dump are not IPv4 unicast state: skip them, say so.
                    diags.Add(RoutingMessages.JsonSkipped(new SourceLocation(source, 0, 0), $"route {n} with dst \"{dst}\" skipped: not an IPv4 prefix"));
                    continue;
                }
                int table = type is RouteType.Local or RouteType.Broadcast ? RouteTables.Local : RouteTables.Main;
                if (Str(r, "table") is { } tt && !RouteTables.TryParse(tt, out table))
                {
                    diags.Add(RoutingMessages.Json(new SourceLocation(source, 0, 0), $"route {n}: unknown table {tt}"));
                    continue;
                }
                var scope = type == RouteType.Local ? AddressScope.Host : AddressScope.Global;
                if (Str(r, "scope") is { } sc) AddressScopes.TryParse(sc, out scope);
                Ip4? src = Str(r, "prefsrc") is { } ps && Ip4.TryParse(ps, out var psi) ? psi : null;
                int metric = r.TryGetProperty("metric", out var m) && m.TryGetInt32(out var mv) ? mv : 0;
                ImmutableArray<Nexthop> hops;
                if (r.TryGetProperty("nexthops", out var nhs) && nhs.ValueKind == JsonValueKind.Array)
                    hops = [.. nhs.EnumerateArray().Select(NexthopOf)];
                else if (Str(r, "dev") is not null || Str(r, "gateway") is not null)
                    hops = [NexthopOf(r)];
                else
                    hops = [];
                host.AddRoute(new Route(type, prefix, hops, src, metric, scope, Str(r, "protocol"), table));
            }
        }

        static Nexthop NexthopOf(JsonElement e) => new(
            Str(e, "gateway") is { } g && Ip4.TryParse(g, out var gi) ? gi : null,
            Str(e, "dev"),
            e.TryGetProperty("weight", out var w) && w.TryGetInt32(out var wv) ? wv : 1);
    }

    private static bool TryParse(string json, string source, List<Diagnostic> diags, out JsonDocument doc)
    {
        try
        {
            doc = JsonDocument.Parse(json);
            return true;
        }
        catch (JsonException ex)
        {
            diags.Add(RoutingMessages.Json(new SourceLocation(source, (int)(ex.LineNumber ?? 0) + 1, (int)(ex.BytePositionInLine ?? 0) + 1), ex.Message.Split(" LineNumber")[0]));
            doc = null!;
            return false;
        }
    }

    private static string? Str(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
}
