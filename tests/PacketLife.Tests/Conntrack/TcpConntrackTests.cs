using PacketLife.Core.Conntrack;
using PacketLife.Core.Conntrack.Text;
using PacketLife.Core.Net;
using static PacketLife.Tests.Conntrack.Lab;

namespace PacketLife.Tests.Conntrack;

public class TcpConntrackTests
{
    // The kernel's tcp_conntracks table in its own words (nf_conntrack_proto_tcp.c): one row per (direction, flags),
    // columns sNO sSS sSR sES sFW sCW sLA sTW sCL sS2.
    public static TheoryData<string, string, string> KernelTable => new()
    {
        { "ORIGINAL", "syn",    "sSS sSS sIG sIG sIG sIG sIG sSS sSS sS2" },
        { "ORIGINAL", "synack", "sIV sIV sSR sIV sIV sIV sIV sIV sIV sSR" },
        { "ORIGINAL", "fin",    "sIV sIV sFW sFW sLA sLA sLA sTW sCL sIV" },
        { "ORIGINAL", "ack",    "sES sIV sES sES sCW sCW sTW sTW sCL sIV" },
        { "ORIGINAL", "rst",    "sIV sCL sCL sCL sCL sCL sCL sCL sCL sCL" },
        { "ORIGINAL", "none",   "sIV sIV sIV sIV sIV sIV sIV sIV sIV sIV" },
        { "REPLY",    "syn",    "sIV sS2 sIV sIV sIV sIV sIV sSS sIV sS2" },
        { "REPLY",    "synack", "sIV sSR sIG sIG sIG sIG sIG sIG sIG sSR" },
        { "REPLY",    "fin",    "sIV sIV sFW sFW sLA sLA sLA sTW sCL sIV" },
        { "REPLY",    "ack",    "sIV sIG sSR sES sCW sCW sTW sTW sCL sIG" },
        { "REPLY",    "rst",    "sIV sCL sCL sCL sCL sCL sCL sCL sCL sCL" },
        { "REPLY",    "none",   "sIV sIV sIV sIV sIV sIV sIV sIV sIV sIV" },
    };

    private static readonly string[] Short = ["sNO", "sSS", "sSR", "sES", "sFW", "sCW", "sLA", "sTW", "sCL", "sS2", "sIV", "sIG"];

    [Theory]
    [MemberData(nameof(KernelTable))]
    public void Transition_table_is_the_kernels(string direction, string flags, string row)
    {
        var dir = direction == "ORIGINAL" ? ConntrackDirection.Original : ConntrackDirection.Reply;
        var index = flags switch { "syn" => TcpIndex.Syn, "synack" => TcpIndex.SynAck, "fin" => TcpIndex.Fin, "ack" => TcpIndex.Ack, "rst" => TcpIndex.Rst, _ => TcpIndex.None };
        var expected = row.Split(' ');
        for (int s = 0; s < 10; s++)
            Assert.Equal(expected[s], Short[(int)TcpConntrack.Next(dir, index, (TcpConntrackState)s)]);
    }

    [Theory]
    [InlineData("SYN", TcpIndex.Syn)]
    [InlineData("SYN+ACK", TcpIndex.SynAck)]
    [InlineData("FIN+ACK", TcpIndex.Fin)]
    [InlineData("RST+ACK", TcpIndex.Rst)]
    [InlineData("PSH+ACK", TcpIndex.Ack)]
    [InlineData("NONE", TcpIndex.None)]
    public void Flag_class_follows_get_conntrack_index(string flags, TcpIndex index) => Assert.Equal(index, TcpConntrack.IndexOf(F(flags)));

    // facts §5.3: the full event sequence of a connection the client closes first (conntrack -E on the router).
    [Fact]
    public void Client_close_walks_the_kernels_state_sequence_with_its_timeouts()
    {
        var lab = new Lab();
        const string c = "10.1.0.2:51720", s = "10.2.0.2:7010";
        (string From, string To, string Flags, string State, int Timeout, bool Assured)[] steps =
        [
            (c, s, "SYN", "SYN_SENT", 120, false),
            (s, c, "SYN+ACK", "SYN_RECV", 60, false),
            (c, s, "ACK", "ESTABLISHED", 432000, true),
            (c, s, "FIN+ACK", "FIN_WAIT", 120, true),
            (s, c, "ACK", "CLOSE_WAIT", 60, true),
            (s, c, "FIN+ACK", "LAST_ACK", 30, true),
            (c, s, "ACK", "TIME_WAIT", 120, true),
        ];
        ConntrackEntry? entry = null;
        foreach (var (from, to, flags, state, timeout, assured) in steps)
        {
            var r = lab.Pass(Tcp(from, to, F(flags)));
            Assert.Equal(ConntrackVerdict.Tracked, r.Verdict);
            entry ??= r.Entry;
            Assert.Same(entry, r.Entry);
            Assert.Equal(state, TcpStates.Name(entry!.TcpState));
            Assert.Equal(timeout, entry.RemainingSeconds(lab.Clock.Now));
            Assert.Equal(assured, entry.Has(ConntrackStatus.Assured));
        }
    }

    [Fact]
    public void Kube_proxy_timeouts_give_the_seeds_established_line()
    {
        var lab = new Lab(ConntrackSettings.KubeProxy);
        lab.Pass(Tcp("10.224.0.5:29998", "10.244.1.136:80", F("SYN")));
        lab.Pass(Tcp("10.244.1.136:80", "10.224.0.5:29998", F("SYN+ACK")));
        lab.Pass(Tcp("10.224.0.5:29998", "10.244.1.136:80", F("ACK")));
        lab.Clock.Advance(4.2);
        var line = ConntrackText.WriteTable(lab.Table).TrimEnd('\n');
        Assert.Equal("tcp      6 86395 ESTABLISHED src=10.224.0.5 dst=10.244.1.136 sport=29998 dport=80 src=10.244.1.136 dst=10.224.0.5 sport=80 dport=29998 [ASSURED] mark=0 use=1", line);
    }

    [Fact]
    public void Rst_after_syn_ack_closes_and_is_never_assured()
    {
        var lab = new Lab();
        lab.Pass(Tcp("10.1.0.2:5000", "10.2.0.2:80", F("SYN")));
        lab.Pass(Tcp("10.2.0.2:80", "10.1.0.2:5000", F("SYN+ACK")));
        var r = lab.Pass(Tcp("10.1.0.2:5000", "10.2.0.2:80", F("RST")));
        Assert.Equal(TcpConntrackState.Close, r.Entry!.TcpState);
        Assert.Equal(10, r.Entry.RemainingSeconds(lab.Clock.Now));
        Assert.False(r.Entry.Has(ConntrackStatus.Assured));
        Assert.True(lab.Table.Contains(r.Entry));
    }

    // facts §3.4 / §7.17: a lone ACK is NEW, picked up as ESTABLISHED for 300 s [UNREPLIED]; the server's RST deletes it.
    [Fact]
    public void Lone_ack_is_picked_up_and_the_servers_rst_deletes_it()
    {
        var lab = new Lab();
        var ack = lab.Pass(Tcp("10.1.0.2:40000", "10.2.0.2:80", F("ACK")));
        Assert.Equal(CtState.New, CtStates.Of(ack));
        Assert.Equal(TcpConntrackState.Established, ack.Entry!.TcpState);
        Assert.Equal(300, ack.Entry.RemainingSeconds(lab.Clock.Now));
        Assert.False(ack.Entry.Has(ConntrackStatus.SeenReply));
        var rst = lab.Tracker.Track(Tcp("10.2.0.2:80", "10.1.0.2:40000", F("RST")));
        Assert.True(rst.Destroyed);
        Assert.Equal(0, lab.Table.Count);
    }

    [Fact]
    public void Lone_ack_is_invalid_without_tcp_loose()
    {
        var lab = new Lab(ConntrackSettings.Default with { TcpLoose = false });
        var r = lab.Tracker.Track(Tcp("10.1.0.2:40000", "10.2.0.2:80", F("ACK")));
        Assert.Equal(CtState.Invalid, CtStates.Of(r));
        Assert.Contains("tcp_loose", r.Reason);
    }

    [Theory]
    [InlineData("RST")]
    [InlineData("FIN")]
    [InlineData("SYN+ACK")]
    [InlineData("SYN+FIN")]
    [InlineData("FIN+ACK")]
    [InlineData("NONE")]
    public void Packets_that_cannot_start_a_connection_are_invalid_and_make_no_entry(string flags)
    {
        var lab = new Lab();
        var r = lab.Tracker.Track(Tcp("10.1.0.2:40000", "10.2.0.2:80", F(flags)));
        Assert.Equal(ConntrackVerdict.Invalid, r.Verdict);
        Assert.Null(r.Entry);
        Assert.True(lab.Tracker.Confirm(r));
        Assert.Equal(0, lab.Table.Count);
    }

    [Fact]
    public void Every_original_packet_before_a_reply_is_new_and_the_reply_is_established()
    {
        var lab = new Lab();
        var syn = lab.Pass(Tcp("10.1.0.2:5000", "10.2.0.2:80", F("SYN")));
        lab.Clock.Advance(1);
        var again = lab.Pass(Tcp("10.1.0.2:5000", "10.2.0.2:80", F("SYN")));
        Assert.Equal(CtState.New, CtStates.Of(again));
        Assert.False(again.IsNewEntry);
        // A retransmitted SYN does not renew the timeout.
        Assert.Equal(119, syn.Entry!.RemainingSeconds(lab.Clock.Now));
        var synAck = lab.Pass(Tcp("10.2.0.2:80", "10.1.0.2:5000", F("SYN+ACK")));
        Assert.Equal(CtInfo.EstablishedReply, synAck.Info);
        Assert.Equal(CtState.Established, CtStates.Of(synAck));
    }

    // facts §5.8: a new SYN on a TIME_WAIT entry destroys it and starts a fresh connection (NAT evaluated again).
    [Fact]
    public void New_syn_reopens_a_time_wait_entry()
    {
        var lab = new Lab();
        const string c = "10.1.0.2:50672", s = "10.1.0.1:80";
        foreach (var (f, t, fl) in new[] { (c, s, "SYN"), (s, c, "SYN+ACK"), (c, s, "ACK"), (s, c, "FIN+ACK"), (c, s, "ACK"), (c, s, "FIN+ACK"), (s, c, "ACK") })
            lab.Pass(Tcp(f, t, F(fl)));
        var old = lab.Table.List().Single();
        Assert.Equal(TcpConntrackState.TimeWait, old.TcpState);
        var r = lab.Tracker.Track(Tcp(c, s, F("SYN")));
        Assert.True(r.IsNewEntry);
        Assert.Same(old, r.Replaced);
        Assert.Equal(CtState.New, CtStates.Of(r));
        Assert.True(lab.Tracker.Confirm(r));
        Assert.Equal(TcpConntrackState.SynSent, lab.Table.List().Single().TcpState);
    }

    [Fact]
    public void Syn_in_established_is_ignored_without_state_change()
    {
        var lab = new Lab();
        lab.Pass(Tcp("10.1.0.2:5000", "10.2.0.2:80", F("SYN")));
        lab.Pass(Tcp("10.2.0.2:80", "10.1.0.2:5000", F("SYN+ACK")));
        var est = lab.Pass(Tcp("10.1.0.2:5000", "10.2.0.2:80", F("ACK")));
        lab.Clock.Advance(10);
        var syn = lab.Pass(Tcp("10.1.0.2:5000", "10.2.0.2:80", F("SYN")));
        Assert.Equal(ConntrackVerdict.Tracked, syn.Verdict);
        Assert.Contains("ignored", syn.Reason);
        Assert.Equal(TcpConntrackState.Established, est.Entry!.TcpState);
        Assert.Equal(432000 - 10, est.Entry.RemainingSeconds(lab.Clock.Now));
    }

    [Fact]
    public void Ack_in_syn_sent_is_invalid()
    {
        var lab = new Lab();
        lab.Pass(Tcp("10.1.0.2:5000", "10.2.0.2:80", F("SYN")));
        var r = lab.Tracker.Track(Tcp("10.1.0.2:5000", "10.2.0.2:80", F("ACK")));
        Assert.Equal(CtState.Invalid, CtStates.Of(r));
    }

    [Fact]
    public void Simultaneous_open_reaches_established()
    {
        var lab = new Lab();
        var a = lab.Pass(Tcp("10.1.0.2:5000", "10.2.0.2:6000", F("SYN")));
        lab.Pass(Tcp("10.2.0.2:6000", "10.1.0.2:5000", F("SYN")));
        Assert.Equal(TcpConntrackState.SynSent2, a.Entry!.TcpState);
        lab.Pass(Tcp("10.1.0.2:5000", "10.2.0.2:6000", F("SYN+ACK")));
        Assert.Equal(TcpConntrackState.SynRecv, a.Entry.TcpState);
        lab.Pass(Tcp("10.2.0.2:6000", "10.1.0.2:5000", F("ACK")));
        Assert.Equal(TcpConntrackState.Established, a.Entry.TcpState);
    }

    [Fact]
    public void Accounting_counts_ip_lengths_per_direction()
    {
        var lab = new Lab(ConntrackSettings.Default with { Accounting = true });
        var r = lab.Pass(Tcp("10.1.0.2:5000", "10.2.0.2:80", F("SYN")));
        lab.Pass(Tcp("10.2.0.2:80", "10.1.0.2:5000", F("SYN+ACK")) with { });
        Assert.Equal(1UL, r.Entry!.OriginalCounters!.Packets);
        Assert.Equal(60UL, r.Entry.OriginalCounters.Bytes);
        Assert.Equal(1UL, r.Entry.ReplyCounters!.Packets);
    }

    [Fact]
    public void Expired_entries_are_gone()
    {
        var lab = new Lab();
        var r = lab.Pass(Tcp("10.1.0.2:5000", "10.2.0.2:80", F("SYN")));
        lab.Clock.Advance(120);
        Assert.False(lab.Table.TryLookup(r.Entry!.Original, out _, out _));
        var again = lab.Tracker.Track(Tcp("10.1.0.2:5000", "10.2.0.2:80", F("SYN")));
        Assert.True(again.IsNewEntry);
    }

    // Observed on kernel 6.18 (Kernel/tcp-sequences.sh < Kernel/tcp-sequences.txt) through a forwarding namespace (crafted segments with consistent sequence numbers, both end
    // hosts dropping all input so only the crafted packets flow), `conntrack -L -p tcp` after each packet:
    // "STATE UNREPLIED|- ASSURED|- timeout", or NONE when no entry is listed. c = client (original), s = server (reply).
    public static TheoryData<string, string> KernelSequences => new()
    {
        { "simultaneous open", "c SYN: SYN_SENT UNREPLIED - 119 | s SYN: SYN_SENT2 - - 119 | c SYN+ACK: SYN_RECV - - 59 | s ACK: ESTABLISHED - ASSURED 431999" },
        { "SYN in ESTABLISHED is ignored", "c SYN: SYN_SENT UNREPLIED - 119 | s SYN+ACK: SYN_RECV - - 59 | c ACK: ESTABLISHED - ASSURED 431999 | c SYN: ESTABLISHED - ASSURED 431999" },
        { "close then reopen", "c SYN: SYN_SENT UNREPLIED - 119 | s SYN+ACK: SYN_RECV - - 59 | c ACK: ESTABLISHED - ASSURED 431999 | c FIN+ACK: FIN_WAIT - ASSURED 119 | s ACK: CLOSE_WAIT - ASSURED 59 | s FIN+ACK: LAST_ACK - ASSURED 29 | c ACK: TIME_WAIT - ASSURED 119 | c SYN: SYN_SENT UNREPLIED - 119" },
        { "server RST after SYN-ACK", "c SYN: SYN_SENT UNREPLIED - 119 | s SYN+ACK: SYN_RECV - - 59 | s RST+ACK: CLOSE - - 9" },
        { "RST answering a SYN deletes", "c SYN: SYN_SENT UNREPLIED - 119 | s RST+ACK: NONE" },
        { "lone FIN+ACK", "c FIN+ACK: NONE" },
        { "ACK in SYN_SENT is invalid", "c SYN: SYN_SENT UNREPLIED - 119 | c ACK: SYN_SENT UNREPLIED - 119" },
        { "lone ACK pickup, then both ways", "c ACK: ESTABLISHED UNREPLIED - 299 | s ACK: ESTABLISHED - - 299 | c ACK: ESTABLISHED - ASSURED 431999" },
    };

    [Theory]
    [MemberData(nameof(KernelSequences))]
    public void Packet_sequences_end_where_the_kernel_ends(string name, string steps)
    {
        _ = name;
        var lab = new Lab();
        foreach (var step in steps.Split(" | "))
        {
            var colon = step.IndexOf(':');
            var head = step[..colon].Split(' ');
            var p = head[0] == "c" ? Tcp("10.1.0.2:41000", "10.2.0.2:80", F(head[1])) : Tcp("10.2.0.2:80", "10.1.0.2:41000", F(head[1]));
            var ct = lab.Tracker.Track(p);
            lab.Tracker.Confirm(ct);
            lab.Clock.Advance(0.15);
            var e = lab.Table.List().SingleOrDefault();
            var seen = e is null ? "NONE"
                : $"{TcpStates.Name(e.TcpState)} {(e.Has(ConntrackStatus.SeenReply) ? "-" : "UNREPLIED")} {(e.Has(ConntrackStatus.Assured) ? "ASSURED" : "-")} {e.RemainingSeconds(lab.Clock.Now)}";
            Assert.Equal(step[(colon + 2)..], seen);
        }
    }
}
