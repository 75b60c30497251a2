using System.Diagnostics;
using System.Globalization;
using PacketLife.Lab;
using PacketLife.Lab.Generation;
using PacketLife.Lab.Kernel;

namespace PacketLife.Bench;

/// <summary>`lab-generator-load [RULESETS] [FIRST-SEED]`: generates rulesets and loads each into the oracle's router
/// with iptables-legacy-restore; prints generation and load rates and how many the kernel refused (the goal is 0).</summary>
public sealed class LabGeneratorLoadBench : IBench
{
    public string Name => "lab-generator-load";

    public int Run(string[] args)
    {
        int count = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 2000;
        int first = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 0;
        if (LabPrerequisites.Problems(LabTool.ForOracle) is [var problem, ..])
        {
            Console.Error.WriteLine(problem);
            return 2;
        }
        var gen = new RulesetGenerator();
        var sw = Stopwatch.StartNew();
        var cases = Enumerable.Range(first, count).Select(gen.Generate).ToList();
        var genTime = sw.Elapsed;
        using var oracle = KernelOracle.Start(new KernelOracleOptions(typeof(PacketLife.App.Program).Assembly.Location));
        int refused = 0;
        sw.Restart();
        foreach (var c in cases)
        {
            var r = oracle.Load(c.RulesetText);
            if (r.Succeeded) continue;
            refused++;
            Console.Error.WriteLine($"seed {c.Seed}: {r.Stderr.Trim()}");
        }
        var loadTime = sw.Elapsed;
        Console.WriteLine("| benchmark | rulesets | generated/s | loaded/s | ms/load | refused |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- |");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| lab-generator-load | {count} | {count / genTime.TotalSeconds:0} | {count / loadTime.TotalSeconds:0.0} | {loadTime.TotalMilliseconds / count:0.0} | {refused} |"));
        return refused == 0 ? 0 : 1;
    }
}
