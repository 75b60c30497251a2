using System.Diagnostics;
using System.Text;
using PacketLife.Core.Conntrack;
using PacketLife.Core.Conntrack.Text;

namespace PacketLife.Bench;

/// <summary>Reading and loading a node's `conntrack -L` dump, then printing it back:
/// `dotnet run -c Release --project bench/PacketLife.Bench -- conntrack-text [lines]` (default 100k lines).</summary>
public sealed class ConntrackTextBench : IBench
{
    public string Name => "conntrack-text";

    private sealed class FixedClock : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => new(2026, 11, 26, 12, 0, 0, TimeSpan.Zero);
    }

    public int Run(string[] args)
    {
        int n = args.Length > 0 ? int.Parse(args[0]) : 100_000;
        var rng = new Random(1);
        var sb = new StringBuilder();
        for (int i = 0; i < n; i++)
        {
            // Unique tuples: clients 10.x.y.z, one masquerade address, reply ports spread over several pods.
            int sport = rng.Next(1024, 65536), nport = 1024 + i % 64000, pod = 10 + i / 64000;
            sb.Append($"tcp      6 {rng.Next(0, 86400) + 1} ESTABLISHED src=10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255} dst=10.0.42.82 sport={sport} dport=80 ")
              .Append($"src=10.244.1.{pod} dst=10.224.0.4 sport=80 dport={nport} [ASSURED] mark=0 use=1\n");
        }
        var text = sb.ToString();
        double best = double.MaxValue, bestWrite = double.MaxValue;
        int loaded = 0;
        for (int rep = 0; rep < 5; rep++)
        {
            var sw = Stopwatch.StartNew();
            var read = ConntrackText.Read(text, "bench");
            var table = new ConntrackTable(new FixedClock());
            var diags = read.LoadInto(table, "bench");
            sw.Stop();
            loaded = table.Count;
            best = Math.Min(best, sw.Elapsed.TotalSeconds);
            sw.Restart();
            var back = ConntrackText.WriteTable(table);
            sw.Stop();
            bestWrite = Math.Min(bestWrite, sw.Elapsed.TotalSeconds);
            if (rep == 0 && diags.Count > 0) Console.Error.WriteLine($"{diags.Count} duplicate tuples skipped: {diags[0]}");
            if (rep == 0 && diags.Count == 0 && back != text) throw new InvalidOperationException("round trip differs");
        }
        Console.WriteLine($"| conntrack -L read + load, {n:N0} lines ({loaded:N0} entries) | {best * 1000:F0} ms ({n / best / 1e6:F2} M lines/s) |");
        Console.WriteLine($"| conntrack -L write, {loaded:N0} entries | {bestWrite * 1000:F0} ms |");
        return 0;
    }
}
