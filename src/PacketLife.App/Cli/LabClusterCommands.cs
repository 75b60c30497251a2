using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using PacketLife.Core.Cluster;
using PacketLife.Core.KubeProxy;
using PacketLife.Lab;
using PacketLife.Lab.Cluster;

namespace PacketLife.App.Cli;

/// <summary>`packetlife lab up|exec|iptables-save|conntrack|status|sync|down` and the hidden `lab prober`: the twin's
/// cluster in real network namespaces (issue 6, docs/lab.md). A lab is found by `--state DIR`, else
/// `$PACKETLIFE_LAB`, else the only finished lab under the state root.</summary>
public static class LabClusterCommands
{
    public const string LabEnv = "PACKETLIFE_LAB";

    public static readonly LabTool[] UpTools = [LabTool.Ip, LabTool.IptablesLegacyRestore, LabTool.IptablesLegacySave, LabTool.Conntrack, LabTool.Sysctl, LabTool.Nginx, LabTool.Dotnet];

    static Option<string?> StateOption() => new("--state") { Description = "The lab's state directory (default: $PACKETLIFE_LAB, else the only lab under --state-root)" };
    static Option<string> StateRootOption() => new("--state-root") { Description = "Parent of lab state directories", DefaultValueFactory = _ => LabJournal.DefaultRoot };
    static Option<bool> VerboseOption() => new("--verbose") { Description = "Log every command run (stderr)" };

    /// <summary>A node's whole `iptables-save` as the twin prints it (`packetlife iptables-save --node NODE`).</summary>
    public static Func<string, string> NodeRules(ClusterState state) => name =>
        NodeIptablesView.AfterSync(IptablesSaveCommands.SyncNode(state, state.FindNode(name)!)).Save(null);

    /// <summary>`dotnet packetlife.dll lab prober --state` from the apphost and from a test host alike; a NativeAOT build
    /// has no dll (its assembly location is empty) and runs itself.</summary>
    [System.Diagnostics.CodeAnalysis.UnconditionalSuppressMessage("SingleFile", "IL3000", Justification = "an empty location is the NativeAOT case, handled")]
    public static IReadOnlyList<string> ProberArgv() => typeof(Program).Assembly.Location is { Length: > 0 } dll
        ? ["dotnet", dll, "lab", "prober", "--state"]
        : [Environment.ProcessPath!, "lab", "prober", "--state"];

    static void Require(IEnumerable<LabTool> tools)
    {
        var problems = LabPrerequisites.Problems(tools);
        if (problems.Count > 0) throw new CliException(problems[0], 2);
    }

    /// <summary>Finished labs (with lab.json) under a state root.</summary>
    public static IReadOnlyList<string> FinishedLabs(string root) =>
        !Directory.Exists(root) ? [] : Directory.GetDirectories(root)
            .Where(d => LabId.TryParse(Path.GetFileName(d), out _) && File.Exists(Path.Combine(d, LabPlan.FileName)) && File.Exists(Path.Combine(d, LabJournal.FileName)))
            .OrderBy(d => d, StringComparer.Ordinal).ToList();

    static string Resolve(string? state, string root)
    {
        if (state is not null) return state;
        if (Environment.GetEnvironmentVariable(LabEnv) is { Length: > 0 } env) return env;
        return FinishedLabs(root) switch
        {
            [] => throw new CliException("lab: no lab is up (run `packetlife lab up`)", 2),
            [var one] => one,
            var many => throw new CliException($"lab: {many.Count} labs are up under {root}; choose one with --state DIR", 2),
        };
    }

    static ClusterLab OpenLab(ParseResult r, Option<string?> state, Option<string> root, Option<bool> verbose)
    {
        Require([LabTool.Ip]);
        try
        {
            return ClusterLab.Open(Resolve(r.GetValue(state), r.GetValue(root)!), r.GetValue(verbose) ? r.InvocationConfiguration.Error : null);
        }
        catch (LabException e) { throw new CliException(e.Message, 2); }
    }

    public static IEnumerable<Command> Commands()
    {
        yield return Up();
        yield return Exec();
        yield return IptablesSave();
        yield return Conntrack();
        yield return Status();
        yield return Sync();
        yield return Prober();
    }

    static Command Up()
    {
        var cluster = new Option<string?>("--cluster") { Description = "Cluster state file (default: $PACKETLIFE_CLUSTER or .packetlife/cluster.json; none: the seed's cluster)" };
        var iptables = new Option<string>("--iptables") { Description = "Which iptables loads the node rules (nft restore is super-linear in chains)", DefaultValueFactory = _ => "legacy" };
        iptables.AcceptOnlyFromAmong("legacy", "nft");
        var probeMs = new Option<int?>("--probe-interval-ms") { Description = "Probe every N ms instead of each probe's ARM interval", Hidden = true };
        var noProber = new Option<bool>("--no-probes") { Description = "Route each frontend to its whole backend pool; no probe loop" };
        var root = StateRootOption();
        var verbose = VerboseOption();
        var c = new Command("up", "Build the cluster state in real network namespaces (root only).") { cluster, iptables, probeMs, noProber, root, verbose };
        c.SetAction(r =>
        {
            var variant = r.GetValue(iptables)!;
            Require(variant == "nft"
                ? [LabTool.Ip, new LabTool("iptables-nft-restore", "iptables"), new LabTool("iptables-nft-save", "iptables"), LabTool.Conntrack, LabTool.Sysctl, LabTool.Nginx, LabTool.Dotnet]
                : UpTools);
            var state = ClusterSession.Read(r.GetValue(cluster));
            var err = r.InvocationConfiguration.Error;
            var sw = Stopwatch.StartNew();
            ClusterLab lab;
            try
            {
                lab = ClusterLab.Up(state, NodeRules(state),
                    new ClusterLabOptions(variant, r.GetValue(root), r.GetValue(noProber) ? null : ProberArgv(), r.GetValue(probeMs)),
                    err, r.GetValue(verbose) ? err : null);
            }
            catch (LabException e) { throw new CliException(e.Message, 2); }
            var o = r.InvocationConfiguration.Output;
            o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"lab {lab.Id} up in {sw.Elapsed.TotalSeconds:0.00} s: {lab.Plan.Nodes.Count} nodes, {lab.Plan.Pods.Count} pods, {lab.Plan.Frontends.Count} frontends"));
            o.WriteLine($"state: {lab.StateDirectory}");
            o.WriteLine($"client: {LabPlan.ClientIp} (packetlife lab exec client -- curl -s http://FRONTEND/pod)");
            foreach (var f in lab.Plan.Frontends) o.WriteLine($"frontend: {f.Ip} -> {string.Join(", ", f.Nodes)} ({string.Join(", ", f.Services)})");
            return 0;
        });
        return c;
    }

    static Command Exec()
    {
        var host = new Argument<string>("HOST") { Description = "client, lb, vnet, a node name, or a pod (name or namespace/name)" };
        var argv = new Argument<string[]>("COMMAND") { Description = "The program and its arguments (after --); not a shell", Arity = ArgumentArity.OneOrMore };
        var state = StateOption();
        var root = StateRootOption();
        var verbose = VerboseOption();
        var c = new Command("exec", "Run a program in a host of the lab: lab exec HOST -- CMD...") { host, argv, state, root, verbose };
        c.SetAction(r =>
        {
            var lab = OpenLab(r, state, root, verbose);
            CommandResult result;
            try { result = lab.Exec(r.GetValue(host)!, r.GetValue(argv)!); }
            catch (LabSafetyException e) { throw new CliException("lab exec: " + e.Message, 2); }
            catch (LabException e) { throw new CliException(e.Message, 2); }
            r.InvocationConfiguration.Output.Write(result.Stdout);
            r.InvocationConfiguration.Error.Write(result.Stderr);
            return result.ExitCode;
        });
        return c;
    }

    static Command IptablesSave()
    {
        var node = new Argument<string>("NODE") { Description = "A node name" };
        var state = StateOption();
        var root = StateRootOption();
        var verbose = VerboseOption();
        var c = new Command("iptables-save", "Print a lab node's rules as the kernel holds them") { node, state, root, verbose };
        c.SetAction(r =>
        {
            var lab = OpenLab(r, state, root, verbose);
            try { r.InvocationConfiguration.Output.Write(lab.IptablesSave(r.GetValue(node)!)); }
            catch (LabException e) { throw new CliException(e.Message, 1); }
            return 0;
        });
        return c;
    }

    static Command Conntrack()
    {
        var node = new Argument<string>("NODE") { Description = "A node name" };
        var state = StateOption();
        var root = StateRootOption();
        var verbose = VerboseOption();
        var c = new Command("conntrack", "Print a lab node's conntrack table (conntrack -L)") { node, state, root, verbose };
        c.SetAction(r =>
        {
            var lab = OpenLab(r, state, root, verbose);
            try { r.InvocationConfiguration.Output.Write(lab.Conntrack(r.GetValue(node)!)); }
            catch (LabException e) { throw new CliException(e.Message, 1); }
            return 0;
        });
        return c;
    }

    static Command Status()
    {
        var state = StateOption();
        var root = StateRootOption();
        var verbose = VerboseOption();
        var c = new Command("status", "What the lab has: namespaces, processes, healthy nodes per frontend") { state, root, verbose };
        c.SetAction(r =>
        {
            var lab = OpenLab(r, state, root, verbose);
            var s = lab.Status();
            r.InvocationConfiguration.Output.Write(s.Render());
            return s.Namespaces.All(n => n.Exists) && s.Processes.All(p => p.Alive) ? 0 : 1;
        });
        return c;
    }

    static Command Sync()
    {
        var cluster = new Option<string?>("--cluster") { Description = "Cluster state file (as for lab up)" };
        var state = StateOption();
        var root = StateRootOption();
        var verbose = VerboseOption();
        var c = new Command("sync", "Apply the state's changes (scale, deleted Service, ...) to the running lab, as kube-proxy's resync would") { cluster, state, root, verbose };
        c.SetAction(r =>
        {
            var lab = OpenLab(r, state, root, verbose);
            var cs = ClusterSession.Read(r.GetValue(cluster));
            SyncReport rep;
            try { rep = lab.Sync(cs, NodeRules(cs)); }
            catch (LabException e) { throw new CliException(e.Message, 2); }
            r.InvocationConfiguration.Output.WriteLine($"lab: synced {rep.NodesResynced} nodes; pods added {rep.PodsAdded.Count}, removed {rep.PodsRemoved.Count}{(rep.FrontendsChanged ? "; frontends changed" : "")}");
            return 0;
        });
        return c;
    }

    static Command Prober()
    {
        var state = new Option<string>("--state") { Required = true };
        var c = new Command("prober", "The Azure LB probe loop (runs inside the lab's fabric namespace)") { state };
        c.Hidden = true;
        c.SetAction(r =>
        {
            var dir = r.GetValue(state)!;
            var journal = LabJournal.Load(dir);
            var lbNs = journal.Id.Namespace(LabPlan.Load(dir).LbRole);
            using var stop = new CancellationTokenSource();
            AppDomain.CurrentDomain.ProcessExit += (_, _) => stop.Cancel();
            new LbProber(new LabRunner(journal), lbNs, TimeProvider.System).Run(dir, stop.Token);
            return 0;
        });
        return c;
    }
}
