using PacketLife.Core.Diagnostics;
using PacketLife.Core.Net;
using PacketLife.Core.Routing;

namespace PacketLife.Tests.Routing;

public class RoutingTests
{
    private static Ip4 Ip(string s) => Ip4.Parse(s);

    private static Host Read(string text)
    {
        var r = HostFile.Read(text, "host.txt");
        Assert.False(r.HasErrors, string.Join("\n", r.Diagnostics));
        return r.Host!;
    }

    /// <summary>The facts' router: eth0 10.1.0.1/24 (cli), eth1 10.2.0.1/24 (srv), eth2 10.3.0.1/24 (node).</summary>
    private static Host Router(string extra = "") => Read($"""
        host rtr
        sysctl net.ipv4.ip_forward = 1
        interface eth0 ethernet
          address 10.1.0.1/24
        interface eth1 ethernet
          address 10.2.0.1/24
        interface eth2 ethernet
          address 10.3.0.1/24
        {extra}
        """);

    // facts §4.6: a new scope-link primary goes first; a global one after the globals; a same-subnet address is secondary, last.
    [Fact]
    public void Addresses_are_listed_in_the_kernels_order()
    {
        var eth0 = new Interface("eth0", 2, InterfaceKind.Ethernet);
        Assert.True(eth0.AddAddress(Ip("10.3.0.2"), 24));
        Assert.True(eth0.AddAddress(Ip("10.33.0.1"), 24, AddressScope.Link));
        Assert.True(eth0.AddAddress(Ip("10.34.0.1"), 24));
        Assert.True(eth0.AddAddress(Ip("10.3.0.9"), 24));
        Assert.True(eth0.AddAddress(Ip("127.0.0.5"), 8, AddressScope.Host));
        Assert.Equal(
            ["127.0.0.5/8 scope host", "10.33.0.1/24 scope link", "10.3.0.2/24 scope global", "10.34.0.1/24 scope global", "10.3.0.9/24 scope global secondary"],
            eth0.Addresses.Select(a => a.ToString()).ToArray());
        Assert.False(eth0.AddAddress(Ip("10.3.0.2"), 24));               // EEXIST
        Assert.False(eth0.AddAddress(Ip("10.3.0.7"), 24, AddressScope.Link)); // scope differs from the subnet's primary
    }

    // facts §3.3: the local table derived from the addresses, and `-m addrtype` on the router (INPUT from eth0).
    [Theory]
    [InlineData("10.1.0.1", null, RouteType.Local)]
    [InlineData("10.1.0.1", "eth0", RouteType.Local)]
    [InlineData("10.2.0.1", null, RouteType.Local)]
    [InlineData("10.2.0.1", "eth0", RouteType.Unicast)]
    [InlineData("127.0.0.1", "lo", RouteType.Local)]
    [InlineData("127.9.9.9", null, RouteType.Local)]
    [InlineData("10.1.0.255", null, RouteType.Broadcast)]
    [InlineData("10.1.0.255", "eth0", RouteType.Broadcast)]
    [InlineData("255.255.255.255", null, RouteType.Broadcast)]
    [InlineData("0.1.2.3", null, RouteType.Broadcast)]
    [InlineData("10.1.0.0", null, RouteType.Unicast)]   // 6.18 adds no network broadcast route
    [InlineData("224.0.0.22", null, RouteType.Multicast)]
    [InlineData("10.1.0.2", null, RouteType.Unicast)]
    [InlineData("8.8.8.8", null, RouteType.Unicast)]
    public void Address_type_comes_from_the_local_table(string ip, string? limitIface, RouteType expected) =>
        Assert.Equal(expected, Router().AddressType(Ip(ip), limitIface));

    [Fact]
    public void Derived_routes_are_the_kernels()
    {
        var h = Router();
        Assert.Equal(
            ["local 127.0.0.1 dev lo proto kernel scope host src 127.0.0.1", "local 127.0.0.0/8 dev lo proto kernel scope host src 127.0.0.1",
             "broadcast 127.255.255.255 dev lo proto kernel scope link src 127.0.0.1",
             "local 10.1.0.1 dev eth0 proto kernel scope host src 10.1.0.1", "broadcast 10.1.0.255 dev eth0 proto kernel scope link src 10.1.0.1"],
            h.Table(RouteTables.Local).Routes.Take(5).Select(r => r.ToString()).ToArray());
        Assert.Contains("10.2.0.0/24 dev eth1 proto kernel scope link src 10.2.0.1", h.Table(RouteTables.Main).Routes.Select(r => r.ToString()));
    }

    // Longest prefix first, then the lowest metric; blackhole and unreachable are answers; throw falls through to the next rule.
    [Theory]
    [InlineData("10.2.0.9", "eth1", null)]
    [InlineData("192.0.2.1", "eth0", "10.1.0.254")]
    [InlineData("198.51.100.7", "eth2", "10.3.0.2")]
    [InlineData("198.51.100.200", "eth1", "10.2.0.254")]
    [InlineData("203.0.113.5", null, null)]
    public void Lookup_takes_the_longest_prefix_then_the_lowest_metric(string dst, string? dev, string? gw)
    {
        var h = Router("""
            route default via 10.1.0.254 dev eth0 metric 100
            route default via 10.2.0.254 dev eth1 metric 200
            route 198.51.100.0/24 via 10.3.0.2 dev eth2
            route 198.51.100.128/25 via 10.2.0.254 dev eth1
            route blackhole 203.0.113.0/24
            """);
        var r = h.Lookup(Ip(dst));
        Assert.NotNull(r);
        Assert.Equal(dev, r!.OutInterface);
        Assert.Equal(gw is null ? null : Ip(gw), r.Gateway);
        if (dst == "203.0.113.5") Assert.Equal(RouteType.Blackhole, r.Type);
    }

    [Fact]
    public void Noprefixroute_addresses_get_no_connected_route()
    {
        var h = Read("""
            interface eth0 ethernet
              address 10.224.0.4/16 noprefixroute
            route default via 10.224.0.1 dev eth0 onlink
            """);
        Assert.DoesNotContain(h.Table(RouteTables.Main).Routes, r => r.Protocol == "kernel");
        Assert.Equal(Ip("10.224.0.1"), h.Lookup(Ip("10.224.0.9"))!.Gateway);
        Assert.Equal(RouteType.Broadcast, h.AddressType(Ip("10.224.255.255")));
        Assert.Contains("address 10.224.0.4/16 noprefixroute", HostFile.Write(h));
    }

    [Fact]
    public void No_route_is_null_and_policy_rules_use_fwmark_and_throw()
    {
        var h = Router("""
            route 10.9.0.0/16 via 10.3.0.2 dev eth2 table 102
            route throw 10.9.9.0/24 table 102
            route 10.9.9.0/24 via 10.2.0.254 dev eth1
            rule pref 100 fwmark 0x2/0xff lookup 102
            """);
        Assert.Null(h.Lookup(Ip("10.9.1.1")));
        Assert.Equal("eth2", h.Lookup(Ip("10.9.1.1"), mark: 0x102)!.OutInterface);
        Assert.Equal("eth1", h.Lookup(Ip("10.9.9.9"), mark: 0x2)!.OutInterface);
    }

    [Fact]
    public void Ecmp_nexthops_carry_their_probabilities()
    {
        var h = Router("route 203.0.113.37 nexthop via 10.3.0.2 dev eth2 weight 1 nexthop via 10.3.0.3 dev eth2 weight 3");
        var r = h.Lookup(Ip("203.0.113.37"))!;
        Assert.Equal([0.25, 0.75], r.Choices.Select(c => c.Probability).ToArray());
        var picks = Enumerable.Range(0, 400).Select(i => h.Lookup(Ip("203.0.113.37"), random: new Random(i))!.Gateway).ToList();
        Assert.InRange(picks.Count(g => g == Ip("10.3.0.3")), 240, 360);
    }

    // facts §4.6: MASQUERADE's address, inet_select_addr(out, nexthop, global), on a node with eth0 10.3.0.2 and cbr0.
    [Theory]
    [InlineData("global", "10.244.0.11", "10.244.0.1")]
    [InlineData("link", "10.244.0.11", "10.3.0.2")]
    public void Masquerade_address_falls_back_to_another_interface_when_cbr0_is_scope_link(string scope, string nexthop, string expected)
    {
        var h = Read($"""
            interface eth0 ethernet
              address 10.3.0.2/24
            interface cbr0 bridge
              address 10.244.0.1/24 scope {scope}
            """);
        Assert.Equal(Ip(expected), h.InetSelectAddr(h.FindInterface("cbr0")!, Ip(nexthop), AddressScope.Global));
    }

    [Theory]
    [InlineData("10.244.0.12", "10.244.0.1")]
    [InlineData("10.250.0.50", "10.250.0.1")]
    [InlineData("10.240.0.50", "10.240.0.1")]
    [InlineData("10.99.0.5", "10.244.0.1")]   // the route's src 10.250.0.1 is ignored by MASQUERADE
    public void Masquerade_address_prefers_the_primary_whose_subnet_holds_the_nexthop(string dst, string expected)
    {
        var h = Read("""
            interface eth0 ethernet
              address 10.3.0.2/24
            interface cbr0 bridge
              address 10.244.0.1/24
              address 10.250.0.1/24
              address 10.240.0.1/24
              address 10.244.0.2/24
            route 10.99.0.0/16 dev cbr0 src 10.250.0.1
            """);
        Assert.True(h.FindInterface("cbr0")!.Addresses[3].Secondary);
        var route = h.Lookup(Ip(dst))!;
        Assert.Equal(Ip(expected), h.InetSelectAddr(h.FindInterface(route.OutInterface!)!, route.NextHopFor(Ip(dst)), AddressScope.Global));
        if (dst == "10.99.0.5") Assert.Equal(Ip("10.250.0.1"), h.SelectSource(route, Ip(dst)));
    }

    [Fact]
    public void Local_source_selection_uses_the_route_src_or_the_out_device()
    {
        var h = Router("route default via 10.1.0.254 dev eth0");
        Assert.Equal(Ip("10.1.0.1"), h.SelectSource(h.Lookup(Ip("8.8.8.8"))!, Ip("8.8.8.8")));
        Assert.Equal(Ip("10.2.0.1"), h.SelectSource(h.Lookup(Ip("10.2.0.7"))!, Ip("10.2.0.7")));
        Assert.Equal(Ip("127.0.0.1"), h.SelectSource(h.Lookup(Ip("127.0.0.1"))!, Ip("127.0.0.1")));
    }

    // facts §1.8: spoofed 10.2.0.99 (routes back via eth1) arriving on eth0.
    [Theory]
    [InlineData(0, true)]
    [InlineData(1, false)]
    [InlineData(2, true)]
    public void Reverse_path_filter_modes(int mode, bool accepted)
    {
        var h = Router($"sysctl net.ipv4.conf.all.rp_filter = {mode}");
        Assert.Equal(accepted, h.CheckReversePath(Ip("10.2.0.99"), "eth0").Accepted);
        Assert.True(h.CheckReversePath(Ip("10.1.0.2"), "eth0").Accepted);
    }

    [Fact]
    public void Reverse_path_filter_uses_the_interface_value_and_refuses_martians()
    {
        var h = Router("sysctl net.ipv4.conf.eth0.rp_filter = 1");
        Assert.False(h.CheckReversePath(Ip("10.2.0.99"), "eth0").Accepted);
        Assert.True(h.CheckReversePath(Ip("10.2.0.99"), "eth1").Accepted);
        var loose = Router("sysctl net.ipv4.conf.all.rp_filter = 2");
        Assert.False(loose.CheckReversePath(Ip("203.0.113.9"), "eth0").Accepted);   // no route back at all
        var off = Router();
        Assert.Contains("martian", off.CheckReversePath(Ip("10.2.0.1"), "eth0").Reason);
        Assert.True(Router("sysctl net.ipv4.conf.eth0.accept_local = 1").CheckReversePath(Ip("10.2.0.1"), "eth0").Accepted);
        Assert.False(Router("sysctl net.ipv4.conf.eth1.accept_local = 1").CheckReversePath(Ip("10.2.0.1"), "eth0").Accepted);
    }

    [Fact]
    public void Aks_node_fixture_reads_and_models_the_seed_node()
    {
        var h = AksNode();
        Assert.Equal("aks-nodepool1-vmss000000", h.Name);
        Assert.True(h.IpForward);
        Assert.Equal(86400, h.Conntrack.TcpTimeoutEstablished);
        Assert.Equal(3600, h.Conntrack.TcpTimeoutCloseWait);
        Assert.Equal(["lo", "eth0", "cbr0", "veth3f9c2a1b", "vethb81d07e4"], h.Interfaces.Select(i => i.Name).ToArray());
        Assert.Equal("cbr0", h.FindInterface("veth3f9c2a1b")!.Master);
        Assert.Equal("cbr0", h.Lookup(Ip("10.244.1.136"))!.OutInterface);
        Assert.Equal(Ip("10.224.0.1"), h.Lookup(Ip("168.63.129.16"))!.Gateway);
        Assert.Equal(RouteType.Local, h.AddressType(Ip("10.224.0.4")));
        Assert.Equal(RouteType.Local, h.AddressType(Ip("10.244.1.1")));
        // cbr0 is scope link: MASQUERADE towards a local pod takes the node IP (the seed's tuples).
        Assert.Equal(Ip("10.224.0.4"), h.InetSelectAddr(h.FindInterface("cbr0")!, Ip("10.244.1.136"), AddressScope.Global));
        // The pasted connected route merged with the derived one.
        Assert.Single(h.Table(RouteTables.Main).Routes, r => r.Prefix.ToString() == "10.224.0.0/16");
    }

    [Fact]
    public void Aks_node_with_a_global_cbr0_masquerades_local_pods_to_the_bridge_address()
    {
        var h = AksNode();
        var cbr0 = h.FindInterface("cbr0")!;
        cbr0.RemoveAddress(Ip("10.244.1.1"));
        cbr0.AddAddress(Ip("10.244.1.1"), 24);
        h.RebuildKernelRoutes();
        Assert.Equal(Ip("10.244.1.1"), h.InetSelectAddr(cbr0, Ip("10.244.1.136"), AddressScope.Global));
    }

    internal static Host AksNode()
    {
        var dir = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(dir, "PacketLife.slnx"))) dir = Path.GetDirectoryName(dir)!;
        var path = Path.Combine(dir, "tests", "PacketLife.Tests", "Routing", "Fixtures", "aks-node.host");
        var r = HostFile.Read(File.ReadAllText(path), "aks-node.host");
        Assert.Empty(r.Diagnostics);
        return r.Host!;
    }

    [Fact]
    public void Host_file_writes_back_and_reads_the_same()
    {
        var h = AksNode();
        var text = HostFile.Write(h);
        var again = Read(text);
        Assert.Equal(text, HostFile.Write(again));
        Assert.Contains("route default via 10.224.0.1 dev eth0 proto dhcp src 10.224.0.4 metric 100", text);
        Assert.Contains("  address 10.244.1.1/24 scope link", text);
    }

    [Theory]
    [InlineData("routes default", "PLRT001", 1, 1)]
    [InlineData("interface eth0 wifi", "PLRT002", 1, 16)]
    [InlineData("interface eth0 ethernet\n  address 10.0.0.300/24", "PLRT003", 2, 11)]
    [InlineData("route 10.0.0.0/8 via 10.0.0.1 dev eth9", "PLRT005", 1, 1)]
    [InlineData("route 10.0.0.0/8 via", "PLRT002", 1, 21)]
    [InlineData("route 10.0.0.0/8 colour red", "PLRT008", 1, 18)]
    [InlineData("address 10.0.0.1/24", "PLRT010", 1, 9)]
    [InlineData("interface eth0 ethernet\ninterface eth0 ethernet", "PLRT006", 2, 1)]
    [InlineData("rule pref 10 fwmark 0xzz lookup 100", "PLRT004", 1, 21)]
    [InlineData("interface eth0 ethernet\n  address 10.0.0.1/24\n  address 10.0.0.1/24", "PLRT007", 3, 11)]
    public void Bad_host_files_give_line_and_column(string text, string code, int line, int column)
    {
        var r = HostFile.Read(text, "h");
        Assert.Null(r.Host);
        var d = Assert.Single(r.Diagnostics, d => d.Severity == Severity.Error);
        Assert.Equal(code, d.Code);
        Assert.Equal(new SourceLocation("h", line, column), d.Location);
    }

    [Fact]
    public void Unknown_sysctls_are_reported_not_guessed()
    {
        var r = HostFile.Read("sysctl net.ipv4.tcp_syncookies = 1\n", "h");
        Assert.NotNull(r.Host);
        Assert.Equal("PLRT009", Assert.Single(r.Diagnostics).Code);
    }

    [Fact]
    public void Ip_json_dumps_load_as_a_host()
    {
        const string addr = """
            [{"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP","LOWER_UP"],"mtu":65536,"link_type":"loopback","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8,"scope":"host","label":"lo"},{"family":"inet6","local":"::1","prefixlen":128,"scope":"host"}]},
             {"ifindex":2,"ifname":"eth0","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"link_type":"ether","addr_info":[{"family":"inet","local":"10.224.0.4","prefixlen":16,"broadcast":"10.224.255.255","scope":"global","label":"eth0"}]},
             {"ifindex":3,"ifname":"cbr0","flags":["BROADCAST","MULTICAST","PROMISC","UP","LOWER_UP"],"mtu":1500,"link_type":"ether","addr_info":[{"family":"inet","local":"10.244.1.1","prefixlen":24,"broadcast":"10.244.1.255","scope":"global","label":"cbr0"},{"family":"inet","local":"10.244.1.2","prefixlen":24,"scope":"global","secondary":true,"label":"cbr0"}]},
             {"ifindex":4,"link_index":3,"ifname":"veth3f9c2a1b","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"master":"cbr0","link_type":"ether","link_netnsid":0,"addr_info":[]}]
            """;
        const string route = """
            [{"dst":"default","gateway":"10.224.0.1","dev":"eth0","protocol":"dhcp","prefsrc":"10.224.0.4","metric":100,"flags":[]},
             {"dst":"10.224.0.0/16","dev":"eth0","protocol":"kernel","scope":"link","prefsrc":"10.224.0.4","flags":[]},
             {"dst":"10.244.0.0/24","gateway":"10.224.0.5","dev":"eth0","flags":[]},
             {"type":"blackhole","dst":"10.9.0.0/16","flags":[]},
             {"dst":"fe80::/64","dev":"eth0","flags":[]}]
            """;
        var r = IpJson.ReadHost(addr, route, "node0.json");
        Assert.False(r.HasErrors, string.Join("\n", r.Diagnostics));
        var h = r.Host!;
        Assert.Equal([InterfaceKind.Loopback, InterfaceKind.Ethernet, InterfaceKind.Bridge, InterfaceKind.Veth], h.Interfaces.Select(i => i.Kind).ToArray());
        Assert.True(h.FindInterface("cbr0")!.Addresses[1].Secondary);
        Assert.Equal(Ip("10.224.0.5"), h.Lookup(Ip("10.244.0.113"))!.Gateway);
        Assert.Equal(RouteType.Blackhole, h.Lookup(Ip("10.9.1.1"))!.Type);
        Assert.Equal(RouteType.Local, h.AddressType(Ip("10.244.1.2")));
        Assert.Equal("PLRT012", Assert.Single(r.Diagnostics).Code);
    }

    [Fact]
    public void Ip_json_details_give_kinds_and_hairpin_and_route_types_print_like_ip()
    {
        const string addr = """
            [{"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP"],"link_type":"loopback","addr_info":[]},
             {"ifindex":5,"ifname":"br0","flags":["UP"],"link_type":"ether","linkinfo":{"info_kind":"bridge"},"addr_info":[]},
             {"ifindex":6,"ifname":"vp1","flags":["UP"],"link_type":"ether","master":"br0","linkinfo":{"info_kind":"veth","info_slave_kind":"bridge","info_slave_data":{"hairpin":true}},"addr_info":[]},
             {"ifindex":7,"ifname":"eth9","flags":["BROADCAST"],"link_type":"ether","addr_info":[]}]
            """;
        var h = IpJson.ReadHost(addr, """[{"type":"unreachable","dst":"default","flags":[]}]""", "d.json").Host!;
        Assert.Equal([InterfaceKind.Loopback, InterfaceKind.Bridge, InterfaceKind.Veth, InterfaceKind.Ethernet], h.Interfaces.Select(i => i.Kind).ToArray());
        Assert.True(h.FindInterface("vp1")!.Hairpin);
        Assert.False(h.FindInterface("eth9")!.Up);
        var r = h.Lookup(Ip("192.0.2.1"))!;
        Assert.Equal(RouteType.Unreachable, r.Type);
        Assert.Equal("unreachable default", r.Route.ToString());
    }

    [Fact]
    public void Broken_ip_json_gives_a_located_error()
    {
        var r = IpJson.ReadHost("[{\"ifindex\":1,\n \"ifname\": }]", null, "bad.json");
        Assert.Null(r.Host);
        var d = Assert.Single(r.Diagnostics);
        Assert.Equal("PLRT011", d.Code);
        Assert.Equal(2, d.Location.Line);
    }
}
