using System.Text;
using PacketLife.Core.Diagnostics;
using PacketLife.Lab.Agent;

namespace PacketLife.Lab.Kernel;

/// <summary>How to start a <see cref="KernelOracle"/>.</summary>
/// <param name="AgentDll">Path of packetlife.dll, whose hidden `lab agent` verb is the packet agent.</param>
/// <param name="StateRoot">Parent of the lab's state directory (default /run/packetlife/labs).</param>
/// <param name="VerboseLog">Receives every command run, when given.</param>
/// <param name="QuietMs">A case is over when no agent saw a packet for this long.</param>
public sealed record KernelOracleOptions(
    string AgentDll,
    string? StateRoot = null,
    TextWriter? VerboseLog = null,
    int QuietMs = 20,
    Random? Random = null);

/// <summary>The kernel as an oracle: a client, a router under test and a server in three lab namespaces
/// (<see cref="KernelTopology"/>), one packet agent in each. <see cref="Run"/> loads a case's ruleset into the router
/// with iptables-legacy-restore, sends its packets and returns what the kernel did as a
/// <see cref="KernelObservation"/>. Between cases only the tables, conntrack and the captures are reset (the
/// namespaces and agents stay), so a case costs a handful of short processes.</summary>
/// <remarks>Legacy iptables on purpose: nft restore is super-linear (netns-lab.md P3) and legacy TRACE positions
/// are what the engine's rule numbers mean (netfilter-conntrack.md §2.9).</remarks>
public sealed class KernelOracle : IKernelCaseRunner, IDisposable
{
    private static readonly string[] Tables = ["raw", "mangle", "nat", "filter", "security"];

    private readonly KernelOracleOptions _options;
    private readonly List<AgentClient> _agents = [];
    private AgentClient _client = null!, _router = null!, _server = null!;
    private RouterSetup _setup = RouterSetup.Default;
    private bool _setsLoaded;

    public LabRunner Runner { get; }
    public string ClientNamespace { get; private set; } = "";
    public string RouterNamespace { get; private set; } = "";
    public string ServerNamespace { get; private set; } = "";

    private KernelOracle(KernelOracleOptions options, LabRunner runner)
    {
        _options = options;
        Runner = runner;
    }

    /// <summary>Builds the topology and starts the agents. On any failure everything built so far is torn down
    /// before the exception leaves.</summary>
    /// <exception cref="LabException">Not Linux, not root, or a tool missing (one line naming the package); nothing
    /// has been created then.</exception>
    public static KernelOracle Start(KernelOracleOptions options)
    {
        if (LabPrerequisites.Problems(LabTool.ForOracle) is [var problem, ..]) throw new LabException(problem);
        var journal = LabJournal.Create(LabId.New(options.Random), options.StateRoot);
        var oracle = new KernelOracle(options, new LabRunner(journal, options.VerboseLog));
        try
        {
            oracle.Build();
            return oracle;
        }
        catch
        {
            oracle.Dispose();
            throw;
        }
    }

    private void Build()
    {
        ClientNamespace = Runner.CreateNamespace("cli");
        RouterNamespace = Runner.CreateNamespace("rtr");
        ServerNamespace = Runner.CreateNamespace("srv");
        // Sysctls first, so interfaces created afterwards inherit `default` values. IPv6 off: no DAD/RS noise.
        foreach (var ns in new[] { ClientNamespace, ServerNamespace })
            Sysctl(ns, "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1");
        Sysctl(RouterNamespace,
            "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1",
            "net.ipv4.ip_forward=1",
            // Spoofed client sources must be forwarded, not dropped by reverse-path filtering (§1.8).
            "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0",
            "net.ipv4.conf.all.send_redirects=0", "net.ipv4.conf.default.send_redirects=0",
            // REJECT's ICMP errors are rate-limited per destination (burst 6, then 1/s, §2.4): 1,000 cases to one
            // client would be throttled. 0 disables the per-destination limit in this namespace only.
            "net.ipv4.icmp_ratelimit=0");

        // Veths are created from inside a lab namespace with the peer placed straight into another (netns-lab.md §3):
        // no interface ever exists in the root namespace.
        var c = KernelTopology.ClientInterface;
        var cli = new List<string>
        {
            $"link add {c} type veth peer name {KernelTopology.RouterClientInterface} netns {RouterNamespace}",
            $"addr add {KernelTopology.ClientAddress}/24 dev {c}",
        };
        cli.AddRange(KernelTopology.ClientExtraAddresses.Select(a => $"addr add {a}/24 dev {c}"));
        cli.Add($"link set {c} up");
        cli.Add($"route add default via {KernelTopology.RouterClientSide}");
        Runner.IpBatch(ClientNamespace, cli).EnsureSuccess();
        Runner.IpBatch(RouterNamespace,
        [
            $"link add {KernelTopology.RouterServerInterface} type veth peer name {KernelTopology.ServerInterface} netns {ServerNamespace}",
            $"addr add {KernelTopology.RouterClientSide}/24 dev {KernelTopology.RouterClientInterface}",
            $"addr add {KernelTopology.RouterServerSide}/24 dev {KernelTopology.RouterServerInterface}",
            $"link set {KernelTopology.RouterClientInterface} up",
            $"link set {KernelTopology.RouterServerInterface} up",
            $"route add default via {KernelTopology.ServerAddress}",
        ]).EnsureSuccess();
        Runner.IpBatch(ServerNamespace,
        [
            $"addr add {KernelTopology.ServerAddress}/24 dev {KernelTopology.ServerInterface}",
            $"link set {KernelTopology.ServerInterface} up",
            $"route add default via {KernelTopology.RouterServerSide}",
        ]).EnsureSuccess();
        // Observers only: client and server never answer (their AF_PACKET capture runs before netfilter).
        const string silent = "*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n";
        Runner.Exec(ClientNamespace, ["iptables-legacy-restore"], silent).EnsureSuccess();
        Runner.Exec(ServerNamespace, ["iptables-legacy-restore"], silent).EnsureSuccess();

        _client = StartAgent(ClientNamespace, local: false);
        _router = StartAgent(RouterNamespace, local: true);
        _server = StartAgent(ServerNamespace, local: false);
    }

    private AgentClient StartAgent(string ns, bool local)
    {
        var a = AgentClient.Start(Runner, ns, _options.AgentDll);
        _agents.Add(a);
        a.StartCapture(local);
        return a;
    }

    private void Sysctl(string ns, params string[] settings) =>
        Runner.Exec(ns, ["sysctl", "-q", "-w", .. settings]).EnsureSuccess();

    /// <summary>Empties every table of the router (and its ipsets), then loads <paramref name="rulesetText"/> (and
    /// <paramref name="ipsetText"/> first). Returns the failing command's result, or the successful restore's.</summary>
    public CommandResult Load(string rulesetText, string? ipsetText = null)
    {
        var present = new HashSet<string>(rulesetText.Split('\n').Where(l => l.StartsWith('*')).Select(l => l[1..].Trim()));
        if (ipsetText is not null || _setsLoaded)
        {
            // Sets in use by rules cannot be destroyed: empty the tables, then replace the sets, then load.
            Runner.Exec(RouterNamespace, ["iptables-legacy-restore"], BlankTables(_ => true)).EnsureSuccess();
            Runner.Exec(RouterNamespace, ["ipset", "destroy"]).EnsureSuccess();
            _setsLoaded = false;
            if (ipsetText is not null)
            {
                var sets = Runner.Exec(RouterNamespace, ["ipset", "restore"], ipsetText);
                if (!sets.Succeeded) return sets;
                _setsLoaded = true;
            }
        }
        // One restore: blank versions of the tables the case does not mention (a restore replaces only the tables
        // it names), then the case. Replacing a table also zeroes its counters and nth state (§3.2).
        return Runner.Exec(RouterNamespace, ["iptables-legacy-restore"], BlankTables(t => !present.Contains(t)) + rulesetText);
    }

    /// <summary>Runs one case and returns what the kernel did.</summary>
    public KernelObservation Run(KernelCase @case)
    {
        foreach (var p in @case.Packets)
            if (p.Packet.Mark != 0) throw new ArgumentException("a packet's mark cannot be set from outside the router; use a MARK rule", nameof(@case));
        ApplySetup(@case.Setup);
        var load = Load(@case.RulesetText, @case.IpsetText);
        if (!load.Succeeded)
        {
            var msg = load.CommandLine.Contains("ipset", StringComparison.Ordinal)
                ? LabMessages.IpsetRejected(load.Stderr) : LabMessages.RulesetRejected(load.Stderr);
            return new KernelObservation(false, msg, [], [], [], [], [], [], [], []);
        }
        // conntrack -F prints "... flow entries have been deleted." on stderr; only the exit code matters.
        Runner.Exec(RouterNamespace, ["conntrack", "-F"]).EnsureSuccess();
        foreach (var a in _agents) a.Collect(0, 0); // forget anything seen before this case

        var sendErrors = new List<string>();
        for (int i = 0; i < @case.Packets.Length; i++)
        {
            var p = @case.Packets[i];
            if ((p.From == PacketOrigin.Router ? _router : _client).Send(p.Packet, p.Seq, p.Ack) is { } err)
                sendErrors.Add($"packet {i + 1}: {err}");
        }

        var req = new AgentRequest("collect", QuietMs: _options.QuietMs, MaxMs: 1000);
        foreach (var a in _agents) a.Post(req);
        var seen = _agents.Select(a => (a.Receive().Seen ?? []).Select(s => s.ToSeen()).ToList()).ToList();
        var clientSeen = seen[0];
        var routerSeen = seen[1];
        var serverSeen = seen[2];

        var save = Runner.Exec(RouterNamespace, ["iptables-legacy-save", "-c"]).EnsureSuccess();
        var (rules, policies) = IptablesCounters.Parse(save.Stdout);
        var ct = Runner.Exec(RouterNamespace, ["conntrack", "-L", "-f", "ipv4"]).EnsureSuccess();
        var entries = ct.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd()).Order(StringComparer.Ordinal).ToList();

        return new KernelObservation(true, null, rules, policies, entries,
            serverSeen.Where(s => s.Direction == PacketDirection.In && s.Interface == KernelTopology.ServerInterface).ToList(),
            routerSeen.Where(s => s.Direction == PacketDirection.Local).ToList(),
            clientSeen.Where(s => s.Direction == PacketDirection.In && s.Interface == KernelTopology.ClientInterface).ToList(),
            routerSeen.Where(s => s.Direction != PacketDirection.Local).ToList(),
            sendErrors);
    }

    /// <summary>The router as the kernel sees it, for a model to build the same host: `ip -j addr show` (interfaces and
    /// addresses, which `addrtype` and MASQUERADE need) and `ip -j route show table all` (main and local tables), in
    /// the router's current <see cref="RouterSetup"/>.</summary>
    public (string AddrJson, string RouteJson) RouterHost(RouterSetup? setup = null)
    {
        if (setup is not null) ApplySetup(setup);
        var addr = Runner.Ip(RouterNamespace, "-j", "addr", "show").EnsureSuccess().Stdout;
        var route = Runner.Ip(RouterNamespace, "-j", "route", "show", "table", "all").EnsureSuccess().Stdout;
        return (addr, route);
    }

    private void ApplySetup(RouterSetup want)
    {
        if (want.SameAs(_setup)) return;
        var batch = new List<string>();
        batch.AddRange(_setup.ExtraAddresses.Except(want.ExtraAddresses).Select(a => $"addr del {a.Address.Address}/{a.Address.Length} dev {a.Interface}"));
        batch.AddRange(want.ExtraAddresses.Except(_setup.ExtraAddresses).Select(a => $"addr add {a.Address.Address}/{a.Address.Length} dev {a.Interface}"));
        if (batch.Count > 0) Runner.IpBatch(RouterNamespace, batch).EnsureSuccess();
        if (want.IpForward != _setup.IpForward)
            Sysctl(RouterNamespace, $"net.ipv4.ip_forward={(want.IpForward ? 1 : 0)}");
        if (!want.Listeners.SequenceEqual(_setup.Listeners))
        {
            _router.Unlisten();
            foreach (var l in want.Listeners) _router.Listen(l.Protocol, l.Port);
        }
        _setup = want;
    }

    private static string BlankTables(Func<string, bool> which)
    {
        var w = new StringBuilder();
        foreach (var t in Tables.Where(which))
        {
            w.Append('*').Append(t).Append('\n');
            foreach (var chain in BuiltinChains(t)) w.Append(':').Append(chain).Append(" ACCEPT [0:0]\n");
            w.Append("COMMIT\n");
        }
        return w.ToString();
    }

    /// <summary>Built-in chains per table (iptables(8), TABLES).</summary>
    public static IReadOnlyList<string> BuiltinChains(string table) => table switch
    {
        "raw" => ["PREROUTING", "OUTPUT"],
        "mangle" => ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"],
        "nat" => ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"],
        "filter" => ["INPUT", "FORWARD", "OUTPUT"],
        "security" => ["INPUT", "FORWARD", "OUTPUT"],
        _ => throw new ArgumentException($"unknown table \"{table}\"", nameof(table)),
    };

    /// <summary>Stops the agents and removes everything the lab's journal records.</summary>
    public void Dispose()
    {
        foreach (var a in _agents)
        {
            try { a.Dispose(); } catch (Exception e) when (e is IOException or InvalidOperationException) { }
        }
        _agents.Clear();
        Runner.Teardown();
    }
}
