using System.CommandLine;
using System.Reflection;
using PacketLife.App.Cli;

namespace PacketLife.App;

public static class Program
{
    public static int Main(string[] args) => Run(args, Console.Out, Console.Error);

    /// <summary>Runs the CLI with the given writers (tests call this directly).</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var root = BuildRoot();
        var config = new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false };
        try
        {
            return root.Parse(args).Invoke(config);
        }
        catch (CliException e)
        {
            stderr.WriteLine(e.Message);
            return e.ExitCode;
        }
    }

    /// <summary>Every command group in this assembly registers itself: adding a verb is adding a file.</summary>
    /// <remarks>Reflection over this assembly's own types: the project file roots the whole assembly
    /// (TrimmerRootAssembly), so a trimmed or NativeAOT build keeps every group and its constructor.</remarks>
    [System.Diagnostics.CodeAnalysis.UnconditionalSuppressMessage("Trimming", "IL2026", Justification = "TrimmerRootAssembly keeps every type of this assembly")]
    [System.Diagnostics.CodeAnalysis.UnconditionalSuppressMessage("Trimming", "IL2067", Justification = "TrimmerRootAssembly keeps every constructor of this assembly")]
    public static RootCommand BuildRoot()
    {
        var root = new RootCommand("PacketLife: a digital twin of Kubernetes Service networking.");
        var groups = typeof(Program).Assembly.GetTypes()
            .Where(t => !t.IsAbstract && typeof(ICommandGroup).IsAssignableFrom(t))
            .Select(t => (ICommandGroup)Activator.CreateInstance(t)!)
            .OrderBy(g => g.Order).ThenBy(g => g.GetType().Name, StringComparer.Ordinal);
        foreach (var g in groups)
            foreach (var c in g.Commands())
                root.Subcommands.Add(c);
        return root;
    }
}
