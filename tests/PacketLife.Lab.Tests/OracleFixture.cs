using PacketLife.Lab.Kernel;

namespace PacketLife.Lab.Tests;

/// <summary>One kernel oracle (three namespaces, three agents) shared by every test of the "kernel" collection.</summary>
public sealed class OracleFixture : IDisposable
{
    private readonly Lazy<KernelOracle> _oracle = new(() =>
        KernelOracle.Start(new KernelOracleOptions(LabEnvironment.AgentDll, LabEnvironment.StateRoot)));

    public KernelOracle Oracle => _oracle.Value;

    public void Dispose()
    {
        if (_oracle.IsValueCreated) _oracle.Value.Dispose();
    }
}

[CollectionDefinition("kernel")]
public sealed class KernelCollection : ICollectionFixture<OracleFixture>;
