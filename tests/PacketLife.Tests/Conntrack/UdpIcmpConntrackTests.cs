using PacketLife.Core.Conntrack;
using PacketLife.Core.Conntrack.Text;
using PacketLife.Core.Net;
using static PacketLife.Tests.Conntrack.Lab;

namespace PacketLife.Tests.Conntrack;

public class UdpIcmpConntrackTests
{
    private static string Listing(Lab lab) => ConntrackText.WriteTable(lab.Table).TrimEnd('\n');

    // facts §5.4: one request and its reply print 29 with no flag; the same pair 2.5 s later 119 [ASSURED].
    [Fact]
    public void Udp_becomes_an_assured_stream_after_two_seconds_with_a_reply()
    {
        var lab = new Lab();
        lab.Pass(Udp("10.1.0.2:46000", "10.2.0.2:5353"));
        lab.Pass(Udp("10.2.0.2:5353", "10.1.0.2:46000"));
        lab.Clock.Advance(0.3);
        Assert.Equal("udp      17 29 src=10.1.0.2 dst=10.2.0.2 sport=46000 dport=5353 src=10.2.0.2 dst=10.1.0.2 sport=5353 dport=46000 mark=0 use=1", Listing(lab));
        lab.Clock.Advance(2.2);
        lab.Pass(Udp("10.1.0.2:46000", "10.2.0.2:5353"));
        lab.Pass(Udp("10.2.0.2:5353", "10.1.0.2:46000"));
        lab.Clock.Advance(0.3);
        Assert.Equal("udp      17 119 src=10.1.0.2 dst=10.2.0.2 sport=46000 dport=5353 src=10.2.0.2 dst=10.1.0.2 sport=5353 dport=46000 [ASSURED] mark=0 use=1", Listing(lab));
    }

    [Fact]
    public void One_way_udp_stays_unreplied_for_30_seconds()
    {
        var lab = new Lab();
        lab.Pass(Udp("10.1.0.2:60103", "10.2.0.2:7401"));
        lab.Clock.Advance(0.5);
        Assert.Equal("udp      17 29 src=10.1.0.2 dst=10.2.0.2 sport=60103 dport=7401 [UNREPLIED] src=10.2.0.2 dst=10.1.0.2 sport=7401 dport=60103 mark=0 use=1", Listing(lab));
        lab.Clock.Advance(29.5);
        Assert.Empty(lab.Table.List());
        Assert.Equal(1, lab.Table.Expire());
        Assert.Equal(0, lab.Table.Count);
    }

    [Fact]
    public void Udp_reply_within_two_seconds_keeps_the_short_timeout()
    {
        var lab = new Lab();
        var r = lab.Pass(Udp("10.1.0.2:46000", "10.2.0.2:5353"));
        lab.Pass(Udp("10.2.0.2:5353", "10.1.0.2:46000"));
        lab.Clock.Advance(1.5);
        lab.Pass(Udp("10.1.0.2:46000", "10.2.0.2:5353"));
        Assert.False(r.Entry!.Has(ConntrackStatus.Assured));
        Assert.Equal(30, r.Entry.RemainingSeconds(lab.Clock.Now));
    }

    [Fact]
    public void Ping_and_its_reply_share_one_entry_never_assured()
    {
        var lab = new Lab();
        var echo = lab.Pass(Icmp("10.1.0.2", "10.2.0.2", 8, 4660));
        var reply = lab.Pass(Icmp("10.2.0.2", "10.1.0.2", 0, 4660));
        Assert.Same(echo.Entry, reply.Entry);
        Assert.Equal(CtInfo.EstablishedReply, reply.Info);
        lab.Clock.Advance(0.5);
        Assert.Equal("icmp     1 29 src=10.1.0.2 dst=10.2.0.2 type=8 code=0 id=4660 src=10.2.0.2 dst=10.1.0.2 type=0 code=0 id=4660 mark=0 use=1", Listing(lab));
    }

    [Fact]
    public void Timestamp_request_tracks_with_its_reply_type()
    {
        var lab = new Lab();
        var r = lab.Pass(Icmp("10.1.0.2", "10.2.0.2", 13, 16962));
        Assert.Equal(14, r.Entry!.Reply.IcmpType);
    }

    // facts §5.5: only request types create entries; an unsolicited echo reply or a router advertisement is INVALID.
    [Theory]
    [InlineData(0)]
    [InlineData(9)]
    [InlineData(14)]
    public void Icmp_that_is_not_a_request_is_invalid(byte type)
    {
        var lab = new Lab();
        var r = lab.Tracker.Track(Icmp("10.1.0.2", "10.2.0.2", type, 7));
        Assert.Equal(CtState.Invalid, CtStates.Of(r));
        Assert.Equal(0, lab.Table.Count);
    }

    // facts §5.5: a port unreachable about a tracked UDP flow is RELATED, creates nothing and leaves [UNREPLIED].
    [Fact]
    public void Icmp_error_about_a_known_flow_is_related_and_changes_nothing()
    {
        var lab = new Lab();
        var udp = Udp("10.1.0.2:59633", "10.2.0.2:7999");
        var r = lab.Pass(udp);
        var error = Icmp("10.2.0.2", "10.1.0.2", 3, 0, code: 3);
        var rel = lab.Tracker.TrackIcmpError(error, udp);
        Assert.Equal(CtState.Related, CtStates.Of(rel));
        Assert.Equal(CtInfo.RelatedReply, rel.Info);
        Assert.Same(r.Entry, rel.Entry);
        Assert.False(r.Entry!.Has(ConntrackStatus.SeenReply));
        Assert.Equal(1, lab.Table.Count);
    }

    [Fact]
    public void Icmp_error_about_an_unknown_flow_is_invalid()
    {
        var lab = new Lab();
        var rel = lab.Tracker.TrackIcmpError(Icmp("10.2.0.2", "10.1.0.2", 3, 0, code: 3), Udp("10.1.0.2:1", "10.2.0.2:2"));
        Assert.Equal(CtState.Invalid, CtStates.Of(rel));
    }

    [Fact]
    public void Untracked_and_no_conntrack_have_their_own_states()
    {
        Assert.Equal(CtState.Untracked, CtStates.Of(ConntrackResult.Untracked));
        Assert.Equal(CtState.Invalid, CtStates.Of(null));
    }

    [Fact]
    public void Other_protocols_use_the_generic_timeout()
    {
        var lab = new Lab();
        var gre = new Packet(IpProtocol.Gre, Ip4.Parse("10.1.0.2"), 0, Ip4.Parse("10.2.0.2"), 0, TcpFlags.None);
        var r = lab.Pass(gre);
        Assert.Equal(600, r.Entry!.RemainingSeconds(lab.Clock.Now));
    }

    // facts §4.8: only the request direction put in zone 5 (-j CT --zone 5 on dport 5353): the reply, in zone 0, finds
    // nothing and creates a second entry.
    [Fact]
    public void Zones_keep_lookups_apart()
    {
        var lab = new Lab();
        var request = lab.Tracker.Track(Udp("10.1.0.2:46001", "10.2.0.2:5353"), zone: 5);
        Assert.True(lab.Tracker.Confirm(request));
        var reply = lab.Tracker.Track(Udp("10.2.0.2:5353", "10.1.0.2:46001"), zone: 0);
        Assert.True(reply.IsNewEntry);
        Assert.True(lab.Tracker.Confirm(reply));
        Assert.Equal(2, lab.Table.Count);
        lab.Clock.Advance(0.5);
        Assert.Equal(
            "udp      17 29 src=10.1.0.2 dst=10.2.0.2 sport=46001 dport=5353 [UNREPLIED] src=10.2.0.2 dst=10.1.0.2 sport=5353 dport=46001 mark=0 zone=5 use=1\n" +
            "udp      17 29 src=10.2.0.2 dst=10.1.0.2 sport=5353 dport=46001 [UNREPLIED] src=10.1.0.2 dst=10.2.0.2 sport=46001 dport=5353 mark=0 use=1\n",
            ConntrackText.WriteTable(lab.Table));
    }
}
