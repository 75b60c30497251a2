using System.Diagnostics;
using System.Globalization;
using PacketLife.Lab;
using PacketLife.Lab.Generation;
using PacketLife.Lab.Kernel;

namespace PacketLife.Bench;

/// <summary>`lab-oracle [CASES] [FIRST-SEED]`: starts the kernel oracle (three namespaces, three agents) and runs
/// generated cases through it; prints the start-up time and cases per second. Root and Linux only.</summary>
public sealed class LabOracleBench : IBench
{
    public string Name => "lab-oracle";

    public int Run(string[] args)
    {
        int cases = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 1000;
        int first = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 0;
        var problems = LabPrerequisites.Problems(LabTool.ForOracle);
        if (problems.Count > 0)
        {
            Console.Error.WriteLine(problems[0]);
            return 2;
        }
        var sw = Stopwatch.StartNew();
        using var oracle = KernelOracle.Start(new KernelOracleOptions(typeof(PacketLife.App.Program).Assembly.Location));
        var startup = sw.Elapsed;
        var gen = new RulesetGenerator();
        int loaded = 0, visible = 0, withConntrack = 0;
        sw.Restart();
        for (int i = 0; i < cases; i++)
        {
            var o = oracle.Run(gen.Generate(first + i).ToKernelCase());
            if (o.Loaded) loaded++;
            if (o.AtServer.Count + o.DeliveredLocally.Count + o.BackAtClient.Count > 0) visible++;
            if (o.Conntrack.Count > 0) withConntrack++;
        }
        var run = sw.Elapsed;
        Console.WriteLine("| benchmark | cases | oracle start-up | run time | cases/s | ms/case | loaded | visible outcome | conntrack entries |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| lab-oracle | {cases} | {startup.TotalSeconds:0.00} s | {run.TotalSeconds:0.0} s | {cases / run.TotalSeconds:0.0} | {run.TotalMilliseconds / cases:0.0} | {loaded} | {visible} | {withConntrack} |"));
        return loaded == cases ? 0 : 1;
    }
}
