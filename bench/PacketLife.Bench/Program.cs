namespace PacketLife.Bench;

/// <summary>Benchmarks: `dotnet run -c Release --project bench/PacketLife.Bench -- NAME [args]`.
/// Each benchmark is a class implementing <see cref="IBench"/>; results go to stdout as a table row
/// that the README's performance table quotes with this command.</summary>
public static class Program
{
    public static int Main(string[] args)
    {
        var benches = typeof(Program).Assembly.GetTypes()
            .Where(t => !t.IsAbstract && typeof(IBench).IsAssignableFrom(t))
            .Select(t => (IBench)Activator.CreateInstance(t)!)
            .ToDictionary(b => b.Name, StringComparer.Ordinal);
        if (args.Length == 0 || !benches.TryGetValue(args[0], out var bench))
        {
            Console.Error.WriteLine("usage: bench NAME [args]; NAME is one of: " + string.Join(", ", benches.Keys.Order()));
            return 2;
        }
        return bench.Run(args[1..]);
    }
}

public interface IBench
{
    string Name { get; }
    int Run(string[] args);
}
