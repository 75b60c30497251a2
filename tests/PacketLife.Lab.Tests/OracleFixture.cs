using PacketLife.Lab;
using PacketLife.Lab.Kernel;

namespace PacketLife.Lab.Tests;

/// <summary>One kernel oracle (three namespaces, three agents) shared by every test of the "kernel" collection.</summary>
public sealed class OracleFixture : IDisposable
{
    private readonly Lazy<KernelOracle> _oracle = new(() =>
    {
        // Labs an earlier, killed test run left behind (their owner process is gone) are removed from their journals.
        foreach (var orphan in LabJournal.FindOrphans(LabEnvironment.StateRoot)) LabRunner.Teardown(orphan);
        return KernelOracle.Start(new KernelOracleOptions(LabEnvironment.AgentDll, LabEnvironment.StateRoot));
    });

    public KernelOracle Oracle => _oracle.Value;

    public void Dispose()
    {
        if (_oracle.IsValueCreated) _oracle.Value.Dispose();
    }
}

[CollectionDefinition("kernel")]
public sealed class KernelCollection : ICollectionFixture<OracleFixture>;
