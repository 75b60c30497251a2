using PacketLife.Core.Net;

namespace PacketLife.Core.Routing;

/// <summary>One routing table: longest prefix match, then the lowest metric (the kernel's FIB keeps aliases of one
/// prefix ordered by priority and takes the first usable one).</summary>
public sealed class RouteTable
{
    private readonly List<Route> _routes = new();
    // Per prefix length, network -> routes sorted by metric: 33 hash probes per lookup, independent of table size.
    private readonly Dictionary<uint, List<Route>>?[] _byLength = new Dictionary<uint, List<Route>>?[33];

    public RouteTable(int id) => Id = id;

    public int Id { get; }
    public IReadOnlyList<Route> Routes => _routes;

    public void Add(Route route)
    {
        _routes.Add(route);
        var map = _byLength[route.Prefix.Length] ??= new Dictionary<uint, List<Route>>();
        var net = route.Prefix.Network.Value;
        if (!map.TryGetValue(net, out var list)) map[net] = list = new List<Route>(1);
        int i = 0;
        while (i < list.Count && list[i].Metric <= route.Metric) i++;
        list.Insert(i, route);
    }

    public bool Remove(Route route)
    {
        if (!_routes.Remove(route)) return false;
        var map = _byLength[route.Prefix.Length]!;
        var list = map[route.Prefix.Network.Value];
        list.Remove(route);
        if (list.Count == 0) map.Remove(route.Prefix.Network.Value);
        return true;
    }

    /// <summary>The best route for <paramref name="dst"/>: longest prefix, lowest metric; skips routes whose device is down.</summary>
    public Route? Lookup(Ip4 dst, Func<Route, bool>? usable = null)
    {
        for (int len = 32; len >= 0; len--)
        {
            var map = _byLength[len];
            if (map is null) continue;
            uint mask = len == 0 ? 0 : uint.MaxValue << (32 - len);
            if (!map.TryGetValue(dst.Value & mask, out var list)) continue;
            foreach (var r in list)
                if (usable is null || usable(r)) return r;
        }
        return null;
    }
}
