using PacketLife.Core.Conntrack;
using PacketLife.Core.Conntrack.Text;
using PacketLife.Core.Net;
using PacketLife.Lab.Verify;

namespace PacketLife.Lab.Tests.Clusters;

/// <summary>How verify finds a connection's conntrack entries and compares the twin's with the kernel's (no root:
/// `conntrack -L` lines in the seed's format, read with the project's reader).</summary>
public class ConntrackCompareTests
{
    const string Node0 = "aks-nodepool1-33086427-vmss000000", Node1 = "aks-nodepool1-33086427-vmss000001";

    // The internet client's connection to the LB IP: node0 DNATs to a pod on node1 and masquerades with --random-fully
    // (port 41234); node1 forwards it to the pod; a probe entry and another client's entry are noise.
    static readonly string[] KernelNode0 =
    [
        "tcp      6 117 TIME_WAIT src=198.51.100.10 dst=203.0.113.5 sport=20001 dport=80 src=10.244.1.7 dst=10.224.0.4 sport=80 dport=41234 [ASSURED] mark=0 use=1",
        "tcp      6 48 TIME_WAIT src=168.63.129.16 dst=10.224.0.4 sport=57628 dport=32670 src=10.244.0.113 dst=10.224.0.4 sport=80 dport=1591 [ASSURED] mark=0 use=1",
        "tcp      6 110 TIME_WAIT src=198.51.100.10 dst=203.0.113.5 sport=20002 dport=80 src=10.244.0.113 dst=10.224.0.4 sport=80 dport=20002 [ASSURED] mark=0 use=1",
    ];
    static readonly string[] KernelNode1 =
    [
        "tcp      6 117 TIME_WAIT src=10.224.0.4 dst=10.244.1.7 sport=41234 dport=80 src=10.244.1.7 dst=10.224.0.4 sport=80 dport=41234 [ASSURED] mark=0 use=1",
    ];

    static readonly ConntrackTuple First = new(IpProtocol.Tcp, Ip4.Parse("198.51.100.10"), Ip4.Parse("203.0.113.5"), 20001, 80);

    static IReadOnlyList<ConntrackLine> Read(params string[] lines)
    {
        var r = ConntrackText.Read(string.Join('\n', lines), "test");
        Assert.False(r.HasErrors, string.Join("; ", r.Diagnostics));
        return r.Lines.Select(l => l.Entry).ToList();
    }

    static IReadOnlyList<ChainEntry> Chain(string[] node0, string[] node1) =>
        ConntrackCompare.Follow(First, new Dictionary<string, IReadOnlyList<ConntrackLine>> { [Node0] = Read(node0), [Node1] = Read(node1) });

    static string[] Edit(string[] lines, string from, string to) => [.. lines.Select((l, i) => i == 0 ? l.Replace(from, to, StringComparison.Ordinal) : l)];

    [Fact]
    public void A_connection_is_followed_from_its_first_tuple_through_the_NAT_to_the_next_node()
    {
        var chain = Chain(KernelNode0, KernelNode1);
        Assert.Equal([(Node0, 0), (Node1, 1)], chain.Select(c => (c.Node, c.Depth)));
        Assert.Equal(
        [
            $"{Node0}: src=198.51.100.10 dst=203.0.113.5 sport=20001 dport=80 | src=10.244.1.7 dst=10.224.0.4 sport=80 dport=R1",
            $"{Node1}: src=10.224.0.4 dst=10.244.1.7 sport=R1 dport=80 | src=10.244.1.7 dst=10.224.0.4 sport=80 dport=R1",
        ], ConntrackCompare.TupleLines(chain));
        Assert.Equal([$"{Node0}: TIME_WAIT [ASSURED] mark=0", $"{Node1}: TIME_WAIT [ASSURED] mark=0"], ConntrackCompare.StateLines(chain));
    }

    [Fact]
    public void A_connection_that_left_no_entry_has_an_empty_chain()
    {
        var other = First with { SrcPort = 20003 };
        Assert.Empty(ConntrackCompare.Follow(other, new Dictionary<string, IReadOnlyList<ConntrackLine>> { [Node0] = Read(KernelNode0) }));
    }

    public static TheoryData<string, string[], string[], string[]> Differences => new()
    {
        // case                                          twin node0 (first line edited)                                    twin node1    categories that disagree
        { "another random SNAT port: agrees",           Edit(KernelNode0, "dport=41234", "dport=5555"),                    Edit(KernelNode1, "41234", "5555"), [] },
        { "DNAT to another port",                       Edit(KernelNode0, "sport=80 dport=41234", "sport=8080 dport=41234"), Edit(Edit(KernelNode1, "dport=80 src", "dport=8080 src"), "sport=80 dport", "sport=8080 dport"), [ConntrackCompare.Tuples] },
        { "SNAT to the cbr0 address",                   Edit(KernelNode0, "dst=10.224.0.4 sport=80", "dst=10.244.0.1 sport=80"), Edit(KernelNode1, "10.224.0.4", "10.244.0.1"), [ConntrackCompare.Tuples] },
        { "SNAT port outside the kernel's window",      Edit(KernelNode0, "dport=41234", "dport=80"),                       Edit(KernelNode1, "41234", "80"), [ConntrackCompare.RandomPort] },
        { "still ESTABLISHED after the close",          Edit(KernelNode0, "TIME_WAIT", "ESTABLISHED"),                      KernelNode1,   [ConntrackCompare.State] },
        { "never answered",                             Edit(KernelNode0, "dport=80 src=10.244.1.7", "dport=80 [UNREPLIED] src=10.244.1.7").Select(l => l.Replace(" [ASSURED]", "", StringComparison.Ordinal)).ToArray(), KernelNode1, [ConntrackCompare.State] },
        { "no entry on the pod's node",                 KernelNode0,                                                        [],            [ConntrackCompare.Tuples, ConntrackCompare.State] },
    };

    [Theory]
    [MemberData(nameof(Differences))]
    public void Each_kind_of_difference_is_named_by_its_category(string name, string[] twin0, string[] twin1, string[] disagreeing)
    {
        var checks = ConntrackCompare.Compare(Chain(twin0, twin1), Chain(KernelNode0, KernelNode1));
        Assert.True(disagreeing.Order().SequenceEqual(checks.Where(c => !c.Agreed).Select(c => c.Category).Order()),
            name + ": " + string.Join("; ", checks.Select(c => $"{c.Category} {c.Agreed} {c.Detail}")));
        Assert.Contains(checks, c => c.Category == ConntrackCompare.RandomPort);
    }

    [Fact]
    public void A_side_that_keeps_the_original_port_is_noted_and_a_run_of_them_is_not_random()
    {
        // Plain MASQUERADE (no --random-fully) keeps the client's port when it is free.
        var kept = Chain(Edit(KernelNode0, "dport=41234", "dport=20001"), Edit(KernelNode1, "41234", "20001"));
        var check = Assert.Single(ConntrackCompare.Compare(kept, Chain(KernelNode0, KernelNode1)), c => c.Category == ConntrackCompare.RandomPort);
        Assert.True(check.Agreed);
        Assert.Equal(ConntrackCompare.TwinKept, check.Detail);
        Assert.Null(Assert.Single(ConntrackCompare.Compare(Chain(KernelNode0, KernelNode1), Chain(KernelNode0, KernelNode1)), c => c.Category == ConntrackCompare.RandomPort).Detail);
        Assert.Equal((2, 7, 52), (ConntrackCompare.KeptOriginalLimit(0), ConntrackCompare.KeptOriginalLimit(100), ConntrackCompare.KeptOriginalLimit(1000)));
    }

    [Theory]
    [InlineData(20001, 1024, 65535)]
    [InlineData(1024, 1024, 65535)]
    [InlineData(1023, 600, 1023)]
    [InlineData(600, 600, 1023)]
    [InlineData(511, 1, 511)]
    [InlineData(53, 1, 511)]
    public void The_random_port_window_is_the_kernels(int original, int min, int max) =>
        Assert.Equal((min, max), ConntrackCompare.KernelSnatWindow(original));

    [Fact]
    public void A_node_to_its_own_NodePort_keeps_its_address_but_its_port_is_random()
    {
        var line = Read("tcp      6 117 TIME_WAIT src=10.224.0.4 dst=10.224.0.4 sport=20006 dport=30778 src=10.244.1.5 dst=10.224.0.4 sport=80 dport=18868 [ASSURED] mark=0 use=1")[0];
        Assert.True(ConntrackCompare.SourceNatted(line));
        var chain = ConntrackCompare.Follow(line.Original, new Dictionary<string, IReadOnlyList<ConntrackLine>> { [Node0] = [line] });
        Assert.EndsWith("dport=R1", Assert.Single(ConntrackCompare.TupleLines(chain)));
    }
}
