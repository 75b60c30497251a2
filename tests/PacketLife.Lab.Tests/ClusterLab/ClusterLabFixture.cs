using PacketLife.App.Cli;
using PacketLife.Lab.Cluster;

namespace PacketLife.Lab.Tests.Clusters;

/// <summary>The seed's deployment cluster, built once in real namespaces for the "cluster-lab" collection, with the
/// probe loop running every 300 ms (so a node can be seen leaving and rejoining within a test).</summary>
public sealed class ClusterLabFixture : IDisposable
{
    public static string Root { get; } = Path.Combine(LabEnvironment.StateRoot, "cluster");

    readonly Lazy<PacketLife.Lab.Cluster.ClusterLab> _lab;

    public ClusterLabFixture()
    {
        Dir = Path.Combine(Path.GetTempPath(), "plt-cluster-" + Guid.NewGuid().ToString("N")[..8]);
        _lab = new(() =>
        {
            SweepDeadRuns();
            ClusterPath = SeedCluster.Deployment(Dir);
            var state = SeedCluster.Load(_clusterPath);
            return PacketLife.Lab.Cluster.ClusterLab.Up(state, LabClusterCommands.NodeRules(state),
                new ClusterLabOptions("legacy", Root, LabClusterCommands.ProberArgv(), ProbeIntervalMs: 300));
        });
    }

    public string Dir { get; }

    string _clusterPath = "";

    /// <summary>The state file the lab was built from (building the lab first).</summary>
    public string ClusterPath
    {
        get { _ = _lab.Value; return _clusterPath; }
        private set => _clusterPath = value;
    }

    public PacketLife.Lab.Cluster.ClusterLab Lab => _lab.Value;

    /// <summary>Cluster labs a killed earlier test run left (their creating process is gone) are torn down from their
    /// journals; labs of a run still going are not touched.</summary>
    public static void SweepDeadRuns()
    {
        foreach (var dir in LabClusterCommands.FinishedLabs(Root))
        {
            var j = LabJournal.Load(dir);
            if (j.Owner is { } o && !ProcessControl.IsAlive(o.Pid, o.StartTime)) LabRunner.Teardown(j);
        }
        foreach (var orphan in LabJournal.FindOrphans(Root)) LabRunner.Teardown(orphan);
    }

    public void Dispose()
    {
        if (_lab.IsValueCreated) _lab.Value.Down();
        if (Directory.Exists(Dir)) Directory.Delete(Dir, true);
    }
}

[CollectionDefinition("cluster-lab")]
public sealed class ClusterLabCollection : ICollectionFixture<ClusterLabFixture>;
