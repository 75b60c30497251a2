using System.Text.RegularExpressions;
using PacketLife.Core.Conntrack;
using PacketLife.Core.Conntrack.Text;
using PacketLife.Core.Net;
using PacketLife.Core.Netfilter;
using PacketLife.Core.Netfilter.Evaluation;
using PacketLife.Core.Netfilter.Text;
using PacketLife.Core.Routing;
using PacketLife.Core.Tracing.Host;
using PacketLife.Lab.Agent;
using PacketLife.Lab.Kernel;

namespace PacketLife.Lab.Tests.Differential;

/// <summary>A clock that does not move: a case's packets are sent within milliseconds, and timeouts are masked.</summary>
sealed class FrozenClock : TimeProvider
{
    public static readonly FrozenClock Instance = new();
    public override DateTimeOffset GetUtcNow() => new(2026, 11, 26, 12, 0, 0, TimeSpan.Zero);
}

/// <summary>The engine's answer to a <see cref="KernelCase"/>, in the oracle's shape: the router of
/// <see cref="KernelTopology"/> as a <see cref="HostRuntime"/> (built from the router's own `ip -j addr/route`), each
/// packet walked by <see cref="HostWalker"/> in explain mode and its outcome committed, the router's own stack
/// answering what it receives (RST for TCP, port unreachable for UDP, echo/timestamp replies: there is no listener),
/// and every answer walked through OUTPUT/POSTROUTING as well.</summary>
sealed partial class EngineCaseRunner(string addrJson, string routeJson) : IKernelCaseRunner
{
    static readonly HashSet<Ip4> ClientSide = [KernelTopology.ClientAddress, .. KernelTopology.ClientExtraAddresses];

    /// <summary>Outcomes with more than one positive-probability branch (should be none: the generator uses p = 0 or 1).</summary>
    public int Ambiguous { get; private set; }

    /// <summary>The random NAT port windows of the last case (the caller masks those ports on both sides).</summary>
    public List<RandomPortChoice> RandomPorts { get; } = [];

    /// <summary>What the engine decided for each packet of the last case (printed with a disagreement).</summary>
    public List<string> Log { get; } = [];

    public KernelObservation Run(KernelCase @case)
    {
        RandomPorts.Clear();
        Log.Clear();
        var present = @case.RulesetText.Split('\n').Where(l => l.StartsWith('*')).Select(l => l[1..].Trim()).ToHashSet();
        // The oracle loads blank tables for those the case does not name; their policies count packets too.
        var blank = string.Concat(new[] { "raw", "mangle", "nat", "filter", "security" }.Where(t => !present.Contains(t)).Select(t =>
            $"*{t}\n" + string.Concat(KernelOracle.BuiltinChains(t).Select(c => $":{c} ACCEPT [0:0]\n")) + "COMMIT\n"));
        var parsed = IptablesSaveReader.Read(blank + @case.RulesetText, "case");
        if (parsed.HasErrors) throw new InvalidOperationException("engine cannot read the case: " + string.Join("; ", parsed.Diagnostics));
        var hostRead = IpJson.ReadHost(addrJson, routeJson, "router", "rtr");
        var host = hostRead.Host ?? throw new InvalidOperationException(string.Join("; ", hostRead.Diagnostics));
        host.IpForward = @case.Setup.IpForward;
        host.RpFilterAll = 0;
        var state = new NetfilterState { Clock = FrozenClock.Instance };
        var rt = new HostRuntime(host, parsed.RuleSet, state, new ConntrackTable(FrozenClock.Instance, host.Conntrack));
        var walker = new HostWalker(rt);

        var counts = new Dictionary<(string, string, int), long>();
        var server = new List<SeenPacket>();
        var local = new List<SeenPacket>();
        var client = new List<SeenPacket>();
        var sendErrors = new List<string>();
        var random = new Random(12345);

        for (int i = 0; i < @case.Packets.Length; i++)
        {
            var spec = @case.Packets[i];
            var p = spec.Packet.Length == 0 ? spec.Packet with { Length = (ushort)RawPacket.MinimumLength(spec.Packet.Protocol) } : spec.Packet;
            HostPacketOrigin origin = spec.From == PacketOrigin.Router ? new HostPacketOrigin.Local() : new HostPacketOrigin.Wire(KernelTopology.RouterClientInterface);
            var o = Walk(p, origin);
            if (spec.From == PacketOrigin.Router && o.Disposition is HostDisposition.Drop or HostDisposition.Reject)
            {
                if (o.Where == "routing") sendErrors.Add($"packet {i + 1}: NetworkUnreachable: Network is unreachable");
                else sendErrors.Add($"packet {i + 1}: AccessDenied: Permission denied");
            }
        }

        HostWalkOutcome Walk(Packet p, HostPacketOrigin origin)
        {
            var all = walker.Explain(p, origin).Where(x => x.Probability > 0).ToList();
            if (all.Count > 1) Ambiguous++;
            var o = walker.Commit(all[0], random);
            Observe(o);
            return o;
        }

        void Observe(HostWalkOutcome o)
        {
            Log.Add($"{o.PacketBefore} -> {HostWalkOutcome.DispositionName(o.Disposition)} at {o.Where}: {o.Reason}" +
                (o.ReplyWalk is { } r0 ? $"; answer {o.Reply} -> {HostWalkOutcome.DispositionName(r0.Disposition)} at {r0.Where}: {r0.Reason}" : ""));
            foreach (var v in o.RuleVisits)
            {
                if (v.Action is VisitAction.Branch or VisitAction.Uncertain) continue;
                if (v.Action == VisitAction.Policy) { counts[(v.Table, v.Chain, 0)] = counts.GetValueOrDefault((v.Table, v.Chain, 0)) + 1; continue; }
                if (v.Rule is null) continue; // end of a user chain
                counts[(v.Table, v.Chain, v.Index)] = counts.GetValueOrDefault((v.Table, v.Chain, v.Index)) + 1;
            }
            RandomPorts.AddRange(o.RandomPorts);
            Wire(o, null);
            if (o.ReplyWalk is { } rw)
            {
                RandomPorts.AddRange(rw.RandomPorts);
                Wire(rw, rw.Quoted);
                if (rw.Disposition == HostDisposition.Local) local.Add(new SeenPacket("local", PacketDirection.Local, rw.PacketAfter, rw.Quoted));
            }
            if (o.Disposition == HostDisposition.Local)
            {
                local.Add(new SeenPacket("local", PacketDirection.Local, o.PacketAfter));
                if (StackAnswer(o.PacketAfter) is { } answer)
                {
                    var a = walker.Explain(answer.Reply, new HostPacketOrigin.Local { IcmpQuoted = answer.Quotes, IcmpStack = answer.Reply.Protocol == IpProtocol.Icmp }).Where(x => x.Probability > 0).ToList();
                    if (a.Count > 1) Ambiguous++;
                    // The stack's answer is walked like any local packet; an ICMP error finds its entry through the quoted header.
                    var committed = walker.Commit(a[0], random);
                    Log.Add($"  stack answer {answer.Reply} -> {HostWalkOutcome.DispositionName(committed.Disposition)} at {committed.Where}: {committed.Reason}");
                    foreach (var v in committed.RuleVisits)
                    {
                        if (v.Action is VisitAction.Branch or VisitAction.Uncertain) continue;
                        var key = v.Action == VisitAction.Policy ? (v.Table, v.Chain, 0) : (v.Table, v.Chain, v.Index);
                        if (v.Action != VisitAction.Policy && v.Rule is null) continue;
                        counts[key] = counts.GetValueOrDefault(key) + 1;
                    }
                    Wire(committed, committed.Quoted);
                    if (committed.Disposition == HostDisposition.Local) local.Add(new SeenPacket("local", PacketDirection.Local, committed.PacketAfter, committed.Quoted));
                }
            }
        }

        void Wire(HostWalkOutcome o, Packet? quotes)
        {
            if (o.Disposition is not (HostDisposition.Forward or HostDisposition.Output) || o.Nexthop is not { } nh) return;
            if (o.OutInterface == KernelTopology.RouterServerInterface && nh == KernelTopology.ServerAddress)
                server.Add(new SeenPacket(KernelTopology.ServerInterface, PacketDirection.In, o.PacketAfter, quotes));
            else if (o.OutInterface == KernelTopology.RouterClientInterface && ClientSide.Contains(nh))
                client.Add(new SeenPacket(KernelTopology.ClientInterface, PacketDirection.In, o.PacketAfter, quotes));
        }

        var rules = new List<RuleCounter>();
        var policies = new List<PolicyCounter>();
        foreach (var t in parsed.RuleSet.Tables)
            foreach (var c in t.Chains)
            {
                if (c.IsBuiltin) policies.Add(new PolicyCounter(t.Name, c.Name, c.Policy ?? "ACCEPT", counts.GetValueOrDefault((t.Name, c.Name, 0)), 0));
                for (int k = 0; k < c.Rules.Length; k++)
                    rules.Add(new RuleCounter(t.Name, c.Name, k + 1, counts.GetValueOrDefault((t.Name, c.Name, k + 1)), 0, c.Rules[k].Canonical));
            }
        var ct = ConntrackText.WriteTable(rt.Conntrack).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd()).Order(StringComparer.Ordinal).ToList();
        return new KernelObservation(true, null, rules, policies, ct, server, local, client, [], sendErrors);
    }

    /// <summary>What the router's own stack answers, with no socket listening (tcp_v4_send_reset, udp's
    /// icmp_send(PORT_UNREACH), icmp_echo / icmp_timestamp); the source is the packet's destination (a local address).</summary>
    static (Packet Reply, Packet? Quotes)? StackAnswer(Packet p)
    {
        switch (p.Protocol)
        {
            case IpProtocol.Tcp:
                if ((p.Flags & TcpFlags.Rst) != 0) return null;
                return (new Packet(IpProtocol.Tcp, p.Dst, p.DstPort, p.Src, p.SrcPort,
                    (p.Flags & TcpFlags.Ack) != 0 ? TcpFlags.Rst : TcpFlags.Rst | TcpFlags.Ack, Ttl: 64, Length: 40), null);
            case IpProtocol.Udp:
                return (new Packet(IpProtocol.Icmp, p.Dst, 0, p.Src, 0, TcpFlags.None, Ttl: 64,
                    Length: (ushort)(28 + Math.Min((int)p.Length, 548)), IcmpType: 3, IcmpCode: 3), p);
            case IpProtocol.Icmp when p.IcmpType == 8:
                return (new Packet(IpProtocol.Icmp, p.Dst, p.SrcPort, p.Src, 0, TcpFlags.None, Ttl: 64, Length: p.Length, IcmpType: 0), null);
            // icmp_timestamp needs at least 4 bytes after the ICMP header ("too short" otherwise).
            case IpProtocol.Icmp when p.IcmpType == 13 && p.Length >= 32:
                return (new Packet(IpProtocol.Icmp, p.Dst, p.SrcPort, p.Src, 0, TcpFlags.None, Ttl: 64, Length: 40, IcmpType: 14), null);
            default:
                return null;
        }
    }

    /// <summary>Masks NAT ports the kernel picks at random: a port inside a random window that is none of the case's own
    /// ports becomes `*` on both sides ("compared modulo the window").</summary>
    public static Func<string, string> MaskRandomPorts(IReadOnlyList<RandomPortChoice> windows, KernelCase @case)
    {
        if (windows.Count == 0) return s => s;
        var known = @case.Packets.SelectMany(p => new[] { (int)p.Packet.SrcPort, p.Packet.DstPort }).ToHashSet();
        return s => PortRegex().Replace(s, m =>
        {
            int port = int.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture);
            bool random = !known.Contains(port) && windows.Any(w => port >= w.WindowMin && port <= w.WindowMax);
            return random ? m.Groups[1].Value + "*" : m.Value;
        });
    }

    [GeneratedRegex(@"((?:sport=|dport=|\d:))(\d+)")]
    private static partial Regex PortRegex();
}
