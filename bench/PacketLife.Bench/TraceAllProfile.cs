using System.Diagnostics;
using System.Globalization;
using PacketLife.App.Rendering;
using PacketLife.Core.Net;
using PacketLife.Core.Topology;
using PacketLife.Core.Tracing.Cluster;
using PacketLife.Manifests;

namespace PacketLife.Bench;

/// <summary>`trace-all-profile [NODES SERVICES PODS [OUT]]`: where `trace --all`'s time goes, stage by stage, in one
/// process: the state file load, the topology build, the node rules (kube-proxy sync + parse), the explained trace and
/// the text rendering, each with its wall and CPU time, bytes allocated and collections. With OUT, the rendered text
/// is written there (for reading, and for comparing before/after). For finding work to cut, not a published number.</summary>
public sealed class TraceAllProfile : IBench
{
    public string Name => "trace-all-profile";

    public int Run(string[] args)
    {
        int nodes = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 500;
        int services = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 5000;
        int pods = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 25000;
        var output = args.Length > 3 ? args[3] : null;
        var dir = Directory.CreateTempSubdirectory("plt-trace-all-");
        try
        {
            var file = Path.Combine(dir.FullName, "cluster.json");
            StateFile.Save(file, TraceAllBench.Synthetic(nodes, services, pods));
            Console.WriteLine($"{nodes} nodes, {services} Services, {pods} pods; state file {new FileInfo(file).Length:N0} bytes; gc server={System.Runtime.GCSettings.IsServerGC} latency={System.Runtime.GCSettings.LatencyMode}");
            var state = Stage("state load", () => StateFile.Load(file)!);
            var topo = Stage("topology build", () => ClusterTopology.Build(state, TimeProvider.System));
            // The same work the first node's rules do, in its three parts, then the node's own (cached) build.
            var n0 = topo.Nodes[0];
            var sync = Stage("  kube-proxy sync", () => PacketLife.Core.KubeProxy.IptablesProxier.Sync(new PacketLife.Core.KubeProxy.KubeProxySyncInput
            {
                Services = state.Services, EndpointSlices = state.EndpointSlices, Nodes = state.Nodes, Hostname = n0.Name,
                Configuration = PacketLife.Core.KubeProxy.KubeProxyConfiguration.AksKubenet with { ClusterCIDR = state.Profile.PodCidr },
            }));
            var saveText = Stage("  iptables-save text", () => PacketLife.Core.KubeProxy.NodeIptablesView.AfterSync(sync).Save());
            Stage("  read", () => PacketLife.Core.Netfilter.Text.IptablesSaveReader.Read(saveText, "node"));
            Console.WriteLine($"  ({sync.RuleCount:N0} rules in the payload, {saveText.Length:N0} chars saved)");
            Stage("node rules (sync + parse)", () => topo.Nodes[0].Rules);
            var tracer = new ClusterTracer(topo);
            var (r, error) = TraceTargets.Resolve(topo, "internet", "svc/svc-0", IpProtocol.Tcp);
            if (r is null) { Console.Error.WriteLine(error); return 2; }
            // Every path, with each LB backend's health probe walked through the twin first.
            var trace = Stage("explain (probes + paths)", () => tracer.Explain(r.From, r.To, IpProtocol.Tcp));
            var text = Stage("render text", () => TraceText.Render(trace));
            Console.WriteLine($"{trace.Paths.Length} paths, {text.Length:N0} chars of text, {text.Count(c => c == '\n'):N0} lines");
            if (output is not null) { File.WriteAllText(output, text); File.WriteAllText(output + ".rules", topo.Nodes[0].Rules.SaveText); }
            return 0;
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    static T Stage<T>(string name, Func<T> f)
    {
        var g0 = GC.CollectionCount(0); var g1 = GC.CollectionCount(1); var g2 = GC.CollectionCount(2);
        var bytes = GC.GetTotalAllocatedBytes(precise: true);
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var pause = GC.GetTotalPauseDuration();
        var sw = Stopwatch.StartNew();
        var r = f();
        var wall = sw.Elapsed.TotalMilliseconds;
        var c = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMilliseconds;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  {name,-28} {wall,7:F0} ms wall {c,7:F0} ms CPU  {(GC.GetTotalAllocatedBytes(true) - bytes) / 1e6,8:F1} MB allocated  gc {GC.CollectionCount(0) - g0}/{GC.CollectionCount(1) - g1}/{GC.CollectionCount(2) - g2}  pause {(GC.GetTotalPauseDuration() - pause).TotalMilliseconds:F0} ms"));
        return r;
    }
}
