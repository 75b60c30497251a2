using System.CommandLine;
using PacketLife.Core.Diagnostics;
using PacketLife.Lab;
using PacketLife.Lab.Agent;

namespace PacketLife.App.Cli;

/// <summary>`packetlife lab ...`: the lab's verbs. `check` says what is missing; `down --state DIR` tears down a lab
/// from its journal (also after a crash); hidden verbs: `agent` (the packet agent inside a namespace) and `scratch`
/// (builds namespaces and processes slowly, for the crash/teardown tests).</summary>
public sealed class LabCommands : ICommandGroup
{
    public int Order => 60;

    public IEnumerable<Command> Commands()
    {
        var lab = new Command("lab", "Real Linux network namespaces: build, observe and tear down (root only).");
        lab.Subcommands.Add(Check());
        lab.Subcommands.Add(Down());
        lab.Subcommands.Add(Agent());
        lab.Subcommands.Add(Scratch());
        lab.Subcommands.Add(Generate());
        foreach (var c in LabClusterCommands.Commands()) lab.Subcommands.Add(c);
        yield return lab;
    }

    private static Command Check()
    {
        var c = new Command("check", "Say what the lab needs that this machine lacks (exit 2 if anything).");
        c.SetAction(r =>
        {
            var problems = LabPrerequisites.Problems([.. LabTool.ForOracle, LabTool.Ipset, LabTool.Nginx]);
            if (problems.Count > 0) throw new CliException(problems[0], 2);
            r.InvocationConfiguration.Output.WriteLine("lab: ready");
            return 0;
        });
        return c;
    }

    private static Command Down()
    {
        var state = new Option<string>("--state") { Description = "The lab's state directory (holds its journal)." };
        var orphans = new Option<bool>("--orphans") { Description = "Remove every lab under --state-root whose creating process is gone." };
        var stateRoot = new Option<string>("--state-root") { Description = "Parent of state directories (for --orphans).", DefaultValueFactory = _ => LabJournal.DefaultRoot };
        var verbose = new Option<bool>("--verbose") { Description = "Log every command run." };
        var c = new Command("down", "Remove exactly what a lab recorded creating (idempotent; works after a crash).") { state, orphans, stateRoot, verbose };
        c.SetAction(r =>
        {
            var problems = LabPrerequisites.Problems([LabTool.Ip]);
            if (problems.Count > 0) throw new CliException(problems[0], 2);
            var log = r.GetValue(verbose) ? r.InvocationConfiguration.Error : null;
            var output = r.InvocationConfiguration.Output;
            try
            {
                if (r.GetValue(orphans))
                {
                    var found = LabJournal.FindOrphans(r.GetValue(stateRoot)!);
                    foreach (var j in found) LabRunner.Teardown(j, log);
                    output.WriteLine($"lab: removed {found.Count} orphaned lab(s)");
                    return 0;
                }
                var dir = r.GetValue(state) ?? (Environment.GetEnvironmentVariable(LabClusterCommands.LabEnv) is { Length: > 0 } env ? env : null);
                if (dir is null)
                {
                    // No lab named: every cluster lab `lab up` finished under the root, and every half-built one whose
                    // builder is gone (a SIGKILL during `lab up`). Labs whose builder still runs are left alone.
                    var labs = LabClusterCommands.FinishedLabs(r.GetValue(stateRoot)!).Select(LabJournal.Load)
                        .Concat(LabJournal.FindOrphans(r.GetValue(stateRoot)!)).ToList();
                    foreach (var j in labs) LabRunner.Teardown(j, log);
                    output.WriteLine(labs.Count == 0 ? "lab: nothing to remove" : $"lab: removed {labs.Count} lab(s)");
                    return 0;
                }
                if (!Directory.Exists(dir)) { output.WriteLine("lab: nothing to remove"); return 0; }
                LabRunner.Teardown(LabJournal.Load(dir), log);
            }
            catch (LabException e) { throw new CliException(e.Message, 2); }
            output.WriteLine("lab: removed");
            return 0;
        });
        return c;
    }

    private static Command Agent()
    {
        var c = new Command("agent", "Packet agent (runs inside a lab namespace; JSON lines on stdin/stdout).") { Hidden = true };
        c.SetAction(_ =>
        {
            using var agent = new PacketAgent();
            return agent.Run(Console.In, Console.Out);
        });
        return c;
    }

    private static Command Generate()
    {
        var seed = new Option<int>("--seed") { Description = "Seed of the case to print.", Required = true };
        var c = new Command("generate", "Print the random differential case of a seed (packets, then the ruleset).") { seed };
        c.SetAction(r =>
        {
            var gen = new PacketLife.Lab.Generation.RulesetGenerator().Generate(r.GetValue(seed));
            var o = r.InvocationConfiguration.Output;
            foreach (var p in gen.Packets)
                o.WriteLine($"# packet from {p.From.ToString().ToLowerInvariant()}: {p.Packet} flags={TcpFlagText.Format(p.Packet.Flags)} ttl={p.Packet.Ttl} length={p.Packet.Length}");
            o.Write(gen.RulesetText);
            return 0;
        });
        return c;
    }

    private static Command Scratch()
    {
        var state = new Option<string>("--state-root") { Description = "Parent of the state directory.", Required = true };
        var count = new Option<int>("--namespaces") { Description = "How many namespaces to create.", DefaultValueFactory = _ => 3 };
        var pause = new Option<int>("--pause-ms") { Description = "Pause after each creation.", DefaultValueFactory = _ => 200 };
        var c = new Command("scratch", "Builds namespaces with a process in each, slowly, then waits (crash tests).") { state, count, pause };
        c.Hidden = true;
        c.SetAction(r =>
        {
            var problems = LabPrerequisites.Problems([LabTool.Ip]);
            if (problems.Count > 0) throw new CliException(problems[0], 2);
            var journal = LabJournal.Create(LabId.New(), r.GetValue(state));
            var runner = new LabRunner(journal);
            r.InvocationConfiguration.Output.WriteLine(journal.Directory);
            r.InvocationConfiguration.Output.Flush();
            for (int i = 0; i < r.GetValue(count); i++)
            {
                var ns = runner.CreateNamespace($"s{i}");
                runner.Start(ns, ["sleep", "600"]);
                Thread.Sleep(r.GetValue(pause));
            }
            Thread.Sleep(Timeout.Infinite);
            return 0;
        });
        return c;
    }
}
