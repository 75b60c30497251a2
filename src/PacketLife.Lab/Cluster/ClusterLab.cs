using System.Diagnostics;
using System.Globalization;
using System.Text;
using PacketLife.Core.Cluster;

namespace PacketLife.Lab.Cluster;

/// <summary>How `lab up` builds: which iptables, where the state lives, how to start the probe loop.</summary>
/// <param name="ProberArgv">The command that runs `packetlife lab prober --state DIR` (DIR is appended); null: no
/// probe loop (the frontends then route to every backend node).</param>
/// <param name="ProbeIntervalMs">Overrides every probe's interval (tests); null: the ARM interval of each probe.</param>
public sealed record ClusterLabOptions(string Iptables = "legacy", string? StateRoot = null, IReadOnlyList<string>? ProberArgv = null, int? ProbeIntervalMs = null);

/// <summary>A cluster of the twin built out of real network namespaces (issue 6; netns-lab.md §2–§3):
/// an internet client, the Azure fabric (LB frontends routed unchanged to healthy nodes by a fixed-seed 5-tuple ECMP
/// hash, the kubenet UDRs, the probe source 168.63.129.16), the VNet as an L2 bridge, one namespace per node with
/// cbr0 and the very rules the twin's kube-proxy generator prints (loaded with iptables-restore), and one namespace
/// per pod running nginx. Everything runs through <see cref="LabRunner"/>: journaled before creation, confined to
/// the lab's namespaces, torn down from the journal only.</summary>
public sealed class ClusterLab
{
    public const string HealthFile = "health.json";

    private readonly LabRunner _runner;
    private readonly TextWriter? _progress;
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    private ClusterLab(LabRunner runner, LabPlan plan, TextWriter? progress)
    {
        _runner = runner;
        Plan = plan;
        _progress = progress;
    }

    public LabPlan Plan { get; private set; }

    public LabRunner Runner => _runner;

    public string StateDirectory => _runner.Journal.Directory;

    public LabId Id => _runner.Id;

    /// <summary>The namespace of a host: `client`, `lb`, `vnet`, a node name or a pod (`name` or `namespace/name`).</summary>
    public string? NamespaceOf(string host) => host switch
    {
        "client" or "cli" => Ns(Plan.ClientRole),
        "lb" => Ns(Plan.LbRole),
        "vnet" => Ns(Plan.VnetRole),
        _ => Plan.FindNode(host) is { } n ? Ns(n.Role) : Plan.FindPod(host) is { } p ? Ns(p.Role) : null,
    };

    private string Ns(string role) => Id.Namespace(role);

    private string IptablesProgram(string tool) => $"iptables-{Plan.Iptables}-{tool}";

    /// <summary>Builds the lab for <paramref name="state"/>. <paramref name="nodeRules"/> gives a node's whole
    /// `iptables-save` text as the twin prints it (kubelet's and kube-proxy's rules). On any failure everything built
    /// so far is torn down before the exception leaves.</summary>
    public static ClusterLab Up(ClusterState state, Func<string, string> nodeRules, ClusterLabOptions options, TextWriter? progress = null, TextWriter? verbose = null)
    {
        var plan = LabPlan.Create(state, options.Iptables);
        if (options.ProbeIntervalMs is { } ms) plan = plan with { ProbeIntervalMs = ms };
        var journal = LabJournal.Create(LabId.New(), options.StateRoot);
        var lab = new ClusterLab(new LabRunner(journal, verbose), plan, progress);
        try
        {
            lab.Build(nodeRules, options.ProberArgv);
            return lab;
        }
        catch
        {
            try { lab._runner.Teardown(); } catch (LabException) { }
            throw;
        }
    }

    /// <summary>Opens a running lab from its state directory (the journal and lab.json).</summary>
    public static ClusterLab Open(string stateDir, TextWriter? verbose = null)
    {
        var journal = LabJournal.Load(stateDir);
        if (!File.Exists(Path.Combine(stateDir, LabPlan.FileName)))
            throw new LabException($"lab: {stateDir} holds no finished lab (no {LabPlan.FileName}; `lab down` removes a half-built one)");
        return new ClusterLab(new LabRunner(journal, verbose), LabPlan.Load(stateDir), null);
    }

    private void Step(string what)
    {
        _progress?.WriteLine(string.Create(CultureInfo.InvariantCulture, $"lab: {what} ({_clock.Elapsed.TotalSeconds:0.00} s)"));
        _progress?.Flush();
    }

    private void Build(Func<string, string> nodeRules, IReadOnlyList<string>? proberArgv)
    {
        var p = Plan;
        // 1. Namespaces (journaled one by one before each `ip netns add`), a few at a time.
        var roles = new List<string> { p.ClientRole, p.LbRole, p.VnetRole };
        roles.AddRange(p.Nodes.Select(n => n.Role));
        roles.AddRange(p.Pods.Select(x => x.Role));
        CreateNamespaces(roles);
        Step($"{roles.Count} namespaces");

        // 2. Links: every veth is made inside a lab namespace with its peer put straight into another one.
        WireFabric();
        foreach (var n in p.Nodes) WireNode(n, p.Pods.Where(x => x.NodeName == n.Name).ToList());
        ConfigurePods(p.Pods);
        Step($"links and routes: {p.Nodes.Count} nodes, {p.Pods.Count} pods");

        // 3. Rules: the twin's iptables-save text for each node, restored whole.
        foreach (var n in p.Nodes) LoadRules(n, nodeRules(n.Name));
        Step($"kube-proxy rules on {p.Nodes.Count} nodes ({p.Iptables})");

        // 4. nginx in each pod; kube-proxy's health ports on each node.
        var pidFiles = new List<string>();
        foreach (var pod in p.Pods.Where(x => x.Ports.Count > 0)) pidFiles.Add(StartPodNginx(pod));
        foreach (var n in p.Nodes) pidFiles.Add(StartHealthNginx(n));
        WaitForFiles(pidFiles, TimeSpan.FromSeconds(10));
        Step($"nginx in {p.Pods.Count} pods");

        // 5. The plan is saved before the prober starts (it reads it), and marks the lab as finished.
        Plan.Save(StateDirectory);
        if (proberArgv is not null && p.Frontends.Count > 0)
        {
            _runner.Start(Ns(p.LbRole), [.. proberArgv, StateDirectory]);
            WaitForFiles([Path.Combine(StateDirectory, HealthFile)], TimeSpan.FromSeconds(15));
            Step($"probe loop: {p.Frontends.Count} frontends");
        }
        Step("up");
    }

    private void CreateNamespaces(IReadOnlyList<string> roles)
    {
        var errors = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        Parallel.ForEach(roles, new ParallelOptions { MaxDegreeOfParallelism = 4 }, role =>
        {
            try { _runner.CreateNamespace(role); }
            catch (Exception e) { errors.Enqueue(e); }
        });
        if (errors.TryDequeue(out var first)) throw first;
    }

    private static string Sysctl(params string[] settings) => string.Join(' ', settings);

    private void WireFabric()
    {
        var p = Plan;
        string cli = Ns(p.ClientRole), lb = Ns(p.LbRole), vnet = Ns(p.VnetRole);
        // The VNet is a plain L2 segment: keep netfilter out of its bridge (bridge-nf-call-* is per netns, 1 by default).
        var vnetLines = new List<string>
        {
            "link add br0 type bridge",
            "link set br0 up",
            $"link add plb type veth peer name vnet0 netns {lb}",
            "link set plb master br0 up",
        };
        foreach (var n in p.Nodes)
        {
            vnetLines.Add($"link add {n.VnetPort} type veth peer name eth0 netns {Ns(n.Role)}");
            vnetLines.Add($"link set {n.VnetPort} master br0 up");
        }
        _runner.IpBatch(vnet, vnetLines).EnsureSuccess();
        _runner.Exec(vnet, ["sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=0", "net.bridge.bridge-nf-call-ip6tables=0", "net.bridge.bridge-nf-call-arptables=0"]).EnsureSuccess();

        var lbLines = new List<string>
        {
            $"link add inet0 type veth peer name eth0 netns {cli}",
            $"addr add {LabPlan.InternetGatewayIp}/{LabPlan.InternetLength} dev inet0",
            "link set inet0 up",
            $"addr add {p.VnetGatewayIp}/{p.SubnetLength} dev vnet0",
            "link set vnet0 up",
            $"addr add {LabPlan.ProbeSourceIp}/32 dev lo",
            // Azure delivers nothing from the internet but what an LB rule covers: the client's packets to anything
            // else (a node IP, a pod IP) are dropped silently. The rules' fwmark lookups, added later without a
            // priority, get smaller numbers than this one and so come first.
            "rule add pref 32000 iif inet0 blackhole",
        };
        // kubenet's UDRs: the cluster's route table sends each node's pod /24 to that node.
        foreach (var n in p.Nodes) lbLines.Add($"route add {n.PodCidr} via {n.Ip} dev vnet0");
        _runner.IpBatch(lb, lbLines).EnsureSuccess();
        ApplyLbRules(null, p);
        // Hash policy 3 (custom fields) on the 5-tuple (0x37: src/dst IP, proto, src/dst port) with a fixed seed:
        // deterministic per flow, as the Azure LB's default distribution (netns-lab.md P1). Redirects off (P8).
        _runner.Exec(lb, ["sysctl", "-qw", "net.ipv4.ip_forward=1",
            "net.ipv4.fib_multipath_hash_policy=3", "net.ipv4.fib_multipath_hash_fields=0x0037",
            $"net.ipv4.fib_multipath_hash_seed={p.EcmpSeed}",
            "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0",
            "net.ipv4.conf.all.send_redirects=0", "net.ipv4.conf.default.send_redirects=0", "net.ipv4.conf.vnet0.send_redirects=0"]).EnsureSuccess();

        _runner.IpBatch(cli, [
            $"addr add {LabPlan.ClientIp}/{LabPlan.InternetLength} dev eth0",
            "link set eth0 up",
            $"route add default via {LabPlan.InternetGatewayIp}",
        ]).EnsureSuccess();
    }

    /// <summary>The fabric's per-rule routing: packets of each load-balancing rule are marked in mangle PREROUTING and
    /// looked up in the rule's own table (until the probe loop has a verdict: the whole backend pool). Anything else
    /// sent to a frontend IP is dropped (a blackhole in the main table), as Azure forwards only what a rule covers.
    /// The mark does not leave the fabric: crossing into another namespace scrubs it (skb_scrub_packet).</summary>
    private void ApplyLbRules(LabPlan? before, LabPlan after)
    {
        var lb = Ns(after.LbRole);
        var lines = new List<string>();
        foreach (var f in before?.Frontends ?? [])
        {
            foreach (var r in f.Rules ?? []) lines.Add($"rule del fwmark {r.Table} lookup {r.Table}");
            if (after.Frontends.All(x => x.Ip != f.Ip)) lines.Add($"route del blackhole {f.Ip}/32");
        }
        foreach (var f in after.Frontends)
        {
            lines.Add($"route replace blackhole {f.Ip}/32");
            foreach (var r in f.Rules ?? [])
            {
                lines.Add($"rule add fwmark {r.Table} lookup {r.Table}");
                lines.Add(FrontendRoute(f.Ip, f.Nodes.Select(n => after.FindNode(n)!.Ip).ToList(), r.Table));
            }
        }
        if (lines.Count > 0) _runner.IpBatch(lb, lines).EnsureSuccess();
        var mangle = new StringBuilder("*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n");
        foreach (var f in after.Frontends)
            foreach (var r in f.Rules ?? [])
                mangle.Append(CultureInfo.InvariantCulture, $"-A PREROUTING -d {f.Ip}/32 -p {r.Protocol} -m {r.Protocol} --dport {r.Port} -j MARK --set-xmark 0x{r.Table:x}/0xffffffff\n");
        mangle.Append("COMMIT\n");
        var res = _runner.Exec(lb, ["iptables-legacy-restore"], mangle.ToString());
        if (!res.Succeeded) throw new LabException(PacketLife.Core.Diagnostics.LabMessages.RulesetRejected(res.Stderr));
    }

    /// <summary>`ip route replace` of a frontend: ECMP over the healthy nodes with the destination unchanged
    /// (floating IP), or a blackhole when none is healthy (Azure LB sends no new flow to a pool whose probes all fail).</summary>
    public static string FrontendRoute(string vip, IReadOnlyList<string> nodeIps, int table) => nodeIps.Count switch
    {
        0 => $"route replace blackhole {vip}/32 table {table}",
        1 => $"route replace {vip}/32 table {table} via {nodeIps[0]} dev vnet0",
        _ => $"route replace {vip}/32 table {table} " + string.Join(' ', nodeIps.Select(ip => $"nexthop via {ip} dev vnet0 weight 1")),
    };

    private void WireNode(NodePlan n, IReadOnlyList<PodPlan> pods)
    {
        var ns = Ns(n.Role);
        var lines = new List<string>
        {
            $"addr add {n.Ip}/{n.SubnetLength} dev eth0",
            "link set eth0 up",
            // What Azure DHCP gives a VMSS node (proto dhcp, metric 100), and the wireserver route.
            $"route add default via {Plan.VnetGatewayIp} dev eth0 proto dhcp src {n.Ip} metric 100",
            $"route add {LabPlan.ProbeSourceIp} via {Plan.VnetGatewayIp} dev eth0 proto dhcp src {n.Ip} metric 100",
            "link add cbr0 type bridge",
            // The scope decides MASQUERADE's address for a local endpoint (netns-lab.md §7.1, ClusterProfile.Cbr0AddressScope).
            $"addr add {n.Cbr0Ip}/{n.Cbr0Length} dev cbr0 scope {Plan.Cbr0Scope}",
            // AKS's kubenet CNI template: bridge cbr0, isGateway, promiscMode true.
            "link set cbr0 promisc on up",
        };
        lines.AddRange(PodLinkLines(pods));
        _runner.IpBatch(ns, lines).EnsureSuccess();
        _runner.Exec(ns, ["sysctl", "-qw", "net.ipv4.ip_forward=1", "net.bridge.bridge-nf-call-iptables=1",
            "net.ipv4.conf.all.route_localnet=1", "net.ipv4.conf.all.rp_filter=2", "net.ipv4.conf.default.rp_filter=2",
            "net.netfilter.nf_conntrack_tcp_timeout_established=86400", "net.netfilter.nf_conntrack_tcp_timeout_close_wait=3600",
            // Not AKS's setting (1000 ms): the ICMP errors REJECT sends would be throttled after a burst of 6 per peer
            // (icmp_ratelimit, icmp(7)), so repeated connections to a Service without endpoints would time out
            // instead of being refused. The twin answers for one connection; the lab keeps every answer (docs/lab.md).
            "net.ipv4.icmp_ratelimit=0"]).EnsureSuccess();
    }

    private IEnumerable<string> PodLinkLines(IReadOnlyList<PodPlan> pods)
    {
        foreach (var pod in pods)
        {
            yield return $"link add {pod.HostVeth} type veth peer name eth0 netns {Ns(pod.Role)}";
            yield return $"link set {pod.HostVeth} master cbr0";
            // Hairpin on the bridge port lets a pod reach itself through its Service (netns-lab.md §7.2, P6).
            yield return $"link set {pod.HostVeth} type bridge_slave hairpin {(Plan.Hairpin ? "on" : "off")}";
            yield return $"link set {pod.HostVeth} up";
        }
    }

    private void ConfigurePods(IReadOnlyList<PodPlan> pods)
    {
        var errors = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        Parallel.ForEach(pods, new ParallelOptions { MaxDegreeOfParallelism = 4 }, pod =>
        {
            try
            {
                _runner.IpBatch(Ns(pod.Role), [
                    $"addr add {pod.Ip}/{pod.Length} dev eth0",
                    "link set eth0 up",
                    $"route add default via {pod.Gateway}",
                ]).EnsureSuccess();
            }
            catch (Exception e) { errors.Enqueue(e); }
        });
        if (errors.TryDequeue(out var first)) throw first;
    }

    /// <summary>Restores a node's whole `iptables-save` text in one iptables-restore. The tables go in reverse order:
    /// the legacy kernel lists the most recently registered table first (/proc/net/ip_tables_names), so the node then
    /// lists them in the order the twin prints them.</summary>
    public static string ReverseTables(string saveText)
    {
        var tables = new List<string>();
        var current = new StringBuilder();
        foreach (var line in saveText.Split('\n'))
        {
            if (line.StartsWith('*') && current.Length > 0) { tables.Add(current.ToString()); current.Clear(); }
            if (line.Length > 0) current.Append(line).Append('\n');
        }
        if (current.Length > 0) tables.Add(current.ToString());
        tables.Reverse();
        return string.Concat(tables);
    }

    private void LoadRules(NodePlan n, string saveText)
    {
        var r = _runner.Exec(Ns(n.Role), [IptablesProgram("restore")], ReverseTables(saveText));
        if (!r.Succeeded) throw new LabException(PacketLife.Core.Diagnostics.LabMessages.RulesetRejected(r.Stderr));
    }

    private string PodDir(PodPlan pod) => Path.Combine(StateDirectory, "pods", pod.Role);

    private string StartPodNginx(PodPlan pod)
    {
        var dir = _runner.CreateDirectory(Path.Combine("pods", pod.Role));
        Directory.CreateDirectory(Path.Combine(dir, "tmp"));
        File.WriteAllText(Path.Combine(dir, "nginx.conf"), NginxConfig.Pod(pod, dir));
        return StartNginx(Ns(pod.Role), dir);
    }

    private string StartHealthNginx(NodePlan n)
    {
        var dir = _runner.CreateDirectory(Path.Combine("nodes", n.Role));
        Directory.CreateDirectory(Path.Combine(dir, "tmp"));
        File.WriteAllText(Path.Combine(dir, "nginx.conf"), NginxConfig.Health(n, dir));
        return StartNginx(Ns(n.Role), dir);
    }

    private string StartNginx(string ns, string dir)
    {
        var pid = Path.Combine(dir, "nginx.pid");
        if (File.Exists(pid)) File.Delete(pid);
        // `daemon off`: the master stays the process `ip netns exec` became, so its PID is journaled; -e keeps
        // start-up messages out of the pipe nobody reads after `lab up` exits.
        var proc = _runner.Start(ns, ["nginx", "-c", Path.Combine(dir, "nginx.conf"), "-e", Path.Combine(dir, "error.log")]);
        proc.Process.StandardInput.Close();
        return pid;
    }

    private static void WaitForFiles(IReadOnlyList<string> files, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        foreach (var f in files)
        {
            while (!File.Exists(f))
            {
                if (DateTime.UtcNow > deadline)
                {
                    var log = Path.Combine(Path.GetDirectoryName(f)!, "error.log");
                    var why = File.Exists(log) ? File.ReadAllLines(log).LastOrDefault() ?? "" : "no log";
                    throw new LabException($"lab: {Path.GetFileName(Path.GetDirectoryName(f))} did not start within {timeout.TotalSeconds:0} s: {why}");
                }
                Thread.Sleep(10);
            }
        }
    }

    /// <summary>Runs a program in a host's namespace (`lab exec`). Shells are refused (LabRunner), as everywhere.</summary>
    public CommandResult Exec(string host, IReadOnlyList<string> argv, string? stdin = null)
    {
        var ns = NamespaceOf(host) ?? throw new LabException(UnknownHost(host));
        // `ip ...` runs as `ip -n NS ...`, whose arguments the runner checks (no namespace switch, no link moved out).
        if (argv.Count > 0 && argv[0] == "ip") return _runner.Ip(ns, [.. argv.Skip(1)]);
        return _runner.Exec(ns, argv, stdin);
    }

    public string UnknownHost(string host) =>
        $"lab: no host \"{host}\" in this lab (hosts: client, lb, vnet, {string.Join(", ", Plan.Nodes.Select(n => n.Name).Take(3))}{(Plan.Nodes.Count > 3 ? ", ..." : "")}, or a pod name)";

    public string IptablesSave(string node)
    {
        var n = Plan.FindNode(node) ?? throw new LabException($"Error from server (NotFound): nodes \"{node}\" not found");
        return _runner.Exec(Ns(n.Role), [IptablesProgram("save")]).EnsureSuccess().Stdout;
    }

    /// <summary>`conntrack -L` on a node (the summary line goes to stderr and is dropped, netns-lab.md P10).</summary>
    public string Conntrack(string node, params string[] extra)
    {
        var n = Plan.FindNode(node) ?? throw new LabException($"Error from server (NotFound): nodes \"{node}\" not found");
        return _runner.Exec(Ns(n.Role), ["conntrack", "-L", .. extra]).EnsureSuccess().Stdout;
    }

    /// <summary>What the lab has now: each namespace and whether it exists, each journaled process and whether it runs,
    /// and each frontend's healthy nodes as the probe loop last saw them.</summary>
    public LabStatus Status()
    {
        var namespaces = _runner.Journal.Namespaces.Distinct().Select(ns => (ns, LabRunner.NamespaceExists(ns))).ToList();
        var procs = _runner.Journal.Resources.OfType<ProcessResource>()
            .Select(pr => (pr, ProcessControl.IsAlive(pr.Pid, pr.StartTime))).ToList();
        var health = File.Exists(Path.Combine(StateDirectory, HealthFile)) ? File.ReadAllText(Path.Combine(StateDirectory, HealthFile)) : null;
        return new LabStatus(Id, StateDirectory, Plan, namespaces, procs, health is null ? null : LbHealth.FromJson(health));
    }

    /// <summary>Applies a changed state to the running lab as kube-proxy's resync would: every node's rules are
    /// restored whole again; pods that are gone lose their namespace (nginx ended by PID first), new pods get theirs;
    /// the health servers re-read their answers (SIGHUP); the probe loop picks up changed frontends from lab.json.</summary>
    public SyncReport Sync(ClusterState state, Func<string, string> nodeRules)
    {
        var next = LabPlan.Create(state, Plan.Iptables) with { ProbeIntervalMs = Plan.ProbeIntervalMs, EcmpSeed = Plan.EcmpSeed };
        var oldNodes = Plan.Nodes.Select(n => (n.Name, n.Ip, n.PodCidr)).ToHashSet();
        var newNodes = next.Nodes.Select(n => (n.Name, n.Ip, n.PodCidr)).ToHashSet();
        if (!oldNodes.SetEquals(newNodes))
            throw new LabException("lab sync: the state's nodes changed; nodes are not synced (run `packetlife lab down` and `packetlife lab up`)");
        var oldPods = Plan.Pods.ToDictionary(p => p.Role);
        var newPods = next.Pods.ToDictionary(p => p.Role);
        var removed = Plan.Pods.Where(p => !newPods.TryGetValue(p.Role, out var q) || !Same(p, q)).ToList();
        var added = next.Pods.Where(p => !oldPods.TryGetValue(p.Role, out var q) || !Same(p, q)).ToList();

        foreach (var pod in removed) RemoveNamespace(Ns(pod.Role));
        var oldPlan = Plan;
        Plan = next;
        if (added.Count > 0)
        {
            CreateNamespaces(added.Select(p => p.Role).ToList());
            foreach (var n in next.Nodes)
            {
                var mine = added.Where(p => p.NodeName == n.Name).ToList();
                if (mine.Count > 0) _runner.IpBatch(Ns(n.Role), PodLinkLines(mine)).EnsureSuccess();
            }
            ConfigurePods(added);
            var pids = added.Where(x => x.Ports.Count > 0).Select(StartPodNginx).ToList();
            WaitForFiles(pids, TimeSpan.FromSeconds(10));
        }
        foreach (var n in next.Nodes) LoadRules(n, nodeRules(n.Name));
        foreach (var n in next.Nodes)
        {
            var before = oldPlan.FindNode(n.Name)!;
            if (before.HealthPorts.SequenceEqual(n.HealthPorts)) continue;
            var dir = Path.Combine(StateDirectory, "nodes", n.Role);
            File.WriteAllText(Path.Combine(dir, "nginx.conf"), NginxConfig.Health(n, dir));
            foreach (var pr in _runner.Journal.Resources.OfType<ProcessResource>().Where(r => r.Namespace == Ns(n.Role)))
                ProcessControl.Signal(pr.Pid, pr.StartTime, 1); // SIGHUP: nginx re-reads its configuration
        }
        ApplyLbRules(oldPlan, next);
        Plan.Save(StateDirectory);
        return new SyncReport(added.Select(p => p.Key).ToList(), removed.Select(p => p.Key).ToList(), next.Nodes.Count,
            !oldPlan.Frontends.Select(f => f.Ip).SequenceEqual(next.Frontends.Select(f => f.Ip)));
    }

    private static bool Same(PodPlan a, PodPlan b) =>
        a.Ip == b.Ip && a.NodeName == b.NodeName && a.Ports.SequenceEqual(b.Ports);

    private void RemoveNamespace(string ns)
    {
        foreach (var pr in _runner.Journal.Resources.OfType<ProcessResource>().Where(r => r.Namespace == ns))
            ProcessControl.Stop(pr.Pid, pr.StartTime, TimeSpan.FromSeconds(2));
        if (LabRunner.NamespaceExists(ns)) _runner.DeleteNamespace(ns);
    }

    /// <summary>Removes everything the journal recorded (idempotent).</summary>
    public void Down() => _runner.Teardown();
}

public sealed record SyncReport(IReadOnlyList<string> PodsAdded, IReadOnlyList<string> PodsRemoved, int NodesResynced, bool FrontendsChanged);

public sealed record LabStatus(LabId Id, string StateDirectory, LabPlan Plan, IReadOnlyList<(string Namespace, bool Exists)> Namespaces,
    IReadOnlyList<(ProcessResource Process, bool Alive)> Processes, LbHealth? Health)
{
    public string Render()
    {
        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"lab {Id} ({StateDirectory}), iptables {Plan.Iptables}, hairpin {(Plan.Hairpin ? "on" : "off")}, cbr0 scope {Plan.Cbr0Scope}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"namespaces: {Namespaces.Count(n => n.Exists)}/{Namespaces.Count} present");
        foreach (var (ns, exists) in Namespaces.Where(n => !n.Exists)) sb.AppendLine(CultureInfo.InvariantCulture, $"  missing {ns}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"processes: {Processes.Count(p => p.Alive)}/{Processes.Count} running");
        foreach (var (p, alive) in Processes.Where(p => !p.Alive)) sb.AppendLine(CultureInfo.InvariantCulture, $"  ended {p.Pid} in {p.Namespace}: {p.Command}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"nodes: {Plan.Nodes.Count}, pods: {Plan.Pods.Count} ({Plan.Skipped.Count} not built: host network or unscheduled)");
        foreach (var f in Plan.Frontends)
        {
            var healthy = Health?.Frontends.FirstOrDefault(h => h.Ip == f.Ip);
            var nodes = healthy is null ? "(no probe result yet)" : healthy.Healthy.Count == 0 ? "none (blackholed)" : string.Join(", ", healthy.Healthy);
            sb.AppendLine(CultureInfo.InvariantCulture, $"frontend {f.Ip} ({string.Join(", ", f.Services)}): healthy {nodes}");
        }
        return sb.ToString();
    }
}
