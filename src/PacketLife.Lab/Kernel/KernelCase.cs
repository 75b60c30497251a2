using PacketLife.Core.Net;
using PacketLife.Lab.Agent;

namespace PacketLife.Lab.Kernel;

/// <summary>Where a test packet starts: the client namespace (it arrives at the router on eth0 and walks
/// PREROUTING → INPUT or FORWARD → POSTROUTING) or the router itself (OUTPUT → POSTROUTING).</summary>
public enum PacketOrigin { Client, Router }

/// <summary>One packet to send, as crafted bytes through a raw IP_HDRINCL socket (any source, flags, TTL).
/// <see cref="Packet.Length"/> 0 means the smallest packet of its protocol; <see cref="Packet.Mark"/> cannot be set
/// from outside and must be 0.</summary>
public sealed record PacketSpec(Packet Packet, PacketOrigin From = PacketOrigin.Client, uint Seq = 1000, uint Ack = 0);

/// <summary>An extra address on a router interface (`eth0` client side, `eth1` server side, `lo`).</summary>
public sealed record RouterAddress(string Interface, Ip4Prefix Address);

/// <summary>A socket listening on the router, so a connection to it is accepted by a real local socket.</summary>
public sealed record LocalListener(IpProtocol Protocol, int Port);

/// <summary>The router's configuration beyond the fixed topology (<see cref="KernelTopology"/>).</summary>
public sealed record RouterSetup(
    IReadOnlyList<RouterAddress> ExtraAddresses,
    IReadOnlyList<LocalListener> Listeners,
    bool IpForward = true)
{
    public static readonly RouterSetup Default = new([], []);

    /// <summary>Value equality over the lists (records compare lists by reference).</summary>
    public bool SameAs(RouterSetup other) =>
        IpForward == other.IpForward && ExtraAddresses.SequenceEqual(other.ExtraAddresses) && Listeners.SequenceEqual(other.Listeners);
}

/// <summary>One differential case: an iptables-save ruleset for the router (loaded with iptables-legacy-restore),
/// optionally an `ipset save` dump loaded first, the router's setup, and the packets to send in order.</summary>
public sealed record KernelCase(string RulesetText, RouterSetup Setup, PacketSpec[] Packets, string? IpsetText = null);

/// <summary>Anything that answers a <see cref="KernelCase"/> with a <see cref="KernelObservation"/>: the real kernel
/// (<see cref="KernelOracle"/>), or a model of it (the netfilter engine's prediction in the same shape), so a
/// differential test runs one case through both and compares field by field.</summary>
public interface IKernelCaseRunner
{
    KernelObservation Run(KernelCase @case);
}

/// <summary>`[packets:bytes] -A CHAIN ...` from `iptables-legacy-save -c`: <see cref="Index"/> is the 1-based position
/// in the chain, the numbering of legacy TRACE output (netfilter-conntrack.md §2.9).</summary>
public sealed record RuleCounter(string Table, string Chain, int Index, long Packets, long Bytes, string Rule);

/// <summary>`:CHAIN POLICY [packets:bytes]`: a built-in chain's policy counter (user chains print `-` and 0).</summary>
public sealed record PolicyCounter(string Table, string Chain, string Policy, long Packets, long Bytes);

/// <summary>What the kernel did with a <see cref="KernelCase"/>, as data.</summary>
/// <param name="Loaded">False when iptables-legacy-restore (or ipset restore) refused the input; then
/// <see cref="LoadError"/> has its message and nothing was sent.</param>
/// <param name="Conntrack">`conntrack -L` lines of the router, sorted (the kernel lists in hash order, §5.6).</param>
/// <param name="AtServer">Packets that arrived on the server's eth0, as they were there (after NAT).</param>
/// <param name="DeliveredLocally">Packets the router's local stack received (after INPUT).</param>
/// <param name="BackAtClient">Packets that arrived back at the client (REJECT's ICMP or RST, replies).</param>
/// <param name="RouterWire">Everything the router's interfaces saw, in and out, for diagnosis.</param>
/// <param name="SendErrors">For packets sent from the router: the error sendto(2) returned, `packet N: ...` (.NET names EPERM and EACCES both `AccessDenied`; EPERM
/// when OUTPUT or POSTROUTING dropped it, EACCES/EHOSTUNREACH when a REJECT answered the router itself).</param>
public sealed record KernelObservation(
    bool Loaded,
    string? LoadError,
    IReadOnlyList<RuleCounter> Rules,
    IReadOnlyList<PolicyCounter> Policies,
    IReadOnlyList<string> Conntrack,
    IReadOnlyList<SeenPacket> AtServer,
    IReadOnlyList<SeenPacket> DeliveredLocally,
    IReadOnlyList<SeenPacket> BackAtClient,
    IReadOnlyList<SeenPacket> RouterWire,
    IReadOnlyList<string> SendErrors)
{
    /// <summary>The counter of rule <paramref name="index"/> (1-based) of a chain, or null if there is no such rule.</summary>
    public RuleCounter? Rule(string table, string chain, int index) =>
        Rules.FirstOrDefault(r => r.Table == table && r.Chain == chain && r.Index == index);

    public PolicyCounter? Policy(string table, string chain) =>
        Policies.FirstOrDefault(p => p.Table == table && p.Chain == chain);

    /// <summary>A multi-line summary for test failure messages.</summary>
    public override string ToString()
    {
        var w = new System.Text.StringBuilder();
        if (!Loaded) w.AppendLine($"not loaded: {LoadError}");
        foreach (var r in Rules.Where(r => r.Packets > 0)) w.AppendLine($"  {r.Table}:{r.Chain}:{r.Index} {r.Packets} pkts  {r.Rule}");
        foreach (var p in Policies.Where(p => p.Packets > 0)) w.AppendLine($"  {p.Table}:{p.Chain}:policy {p.Policy} {p.Packets} pkts");
        foreach (var c in Conntrack) w.AppendLine($"  ct: {c}");
        foreach (var s in AtServer) w.AppendLine($"  server: {s}");
        foreach (var s in DeliveredLocally) w.AppendLine($"  router local: {s}");
        foreach (var s in BackAtClient) w.AppendLine($"  client: {s}");
        foreach (var e in SendErrors) w.AppendLine($"  send error: {e}");
        return w.ToString();
    }
}

/// <summary>The fixed three-namespace topology of the oracle. Public addresses are documentation ranges
/// (RFC 5737): the client side is 198.51.100.0/24, the server side 203.0.113.0/24.</summary>
/// <remarks>
/// <code>
/// cli eth0 198.51.100.2/24 (+ .3-.9) ── rtr eth0 198.51.100.1/24      rtr eth1 203.0.113.1/24 ── srv eth0 203.0.113.2/24
///   default via 198.51.100.1            default via 203.0.113.2 (every non-local destination is forwarded to srv)
/// </code>
/// The client and the server drop all input in their filter INPUT (they only observe, with AF_PACKET, which sees a
/// packet before netfilter), so neither answers with a RST or an ICMP error of its own and the router's conntrack
/// sees only the case's packets and its own replies.
/// </remarks>
public static class KernelTopology
{
    public static readonly Ip4 ClientAddress = Ip4.Parse("198.51.100.2");
    public static readonly Ip4 RouterClientSide = Ip4.Parse("198.51.100.1");
    public static readonly Ip4 RouterServerSide = Ip4.Parse("203.0.113.1");
    public static readonly Ip4 ServerAddress = Ip4.Parse("203.0.113.2");

    /// <summary>Extra client addresses (198.51.100.3-9) a case may use as sources: replies to them reach the client.</summary>
    public static readonly IReadOnlyList<Ip4> ClientExtraAddresses =
        Enumerable.Range(3, 7).Select(i => Ip4.Parse($"198.51.100.{i}")).ToList();

    public const string ClientInterface = "eth0";
    public const string RouterClientInterface = "eth0";
    public const string RouterServerInterface = "eth1";
    public const string ServerInterface = "eth0";
}
