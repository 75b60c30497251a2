using PacketLife.Core.Cluster;
using PacketLife.Manifests;

namespace PacketLife.App.Cli;

/// <summary>Where the cluster state lives and how a verb reads or changes it: `--cluster PATH` &gt;
/// `PACKETLIFE_CLUSTER` &gt; `.packetlife/cluster.json` in the working directory; with no file, the
/// embedded default (the seed's AKS cluster). Changes run under the state file's lock and are saved only
/// when the verb succeeded, so a failed verb leaves the file untouched.</summary>
internal static class ClusterSession
{
    static readonly AsyncLocal<TimeProvider?> ClockOverride = new();

    /// <summary>The clock every cluster verb uses (tests substitute a manual one).</summary>
    public static TimeProvider Clock => ClockOverride.Value ?? TimeProvider.System;

    public static IDisposable UseClock(TimeProvider clock)
    {
        var previous = ClockOverride.Value;
        ClockOverride.Value = clock;
        return new Restore(() => ClockOverride.Value = previous);
    }

    sealed class Restore(Action undo) : IDisposable
    {
        public void Dispose() => undo();
    }

    public static string ResolvePath(string? flag) =>
        flag ?? (Environment.GetEnvironmentVariable("PACKETLIFE_CLUSTER") is { Length: > 0 } env ? env : Path.Combine(Environment.CurrentDirectory, StateFile.DefaultRelativePath));

    static readonly AsyncLocal<ulong?> SeedOverride = new();

    /// <summary>Removes PacketLife's own flags from kubectl/az tokens: `--cluster PATH` (state file) and
    /// `--seed S` (reseeds the controllers' random source for this invocation, so a sampled run repeats).</summary>
    public static (List<string> Tokens, string? Cluster) TakeClusterFlag(IReadOnlyList<string> tokens)
    {
        var withoutSeed = new List<string>();
        SeedOverride.Value = null;
        for (var i = 0; i < tokens.Count; i++)
        {
            var t = tokens[i];
            string? v = null;
            if (t == "--") { withoutSeed.AddRange(tokens.Skip(i)); break; }
            if (t == "--seed") v = i + 1 < tokens.Count ? tokens[++i] : throw new CliException("error: flag needs an argument: --seed");
            else if (t.StartsWith("--seed=", StringComparison.Ordinal)) v = t["--seed=".Length..];
            else { withoutSeed.Add(t); continue; }
            SeedOverride.Value = ulong.TryParse(v, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var seed) ? seed
                : throw new CliException($"error: invalid argument \"{v}\" for \"--seed\" flag: strconv.ParseUint: parsing \"{v}\": invalid syntax");
        }
        tokens = withoutSeed;
        var rest = new List<string>();
        string? cluster = null;
        for (var i = 0; i < tokens.Count; i++)
        {
            var t = tokens[i];
            if (t == "--") { rest.AddRange(tokens.Skip(i)); break; }
            if (t == "--cluster")
            {
                if (i + 1 >= tokens.Count) throw new CliException("error: flag needs an argument: --cluster");
                cluster = tokens[++i];
            }
            else if (t.StartsWith("--cluster=", StringComparison.Ordinal)) cluster = t["--cluster=".Length..];
            else rest.Add(t);
        }
        return (rest, cluster);
    }

    public static ClusterState Read(string? clusterFlag)
    {
        try
        {
            return StateFile.Load(ResolvePath(clusterFlag)) ?? ClusterState.EmbeddedDefault(Clock);
        }
        catch (StateFileException e)
        {
            throw new CliException(e.Message);
        }
    }

    /// <summary>Runs <paramref name="change"/> on the current state under the lock; saves when it succeeds.
    /// A <see cref="CliException"/> from the change aborts without saving.</summary>
    public static T Change<T>(string? clusterFlag, Func<ClusterApi, T> change)
    {
        try
        {
            return StateFile.Update(ResolvePath(clusterFlag), () => ClusterState.EmbeddedDefault(Clock), state =>
            {
                if (SeedOverride.Value is { } seed) state.Controllers.RandomState = seed;
                var api = new ClusterApi(state, Clock);
                var result = change(api);
                return (true, result);
            });
        }
        catch (StateFileException e)
        {
            throw new CliException(e.Message);
        }
    }

    /// <summary>Turns a failed API call into the verb's one-line error.</summary>
    public static void Check(ApiResult r)
    {
        if (!r.Ok) throw new CliException(r.Error!);
    }
}
