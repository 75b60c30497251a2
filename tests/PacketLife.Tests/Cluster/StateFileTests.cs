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
