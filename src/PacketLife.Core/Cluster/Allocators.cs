using PacketLife.Core.Net;

namespace PacketLife.Core.Cluster;

/// <summary>The API server's bitmap allocators with a static sub-range (KEP-3070 ServiceIPStaticSubrange,
/// KEP-3668 ServiceNodePortStaticSubrange): explicit requests should come from the low band; automatic
/// allocation picks a random start in the upper band and scans upward, wrapping inside that band, and
/// only falls back to the low band when the upper one is full (allocator/bitmap.go
/// randomScanStrategyWithOffset). Offsets: ipallocator `min(max(16, size/16), 256)`, portallocator
/// `min(max(16, size/32), 128)` (facts azure-aks.md §4.7).</summary>
public static class BitmapAllocator
{
    /// <summary>Index in [0, size) of a free slot, or -1 when the range is full.</summary>
    public static int AllocateNext(int size, int offset, Func<int, bool> isUsed, ClusterRandom random)
    {
        if (size <= 0) return -1;
        if (offset > 0 && offset < size)
        {
            var upper = size - offset;
            var start = random.Next(upper);
            for (var i = 0; i < upper; i++)
            {
                var idx = offset + (start + i) % upper;
                if (!isUsed(idx)) return idx;
            }
            var lowStart = random.Next(offset);
            for (var i = 0; i < offset; i++)
            {
                var idx = (lowStart + i) % offset;
                if (!isUsed(idx)) return idx;
            }
            return -1;
        }
        var s = random.Next(size);
        for (var i = 0; i < size; i++)
        {
            var idx = (s + i) % size;
            if (!isUsed(idx)) return idx;
        }
        return -1;
    }
}

/// <summary>ClusterIP allocation over the service CIDR (pkg/registry/core/service/ipallocator). The bitmap
/// starts at network+1 and excludes the network and broadcast addresses.</summary>
public sealed class ClusterIpAllocator(Ip4Prefix serviceCidr)
{
    public Ip4Prefix Cidr { get; } = serviceCidr;
    public Ip4 Base => Cidr.Network.Add(1);
    public int Size => (int)Math.Max(0, (long)Cidr.Last.Value - Cidr.Network.Value - 1);
    public int Offset => Math.Min(Math.Max(16, Size / 16), 256);

    public bool InRange(Ip4 ip) => ip > Cidr.Network && ip < Cidr.Last;

    public Ip4? AllocateNext(ISet<Ip4> used, ClusterRandom random)
    {
        var idx = BitmapAllocator.AllocateNext(Size, Offset, i => used.Contains(Base.Add(i)), random);
        return idx < 0 ? null : Base.Add(idx);
    }
}

/// <summary>NodePort allocation (pkg/registry/core/service/portallocator), default range 30000-32767.</summary>
public sealed class NodePortAllocator(int min, int max)
{
    public int Min { get; } = min;
    public int Max { get; } = max;
    public int Size => Max - Min + 1;
    public int Offset => Math.Min(Math.Max(16, Size / 32), 128);
    public bool InRange(int port) => port >= Min && port <= Max;

    public int? AllocateNext(ISet<int> used, ClusterRandom random)
    {
        var idx = BitmapAllocator.AllocateNext(Size, Offset, i => used.Contains(Min + i), random);
        return idx < 0 ? null : Min + idx;
    }
}

/// <summary>kube-controller-manager's range allocator (pkg/controller/nodeipam/ipam/cidrset): carves
/// `/maskSize` blocks from the cluster CIDR; `AllocateNext` scans from the candidate after the last one it
/// handed out, round-robin, so a replacement node gets the next unused block, not the freed one.</summary>
public static class NodeCidrAllocator
{
    public static (Ip4Prefix Cidr, int NextCandidate)? AllocateNext(Ip4Prefix clusterCidr, int maskSize, int nextCandidate, ISet<Ip4Prefix> used)
    {
        var count = 1 << (maskSize - clusterCidr.Length);
        for (var i = 0; i < count; i++)
        {
            var idx = (nextCandidate + i) % count;
            var block = new Ip4Prefix(clusterCidr.Network.Add((long)idx << (32 - maskSize)), maskSize);
            if (!used.Contains(block)) return (block, (idx + 1) % count);
        }
        return null;
    }
}

/// <summary>The host-local IPAM plugin as kubenet configures it (containernetworking/plugins
/// plugins/ipam/host-local/backend/allocator, GetIter): the range is the node's pod CIDR minus the network
/// address, the gateway (`cbr0`, .1) and the broadcast address; the next address is the one after
/// `last_reserved_ip`, wrapping, skipping addresses in use, so a recreated pod does not get its old IP.</summary>
public static class HostLocalIpam
{
    public static Ip4? AllocateNext(Ip4Prefix podCidr, Ip4? lastReserved, ISet<Ip4> used)
    {
        var first = podCidr.Network.Add(2);
        var last = podCidr.Last.Add(-1);
        var count = (int)(last.Value - first.Value + 1);
        if (count <= 0) return null;
        var start = lastReserved is { } lr && lr >= first && lr <= last ? (int)(lr.Value - first.Value + 1) % count : 0;
        for (var i = 0; i < count; i++)
        {
            var ip = first.Add((start + i) % count);
            if (!used.Contains(ip)) return ip;
        }
        return null;
    }

    /// <summary>The bridge (`cbr0`) address: `isGateway: true` puts .1 of the node's pod CIDR on it.</summary>
    public static Ip4 Gateway(Ip4Prefix podCidr) => podCidr.Network.Add(1);
}
