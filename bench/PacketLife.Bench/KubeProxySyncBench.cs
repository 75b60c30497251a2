using System.Diagnostics;
using System.Globalization;
using PacketLife.Core.Cluster;
using PacketLife.Core.KubeProxy;

namespace PacketLife.Bench;

/// <summary>`kube-proxy-sync [services] [endpoints-per-service]`: one full sync of N ClusterIP+NodePort
/// Services × M ready endpoints (default 10000 × 5, ≈ 200k rules). Goal: under 0.5 s. Prints the median of
/// 7 timed runs after 3 warm-ups, rules/s and payload bytes.</summary>
public sealed class KubeProxySyncBench : IBench
{
    public string Name => "kube-proxy-sync";

    public int Run(string[] args)
    {
        int services = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 10_000;
        int perService = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 5;
        var (svcs, slices) = Build(services, perService);
        var input = new KubeProxySyncInput
        {
            Services = svcs, EndpointSlices = slices, Hostname = "aks-nodepool1-33086427-vmss000000", NodeIPs = ["10.224.0.4"],
            Configuration = KubeProxyConfiguration.AksKubenet,
        };
        KubeProxySyncResult r = IptablesProxier.Sync(input);
        for (int i = 0; i < 2; i++) r = IptablesProxier.Sync(input);
        var times = new List<double>();
        var cpu = new List<double>();
        var snapshot = new List<double>();
        var proc = Process.GetCurrentProcess();
        for (int i = 0; i < 7; i++)
        {
            var sw = Stopwatch.StartNew();
            var c0 = proc.TotalProcessorTime;
            r = IptablesProxier.Sync(input);
            times.Add(sw.Elapsed.TotalSeconds);
            proc.Refresh();
            cpu.Add((proc.TotalProcessorTime - c0).TotalSeconds);
            sw.Restart();
            ServiceSnapshot.Build(svcs, slices, input.Hostname, IpFamily.IPv4, input.Environment, null, []);
            snapshot.Add(sw.Elapsed.TotalSeconds);
        }
        times.Sort();
        cpu.Sort();
        snapshot.Sort();
        Console.WriteLine($"  (CPU time per sync, median {cpu[3] * 1000:F0} ms, all threads incl. GC; of the wall time, building the service view from objects takes {snapshot[3] * 1000:F0} ms; load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]})");
        double median = times[times.Count / 2];
        long bytes = System.Text.Encoding.UTF8.GetByteCount(r.RestorePayload);
        Console.WriteLine($"| kube-proxy-sync | {services} services x {perService} endpoints | {r.RuleCount} rules | {median * 1000:F0} ms median (min {times[0] * 1000:F0}, max {times[^1] * 1000:F0}) | {r.RuleCount / median:F0} rules/s | {bytes} bytes payload | large-cluster mode: {r.LargeClusterMode} |");
        var saveTimes = new List<double>();
        string save = "";
        for (int i = 0; i < 3; i++)
        {
            var sw = Stopwatch.StartNew();
            save = NodeIptablesView.AfterSync(r).Save();
            saveTimes.Add(sw.Elapsed.TotalSeconds);
        }
        saveTimes.Sort();
        Console.WriteLine($"| kube-proxy-save-view | same sync printed as the node's iptables-save | {r.RuleCount} rules | {saveTimes[1] * 1000:F0} ms median of 3 | {r.RuleCount / saveTimes[1]:F0} rules/s | {System.Text.Encoding.UTF8.GetByteCount(save)} bytes | |");
        return 0;
    }

    static (List<Service>, List<EndpointSlice>) Build(int n, int m)
    {
        var svcs = new List<Service>(n);
        var slices = new List<EndpointSlice>(n);
        for (int i = 0; i < n; i++)
        {
            string name = $"svc-{i}";
            svcs.Add(new Service
            {
                Metadata = new ObjectMeta { Namespace = "bench", Name = name },
                Spec = new ServiceSpec
                {
                    Type = ServiceType.NodePort,
                    ClusterIP = $"10.0.{i / 250}.{i % 250 + 1}",
                    Ports = [new ServicePort { Name = "http", Port = 80, NodePort = 30000 + i % 2768, TargetPort = IntOrString.FromInt(8080) }],
                },
            });
            var eps = new Endpoint[m];
            for (int j = 0; j < m; j++)
            {
                int k = i * m + j;
                eps[j] = new Endpoint { Addresses = [$"10.{244 + k / 65536}.{k / 256 % 256}.{k % 256}"], NodeName = $"node-{k % 20}" };
            }
            slices.Add(new EndpointSlice
            {
                Metadata = new ObjectMeta { Namespace = "bench", Name = name + "-x", Labels = new Dictionary<string, string> { ["kubernetes.io/service-name"] = name } },
                Ports = [new EndpointPort("http", Protocol.TCP, 8080)],
                Endpoints = eps,
            });
        }
        return (svcs, slices);
    }
}
