using System.Diagnostics.Tracing;
namespace PacketLife.Bench;
sealed class AllocListener : EventListener
{
    public readonly Dictionary<string, long> ByType = new();
    public bool On;
    protected override void OnEventSourceCreated(EventSource es)
    {
        if (es.Name == "Microsoft-Windows-DotNETRuntime") EnableEvents(es, EventLevel.Verbose, (EventKeywords)0x1);
    }
    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        if (!On || e.EventName is null || !e.EventName.StartsWith("GCAllocationTick")) return;
        var name = e.Payload![e.PayloadNames!.IndexOf("TypeName")] as string ?? "?";
        long amount = Convert.ToInt64(e.Payload[e.PayloadNames.IndexOf("AllocationAmount64")]);
        lock (ByType) ByType[name] = ByType.GetValueOrDefault(name) + amount;
    }
}
public sealed class AllocTypesBench : IBench
{
    public string Name => "alloc-types";
    public int Run(string[] args)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(NetfilterDumpGenerator.Dump(NetfilterDumpGenerator.Services(10000, 3)));
        if (args.Length > 0) { File.WriteAllBytes(args[0], bytes); return 0; }
        using var l = new AllocListener();
        PacketLife.Core.Netfilter.Text.IptablesSaveReader.Read(bytes, "x");
        Thread.Sleep(500);
        l.On = true;
        for (int i = 0; i < 5; i++) GC.KeepAlive(PacketLife.Core.Netfilter.Text.IptablesSaveReader.Read(bytes, "x"));
        Thread.Sleep(1000);
        l.On = false;
        foreach (var (k, v) in l.ByType.OrderByDescending(kv => kv.Value).Take(30)) Console.WriteLine($"{v / 5 / 1048576.0,8:F1} MB  {k}");
        return 0;
    }
}
