using System.Diagnostics;
using PacketLife.Core.Conntrack;
using PacketLife.Core.Net;
using PacketLife.Core.Netfilter.Evaluation;
using PacketLife.Core.Netfilter.Text;
using PacketLife.Core.Routing;
using PacketLife.Core.Tracing.Host;

namespace PacketLife.Bench;

/// <summary>`host-walk [SERVICES...]`: whole-host packet decisions per CPU-second (sample mode, committed: conntrack
/// lookup/create, every table of PREROUTING, routing, FORWARD or INPUT, POSTROUTING with MASQUERADE/null bindings,
/// confirm) through a generated kube-proxy dump, for new connections to random Services' cluster IPs, LB IPs and
/// NodePorts arriving on eth0. The conntrack table is flushed every 4096 packets (its size stays realistic).</summary>
public sealed class HostWalkBench : IBench
{
    public string Name => "host-walk";

    const string Node = """
        host node
        sysctl net.ipv4.ip_forward = 1
        interface eth0 ethernet
        address 10.224.0.4/16
        interface cbr0 bridge
        address 10.244.0.1/16
        route default via 10.224.0.1 dev eth0
        """;

    public int Run(string[] args)
    {
        var sizes = args.Length > 0 ? args.Select(int.Parse).ToList() : [10, 10000];
        Console.WriteLine("| Services | rules | walks/CPU-s (steps recorded) | walks/CPU-s (no steps) | µs/walk | walks/wall-s (no steps) | forwarded |");
        Console.WriteLine("|---|---|---|---|---|---|---|");
        foreach (var n in sizes)
        {
            var services = NetfilterDumpGenerator.Services(n, 3);
            var rs = IptablesSaveReader.Read(NetfilterDumpGenerator.Dump(services), "gen").RuleSet;
            var host = HostFile.Read(Node, "node").Host!;
            var rt = new HostRuntime(host, rs);
            var walker = new HostWalker(rt);
            var rng = new Random(1);
            var node = Ip4.Parse("10.224.0.4");
            var packets = new Packet[4096];
            for (int i = 0; i < packets.Length; i++)
            {
                var s = services[rng.Next(services.Count)];
                var src = new Ip4(0xC6336400u + (uint)rng.Next(256));
                packets[i] = (i % 3) switch
                {
                    0 => new Packet(IpProtocol.Tcp, src, (ushort)rng.Next(1024, 65535), new Ip4(s.ClusterIp), s.Port),
                    1 => new Packet(IpProtocol.Tcp, src, (ushort)rng.Next(1024, 65535), new Ip4(s.LbIp), s.Port),
                    _ => new Packet(IpProtocol.Tcp, src, (ushort)rng.Next(1024, 65535), node, s.NodePort),
                };
            }
            var origin = new HostPacketOrigin.Wire("eth0");
            var me = Process.GetCurrentProcess();
            double wall = 0;
            int forwarded = 0;
            double Measure(bool record)
            {
                var r = new Random(2);
                for (int i = 0; i < 8192; i++) walker.Sample(packets[i & 4095], origin, r, record);
                rt.Conntrack.Flush();
                long count = 0;
                GC.Collect();
                me.Refresh();
                var cpu0 = me.TotalProcessorTime;
                var sw = Stopwatch.StartNew();
                while (sw.ElapsedMilliseconds < 3000)
                {
                    forwarded = 0;
                    for (int i = 0; i < 4096; i++)
                    {
                        var o = walker.Sample(packets[i], origin, r, record);
                        if (o.Disposition == HostDisposition.Forward) forwarded++;
                        else if (o.IsUncertain) throw new InvalidOperationException($"uncertain walk for {packets[i]}: {string.Join("; ", o.Uncertain)}");
                    }
                    rt.Conntrack.Flush();
                    count += 4096;
                }
                me.Refresh();
                wall = count / sw.Elapsed.TotalSeconds;
                return count / (me.TotalProcessorTime - cpu0).TotalSeconds;
            }
            var withSteps = Measure(true);
            var noSteps = Measure(false);
            Console.WriteLine($"| {n:N0} | {rs.Tables.Sum(t => t.AllRules.Count()):N0} | {withSteps:N0} | {noSteps:N0} | {1e6 / noSteps:F2} | {wall:N0} | {forwarded}/4096 |");
        }
        return 0;
    }
}
