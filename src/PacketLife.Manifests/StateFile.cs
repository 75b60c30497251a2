using System.Text.Json;
using System.Text.Json.Serialization;
using PacketLife.Core.Azure;
using PacketLife.Core.Cluster;

namespace PacketLife.Manifests;

/// <summary>Source-generated (no reflection at start-up) JSON for the state file.</summary>
[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    UseStringEnumConverter = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ClusterState))]
internal sealed partial class StateJsonContext : JsonSerializerContext;

/// <summary>The cluster state file (`--cluster PATH`, `PACKETLIFE_CLUSTER`, `.packetlife/cluster.json`).
/// Writes are atomic (temp file in the same directory + rename, so a reader sees the old or the new file,
/// never half of one) and read-modify-write runs under an exclusive lock file, so two invocations at once
/// never lose an update.</summary>
public static class StateFile
{
    public const string DefaultRelativePath = ".packetlife/cluster.json";

    /// <summary>The state at <paramref name="path"/>, or null when there is no file.</summary>
    public static ClusterState? Load(string path)
    {
        if (!File.Exists(path)) return null;
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        try
        {
            return JsonSerializer.Deserialize(stream, StateJsonContext.Default.ClusterState)
                ?? throw new StateFileException($"error: {path}: the state file is empty");
        }
        catch (JsonException e)
        {
            throw new StateFileException($"error: {path}: not a PacketLife state file ({e.Message})");
        }
    }

    public static void Save(string path, ClusterState state)
    {
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var tmp = $"{full}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        try
        {
            using (var stream = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                JsonSerializer.Serialize(stream, state, StateJsonContext.Default.ClusterState);
                stream.Flush(flushToDisk: true);
            }
            File.Move(tmp, full, overwrite: true); // rename(2): atomic within a file system
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }

    /// <summary>Read-modify-write under `PATH.lock`: loads the state (or <paramref name="fallback"/> when
    /// there is no file), runs <paramref name="change"/>, and saves only when it returns true.</summary>
    public static T Update<T>(string path, Func<ClusterState> fallback, Func<ClusterState, (bool Save, T Result)> change, TimeSpan? timeout = null)
    {
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        using var lockFile = AcquireLock(full + ".lock", timeout ?? TimeSpan.FromSeconds(30));
        var state = Load(full) ?? fallback();
        var (save, result) = change(state);
        if (save) Save(full, state);
        return result;
    }

    static FileStream AcquireLock(string lockPath, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        var delay = 5;
        while (true)
        {
            try
            {
                // FileShare.None + the OS's advisory lock (.NET takes flock(LOCK_EX) on Unix for FileShare.None).
                return new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.None);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                Thread.Sleep(delay);
                delay = Math.Min(delay * 2, 100);
            }
            catch (IOException)
            {
                throw new StateFileException($"error: timed out waiting for the lock on {lockPath}");
            }
        }
    }
}

/// <summary>A state file that cannot be read or locked: an expected failure with a one-line message.</summary>
public sealed class StateFileException(string message) : Exception(message);
