using CsCheck;
using PacketLife.Core.Cluster;
using PacketLife.Core.Net;

namespace PacketLife.Tests.Cluster;

/// <summary>The API server's allocators and kubenet's IPAM, from facts azure-aks.md §3 and §4.7.</summary>
public class AllocatorSpecTests
{
    // case                          service CIDR      offset  first dynamic    last dynamic
    public static TheoryData<string, string, int, string, string> ClusterIpBands => new()
    {
        { "AKS default /16",          "10.0.0.0/16",    256,    "10.0.1.1",      "10.0.255.254" },
        { "/24: offset 16",           "10.96.0.0/24",   16,     "10.96.0.17",    "10.96.0.254" },
        { "/12: offset capped at 256", "10.96.0.0/12",  256,    "10.96.1.1",     "10.111.255.254" },
    };

    [Theory, MemberData(nameof(ClusterIpBands))]
    public void ClusterIP_dynamic_allocation_avoids_the_static_band(string @case, string cidr, int offset, string first, string last)
    {
        var a = new ClusterIpAllocator(Ip4Prefix.Parse(cidr));
        Assert.True(a.Offset == offset, @case);
        var rng = new ClusterRandom(7);
        for (var i = 0; i < 500; i++)
        {
            var ip = a.AllocateNext(new HashSet<Ip4>(), rng)!.Value;
            Assert.True(ip >= Ip4.Parse(first) && ip <= Ip4.Parse(last), $"{@case}: {ip}");
        }
    }

    [Fact]
    public void ClusterIP_falls_back_to_the_static_band_and_then_reports_full()
    {
        var a = new ClusterIpAllocator(Ip4Prefix.Parse("10.0.0.0/27")); // 30 addresses, offset 16
        var used = new HashSet<Ip4>();
        var rng = new ClusterRandom(1);
        var order = new List<Ip4>();
        for (var i = 0; i < 30; i++) { var ip = a.AllocateNext(used, rng)!.Value; used.Add(ip); order.Add(ip); }
        Assert.All(order.Take(14), ip => Assert.True(ip >= Ip4.Parse("10.0.0.17")));   // upper band first
        Assert.All(order.Skip(14), ip => Assert.True(ip <= Ip4.Parse("10.0.0.16")));   // then the static band
        Assert.Null(a.AllocateNext(used, rng));
        Assert.DoesNotContain(Ip4.Parse("10.0.0.0"), used);
        Assert.DoesNotContain(Ip4.Parse("10.0.0.31"), used);
    }

    [Fact]
    public void NodePort_range_30000_32767_has_static_offset_86()
    {
        var a = new NodePortAllocator(30000, 32767);
        Assert.Equal(86, a.Offset);
        Gen.UInt.Sample(seed =>
        {
            var p = a.AllocateNext(new HashSet<int>(), new ClusterRandom(seed))!.Value;
            return p is >= 30086 and <= 32767;
        });
    }

    [Fact]
    public void NodePort_scans_upward_from_a_random_start_and_wraps_inside_the_upper_band()
    {
        var a = new NodePortAllocator(30000, 30099); // size 100, offset 16
        var used = Enumerable.Range(30016, 84).Where(p => p != 30020).ToHashSet();
        Assert.Equal(30020, a.AllocateNext(used, new ClusterRandom(99)));
        used.Add(30020);
        var low = a.AllocateNext(used, new ClusterRandom(5))!.Value;
        Assert.InRange(low, 30000, 30015);
    }

    // case                               registered so far          next candidate  expected
    public static TheoryData<string, string[], int, string> NodeCidrs => new()
    {
        { "first node gets the first /24",  [],                        0,              "10.244.0.0/24" },
        { "second node the next",           ["10.244.0.0/24"],         1,              "10.244.1.0/24" },
        { "replacement skips the freed one", ["10.244.1.0/24"],        2,              "10.244.2.0/24" },
        { "wraps to a free block",          ["10.244.255.0/24"],       0,              "10.244.0.0/24" },
    };

    [Theory, MemberData(nameof(NodeCidrs))]
    public void Node_pod_CIDRs_are_handed_out_round_robin(string @case, string[] used, int next, string expected)
    {
        var r = NodeCidrAllocator.AllocateNext(Ip4Prefix.Parse("10.244.0.0/16"), 24, next, used.Select(Ip4Prefix.Parse).ToHashSet());
        Assert.True(r!.Value.Cidr.ToString() == expected, @case);
    }

    // case                                  last reserved    in use                          expected
    public static TheoryData<string, string?, string[], string?> HostLocal => new()
    {
        { "fresh node: .2 (gateway .1 is cbr0)", null,          [],                             "10.244.1.2" },
        { "after last_reserved_ip",              "10.244.1.7",  [],                             "10.244.1.8" },
        { "a freed address is not reused next",  "10.244.1.7",  ["10.244.1.8"],                 "10.244.1.9" },
        { "wraps after .254",                    "10.244.1.254", ["10.244.1.2"],                "10.244.1.3" },
    };

    [Theory, MemberData(nameof(HostLocal))]
    public void Host_local_allocates_round_robin_from_last_reserved(string @case, string? last, string[] used, string? expected)
    {
        var ip = HostLocalIpam.AllocateNext(Ip4Prefix.Parse("10.244.1.0/24"), last is null ? null : Ip4.Parse(last), used.Select(Ip4.Parse).ToHashSet());
        Assert.True(ip?.ToString() == expected, $"{@case}: {ip}");
    }

    [Fact]
    public void Host_local_reports_exhaustion()
    {
        var all = Enumerable.Range(2, 253).Select(i => Ip4.Parse($"10.244.1.{i}")).ToHashSet();
        Assert.Null(HostLocalIpam.AllocateNext(Ip4Prefix.Parse("10.244.1.0/24"), null, all));
        Assert.Equal("10.244.1.1", HostLocalIpam.Gateway(Ip4Prefix.Parse("10.244.1.0/24")).ToString());
    }

    [Fact]
    public void Allocations_never_repeat_until_the_range_is_full()
    {
        // Property: for any seed and any /26../28 service CIDR, the allocator hands out every usable address
        // exactly once and then reports full; likewise for a small NodePort range.
        Gen.Select(Gen.ULong, Gen.Int[26, 28]).Sample((seed, len) =>
        {
            var a = new ClusterIpAllocator(new Ip4Prefix(Ip4.Parse("10.0.0.0"), len));
            var used = new HashSet<Ip4>();
            var rng = new ClusterRandom(seed);
            for (var i = 0; i < a.Size; i++)
                if (a.AllocateNext(used, rng) is not { } ip || !used.Add(ip) || !a.InRange(ip)) return false;
            return a.AllocateNext(used, rng) is null && used.Count == (1 << (32 - len)) - 2;
        });
        Gen.ULong.Sample(seed =>
        {
            var a = new NodePortAllocator(30000, 30199);
            var used = new HashSet<int>();
            var rng = new ClusterRandom(seed);
            for (var i = 0; i < 200; i++)
                if (a.AllocateNext(used, rng) is not { } p || !used.Add(p)) return false;
            return a.AllocateNext(used, rng) is null;
        });
    }
}
