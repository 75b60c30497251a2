using System.Diagnostics.Tracing;
using PacketLife.Core.Netfilter.Text;

namespace PacketLife.Bench;

/// <summary>`netfilter-read-allocations [SERVICES ENDPOINTS [READS]]`: what a read of a generated kube-proxy dump
/// allocates, by type (MB per read), from the runtime's own allocation sampling (the GCAllocationTick event, one sample
/// per ~100 KB, so small types are estimates). Fresh memory is a large part of a read's cost (each first touch is a
/// page fault), so this says where to cut. For finding work, not a published number.</summary>
public sealed class NetfilterReadAllocations : IBench
{
    public string Name => "netfilter-read-allocations";

    sealed class Sampler : EventListener
    {
        public readonly Dictionary<string, long> BytesByType = [];
        public volatile bool On;

        protected override void OnEventSourceCreated(EventSource source)
        {
            // The GC keyword (0x1) at verbose level carries GCAllocationTick.
            if (source.Name == "Microsoft-Windows-DotNETRuntime") EnableEvents(source, EventLevel.Verbose, (EventKeywords)0x1);
        }

        protected override void OnEventWritten(EventWrittenEventArgs e)
        {
            if (!On || e.EventName is null || !e.EventName.StartsWith("GCAllocationTick", StringComparison.Ordinal) || e.Payload is null || e.PayloadNames is null) return;
            var type = e.Payload[e.PayloadNames.IndexOf("TypeName")] as string ?? "?";
            long amount = Convert.ToInt64(e.Payload[e.PayloadNames.IndexOf("AllocationAmount64")], System.Globalization.CultureInfo.InvariantCulture);
            lock (BytesByType) BytesByType[type] = BytesByType.GetValueOrDefault(type) + amount;
        }
    }

    public int Run(string[] args)
    {
        int services = args.Length > 0 ? int.Parse(args[0]) : 10000;
        int endpoints = args.Length > 1 ? int.Parse(args[1]) : 3;
        int reads = args.Length > 2 ? int.Parse(args[2]) : 5;
        var bytes = System.Text.Encoding.UTF8.GetBytes(NetfilterDumpGenerator.Dump(NetfilterDumpGenerator.Services(services, endpoints)));
        using var sampler = new Sampler();
        GC.KeepAlive(IptablesSaveReader.Read(bytes, "dump")); // warm-up, not sampled
        Thread.Sleep(500);
        sampler.On = true;
        for (int i = 0; i < reads; i++) GC.KeepAlive(IptablesSaveReader.Read(bytes, "dump"));
        Thread.Sleep(1000); // events arrive on another thread
        sampler.On = false;
        long total = 0;
        lock (sampler.BytesByType) total = sampler.BytesByType.Values.Sum();
        Console.WriteLine($"{services}x{endpoints}: {bytes.Length:N0} bytes; sampled allocations per read {total / reads / 1048576.0:F1} MB");
        lock (sampler.BytesByType)
            foreach (var (type, amount) in sampler.BytesByType.OrderByDescending(kv => kv.Value).Take(25))
                Console.WriteLine($"{amount / (double)reads / 1048576.0,8:F1} MB  {type}");
        return 0;
    }
}
