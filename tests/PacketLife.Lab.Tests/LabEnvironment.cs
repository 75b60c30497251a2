using PacketLife.Lab;

namespace PacketLife.Lab.Tests;

/// <summary>Whether this machine can run kernel tests (Linux, root, the tools), and where the agent is.</summary>
public static class LabEnvironment
{
    private static readonly Lazy<string?> Reason = new(() =>
    {
        var problems = LabPrerequisites.Problems(LabTool.ForOracle);
        return problems.Count == 0 ? null : "needs the real kernel: " + string.Join("; ", problems);
    });

    /// <summary>Null when the kernel tests can run; otherwise the printed skip reason.</summary>
    public static string? SkipReason => Reason.Value;

    /// <summary>packetlife.dll next to the test assembly (the test project references the App).</summary>
    public static string AgentDll => typeof(PacketLife.App.Program).Assembly.Location;

    /// <summary>State directories of test labs live in a per-run temp folder, not /run, so a test run never mixes
    /// with a user's labs.</summary>
    public static string StateRoot { get; } = Path.Combine(Path.GetTempPath(), "packetlife-lab-tests-" + Environment.UserName);
}

/// <summary>A fact that needs root, Linux and the lab's tools; elsewhere it is skipped with the reason printed.</summary>
public class KernelFactAttribute : FactAttribute
{
    public KernelFactAttribute()
    {
        if (LabEnvironment.SkipReason is { } r) Skip = r;
    }
}

/// <summary>A kernel fact that also needs `ipset` (package ipset).</summary>
public sealed class KernelIpsetFactAttribute : KernelFactAttribute
{
    public KernelIpsetFactAttribute()
    {
        if (Skip is null && LabPrerequisites.Problems([LabTool.Ipset]) is [var missing, ..]) Skip = "needs ipset: " + missing;
    }
}

public sealed class KernelTheoryAttribute : TheoryAttribute
{
    public KernelTheoryAttribute()
    {
        if (LabEnvironment.SkipReason is { } r) Skip = r;
    }
}
