using System.Diagnostics;
using PacketLife.Core.Conntrack;
using PacketLife.Core.Net;

namespace PacketLife.Bench;

/// <summary>Conntrack lookups per second with a 100k-entry table (issue 2, task h2): `dotnet run -c Release --project
/// bench/PacketLife.Bench -- conntrack-lookup [entries]`. Measures the bare table lookup of a packet's tuple (both
/// directions) and the full conntrack-in hook (lookup + TCP state update) for ESTABLISHED traffic, on one core.</summary>
public sealed class ConntrackLookupBench : IBench
{
    public string Name => "conntrack-lookup";

    private sealed class FixedClock : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => new(2026, 11, 26, 12, 0, 0, TimeSpan.Zero);
    }

    public int Run(string[] args)
    {
        int n = args.Length > 0 ? int.Parse(args[0]) : 100_000;
        var table = new ConntrackTable(new FixedClock(), ConntrackSettings.KubeProxy);
        var tracker = new ConntrackTracker(table);
        var rng = new Random(1);
        var tuples = new ConntrackTuple[n];
        var packets = new Packet[n];
        for (int i = 0; i < n; i++)
        {
            var src = new Ip4(0x0A000000u | (uint)rng.Next(1 << 24));
            var dst = new Ip4(0x0AF40000u | (uint)rng.Next(1 << 16));
            ushort sport = (ushort)rng.Next(1024, 65536);
            var syn = new Packet(IpProtocol.Tcp, src, sport, dst, 80, TcpFlags.Syn);
            var ct = tracker.Track(syn);
            if (!ct.IsNewEntry || !tracker.Confirm(ct)) { i--; continue; }
            tracker.Track(new Packet(IpProtocol.Tcp, dst, 80, src, sport, TcpFlags.Syn | TcpFlags.Ack));
            tracker.Track(syn with { Flags = TcpFlags.Ack });
            // Half the lookups are replies, as on a node.
            tuples[i] = i % 2 == 0 ? ct.Entry!.Original : ct.Entry!.Reply;
            packets[i] = i % 2 == 0 ? syn with { Flags = TcpFlags.Ack } : new Packet(IpProtocol.Tcp, dst, 80, src, sport, TcpFlags.Ack);
        }

        // Best of 7 timed rounds after a warm-up: the machine is shared, the best round is the least disturbed one.
        double Measure(Func<int, int> body, int rounds)
        {
            body(n);
            double best = 0;
            for (int rep = 0; rep < 7; rep++)
            {
                var sw = Stopwatch.StartNew();
                int hits = 0;
                for (int r = 0; r < rounds; r++) hits += body(n);
                sw.Stop();
                if (hits != rounds * n) throw new InvalidOperationException($"only {hits} of {rounds * n} lookups hit");
                best = Math.Max(best, rounds * (double)n / sw.Elapsed.TotalSeconds);
            }
            return best;
        }

        double lookups = Measure(count =>
        {
            int h = 0;
            for (int i = 0; i < count; i++)
                if (table.TryLookup(tuples[i], out _, out _)) h++;
            return h;
        }, 10);
        double tracked = Measure(count =>
        {
            int h = 0;
            for (int i = 0; i < count; i++)
                if (tracker.Track(packets[i]).Verdict == ConntrackVerdict.Tracked) h++;
            return h;
        }, 3);

        Console.WriteLine($"| conntrack table lookup, {n:N0} entries | {lookups / 1e6:F1} M lookups/s |");
        Console.WriteLine($"| conntrack-in (lookup + TCP state), {n:N0} entries | {tracked / 1e6:F2} M packets/s |");
        return 0;
    }
}
