using System.Collections.Immutable;
using PacketLife.Core.Net;

namespace PacketLife.Core.Routing;

/// <summary>Route types with the kernel's numbers (<c>RTN_*</c>); also the answers of `-m addrtype`.</summary>
public enum RouteType : byte
{
    Unspec = 0,
    Unicast = 1,
    Local = 2,
    Broadcast = 3,
    Anycast = 4,
    Multicast = 5,
    Blackhole = 6,
    Unreachable = 7,
    Prohibit = 8,
    Throw = 9,
    Nat = 10,
    XResolve = 11,
}

public static class RouteTypes
{
    private static readonly string[] Names =
        ["unspec", "unicast", "local", "broadcast", "anycast", "multicast", "blackhole", "unreachable", "prohibit", "throw", "nat", "xresolve"];

    public static string Name(RouteType t) => Names[(int)t];

    public static bool TryParse(string text, out RouteType type)
    {
        int i = Array.IndexOf(Names, text);
        type = i < 0 ? default : (RouteType)i;
        return i >= 0;
    }
}

/// <summary>Well-known routing table ids (`ip route show table …`).</summary>
public static class RouteTables
{
    public const int Default = 253;
    public const int Main = 254;
    public const int Local = 255;

    public static string Name(int id) => id switch { Local => "local", Main => "main", Default => "default", _ => id.ToString(System.Globalization.CultureInfo.InvariantCulture) };

    public static bool TryParse(string text, out int id)
    {
        id = text switch { "local" => Local, "main" => Main, "default" => Default, _ => -1 };
        if (id >= 0) return true;
        return int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out id);
    }
}

/// <summary>One way out of a route: a gateway (or on-link when null), a device, and an ECMP weight.</summary>
public sealed record Nexthop(Ip4? Gateway, string? Device, int Weight = 1)
{
    public override string ToString() => (Gateway is { } g ? $"via {g} " : "") + (Device is { } d ? $"dev {d}" : "").TrimEnd();
}

/// <summary>A route as `ip route` shows it: type, prefix, one or more nexthops (ECMP), preferred source, metric,
/// scope, protocol and table.</summary>
public sealed record Route(
    RouteType Type,
    Ip4Prefix Prefix,
    ImmutableArray<Nexthop> Nexthops,
    Ip4? PrefSrc = null,
    int Metric = 0,
    AddressScope Scope = AddressScope.Global,
    string? Protocol = null,
    int Table = RouteTables.Main)
{
    public Nexthop? First => Nexthops.IsDefaultOrEmpty ? null : Nexthops[0];
    public Ip4? Gateway => First?.Gateway;
    public string? Device => First?.Device;
    public bool IsMultipath => !Nexthops.IsDefaultOrEmpty && Nexthops.Length > 1;

    /// <summary>`ip route` notation: `[type] prefix [via gw] [dev d] [proto p] [scope s] [src a] [metric m]`.</summary>
    public override string ToString()
    {
        var sb = new System.Text.StringBuilder();
        if (Type != RouteType.Unicast) sb.Append(RouteTypes.Name(Type)).Append(' ');
        sb.Append(Prefix.Length == 0 ? "default" : Prefix.Length == 32 ? Prefix.Network.ToString() : Prefix.ToString());
        if (!IsMultipath && First is { } nh)
        {
            if (nh.Gateway is { } g) sb.Append(" via ").Append(g);
            if (nh.Device is { } d) sb.Append(" dev ").Append(d);
        }
        if (Protocol is { } p) sb.Append(" proto ").Append(p);
        if (Scope != AddressScope.Global) sb.Append(" scope ").Append(AddressScopes.Name(Scope));
        if (PrefSrc is { } s) sb.Append(" src ").Append(s);
        if (Metric != 0) sb.Append(" metric ").Append(Metric);
        if (IsMultipath)
            foreach (var nh2 in Nexthops)
                sb.Append(" nexthop ").Append(nh2).Append(" weight ").Append(nh2.Weight);
        return sb.ToString();
    }
}

/// <summary>A policy routing rule (`ip rule`): tried by priority; a match looks up <see cref="Table"/>.</summary>
public sealed record PolicyRule(int Priority, int Table, uint? FwMark = null, uint FwMask = uint.MaxValue,
    Ip4Prefix? From = null, Ip4Prefix? To = null, string? Iif = null)
{
    public bool Matches(Ip4 src, Ip4 dst, uint mark, string? iif) =>
        (FwMark is not { } m || (mark & FwMask) == m)
        && (From is not { } f || f.Contains(src))
        && (To is not { } t || t.Contains(dst))
        && (Iif is null || Iif == iif);
}
