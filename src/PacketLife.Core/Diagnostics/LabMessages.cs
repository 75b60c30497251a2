namespace PacketLife.Core.Diagnostics;

/// <summary>Every user-facing message of the lab (src/PacketLife.Lab and `packetlife lab ...`), in one place so
/// wording stays consistent and tests can refer to it. One line each, naming what is wrong and how to fix it.</summary>
public static class LabMessages
{
    public const string NotLinux =
        "lab: the lab needs Linux network namespaces; this is not Linux (run it on a Linux machine or in a Linux VM)";

    public const string NotRoot =
        "lab: the lab needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN for `ip netns`); run it as root, e.g. with sudo";

    /// <summary>A required program is not on PATH; <paramref name="package"/> is the Debian package that ships it.</summary>
    public static string MissingTool(string tool, string package) =>
        $"lab: '{tool}' is not installed (install it with: apt-get install -y {package})";

    public static string StateDirMissing(string dir) =>
        $"lab: no lab journal in '{dir}' (nothing to tear down; was the lab already removed?)";

    public static string JournalCorrupt(string path, int line, string text) =>
        $"lab: {path}:{line}: unreadable journal line \"{text}\" (hint: the journal is written by packetlife only; do not edit it)";

    public static string CommandFailed(string command, int exitCode, string stderr) =>
        $"lab: `{command}` failed with exit code {exitCode}: {FirstLine(stderr)}";

    public static string CommandTimedOut(string command, TimeSpan timeout) =>
        $"lab: `{command}` did not finish within {timeout.TotalSeconds:0.#} s";

    public static string AgentFailed(string ns, string detail) =>
        $"lab: packet agent in namespace {ns} failed: {FirstLine(detail)}";

    public static string RulesetRejected(string stderr) =>
        $"lab: iptables-legacy-restore refused the ruleset: {FirstLine(stderr)}";

    public static string IpsetRejected(string stderr) =>
        $"lab: ipset restore refused the set dump: {FirstLine(stderr)}";

    public static string TeardownLeftovers(string what) =>
        $"lab: teardown could not remove {what} (hint: run `packetlife lab down --state DIR` again; it is idempotent)";

    private static string FirstLine(string text)
    {
        var t = text.Trim();
        int nl = t.IndexOf('\n');
        return nl < 0 ? t : t[..nl].TrimEnd();
    }
}
