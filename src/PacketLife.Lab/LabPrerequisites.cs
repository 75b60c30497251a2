using PacketLife.Core.Diagnostics;

namespace PacketLife.Lab;

/// <summary>A program the lab needs, and the Debian package that ships it.</summary>
public sealed record LabTool(string Program, string Package)
{
    public static readonly LabTool Ip = new("ip", "iproute2");
    public static readonly LabTool IptablesLegacyRestore = new("iptables-legacy-restore", "iptables");
    public static readonly LabTool IptablesLegacySave = new("iptables-legacy-save", "iptables");
    public static readonly LabTool Conntrack = new("conntrack", "conntrack");
    public static readonly LabTool Ipset = new("ipset", "ipset");
    public static readonly LabTool Nginx = new("nginx", "nginx-light");
    public static readonly LabTool Sysctl = new("sysctl", "procps");
    public static readonly LabTool Dotnet = new("dotnet", "dotnet-sdk-10.0");

    /// <summary>What the kernel oracle needs (<see cref="Kernel.KernelOracle"/>).</summary>
    public static readonly IReadOnlyList<LabTool> ForOracle = [Ip, IptablesLegacyRestore, IptablesLegacySave, Conntrack, Sysctl];
}

/// <summary>"What is missing" checks, run before anything is created so a failed check leaves nothing behind.</summary>
public static class LabPrerequisites
{
    /// <summary>One line per problem (<see cref="LabMessages"/>); empty when the lab can run. Not Linux or not root
    /// come first and alone, since tool checks mean nothing then.</summary>
    public static IReadOnlyList<string> Problems(IEnumerable<LabTool> tools, Func<string, bool>? onPath = null)
    {
        if (!OperatingSystem.IsLinux()) return [LabMessages.NotLinux];
        if (!Environment.IsPrivilegedProcess) return [LabMessages.NotRoot];
        onPath ??= IsOnPath;
        return tools.Where(t => !onPath(t.Program)).Select(t => LabMessages.MissingTool(t.Program, t.Package)).ToList();
    }

    /// <summary>True when an executable file of that name is in a PATH directory (sbin included, where Debian
    /// puts ip, iptables and conntrack even when PATH lacks it).</summary>
    public static bool IsOnPath(string program)
    {
        var path = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Concat(["/usr/sbin", "/sbin", "/usr/bin", "/bin"]);
        foreach (var dir in path.Distinct())
        {
            var f = Path.Combine(dir, program);
            if (OperatingSystem.IsWindows()) { if (File.Exists(f)) return true; continue; }
            if (File.Exists(f) && (File.GetUnixFileMode(f) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0)
                return true;
        }
        return false;
    }
}
