using System.Collections.Immutable;
using PacketLife.Core.Conntrack;
using PacketLife.Core.Net;

namespace PacketLife.Core.Routing;

/// <summary>The result of a route lookup (kernel <c>fib_lookup</c> plus the nexthop choice). <see cref="Choices"/>
/// lists every nexthop with its probability (ECMP: weight / total weight), so explain mode can enumerate them;
/// <see cref="Nexthop"/> is the chosen one.</summary>
public sealed record RouteResult(Route Route, Nexthop? Nexthop, ImmutableArray<(Nexthop Nexthop, double Probability)> Choices)
{
    public RouteType Type => Route.Type;
    public string? OutInterface => Nexthop?.Device;
    public Ip4? Gateway => Nexthop?.Gateway;

    /// <summary>The next hop address: the gateway, or the destination itself when on-link (what MASQUERADE passes to
    /// <c>inet_select_addr</c>).</summary>
    public Ip4 NextHopFor(Ip4 dst) => Gateway ?? dst;

    public override string ToString() => Route.ToString();
}

/// <summary>Outcome of the reverse path filter (ip-sysctl.rst rp_filter; kernel <c>fib_validate_source</c>).</summary>
public sealed record RpFilterResult(bool Accepted, int Mode, string Reason);

/// <summary>One Linux host (network namespace): interfaces in device-list order (lo first), routing tables and policy
/// rules, and the sysctls the packet path reads. A mutable model: build it, then call <see cref="RebuildKernelRoutes"/>
/// (the readers do) so that the local table and the connected routes follow the addresses, as the kernel keeps them.</summary>
public sealed class Host
{
    private readonly List<Interface> _interfaces = new();
    private readonly Dictionary<int, RouteTable> _tables = new();
    private readonly List<Route> _explicit = new();

    public Host(string name)
    {
        Name = name;
        Rules = DefaultRules();
        _usable = Usable;
    }

    private readonly Func<Route, bool> _usable;

    public string Name { get; set; }
    public IReadOnlyList<Interface> Interfaces => _interfaces;
    public List<PolicyRule> Rules { get; }

    /// <summary>`net.ipv4.ip_forward` (every `conf.*.forwarding`).</summary>
    public bool IpForward { get; set; }
    /// <summary>`net.ipv4.conf.all.rp_filter`.</summary>
    public int RpFilterAll { get; set; }
    /// <summary>`net.ipv4.conf.all.route_localnet`.</summary>
    public bool RouteLocalnetAll { get; set; }
    /// <summary>`net.bridge.bridge-nf-call-iptables` (1 by default when br_netfilter is loaded, facts §5.9).</summary>
    public bool BridgeNfCallIptables { get; set; } = true;
    /// <summary>`net.ipv4.conf.all.accept_local`.</summary>
    public bool AcceptLocal { get; set; }
    /// <summary>The `net.netfilter.nf_conntrack_*` sysctls.</summary>
    public ConntrackSettings Conntrack { get; set; } = ConntrackSettings.Default;

    public static List<PolicyRule> DefaultRules() =>
    [
        new PolicyRule(0, RouteTables.Local),
        new PolicyRule(32766, RouteTables.Main),
        new PolicyRule(32767, RouteTables.Default),
    ];

    public Interface? FindInterface(string name) => _interfaces.Find(i => i.Name == name);

    public Interface AddInterface(string name, InterfaceKind kind, int? index = null)
    {
        if (FindInterface(name) is not null) throw new ArgumentException($"interface {name} already exists", nameof(name));
        var i = new Interface(name, index ?? (_interfaces.Count == 0 ? 1 : _interfaces.Max(x => x.Index) + 1), kind);
        _interfaces.Add(i);
        return i;
    }

    public RouteTable Table(int id)
    {
        if (!_tables.TryGetValue(id, out var t)) _tables[id] = t = new RouteTable(id);
        return t;
    }

    public IEnumerable<RouteTable> Tables => _tables.Values.OrderByDescending(t => t.Id);

    /// <summary>Adds a configured route (`ip route add`). Routes the kernel derives from addresses come from
    /// <see cref="RebuildKernelRoutes"/>; a configured route equal to a derived one replaces it.</summary>
    public void AddRoute(Route route)
    {
        _explicit.Add(route);
        Table(route.Table).Add(route);
    }

    /// <summary>Re-derives the routes the kernel adds for addresses (fib_frontend.c <c>fib_add_ifaddr</c>): in table
    /// local, `local A` for every address (`local 127.0.0.0/8` for loopback prefixes) and `broadcast` for the directed
    /// broadcast of every primary with a prefix shorter than /31; in main, the connected `proto kernel scope link src A`
    /// route of each primary (unless `noprefixroute`). Kernel 6.18 no longer adds a broadcast route for the network address
    /// (facts §3.3).</summary>
    public void RebuildKernelRoutes()
    {
        foreach (var t in _tables.Values)
            foreach (var r in t.Routes.Where(r => r.Protocol == "kernel" && !_explicit.Contains(r)).ToList())
                t.Remove(r);
        foreach (var dev in _interfaces)
        {
            if (!dev.Up) continue;
            foreach (var a in dev.Addresses)
            {
                AddDerived(new Route(RouteType.Local, Ip4Prefix.Host(a.Address), [new Nexthop(null, dev.Name)], a.Address, 0, AddressScope.Host, "kernel", RouteTables.Local));
                if (a.Secondary) continue;
                if (a.PrefixLength < 32 && !a.NoPrefixRoute)
                {
                    if (dev.IsLoopback)
                        AddDerived(new Route(RouteType.Local, new Ip4Prefix(a.Prefix.Network, a.PrefixLength), [new Nexthop(null, dev.Name)], a.Address, 0, AddressScope.Host, "kernel", RouteTables.Local));
                    else
                        AddDerived(new Route(RouteType.Unicast, new Ip4Prefix(a.Prefix.Network, a.PrefixLength), [new Nexthop(null, dev.Name)], a.Address, 0, AddressScope.Link, "kernel", RouteTables.Main));
                }
                if (a.Broadcast is { } b)
                    AddDerived(new Route(RouteType.Broadcast, Ip4Prefix.Host(b), [new Nexthop(null, dev.Name)], a.Address, 0, AddressScope.Link, "kernel", RouteTables.Local));
            }
        }
    }

    private void AddDerived(Route r)
    {
        var t = Table(r.Table);
        if (t.Routes.Any(x => x.Type == r.Type && x.Prefix.Network == r.Prefix.Network && x.Prefix.Length == r.Prefix.Length && x.Device == r.Device)) return;
        t.Add(r);
    }

    /// <summary>Policy routing plus FIB lookup (kernel <c>fib_lookup</c>): rules by priority; a matching rule's table
    /// answers unless it has no route or a `throw` route, then the next rule is tried. Null: no route (ENETUNREACH).
    /// <paramref name="random"/> picks among ECMP nexthops by weight; without it the first nexthop is taken (the kernel
    /// hashes the flow instead; explain mode should enumerate <see cref="RouteResult.Choices"/>).</summary>
    public RouteResult? Lookup(Ip4 dst, Ip4 src = default, uint mark = 0, string? iif = null, Random? random = null)
    {
        // Rules are tried by priority; keep the list sorted (callers may have appended) without allocating per lookup.
        for (int i = 1; i < Rules.Count; i++)
            if (Rules[i - 1].Priority > Rules[i].Priority)
            {
                Rules.Sort((a, b) => a.Priority.CompareTo(b.Priority));
                break;
            }
        foreach (var rule in Rules)
        {
            if (!rule.Matches(src, dst, mark, iif)) continue;
            if (!_tables.TryGetValue(rule.Table, out var table)) continue;
            var route = table.Lookup(dst, _usable);
            if (route is null || route.Type == RouteType.Throw) continue;
            return Resolve(route, random);
        }
        return null;
    }

    private bool Usable(Route r) =>
        r.Nexthops.IsDefaultOrEmpty || r.Nexthops.Any(n => n.Device is null || FindInterface(n.Device) is { Up: true });

    private static RouteResult Resolve(Route route, Random? random)
    {
        if (route.Nexthops.IsDefaultOrEmpty) return new RouteResult(route, null, []);
        double total = route.Nexthops.Sum(n => (double)Math.Max(1, n.Weight));
        var choices = route.Nexthops.Select(n => (n, Math.Max(1, n.Weight) / total)).ToImmutableArray();
        var chosen = route.Nexthops[0];
        if (random is not null && route.Nexthops.Length > 1)
        {
            double x = random.NextDouble() * total;
            foreach (var n in route.Nexthops)
            {
                x -= Math.Max(1, n.Weight);
                if (x < 0) { chosen = n; break; }
            }
        }
        return new RouteResult(route, chosen, choices);
    }

    /// <summary>Whether <paramref name="ip"/> is an address of this host (a `local` route in table local: every configured
    /// address and all of 127.0.0.0/8 when lo is up).</summary>
    public bool IsLocalAddress(Ip4 ip) => AddressType(ip) == RouteType.Local;

    /// <summary>The address type `-m addrtype` sees (xt_addrtype.c, fib_frontend.c <c>__inet_dev_addr_type</c>): 0.0.0.0/8
    /// and 255.255.255.255 are BROADCAST, 224/4 MULTICAST; otherwise the local table's route type, which counts only if its
    /// device is <paramref name="limitIface"/> when given (`--limit-iface-in/out`); anything else UNICAST.</summary>
    public RouteType AddressType(Ip4 ip, string? limitIface = null)
    {
        if ((ip.Value >> 24) == 0 || ip.Value == uint.MaxValue) return RouteType.Broadcast;
        if ((ip.Value >> 28) == 0xE) return RouteType.Multicast;
        if (!_tables.TryGetValue(RouteTables.Local, out var local)) return RouteType.Unicast;
        var r = local.Lookup(ip, _usable);
        if (r is null) return RouteType.Unicast;
        if (limitIface is not null && r.Device != limitIface) return RouteType.Unicast;
        return r.Type;
    }

    /// <summary>Kernel <c>inet_select_addr(dev, dst, scope)</c> (net/ipv4/devinet.c): on <paramref name="dev"/>, the first
    /// primary address whose scope is not narrower than <paramref name="scope"/> (host-scope addresses count as link
    /// scope with route_localnet) and whose subnet contains <paramref name="dst"/>, else the first such address; if the
    /// device has none, the first primary address of any device in device-list order whose scope is neither link nor
    /// narrower than <paramref name="scope"/>. MASQUERADE calls it with scope global (facts §4.6). Null: none.</summary>
    public Ip4? InetSelectAddr(Interface dev, Ip4 dst, AddressScope scope)
    {
        var localnetScope = dev.RouteLocalnet || RouteLocalnetAll ? AddressScope.Link : AddressScope.Host;
        Ip4? first = null;
        foreach (var a in dev.Addresses)
        {
            if (a.Secondary) continue;
            if (Math.Min((byte)a.Scope, (byte)localnetScope) > (byte)scope) continue;
            if (dst == Ip4.Any || a.Prefix.Contains(dst)) return a.Address;
            first ??= a.Address;
        }
        if (first is not null) return first;
        foreach (var d in _interfaces)
            foreach (var a in d.Addresses)
                if (!a.Secondary && a.Scope != AddressScope.Link && (byte)a.Scope <= (byte)scope)
                    return a.Address;
        return null;
    }

    /// <summary>The source address of a locally generated packet (kernel <c>fib_result_prefsrc</c>): the route's `src`
    /// if set, else <c>inet_select_addr(out dev, gateway, route scope)</c>.</summary>
    public Ip4? SelectSource(RouteResult route, Ip4 dst)
    {
        if (route.Route.PrefSrc is { } s) return s;
        if (route.OutInterface is not { } name || FindInterface(name) is not { } dev) return null;
        return InetSelectAddr(dev, route.Gateway ?? Ip4.Any, route.Route.Scope);
    }

    /// <summary>The reverse path filter for a packet from <paramref name="src"/> arriving on <paramref name="inIface"/>
    /// (ip-sysctl.rst; kernel <c>fib_validate_source</c>). Mode = max(all, interface). 0 accepts; 1 (strict) needs the
    /// best route back to the source to leave through the incoming interface (any nexthop of an ECMP route); 2 (loose)
    /// needs any unicast route back. A source that is one of this host's addresses, arriving from outside, is refused
    /// whatever the mode unless accept_local (a martian).
    /// The check is part of the input routing decision, after the PREROUTING chains (facts §1.8).</summary>
    public RpFilterResult CheckReversePath(Ip4 src, string inIface, uint mark = 0)
    {
        var dev = FindInterface(inIface);
        int mode = Math.Max(RpFilterAll, dev?.RpFilter ?? 0);
        if (dev is { IsLoopback: true }) return new RpFilterResult(true, mode, "loopback is not filtered");
        // Even with rp_filter off, a packet from outside claiming one of our own addresses is a martian unless
        // accept_local (all or the interface) is set. Verified on 6.18 in a netns pair: UDP from a peer with the
        // receiver's own address as source was dropped with rp_filter=0 and delivered with accept_local=1.
        if (!AcceptLocal && dev is not { AcceptLocal: true } && _interfaces.Any(i => i.Addresses.Any(a => a.Address == src)))
            return new RpFilterResult(false, mode, $"martian source: {src} is an address of this host");
        if (mode == 0) return new RpFilterResult(true, 0, "rp_filter off");
        var back = Lookup(src, default, mark, null);
        if (back is null) return new RpFilterResult(false, mode, $"no route back to {src}");
        if (back.Type is not (RouteType.Unicast or RouteType.Local)) return new RpFilterResult(false, mode, $"route back to {src} is {RouteTypes.Name(back.Type)}");
        if (mode == 2) return new RpFilterResult(true, 2, $"loose: {src} is routable ({back.Route})");
        bool via = back.Route.Nexthops.Any(n => n.Device == inIface);
        return via
            ? new RpFilterResult(true, 1, $"strict: route back to {src} uses {inIface}")
            : new RpFilterResult(false, 1, $"strict: route back to {src} uses {back.OutInterface}, not {inIface}");
    }
}
