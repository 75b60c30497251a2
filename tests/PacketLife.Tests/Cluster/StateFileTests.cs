using PacketLife.Core.Cluster;
using PacketLife.Manifests;

namespace PacketLife.Tests.Cluster;

public class StateFileTests
{
    static string TempPath() => Path.Combine(Path.GetTempPath(), "plt-state-" + Guid.NewGuid().ToString("N"), "cluster.json");

    [Fact]
    public void Embedded_default_round_trips_through_the_state_file()
    {
        var path = TempPath();
        var clock = new ManualClock(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero));
        var s = ClusterState.EmbeddedDefault(clock);
        StateFile.Save(path, s);
        var back = StateFile.Load(path)!;
        Assert.Equal(s.Nodes, back.Nodes, new JsonEq<Node>());
        Assert.Equal(s.Services.Count, back.Services.Count);
        Assert.Equal(s.Services.Select(x => (x.Metadata.Name, x.Spec.ClusterIP, x.Spec.Ports[0].TargetPort)), back.Services.Select(x => (x.Metadata.Name, x.Spec.ClusterIP, x.Spec.Ports[0].TargetPort)));
        Assert.Equal(s.Pods.Select(p => (p.Metadata.Name, p.Status.PodIP, p.Spec.NodeName)), back.Pods.Select(p => (p.Metadata.Name, p.Status.PodIP, p.Spec.NodeName)));
        Assert.Equal(s.Controllers.RandomState, back.Controllers.RandomState);
        Assert.Equal(s.Azure.LoadBalancer.FrontendIpConfigurations, back.Azure.LoadBalancer.FrontendIpConfigurations);
        Assert.False(File.Exists(path + ".tmp"));
    }

    [Fact]
    public void Missing_file_loads_as_null()
    {
        Assert.Null(StateFile.Load(TempPath()));
    }

    [Fact]
    public void Concurrent_updates_are_never_lost()
    {
        var path = TempPath();
        var clock = new ManualClock(DateTimeOffset.UnixEpoch);
        StateFile.Save(path, new ClusterState());
        // 4 writers x 10 increments of a counter kept in the state: a lost update would show as < 40.
        Parallel.For(0, 4, _ =>
        {
            for (var i = 0; i < 10; i++)
                StateFile.Update(path, () => new ClusterState(), st => { st.Controllers.NextVmssInstance++; return (true, 0); });
        });
        Assert.Equal(40, StateFile.Load(path)!.Controllers.NextVmssInstance);
    }

    sealed class JsonEq<T> : IEqualityComparer<T>
    {
        public bool Equals(T? a, T? b) => System.Text.Json.JsonSerializer.Serialize(a) == System.Text.Json.JsonSerializer.Serialize(b);
        public int GetHashCode(T obj) => 0;
    }
}

/// <summary>A clock the test moves by hand.</summary>
public sealed class ManualClock(DateTimeOffset now) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = now;
    public override DateTimeOffset GetUtcNow() => Now;
    public void Advance(TimeSpan d) => Now += d;
}

/// <summary>The parallel read of big state files (<see cref="StateFile.LoadParallel"/>) against the ordinary one.</summary>
public class StateFileParallelReadTests
{
    static byte[] Bytes(ClusterState s)
    {
        var path = Path.Combine(Path.GetTempPath(), "plt-state-" + Guid.NewGuid().ToString("N"), "cluster.json");
        try
        {
            StateFile.Save(path, s);
            return File.ReadAllBytes(path);
        }
        finally { Directory.Delete(Path.GetDirectoryName(path)!, true); }
    }

    /// <summary>The seed's cluster with a scaled deployment: every kind of object the state file holds.</summary>
    static ClusterState Populated()
    {
        var clock = new ManualClock(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero));
        var s = ClusterState.EmbeddedDefault(clock);
        var api = new ClusterApi(s, clock);
        Assert.True(api.CreateDeployment(new Deployment
        {
            Metadata = new ObjectMeta { Name = "web" }, Replicas = 40, Selector = new Dictionary<string, string> { ["app"] = "web" },
            Template = new PodTemplate { Labels = new Dictionary<string, string> { ["app"] = "web" }, Spec = new PodSpec { Containers = [new Container { Name = "web", Image = "nginx" }] } },
        }).Ok);
        Assert.True(api.CreateService(new Service
        {
            Metadata = new ObjectMeta { Name = "web" },
            Spec = new ServiceSpec { Type = ServiceType.LoadBalancer, Selector = new Dictionary<string, string> { ["app"] = "web" }, Ports = [new ServicePort { Port = 80 }] },
        }).Ok);
        return s;
    }

    static string Canonical(ClusterState s) => System.Text.Encoding.UTF8.GetString(Bytes(s));

    [Theory]
    [InlineData(1)]       // every element its own work item
    [InlineData(700)]     // a few elements per item
    [InlineData(1 << 20)] // one item per array
    public void Parallel_read_gives_what_the_ordinary_read_gives(int chunkBytes)
    {
        var bytes = Bytes(Populated());
        var fast = StateFile.LoadParallel(bytes, chunkBytes);
        Assert.NotNull(fast);
        Assert.Equal(Canonical(StateFile.ReadOrdinary(bytes, "x")), Canonical(fast));
        Assert.True(fast.Pods.Count >= 40);
    }

    [Fact]
    public void Indented_files_written_before_the_compact_format_read_the_same()
    {
        var bytes = Bytes(Populated());
        var indented = System.Text.Encoding.UTF8.GetBytes(System.Text.Json.Nodes.JsonNode.Parse(bytes)!.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
        Assert.NotEqual(bytes.Length, indented.Length);
        Assert.Equal(Canonical(StateFile.ReadOrdinary(bytes, "x")), Canonical(StateFile.LoadParallel(indented, 300)!));
    }

    [Theory]
    [InlineData("""{"nodes":[],"somethingNew":1}""")] // a property this reader does not know
    [InlineData("""{"nodes":[],"nodes":[]}""")]       // a property twice
    [InlineData("""{"pods":null}""")]                 // not an array
    [InlineData("""{"pods":[1]}""")]                  // an element that is not an object
    [InlineData("""{"pods":[{"metadata":{"name":"a"}}""")] // cut short
    [InlineData("""[]""")]
    [InlineData("")]
    public void Unexpected_shapes_fall_back_to_the_ordinary_read(string json)
    {
        Assert.Null(StateFile.LoadParallel(System.Text.Encoding.UTF8.GetBytes(json), 1));
    }

    [Fact]
    public void Malformed_big_files_fail_with_the_ordinary_message()
    {
        var bytes = Bytes(Populated());
        var cut = bytes[..(bytes.Length / 2)];
        var ordinary = Assert.Throws<StateFileException>(() => StateFile.ReadOrdinary(cut, "c.json"));
        var viaParallel = Assert.Throws<StateFileException>(() => StateFile.Read(cut, "c.json", parallel: true));
        Assert.Equal(ordinary.Message, viaParallel.Message);
        Assert.StartsWith("error: c.json: not a PacketLife state file (", ordinary.Message);
    }

    [Fact]
    public void A_byte_order_mark_is_skipped()
    {
        var bytes = Bytes(Populated());
        var withBom = new byte[] { 0xEF, 0xBB, 0xBF }.Concat(bytes).ToArray();
        Assert.Equal(Canonical(StateFile.ReadOrdinary(bytes, "x")), Canonical(StateFile.Read(withBom, "x")));
    }

    [Fact]
    public void Saved_files_are_compact()
    {
        var text = System.Text.Encoding.UTF8.GetString(Bytes(Populated()));
        Assert.DoesNotContain('\n', text.TrimEnd('\n'));
    }
}
