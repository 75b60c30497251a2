using PacketLife.Core.Net;

namespace PacketLife.Core.Routing;

/// <summary>Address and route scopes with the kernel's values (<c>enum rt_scope_t</c>): lower is wider.
/// `ip` prints <c>global</c> for universe (0).</summary>
public enum AddressScope : byte
{
    Global = 0,
    Site = 200,
    Link = 253,
    Host = 254,
    Nowhere = 255,
}

public static class AddressScopes
{
    public static string Name(AddressScope s) => s switch
    {
        AddressScope.Global => "global",
        AddressScope.Site => "site",
        AddressScope.Link => "link",
        AddressScope.Host => "host",
        AddressScope.Nowhere => "nowhere",
        _ => ((byte)s).ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    public static bool TryParse(string text, out AddressScope scope)
    {
        scope = default;
        switch (text)
        {
            case "global" or "universe": scope = AddressScope.Global; return true;
            case "site": scope = AddressScope.Site; return true;
            case "link": scope = AddressScope.Link; return true;
            case "host": scope = AddressScope.Host; return true;
            case "nowhere": scope = AddressScope.Nowhere; return true;
        }
        if (byte.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n))
        {
            scope = (AddressScope)n;
            return true;
        }
        return false;
    }
}

/// <summary>One IPv4 address on an interface (kernel <c>struct in_ifaddr</c>). <see cref="Secondary"/>: another
/// address of the same subnet was there first (IFA_F_SECONDARY); MASQUERADE and source selection skip it.</summary>
public sealed record InterfaceAddress(Ip4 Address, int PrefixLength, AddressScope Scope = AddressScope.Global, bool Secondary = false)
{
    /// <summary>`noprefixroute` (IFA_F_NOPREFIXROUTE): the kernel adds no connected route for this address.</summary>
    public bool NoPrefixRoute { get; init; }

    public Ip4Prefix Prefix => new(Address, PrefixLength);

    /// <summary>The directed broadcast address (none for /31 and /32).</summary>
    public Ip4? Broadcast => PrefixLength >= 31 ? null : Prefix.Last;

    public override string ToString() =>
        $"{Address}/{PrefixLength} scope {AddressScopes.Name(Scope)}{(Secondary ? " secondary" : "")}{(NoPrefixRoute ? " noprefixroute" : "")}";
}

public enum InterfaceKind : byte
{
    Loopback,
    Ethernet,
    Veth,
    Bridge,
    Other,
}

/// <summary>A network device of a host (namespace). <see cref="Addresses"/> are in the kernel's list order:
/// primaries by scope host → link → global, each group in insertion order, then secondaries (devinet.c,
/// <c>__inet_insert_ifa</c>); MASQUERADE and REDIRECT depend on this order (facts §4.6, §4.7).</summary>
public sealed class Interface
{
    private readonly List<InterfaceAddress> _addresses = new();

    public Interface(string name, int index, InterfaceKind kind)
    {
        Name = name;
        Index = index;
        Kind = kind;
    }

    public string Name { get; }
    public int Index { get; }
    public InterfaceKind Kind { get; }

    /// <summary>The bridge this device is a port of (`master cbr0`), if any.</summary>
    public string? Master { get; set; }

    /// <summary>Bridge port hairpin mode: the bridge may send a frame back out of the port it came in on (facts §6.3).</summary>
    public bool Hairpin { get; set; }

    public bool Up { get; set; } = true;

    /// <summary>`net.ipv4.conf.&lt;if&gt;.rp_filter`; the effective value is max(all, this).</summary>
    public int RpFilter { get; set; }

    /// <summary>`net.ipv4.conf.&lt;if&gt;.accept_local` (ORed with `all`).</summary>
    public bool AcceptLocal { get; set; }

    /// <summary>`net.ipv4.conf.&lt;if&gt;.route_localnet`.</summary>
    public bool RouteLocalnet { get; set; }

    public IReadOnlyList<InterfaceAddress> Addresses => _addresses;

    public bool IsLoopback => Kind == InterfaceKind.Loopback;

    /// <summary>Adds an address as `ip addr add` does (kernel <c>__inet_insert_ifa</c>): an address in the subnet of an
    /// existing one becomes secondary and goes last; a primary goes after the last primary whose scope is not wider
    /// than its own. Returns false for a duplicate address or a scope clash with the subnet's primary (EEXIST/EINVAL).</summary>
    public bool AddAddress(Ip4 address, int prefixLength, AddressScope scope = AddressScope.Global, bool noPrefixRoute = false)
    {
        bool secondary = false;
        int lastPrimary = 0;
        var candidate = new Ip4Prefix(address, prefixLength);
        for (int i = 0; i < _addresses.Count; i++)
        {
            var a = _addresses[i];
            if (!a.Secondary && (byte)scope <= (byte)a.Scope) lastPrimary = i + 1;
            if (a.PrefixLength == prefixLength && candidate.Contains(a.Address))
            {
                if (a.Address == address) return false;
                if (a.Scope != scope) return false;
                secondary = true;
            }
        }
        var ifa = new InterfaceAddress(address, prefixLength, scope, secondary) { NoPrefixRoute = noPrefixRoute };
        if (secondary) _addresses.Add(ifa);
        else _addresses.Insert(lastPrimary, ifa);
        return true;
    }

    /// <summary>Appends an address as a dump lists it (already in kernel order, secondary flag given).</summary>
    public void AppendAddress(InterfaceAddress address) => _addresses.Add(address);

    public bool RemoveAddress(Ip4 address) => _addresses.RemoveAll(a => a.Address == address) > 0;

    public override string ToString() => $"{Name} ({Kind}, index {Index})";
}
