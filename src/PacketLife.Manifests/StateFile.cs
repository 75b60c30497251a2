using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using PacketLife.Core.Azure;
using PacketLife.Core.Cluster;

namespace PacketLife.Manifests;

/// <summary>Source-generated (no reflection at start-up) JSON for the state file.</summary>
[JsonSourceGenerationOptions(WriteIndented = false, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
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

    /// <summary>Files from this size on are read on every core (<see cref="LoadParallel"/>).</summary>
    internal const int ParallelFrom = 1 << 20;

    /// <summary>The state at <paramref name="path"/>, or null when there is no file.</summary>
    public static ClusterState? Load(string path)
    {
        if (!File.Exists(path)) return null;
        byte[] bytes;
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
            bytes = ReadAll(stream);
        return Read(bytes, path);
    }

    /// <summary>The state in <paramref name="bytes"/> (the file's content); <paramref name="path"/> names it in errors.</summary>
    internal static ClusterState Read(byte[] bytes, string path, bool parallel = true)
    {
        if (bytes.AsSpan().StartsWith("\uFEFF"u8)) bytes = bytes[3..]; // a UTF-8 byte order mark (an editor's save)
        if (parallel && bytes.Length >= ParallelFrom && LoadParallel(bytes) is { } fast) return fast;
        return ReadOrdinary(bytes, path);
    }

    /// <summary>One <see cref="JsonSerializer"/> pass on the calling thread.</summary>
    internal static ClusterState ReadOrdinary(byte[] bytes, string path)
    {
        try
        {
            return JsonSerializer.Deserialize(bytes, StateJsonContext.Default.ClusterState)
                ?? throw new StateFileException($"error: {path}: the state file is empty");
        }
        catch (JsonException e)
        {
            throw new StateFileException($"error: {path}: not a PacketLife state file ({e.Message})");
        }
    }

    static byte[] ReadAll(FileStream stream)
    {
        // The length can change under a concurrent writer's rename only by replacing the file, which this open
        // handle does not see: one read of the size it had is the whole file.
        var buffer = new byte[stream.Length];
        int read = 0;
        while (read < buffer.Length && stream.Read(buffer, read, buffer.Length - read) is var n and > 0) read += n;
        return read == buffer.Length ? buffer : buffer[..read];
    }

    /// <summary>A big state file (a 500-node cluster with 25k pods is ~24 MB) read on every core: one pass of
    /// <see cref="Utf8JsonReader"/> finds where each element of the big arrays starts and ends, then the elements are
    /// deserialized in parallel with the same source-generated contracts and put back in file order. Anything this
    /// path does not expect (another top-level shape, a malformed document, a failing element) returns null and the
    /// caller reads the file the ordinary way, which gives the same result or the ordinary error.</summary>
    /// <param name="chunkBytes">About how many bytes of array elements one work item reads.</param>
    internal static ClusterState? LoadParallel(byte[] bytes, int chunkBytes = 1 << 20)
    {
        try
        {
            var ctx = StateJsonContext.Default;
            var state = new ClusterState();
            var work = new List<Action>();
            var finish = new List<Action>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            var reader = new Utf8JsonReader(bytes);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return null;
            while (reader.Read())
            {
                if (reader.TokenType == JsonTokenType.EndObject) break;
                if (reader.TokenType != JsonTokenType.PropertyName) return null;
                var name = reader.GetString()!;
                if (!seen.Add(name) || !reader.Read()) return null;
                switch (name)
                {
                    case "nodes": if (!Elements(ref reader, bytes, ctx.ListNode, chunkBytes, work, finish, l => state.Nodes = l)) return null; break;
                    case "pods": if (!Elements(ref reader, bytes, ctx.ListPod, chunkBytes, work, finish, l => state.Pods = l)) return null; break;
                    case "services": if (!Elements(ref reader, bytes, ctx.ListService, chunkBytes, work, finish, l => state.Services = l)) return null; break;
                    case "endpointSlices": if (!Elements(ref reader, bytes, ctx.ListEndpointSlice, chunkBytes, work, finish, l => state.EndpointSlices = l)) return null; break;
                    case "deployments": if (!Elements(ref reader, bytes, ctx.ListDeployment, chunkBytes, work, finish, l => state.Deployments = l)) return null; break;
                    case "replicaSets": if (!Elements(ref reader, bytes, ctx.ListReplicaSet, chunkBytes, work, finish, l => state.ReplicaSets = l)) return null; break;
                    case "profile": state.Profile = Value(ref reader, bytes, ctx.ClusterProfile); break;
                    case "controllers": state.Controllers = Value(ref reader, bytes, ctx.ControllerState); break;
                    case "azure": state.Azure = Value(ref reader, bytes, ctx.AzureState); break;
                    default: return null;
                }
            }
            if (reader.TokenType != JsonTokenType.EndObject || reader.Read()) return null;
            Parallel.Invoke(work.ToArray());
            foreach (var f in finish) f();
            return state;
        }
        catch (Exception)
        {
            // Whatever went wrong, the ordinary read runs next and reports it in its usual words.
            return null;
        }
    }

    static T Value<T>(ref Utf8JsonReader reader, byte[] bytes, JsonTypeInfo<T> type) where T : class
    {
        var start = (int)reader.TokenStartIndex;
        reader.Skip();
        return JsonSerializer.Deserialize(bytes.AsSpan(start, (int)reader.BytesConsumed - start), type)
            ?? throw new StateFileException("null");
    }

    /// <summary>Cuts the array under the reader into runs of whole elements of about <paramref name="chunkBytes"/> each and adds
    /// the work that deserializes each run (as a JSON array of its own); <paramref name="finish"/> gets the step that,
    /// once the work has run, joins the runs into one list in file order.</summary>
    static bool Elements<T>(ref Utf8JsonReader reader, byte[] bytes, JsonTypeInfo<List<T>> type, int chunkBytes, List<Action> work, List<Action> finish, Action<List<T>> set)
    {
        if (reader.TokenType != JsonTokenType.StartArray) return false;
        var runs = new List<(int Start, int End)>();
        int runStart = -1, runEnd = -1;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.StartObject) return false;
            if (runStart < 0) runStart = (int)reader.TokenStartIndex;
            reader.Skip();
            runEnd = (int)reader.BytesConsumed;
            if (runEnd - runStart >= chunkBytes) { runs.Add((runStart, runEnd)); runStart = -1; }
        }
        if (runStart >= 0) runs.Add((runStart, runEnd));
        var parts = new List<T>[runs.Count];
        for (int r = 0; r < runs.Count; r++)
        {
            var (index, (from, to)) = (r, runs[r]);
            work.Add(() =>
            {
                // The run's elements with the commas between them, wrapped in brackets.
                var array = new byte[to - from + 2];
                array[0] = (byte)'[';
                bytes.AsSpan(from, to - from).CopyTo(array.AsSpan(1));
                array[^1] = (byte)']';
                parts[index] = JsonSerializer.Deserialize(array, type) ?? throw new JsonException("null run");
            });
        }
        finish.Add(() =>
        {
            var list = new List<T>(parts.Sum(p => p.Count));
            foreach (var p in parts) list.AddRange(p);
            set(list);
        });
        return true;
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
