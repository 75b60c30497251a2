using System.Diagnostics;
using System.Text;
using PacketLife.Core.Netfilter.Text;

namespace PacketLife.Bench;

/// <summary>`netfilter-read-profile [SERVICES ENDPOINTS [REPEATS]]`: where the reader's time goes, without the kernel:
/// per stage (UTF-8 decoding, line splitting, tokenizing, the whole read) the best time of REPEATS, the bytes
/// allocated per read and the collections per generation. For finding work to cut, not a published number.</summary>
public sealed class NetfilterReadProfile : IBench
{
    public string Name => "netfilter-read-profile";

    public int Run(string[] args)
    {
        int services = args.Length > 0 ? int.Parse(args[0]) : 10000;
        int endpoints = args.Length > 1 ? int.Parse(args[1]) : 3;
        int repeats = args.Length > 2 ? int.Parse(args[2]) : 8;
        var bytes = Encoding.UTF8.GetBytes(NetfilterDumpGenerator.Dump(NetfilterDumpGenerator.Services(services, endpoints)));
        Console.WriteLine($"{services}x{endpoints}: {bytes.Length:N0} bytes; gc server={System.Runtime.GCSettings.IsServerGC} latency={System.Runtime.GCSettings.LatencyMode}");
        if (args.Length > 3 && args[3] == "file")
        {
            // The whole read from a file, as `netfilter-read` times it.
            var path = Path.Combine(Path.GetTempPath(), $"plt-profile-{Environment.ProcessId}.iptables-save");
            File.WriteAllBytes(path, bytes);
            try { Stage("read (file)", repeats, () => IptablesSaveReader.ReadFile(path).Diagnostics.Count); }
            finally { File.Delete(path); }
            return 0;
        }
        if (args.Length > 3 && args[3] == "read")
        {
            // Only the whole read, REPEATS times (for a sampling profiler attached to this process).
            Stage("read (bytes)", repeats, () => IptablesSaveReader.Read(bytes, "dump").Diagnostics.Count);
            return 0;
        }

        Stage("utf8 decode", repeats, () => Encoding.UTF8.GetString(bytes).Length);
        var text = Encoding.UTF8.GetString(bytes);
        Stage("line split", repeats, () =>
        {
            int n = 0, pos = 0;
            while (pos < text.Length) { int nl = text.IndexOf('\n', pos); if (nl < 0) break; pos = nl + 1; n++; }
            return n;
        });
        Stage("tokenize", repeats, () =>
        {
            var tokens = new List<Token>(32);
            int n = 0, pos = 0;
            while (pos < text.Length)
            {
                int nl = text.IndexOf('\n', pos);
                if (nl < 0) nl = text.Length;
                tokens.Clear();
                Tokenizer.Split(text.AsSpan(pos, nl - pos), tokens, out _);
                n += tokens.Count;
                pos = nl + 1;
            }
            return n;
        });
        Stage("read (bytes)", repeats, () => IptablesSaveReader.Read(bytes, "dump").Diagnostics.Count);
        Stage("read no-GC", repeats, () =>
        {
            bool noGc = false;
            try { noGc = GC.TryStartNoGCRegion(Math.Min(bytes.Length * 16L, 1L << 30)); } catch (ArgumentOutOfRangeException e) { Console.WriteLine(e.Message); }
            try { return IptablesSaveReader.Read(bytes, "dump").Diagnostics.Count + (noGc ? 0 : 1000000); }
            finally { if (noGc && System.Runtime.GCSettings.LatencyMode == System.Runtime.GCLatencyMode.NoGCRegion) GC.EndNoGCRegion(); }
        });
        GC.Collect();
        long before = GC.GetTotalMemory(true);
        var kept = IptablesSaveReader.Read(bytes, "dump");
        long after = GC.GetTotalMemory(true);
        GC.KeepAlive(kept);
        Console.WriteLine($"retained by one read: {(after - before) / 1048576.0:F1} MB (the text itself: {text.Length * 2 / 1048576.0:F1} MB)");
        return 0;
    }

    /// <summary>CPU time of the calling thread in ns (Linux schedstat: on-CPU time; includes the gen0/gen1
    /// collections this thread triggers, which run on it under workstation GC). 0 where unavailable.</summary>
    static long ThreadCpuNs()
    {
        try { return long.Parse(File.ReadAllText("/proc/thread-self/schedstat").Split(' ')[0]); }
        catch (IOException) { return 0; }
    }

    static void Stage(string name, int repeats, Func<int> f)
    {
        double best = double.MaxValue, bestCpu = double.MaxValue, bestProcessCpu = double.MaxValue;
        var me = Process.GetCurrentProcess();
        long alloc = 0, allThreads = 0;
        int g0 = 0, g1 = 0, g2 = 0;
        for (int i = 0; i < repeats; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            int c0 = GC.CollectionCount(0), c1 = GC.CollectionCount(1), c2 = GC.CollectionCount(2);
            long a0 = GC.GetAllocatedBytesForCurrentThread();
            long all0 = GC.GetTotalAllocatedBytes(true);
            long t0 = ThreadCpuNs();
            me.Refresh();
            var p0 = me.TotalProcessorTime;
            var sw = Stopwatch.StartNew();
            GC.KeepAlive(f());
            sw.Stop();
            double cpu = (ThreadCpuNs() - t0) / 1e6;
            me.Refresh();
            double processCpu = (me.TotalProcessorTime - p0).TotalMilliseconds;
            alloc = GC.GetAllocatedBytesForCurrentThread() - a0;
            allThreads = GC.GetTotalAllocatedBytes(true) - all0;
            g0 = GC.CollectionCount(0) - c0; g1 = GC.CollectionCount(1) - c1; g2 = GC.CollectionCount(2) - c2;
            if (i > 0) { best = Math.Min(best, sw.Elapsed.TotalMilliseconds); bestCpu = Math.Min(bestCpu, cpu); bestProcessCpu = Math.Min(bestProcessCpu, processCpu); }
        }
        // Thread CPU is the calling thread's; process CPU adds the reader's parallel workers (and the runtime's threads).
        Console.WriteLine($"{name,-14} best {best,8:F1} ms wall {bestCpu,8:F1} ms thread CPU {bestProcessCpu,8:F1} ms process CPU  alloc {alloc / 1048576.0,8:F1} MB (all threads {allThreads / 1048576.0,6:F1} MB)  gc {g0}/{g1}/{g2}");
    }
}
