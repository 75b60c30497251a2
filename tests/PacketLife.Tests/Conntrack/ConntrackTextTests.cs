using CsCheck;
using PacketLife.Core.Conntrack;
using PacketLife.Core.Conntrack.Text;
using PacketLife.Core.Diagnostics;
using PacketLife.Core.Net;

namespace PacketLife.Tests.Conntrack;

public class ConntrackTextTests
{
    // The seed's lines (AKS nodes) and the facts' verified lines (§5.3–§5.6, netns-lab §5.3), exactly as conntrack printed them.
    private static readonly string[] Real =
    [
        "tcp      6 9 TIME_WAIT src=168.63.129.16 dst=10.224.0.5 sport=53108 dport=31148 src=10.244.0.33 dst=10.224.0.5 sport=80 dport=64173 [ASSURED] mark=0 use=1",
        "tcp      6 102 TIME_WAIT src=10.224.0.4 dst=10.244.0.33 sport=48181 dport=80 src=10.244.0.33 dst=10.224.0.4 sport=80 dport=48181 [ASSURED] mark=0 use=1",
        "tcp      6 48 TIME_WAIT src=168.63.129.16 dst=10.224.0.4 sport=57628 dport=32670 src=10.244.0.113 dst=10.224.0.4 sport=80 dport=1591 [ASSURED] mark=0 use=1",
        "tcp      6 0 TIME_WAIT src=168.63.129.16 dst=10.224.0.4 sport=57400 dport=32670 src=10.244.1.136 dst=10.224.0.4 sport=80 dport=31248 [ASSURED] mark=0 use=1",
        "tcp      6 86395 ESTABLISHED src=10.224.0.5 dst=10.244.1.136 sport=29998 dport=80 src=10.244.1.136 dst=10.224.0.5 sport=80 dport=29998 [ASSURED] mark=0 use=1",
        "tcp      6 119 SYN_SENT src=10.1.0.2 dst=10.2.0.2 sport=55776 dport=7011 [UNREPLIED] src=10.2.0.2 dst=10.2.0.1 sport=7011 dport=55776 mark=0 use=1",
        "udp      17 29 src=10.1.0.2 dst=10.2.0.2 sport=60103 dport=7401 [UNREPLIED] src=10.2.0.2 dst=10.2.0.1 sport=7401 dport=60103 mark=3851 use=1",
        "icmp     1 29 src=10.1.0.2 dst=10.2.0.2 type=8 code=0 id=4660 src=10.2.0.2 dst=10.2.0.1 type=0 code=0 id=4660 mark=0 use=1",
        "ipv4     2 icmp     1 29 src=10.1.0.2 dst=10.2.0.2 type=8 code=0 id=4660 src=10.2.0.2 dst=10.2.0.1 type=0 code=0 id=4660 mark=0 use=1",
        "udp      17 28 src=10.1.0.2 dst=10.2.0.2 sport=46001 dport=5353 packets=1 bytes=29 [UNREPLIED] src=10.2.0.2 dst=10.2.0.1 sport=5353 dport=46001 packets=0 bytes=0 mark=0 zone=5 use=1",
        "icmp     1 29 src=10.1.0.2 dst=10.2.0.2 type=13 code=0 id=16962 src=10.2.0.2 dst=10.2.0.1 type=14 code=0 id=16962 mark=0 use=1",
        "udp      17 119 src=10.1.0.2 dst=10.2.0.2 sport=46000 dport=5353 src=10.2.0.2 dst=10.2.0.1 sport=5353 dport=46000 [ASSURED] mark=0 use=1",
        "tcp      6 119 TIME_WAIT src=10.1.0.2 dst=10.1.0.1 sport=50672 dport=80 src=10.2.0.2 dst=10.2.0.1 sport=8080 dport=50672 [ASSURED] mark=0 use=1 id=2206641847",
        "tcp      6 86398 ESTABLISHED src=198.51.100.10 dst=203.0.113.37 sport=57044 dport=80 src=10.244.1.136 dst=10.244.1.1 sport=80 dport=48780 [ASSURED] mark=0 use=1",
        "tcp      6 119 TIME_WAIT src=127.0.0.1 dst=127.0.0.1 sport=41014 dport=31148 src=10.244.1.136 dst=10.224.0.4 sport=80 dport=38810 [ASSURED] mark=0 use=1",
        "unknown  2 599 src=10.244.0.1 dst=224.0.0.22 [UNREPLIED] src=224.0.0.22 dst=10.244.0.1 mark=0 use=1",
        "    [NEW] tcp      6 120 SYN_SENT src=10.1.0.2 dst=10.2.0.2 sport=51720 dport=7010 [UNREPLIED] src=10.2.0.2 dst=10.2.0.1 sport=7010 dport=51720",
        " [UPDATE] tcp      6 60 SYN_RECV src=10.1.0.2 dst=10.2.0.2 sport=51720 dport=7010 src=10.2.0.2 dst=10.2.0.1 sport=7010 dport=51720",
        "tcp      6 119 TIME_WAIT src=10.244.0.11 dst=10.96.0.11 sport=37148 dport=80 src=10.244.0.11 dst=10.244.0.1 sport=8080 dport=40457 [ASSURED] mark=16384 secmark=0 zone=3 helper=ftp use=2",
    ];

    public static TheoryData<string> RealLines => new(Real);

    private static string FirstLine => Real[0];

    [Theory]
    [MemberData(nameof(RealLines))]
    public void Real_lines_print_back_byte_for_byte(string line)
    {
        var r = ConntrackText.Read(line, "dump");
        Assert.Empty(r.Diagnostics);
        Assert.Equal(line, ConntrackText.Write(Assert.Single(r.Lines).Entry));
    }

    // The seed's table loads as the starting state and prints back identically on the same clock; timeouts then run down.
    [Fact]
    public void Seed_table_loads_and_prints_back_identically()
    {
        var seed = Real[..5];
        var dump = string.Join('\n', seed) + "\n";
        var read = ConntrackText.Read(dump, "seed.txt");
        Assert.Empty(read.Diagnostics);
        var clock = ManualClock.Start();
        var table = new ConntrackTable(clock, ConntrackSettings.KubeProxy);
        Assert.Empty(read.LoadInto(table, "seed.txt"));
        // The entry printed with timeout 0 was due: it is gone, as the next `conntrack -L` would show.
        Assert.Equal(string.Join('\n', seed.Where(l => !l.Contains(" 0 TIME_WAIT"))) + "\n", ConntrackText.WriteTable(table));
        clock.Advance(10);
        Assert.Equal(
            """
            tcp      6 92 TIME_WAIT src=10.224.0.4 dst=10.244.0.33 sport=48181 dport=80 src=10.244.0.33 dst=10.224.0.4 sport=80 dport=48181 [ASSURED] mark=0 use=1
            tcp      6 38 TIME_WAIT src=168.63.129.16 dst=10.224.0.4 sport=57628 dport=32670 src=10.244.0.113 dst=10.224.0.4 sport=80 dport=1591 [ASSURED] mark=0 use=1
            tcp      6 86385 ESTABLISHED src=10.224.0.5 dst=10.244.1.136 sport=29998 dport=80 src=10.244.1.136 dst=10.224.0.5 sport=80 dport=29998 [ASSURED] mark=0 use=1

            """.Replace("\r", ""), ConntrackText.WriteTable(table));
    }

    [Fact]
    public void Loaded_entries_keep_their_state_and_nat_status()
    {
        var clock = ManualClock.Start();
        var table = new ConntrackTable(clock);
        var read = ConntrackText.Read("tcp      6 48 TIME_WAIT src=168.63.129.16 dst=10.224.0.4 sport=57628 dport=32670 src=10.244.0.113 dst=10.224.0.4 sport=80 dport=1591 [ASSURED] mark=0 use=1\n", "seed");
        Assert.Empty(read.LoadInto(table, "seed"));
        var e = table.List().Single();
        Assert.Equal(TcpConntrackState.TimeWait, e.TcpState);
        Assert.True(e.Has(ConntrackStatus.SrcNat | ConntrackStatus.DstNat | ConntrackStatus.Assured | ConntrackStatus.SeenReply));
        // A reply packet finds it by its reply tuple.
        Assert.True(table.TryLookup(new ConntrackTuple(IpProtocol.Tcp, Ip4.Parse("10.244.0.113"), Ip4.Parse("10.224.0.4"), 80, 1591), out _, out var dir));
        Assert.Equal(ConntrackDirection.Reply, dir);
    }

    [Fact]
    public void Summary_line_is_written_and_checked()
    {
        Assert.Equal("conntrack v1.4.7 (conntrack-tools): 2 flow entries have been shown.", ConntrackText.Summary(2));
        Assert.Equal("conntrack v1.4.7 (conntrack-tools): 0 flow entries have been shown.", ConntrackText.Summary(0));
        var ok = ConntrackText.Read(FirstLine + "\nconntrack v1.4.7 (conntrack-tools): 1 flow entries have been shown.\n", "d");
        Assert.Empty(ok.Diagnostics);
        Assert.Equal(1, ok.SummaryCount);
        var bad = ConntrackText.Read(FirstLine + "\nconntrack v1.4.7 (conntrack-tools): 3 flow entries have been shown.\n", "d");
        Assert.Equal("d:2:1: warning PLCT011: summary says 3 flow entries, 1 were read (hint: the dump may be truncated or filtered with grep)", Assert.Single(bad.Diagnostics).ToString());
    }

    // Bad lines: one clear diagnostic per line with line:column, all reported at once, and nothing loaded.
    // The column points at the offending text (marker); null marker: the end of the line.
    [Theory]
    [InlineData("tcp      6 9 TIME_WAIT src=168.63.129.999 dst=10.224.0.5 sport=1 dport=2 src=10.244.0.33 dst=10.224.0.5 sport=80 dport=64173 mark=0 use=1", "PLCT003", "168.63.129.999")]
    [InlineData("tcp      6 9 TIME_WAT src=1.1.1.1 dst=2.2.2.2 sport=1 dport=2 src=2.2.2.2 dst=1.1.1.1 sport=2 dport=1 mark=0 use=1", "PLCT005", "TIME_WAT")]
    [InlineData("tcp      17 9 TIME_WAIT src=1.1.1.1", "PLCT006", "tcp")]
    [InlineData("tcp      6 9 TIME_WAIT src=1.1.1.1 dst=2.2.2.2 sport=1 dport=70000 src=2.2.2.2 dst=1.1.1.1 sport=2 dport=1 use=1", "PLCT004", "70000")]
    [InlineData("tcp      6 9 TIME_WAIT src=1.1.1.1 dst=2.2.2.2 sport=1", "PLCT001", null)]
    [InlineData("udp      17 9 src=1.1.1.1 dst=2.2.2.2 sport=1 dport=2 src=2.2.2.2 dst=1.1.1.1 sport=2 dport=1 colour=blue use=1", "PLCT007", "colour=blue")]
    [InlineData("udp      17 9 src=1.1.1.1 dst=2.2.2.2 sport=1 dport=2 src=2.2.2.2 dst=1.1.1.1 sport=2 dport=1 use=1 mark=0", "PLCT007", "mark=0")]
    [InlineData("gre      47 29 src=1.1.1.1 dst=2.2.2.2 srckey=0x0 dstkey=0x0 src=2.2.2.2 dst=1.1.1.1 srckey=0x0 dstkey=0x0 mark=0 use=1", "PLCT008", "gre")]
    [InlineData("icmp     1 29 src=1.1.1.1 dst=2.2.2.2 type=3 code=0 id=1 src=2.2.2.2 dst=1.1.1.1 type=3 code=0 id=1 mark=0 use=1", "PLCT012", "type=3")]
    [InlineData("ipv6     10 tcp      6 9 TIME_WAIT", "PLCT003", "ipv6")]
    [InlineData("tcp      6 x TIME_WAIT", "PLCT004", "x")]
    public void Bad_lines_give_a_diagnostic_with_line_and_column(string line, string code, string? marker)
    {
        var r = ConntrackText.Read("\n" + line + "\n", "table.txt");
        var d = Assert.Single(r.Diagnostics);
        Assert.Equal(code, d.Code);
        int column = marker is null ? line.Length + 1 : line.IndexOf(marker, StringComparison.Ordinal) + 1;
        Assert.Equal(new SourceLocation("table.txt", 2, column), d.Location);
        Assert.Empty(r.Lines);
        Assert.True(r.HasErrors);
    }

    [Fact]
    public void All_problems_are_reported_and_the_table_is_left_untouched()
    {
        var text = FirstLine + "\nnonsense\n" + FirstLine + "\ntcp 6\n";
        var r = ConntrackText.Read(text, "t");
        Assert.Equal([2, 4], r.Diagnostics.Where(d => d.Severity == Severity.Error).Select(d => d.Location.Line).ToArray());
        Assert.Equal(2, r.Diagnostics.Count(d => d.Severity == Severity.Error));
        var table = new ConntrackTable(ManualClock.Start());
        Assert.NotEmpty(r.LoadInto(table, "t"));
        Assert.Equal(0, table.Count);

        var dup = ConntrackText.Read(FirstLine + "\n" + FirstLine + "\n", "t");
        Assert.Empty(dup.Diagnostics);
        var dd = Assert.Single(dup.LoadInto(table, "t"));
        Assert.Equal("PLCT010", dd.Code);
        Assert.Equal(2, dd.Location.Line);
        Assert.Equal(0, table.Count);
    }

    [Fact]
    public void Irregular_spacing_is_read_with_a_warning()
    {
        var r = ConntrackText.Read("tcp 6 9 TIME_WAIT src=1.1.1.1 dst=2.2.2.2 sport=1 dport=2 src=2.2.2.2 dst=1.1.1.1 sport=2 dport=1 [ASSURED] mark=0 use=1", "t");
        Assert.Equal("PLCT009", Assert.Single(r.Diagnostics).Code);
        Assert.Equal("tcp      6 9 TIME_WAIT src=1.1.1.1 dst=2.2.2.2 sport=1 dport=2 src=2.2.2.2 dst=1.1.1.1 sport=2 dport=1 [ASSURED] mark=0 use=1", ConntrackText.Write(r.Lines[0].Entry));
    }

    // conntrack -L filters: -d, -s, -p, --dport, --sport, reply side, mark, state.
    [Fact]
    public void Listing_filters_like_conntrack_L()
    {
        var table = new ConntrackTable(ManualClock.Start());
        var dump = string.Join('\n', Real.Take(5));
        Assert.Empty(ConntrackText.Read(dump, "s").LoadInto(table, "s"));
        int Count(ConntrackFilter f) => table.List(f).Count();
        Assert.Equal(1, Count(new ConntrackFilter { OrigDst = Ip4Prefix.Parse("10.244.0.33") }));
        // The seed line with timeout 0 has expired on load: it is not listed.
        Assert.Equal(2, Count(new ConntrackFilter { OrigSrc = Ip4Prefix.Parse("168.63.129.16") }));
        Assert.Equal(1, Count(new ConntrackFilter { Protocol = IpProtocol.Tcp, OrigDstPort = 32670 }));
        Assert.Equal(1, Count(new ConntrackFilter { Protocol = IpProtocol.Tcp, OrigSrcPort = 29998 }));
        Assert.Equal(2, Count(new ConntrackFilter { ReplySrc = Ip4Prefix.Parse("10.244.0.0/16"), ReplyDst = Ip4Prefix.Parse("10.224.0.4") }));
        Assert.Equal(1, Count(new ConntrackFilter { State = TcpConntrackState.Established }));
        Assert.Equal(0, Count(new ConntrackFilter { Mark = 0x4000 }));
        Assert.Equal(0, Count(new ConntrackFilter { Protocol = IpProtocol.Udp }));
    }

    private static readonly Gen<ConntrackTuple> GenTuple =
        Gen.Select(Gen.UInt, Gen.UInt, Gen.UShort, Gen.UShort, (s, d, sp, dp) => new ConntrackTuple(IpProtocol.Tcp, new Ip4(s), new Ip4(d), sp, dp));

    private static readonly Gen<ConntrackLine> GenLine =
        from proto in Gen.OneOf<byte>(6, 17, 1, 136, 2)
        from o in GenTuple
        from r in GenTuple
        from timeout in Gen.UInt[0, 500000]
        from state in Gen.Int[0, 9]
        from unreplied in Gen.Bool
        from counters in Gen.Bool
        from mark in Gen.UInt
        from extended in Gen.Bool
        from showId in Gen.Bool
        from zone in Gen.UShort[0, 9]
        from use in Gen.UInt[1, 3]
        from ev in Gen.Bool
        from flag in Gen.OneOf<string?>(null, "ASSURED", "OFFLOAD", "HW_OFFLOAD")
        from secmark in Gen.Bool
        select MakeLine(proto, o, r, timeout, state, unreplied, counters, mark, extended, showId, zone, use, ev, flag, secmark);

    private static ConntrackLine MakeLine(byte proto, ConntrackTuple o, ConntrackTuple r, uint timeout, int state, bool unreplied, bool counters,
        uint mark, bool extended, bool showId, ushort zone, uint use, bool ev, string? flag, bool secmark)
    {
        ConntrackTuple Fix(ConntrackTuple t) => proto switch
        {
            1 => ConntrackTuple.Icmp(t.Src, t.Dst, 8, 0, t.SrcPort) with { Zone = zone },
            6 or 17 or 136 => t with { Protocol = (IpProtocol)proto, Zone = zone },
            _ => new ConntrackTuple((IpProtocol)proto, t.Src, t.Dst, 0, 0, zone),
        };
        return new ConntrackLine
        {
            Extended = extended,
            Event = ev ? "DESTROY" : null,
            ProtocolNumber = proto,
            Timeout = timeout,
            State = proto == 6 ? TcpStates.Name((TcpConntrackState)state) : null,
            Original = Fix(o),
            Reply = proto == 1 ? ConntrackTuple.Icmp(r.Src, r.Dst, 0, 0, r.SrcPort) with { Zone = zone } : Fix(r),
            Unreplied = unreplied,
            OriginalCounters = counters ? (timeout, mark) : null,
            ReplyCounters = counters ? (mark, timeout) : null,
            AssuredFlag = flag,
            Mark = ev ? null : mark,
            SecMark = secmark ? mark / 3 : null,
            Zone = zone == 0 ? null : zone,
            Use = ev ? null : use,
            Id = showId ? mark ^ 0x5a5a : null,
        };
    }

    [Fact]
    public void Reading_then_writing_conntrack_lines_is_the_identity() =>
        GenLine.Sample(line =>
        {
            var text = ConntrackText.Write(line);
            var r = ConntrackText.Read(text, "gen");
            return r.Diagnostics.Count == 0 && r.Lines.Count == 1 && r.Lines[0].Entry == line && ConntrackText.Write(r.Lines[0].Entry) == text;
        }, iter: 2000);

    [Fact]
    public void Entry_round_trips_through_a_line_on_the_same_clock() =>
        GenLine.Where(l => l.Event is null && !l.Extended && l.Use is not null && l.Mark is not null && l.ProtocolNumber != 2 && !(l.ProtocolNumber != 6 && l.State is not null))
            .Sample(line =>
            {
                var now = ManualClock.Start().Now;
                var back = ConntrackLine.FromEntry(line.ToEntry(now), now, showId: line.Id is not null);
                return ConntrackText.Write(back) == ConntrackText.Write(line);
            }, iter: 1000);
}
