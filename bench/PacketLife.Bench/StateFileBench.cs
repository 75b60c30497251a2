using System.Diagnostics;
using System.Globalization;
using PacketLife.Manifests;

namespace PacketLife.Bench;

/// <summary>`state-file [NODES SERVICES PODS [ROUNDS [KEEP]]]`: the state file of the synthetic cluster `trace-all` uses
/// (default 500 nodes, 5,000 Services, 25,000 pods): its size, the first load in this process (cold code, what a
/// command pays) and the best of ROUNDS warm loads, each with wall and CPU time and bytes allocated; then the save.
/// With KEEP, the file is written there and kept (for reading it).</summary>
public sealed class StateFileBench : IBench
{
    public string Name => "state-file";

    public int Run(string[] args)
    {
        int nodes = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 500;
        int services = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 5000;
        int pods = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 25000;
        int rounds = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 5;
        var keep = args.Length > 4 ? Path.GetFullPath(args[4]) : null;
        var dir = Directory.CreateTempSubdirectory("plt-state-");
        try
        {
            var file = keep ?? Path.Combine(dir.FullName, "cluster.json");
            var state = TraceAllBench.Synthetic(nodes, services, pods);
            var (save, saveCpu, _) = Measure(() => { StateFile.Save(file, state); return 0; });
            Console.WriteLine($"load average {TraceAllBench.LoadAverage()}; {nodes} nodes, {services} Services, {pods} pods; state file {new FileInfo(file).Length:N0} bytes");
            var (cold, coldCpu, coldBytes) = Measure(() => StateFile.Load(file)!.Pods.Count);
            // Warm: the parallel read and the one-thread read alternate, so both see the same machine.
            var bytes = File.ReadAllBytes(file);
            double best = double.MaxValue, bestCpu = double.MaxValue, best1 = double.MaxValue, bestCpu1 = double.MaxValue;
            for (int i = 0; i < rounds; i++)
            {
                GC.Collect();
                var (w, c, _) = Measure(() => StateFile.Read(bytes, file, parallel: true).Pods.Count);
                best = Math.Min(best, w); bestCpu = Math.Min(bestCpu, c);
                GC.Collect();
                (w, c, _) = Measure(() => StateFile.Read(bytes, file, parallel: false).Pods.Count);
                best1 = Math.Min(best1, w); bestCpu1 = Math.Min(bestCpu1, c);
            }
            double bestNoGc = double.MaxValue, bestNoGcCpu = double.MaxValue;
            for (int i = 0; i < rounds; i++)
            {
                GC.Collect();
                var ok = GC.TryStartNoGCRegion(bytes.Length * 8L);
                var (w, c, _) = Measure(() => StateFile.Read(bytes, file, parallel: true).Pods.Count);
                if (ok && System.Runtime.GCSettings.LatencyMode == System.Runtime.GCLatencyMode.NoGCRegion) GC.EndNoGCRegion();
                bestNoGc = Math.Min(bestNoGc, w); bestNoGcCpu = Math.Min(bestNoGcCpu, c);
            }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"parallel in a no-GC region: {bestNoGc:F0} ms wall / {bestNoGcCpu:F0} ms CPU"));
            // What the JSON costs without binding objects: a JsonDocument of the same bytes.
            double bestDoc = double.MaxValue;
            for (int i = 0; i < rounds; i++)
            {
                GC.Collect();
                var (w, _, _) = Measure(() => { using var d = System.Text.Json.JsonDocument.Parse(bytes); return d.RootElement.GetProperty("pods").GetArrayLength(); });
                bestDoc = Math.Min(bestDoc, w);
            }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"JsonDocument.Parse of the same bytes (no objects bound): {bestDoc:F0} ms"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"first load (file read included) {cold:F0} ms wall / {coldCpu:F0} ms CPU ({coldBytes / 1e6:F1} MB allocated); warm best of {rounds} from memory: parallel {best:F0} ms wall / {bestCpu:F0} ms CPU, one thread {best1:F0} ms wall / {bestCpu1:F0} ms CPU; save {save:F0} ms wall / {saveCpu:F0} ms CPU"));
            return 0;
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    static (double Wall, double Cpu, long Bytes) Measure(Func<int> f)
    {
        var bytes = GC.GetTotalAllocatedBytes(precise: true);
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        f();
        return (sw.Elapsed.TotalMilliseconds, (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMilliseconds, GC.GetTotalAllocatedBytes(true) - bytes);
    }
}
