using System.Diagnostics;
using PacketLife.Core.Net;
using PacketLife.Core.Netfilter;
using PacketLife.Core.Netfilter.Evaluation;
using PacketLife.Core.Netfilter.Text;

namespace PacketLife.Bench;

/// <summary>`netfilter-decide [SERVICES...]`: nat PREROUTING decisions per second (sample mode, one core) through a
/// generated kube-proxy dump, for packets to random Services' cluster IPs, LB IPs and NodePorts.</summary>
public sealed class NetfilterDecisionBench : IBench
{
    public string Name => "netfilter-decide";

    public int Run(string[] args)
    {
        var sizes = args.Length > 0 ? args.Select(int.Parse).ToList() : [10, 10000];
        // Rates are per CPU-second of this process (one thread does the work), so a busy shared machine does not
        // distort them; wall-clock rates are printed too.
        Console.WriteLine("| Services | rules in nat | decisions/CPU-s (trace recorded) | decisions/CPU-s (verdict only) | ns/decision | decisions/wall-s (verdict only) |");
        Console.WriteLine("|---|---|---|---|---|---|");
        foreach (var n in sizes)
        {
            var services = NetfilterDumpGenerator.Services(n, 3);
            var rs = IptablesSaveReader.Read(NetfilterDumpGenerator.Dump(services), "gen").RuleSet;
            var eval = new TableEvaluator(rs.Table("nat")!);
            var rng = new Random(1);
            var node = Ip4.Parse("10.224.0.4");
            var packets = new PacketContext[4096];
            for (int i = 0; i < packets.Length; i++)
            {
                var s = services[rng.Next(services.Count)];
                var src = new Ip4(0xC6336400u + (uint)rng.Next(256));
                var p = (i % 3) switch
                {
                    0 => new Packet(IpProtocol.Tcp, src, (ushort)rng.Next(1024, 65535), new Ip4(s.ClusterIp), s.Port),
                    1 => new Packet(IpProtocol.Tcp, src, (ushort)rng.Next(1024, 65535), new Ip4(s.LbIp), s.Port),
                    _ => new Packet(IpProtocol.Tcp, src, (ushort)rng.Next(1024, 65535), node, s.NodePort),
                };
                packets[i] = new PacketContext
                {
                    Packet = p, Hook = NetfilterHook.Prerouting, InInterface = "eth0", Conntrack = ConntrackView.NewFor(p),
                    AddressTypeOf = (ip, _) => ip == node ? AddressType.Local : AddressType.Unicast,
                };
            }
            var me = Process.GetCurrentProcess();
            double wall = 0;
            double Measure(bool record)
            {
                var r = new Random(2);
                for (int i = 0; i < 20000; i++) eval.Sample(packets[i & 4095], r, record); // warm up
                long count = 0;
                GC.Collect();
                me.Refresh();
                var cpu0 = me.TotalProcessorTime;
                var sw = Stopwatch.StartNew();
                while (sw.ElapsedMilliseconds < 3000)
                {
                    for (int i = 0; i < 4096; i++)
                    {
                        var o = eval.Sample(packets[i], r, record);
                        if (o.Verdict.Kind != VerdictKind.Accept || o.Nat is null) throw new InvalidOperationException("unexpected outcome for " + packets[i].Packet);
                    }
                    count += 4096;
                }
                me.Refresh();
                wall = count / sw.Elapsed.TotalSeconds;
                return count / (me.TotalProcessorTime - cpu0).TotalSeconds;
            }
            var withTrace = Measure(true);
            var verdictOnly = Measure(false);
            Console.WriteLine($"| {n:N0} | {rs.Table("nat")!.AllRules.Count():N0} | {withTrace:N0} | {verdictOnly:N0} | {1e9 / verdictOnly:F0} | {wall:N0} |");
        }
        return 0;
    }
}
