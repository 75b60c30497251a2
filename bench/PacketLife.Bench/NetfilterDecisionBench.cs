using System.Diagnostics;
using PacketLife.Core.Net;
using PacketLife.Core.Netfilter;
using PacketLife.Core.Netfilter.Evaluation;
using PacketLife.Core.Netfilter.Text;

namespace PacketLife.Bench;

/// <summary>`netfilter-decide [SERVICES...]`: nat PREROUTING decisions per second (sample mode, one core) through a
/// generated kube-proxy dump, for packets to random Services' cluster IPs, LB IPs and NodePorts. The sizes are measured
/// in alternating rounds (0.4 s each, 9 rounds per mode) so that the machine's load, which changes from second to
/// second on a shared box, weighs on every size alike; the table gives the median round and the best, per CPU-second
/// of this process, and the ratio of the medians to the first size's.</summary>
public sealed class NetfilterDecisionBench : IBench
{
    public string Name => "netfilter-decide";

    public int Run(string[] args)
    {
        var sizes = args.Length > 0 ? args.Select(int.Parse).ToList() : [10, 10000];
        const int rounds = 9;
        var setups = sizes.Select(DecisionSetup.Create).ToList();
        var results = new Dictionary<(int Size, bool Record), List<double>>();
        foreach (var record in new[] { false, true })
            for (int r = 0; r < rounds; r++)
                foreach (var d in setups)
                {
                    var rate = d.Measure(d.Packets, record, 400, out _, out _);
                    (results.TryGetValue((d.Size, record), out var l) ? l : results[(d.Size, record)] = []).Add(1e9 / rate);
                }
        static double Median(List<double> l) { var o = l.Order().ToList(); return o[o.Count / 2]; }
        Console.WriteLine("| Services | rules in nat | verdict only: ns/decision median (best) | decisions/CPU-s (median) | cost vs first size | trace recorded: ns/decision median (best) | decisions/CPU-s (median) | cost vs first size |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|");
        double v0 = Median(results[(sizes[0], false)]), t0 = Median(results[(sizes[0], true)]);
        foreach (var d in setups)
        {
            var (v, t) = (results[(d.Size, false)], results[(d.Size, true)]);
            Console.WriteLine($"| {d.Size:N0} | {d.NatRules:N0} | {Median(v):F0} ({v.Min():F0}) | {1e9 / Median(v):N0} | {Median(v) / v0:F2}x | {Median(t):F0} ({t.Min():F0}) | {1e9 / Median(t):N0} | {Median(t) / t0:F2}x |");
        }
        return 0;
    }
}

/// <summary>`netfilter-decide-profile [SERVICES...]`: where a decision's time goes, one experiment per suspected cause:
/// per packet kind (cluster IP, LB IP, NodePort), with the packets' Services limited to a few (warm caches) or spread
/// over all of them (cold), and the bytes allocated per decision.</summary>
public sealed class NetfilterDecisionProfile : IBench
{
    public string Name => "netfilter-decide-profile";

    public int Run(string[] args)
    {
        var sizes = args.Length > 0 ? args.Select(int.Parse).ToList() : [10, 10000];
        Console.WriteLine("| Services | packets | spread over | ns/decision (verdict only) | ns/decision (trace) | bytes/decision (verdict only) |");
        Console.WriteLine("|---|---|---|---|---|---|");
        foreach (var n in sizes)
        {
            var d = DecisionSetup.Create(n);
            foreach (var (kind, label) in new[] { (-1, "all kinds"), (0, "cluster IP"), (1, "LB IP"), (2, "NodePort") })
                foreach (var spread in new[] { 10, n }.Distinct())
                {
                    var ps = d.Make(kind, spread);
                    var v = d.Measure(ps, false, 1500, out _, out var bytes);
                    var t = d.Measure(ps, true, 1500, out _, out _);
                    Console.WriteLine($"| {n:N0} | {label} | {spread:N0} Services | {1e9 / v:F0} | {1e9 / t:F0} | {bytes:F0} |");
                }
        }
        return 0;
    }
}

/// <summary>A generated dump, its nat evaluator and packets to its Services (shared by the decision benches).</summary>
sealed class DecisionSetup
{
    public required int Size;
    public required List<NetfilterDumpGenerator.Service> Services;
    public required TableEvaluator Eval;
    public required int NatRules;
    public required PacketContext[] Packets;
    static readonly Ip4 Node = Ip4.Parse("10.224.0.4");

    public static DecisionSetup Create(int n)
    {
        var services = NetfilterDumpGenerator.Services(n, 3);
        var rs = IptablesSaveReader.Read(NetfilterDumpGenerator.Dump(services), "gen").RuleSet;
        var d = new DecisionSetup { Size = n, Services = services, Eval = new TableEvaluator(rs.Table("nat")!), NatRules = rs.Table("nat")!.AllRules.Count(), Packets = [] };
        d.Packets = d.Make(-1, n);
        return d;
    }

    /// <summary>4096 packets of one kind (0 cluster IP, 1 LB IP, 2 NodePort; -1 all three in turn) to the first
    /// <paramref name="spread"/> Services.</summary>
    public PacketContext[] Make(int kind, int spread)
    {
        var rng = new Random(1);
        var packets = new PacketContext[4096];
        for (int i = 0; i < packets.Length; i++)
        {
            var s = Services[rng.Next(Math.Min(spread, Services.Count))];
            var src = new Ip4(0xC6336400u + (uint)rng.Next(256));
            var p = (kind < 0 ? i % 3 : kind) switch
            {
                0 => new Packet(IpProtocol.Tcp, src, (ushort)rng.Next(1024, 65535), new Ip4(s.ClusterIp), s.Port),
                1 => new Packet(IpProtocol.Tcp, src, (ushort)rng.Next(1024, 65535), new Ip4(s.LbIp), s.Port),
                _ => new Packet(IpProtocol.Tcp, src, (ushort)rng.Next(1024, 65535), Node, s.NodePort),
            };
            packets[i] = new PacketContext
            {
                Packet = p, Hook = NetfilterHook.Prerouting, InInterface = "eth0", Conntrack = ConntrackView.NewFor(p),
                AddressTypeOf = (ip, _) => ip == Node ? AddressType.Local : AddressType.Unicast,
            };
        }
        return packets;
    }

    /// <summary>Decisions per CPU-second over <paramref name="ms"/> of wall time, after a warm-up; every outcome is
    /// checked (accepted with a DNAT request).</summary>
    public double Measure(PacketContext[] packets, bool record, int ms, out double wallRate, out double bytesPerDecision)
    {
        var me = Process.GetCurrentProcess();
        var r = new Random(2);
        for (int i = 0; i < 8192; i++) Eval.Sample(packets[i & 4095], r, record); // warm up
        long count = 0;
        GC.Collect();
        me.Refresh();
        var cpu0 = me.TotalProcessorTime;
        long alloc0 = GC.GetAllocatedBytesForCurrentThread();
        var sw = Stopwatch.StartNew();
        while (sw.ElapsedMilliseconds < ms)
        {
            for (int i = 0; i < 4096; i++)
            {
                var o = Eval.Sample(packets[i], r, record);
                if (o.Verdict.Kind != VerdictKind.Accept || o.Nat is null) throw new InvalidOperationException("unexpected outcome for " + packets[i].Packet);
            }
            count += 4096;
        }
        bytesPerDecision = (GC.GetAllocatedBytesForCurrentThread() - alloc0) / (double)count;
        me.Refresh();
        wallRate = count / sw.Elapsed.TotalSeconds;
        return count / (me.TotalProcessorTime - cpu0).TotalSeconds;
    }
}
