using PacketLife.Lab;

namespace PacketLife.Lab.Tests;

/// <summary>The runner refuses, before running anything, whatever is not confined to a namespace its journal owns.
/// These run anywhere: a refusal never reaches a process.</summary>
public sealed class RunnerTests : IDisposable
{
    private readonly List<string> _roots = [];

    private LabRunner NewRunner(out LabId id, out StringWriter log)
    {
        id = LabId.Parse("0badc0de");
        log = new StringWriter();
        var root = Path.Combine(LabEnvironment.StateRoot, "r-" + Guid.NewGuid().ToString("N")[..8]);
        _roots.Add(root);
        return new LabRunner(LabJournal.Create(id, root), log);
    }

    public void Dispose()
    {
        foreach (var r in _roots.Where(Directory.Exists)) Directory.Delete(r, recursive: true);
    }

    public static TheoryData<string, Action<LabRunner>> Refusals => new()
    {
        // case                                              call
        { "ip -n on a non-lab namespace",                     r => r.Ip("plt-deadbeef", "link") },
        { "ip -n on the root namespace's name",               r => r.Ip("", "link") },
        { "ip -n on this lab's name, never created",          r => r.Ip("plab-0badc0de-ghost", "link") },
        { "ip -n on another lab's namespace",                 r => r.Ip("plab-12345678-rtr", "link") },
        { "exec in a non-lab namespace",                      r => r.Exec("default", ["iptables-legacy-save"]) },
        { "batch for another lab",                            r => r.IpBatch("plab-12345678-rtr", ["link show"]) },
        { "start in a non-lab namespace",                     r => r.Start("plt-deadbeef", ["sleep", "1"]) },
        // From inside an owned namespace, `ip` can still move a link out of it: only owned targets are allowed.
        { "move a link to PID 1's (the root) namespace",      r => r.Ip("plab-0badc0de-rtr", "link", "set", "eth0", "netns", "1") },
        { "veth peer into a non-lab namespace (batch)",       r => r.IpBatch("plab-0badc0de-rtr", ["link add eth9 type veth peer name x netns plt-deadbeef"]) },
        { "veth peer into this lab's unrecorded name",        r => r.IpBatch("plab-0badc0de-rtr", ["link add eth9 type veth peer name x netns plab-0badc0de-ghost"]) },
        { "a nested -n option",                               r => r.Ip("plab-0badc0de-rtr", "-n", "plt-deadbeef", "link") },
        // `ip -n NS netns ...` could add, delete or enter any namespace (also abbreviated, as ip accepts).
        { "ip netns from inside a lab namespace",             r => r.Ip("plab-0badc0de-rtr", "netns", "del", "plt-deadbeef") },
        { "ip net (abbreviated netns)",                       r => r.Ip("plab-0badc0de-rtr", "net", "exec", "plt-deadbeef", "sh") },
        { "ip netns in a batch line",                         r => r.IpBatch("plab-0badc0de-rtr", ["netns add plt-deadbeef"]) },
        { "delete a namespace the lab never recorded",        r => r.DeleteNamespace("plab-0badc0de-ghost") },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public void Refuses_anything_outside_its_own_namespaces(string @case, Action<LabRunner> call)
    {
        var runner = NewRunner(out var id, out var log);
        runner.Journal.RecordNamespace(id.Namespace("rtr")); // recorded but never created: nothing may run anyway
        var e = Assert.Throws<LabSafetyException>(() => call(runner));
        Assert.False(string.IsNullOrWhiteSpace(e.Message), @case);
        Assert.Equal("", log.ToString()); // nothing was run (the verbose log records every command before it runs)
    }

    [Theory]
    [InlineData("sh")]
    [InlineData("/bin/bash")]
    [InlineData("nsenter")]
    [InlineData("ip")]
    public void Refuses_shells_and_namespace_switchers_even_in_its_own_namespace(string program)
    {
        var runner = NewRunner(out var id, out var log);
        var ns = id.Namespace("rtr");
        runner.Journal.RecordNamespace(ns); // owned, but a shell could leave it (netns-lab.md P2)
        Assert.Throws<LabSafetyException>(() => runner.Exec(ns, [program, "-c", "iptables -F"]));
        Assert.Equal("", log.ToString());
    }

    [Fact]
    public void Refuses_ip_netns_inside_a_batch()
    {
        var runner = NewRunner(out var id, out _);
        var ns = id.Namespace("rtr");
        runner.Journal.RecordNamespace(ns);
        Assert.Throws<LabSafetyException>(() => runner.IpBatch(ns, ["link show", "netns del plt-other"]));
    }

    [KernelFact]
    public void Verbose_logs_every_command_with_its_input()
    {
        var runner = NewRunner(out _, out var log);
        try
        {
            var ns = runner.CreateNamespace("v");
            runner.Exec(ns, ["iptables-legacy-restore"], "*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n").EnsureSuccess();
            var text = log.ToString();
            Assert.Contains($"+ ip netns add {ns}", text);
            Assert.Contains($"+ ip -n {ns} link set lo up", text);
            Assert.Contains($"+ ip netns exec {ns} iptables-legacy-restore", text);
            Assert.Contains("  < *filter", text);
        }
        finally { runner.Teardown(); }
    }
}
