using System.Diagnostics;
using System.Globalization;

namespace PacketLife.Bench;

/// <summary>`cluster-get-svc [EXE] [RUNS]`: wall time of `packetlife kubectl get svc` on the default
/// (embedded) cluster, process start-up included, over RUNS runs after 3 warm-ups, in an empty working
/// directory (so no state file is found). EXE defaults to the packetlife apphost next to this benchmark.
/// Target (issue 3): under 200 ms. Prints one README table row.</summary>
public sealed class ClusterGetSvcBench : IBench
{
    public string Name => "cluster-get-svc";

    public int Run(string[] args)
    {
        var exe = args.Length > 0 ? Path.GetFullPath(args[0]) : Path.Combine(AppContext.BaseDirectory, "packetlife");
        var runs = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 30;
        if (!File.Exists(exe)) { Console.Error.WriteLine($"no executable at {exe}"); return 2; }
        var dir = Directory.CreateTempSubdirectory("plt-bench-");
        try
        {
            var times = new List<double>();
            for (var i = 0; i < runs + 3; i++)
            {
                var psi = new ProcessStartInfo(exe) { WorkingDirectory = dir.FullName, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
                psi.ArgumentList.Add("kubectl"); psi.ArgumentList.Add("get"); psi.ArgumentList.Add("svc");
                psi.Environment.Remove("PACKETLIFE_CLUSTER");
                var sw = Stopwatch.StartNew();
                using var p = Process.Start(psi)!;
                var output = p.StandardOutput.ReadToEnd();
                p.WaitForExit();
                sw.Stop();
                if (p.ExitCode != 0 || !output.StartsWith("NAME ", StringComparison.Ordinal)) { Console.Error.WriteLine($"run failed (exit {p.ExitCode}): {output}{p.StandardError.ReadToEnd()}"); return 1; }
                if (i >= 3) times.Add(sw.Elapsed.TotalMilliseconds);
            }
            times.Sort();
            string F(double v) => v.ToString("F1", CultureInfo.InvariantCulture);
            var mean = times.Average();
            Console.WriteLine("| benchmark | runs | mean ms | median ms | p95 ms | min ms | target |");
            Console.WriteLine("|---|---|---|---|---|---|---|");
            Console.WriteLine($"| `kubectl get svc` (default cluster, start-up included) | {times.Count} | {F(mean)} | {F(times[times.Count / 2])} | {F(times[(int)(times.Count * 0.95) - 1])} | {F(times[0])} | < 200 |");
            return mean < 200 ? 0 : 1;
        }
        finally
        {
            dir.Delete(true);
        }
    }
}
