using CsCheck;
using PacketLife.Core.Conntrack;
using PacketLife.Core.Conntrack.Nat;
using PacketLife.Core.Conntrack.Text;
using PacketLife.Core.Net;
using PacketLife.Core.Routing;
using static PacketLife.Tests.Conntrack.Lab;

namespace PacketLife.Tests.Conntrack;

public class NatTests
{
    private static readonly Ip4 A = Ip4.Parse("10.2.0.2"), B = Ip4.Parse("10.2.0.3");

    private static NatRange Range(string spec, NatRangeFlags flags = NatRangeFlags.None)
    {
        Assert.True(NatRange.TryParse(spec, flags, out var r), spec);
        return r;
    }

    /// <summary>The router of the facts' lab: cli side eth0 10.1.0.1/24, server side eth1 10.2.0.1/24.</summary>
    private static Host Router()
    {
        var h = new Host("rtr") { IpForward = true };
        h.AddInterface("lo", InterfaceKind.Loopback).AddAddress(Ip4.Parse("127.0.0.1"), 8, AddressScope.Host);
        h.AddInterface("eth0", InterfaceKind.Ethernet).AddAddress(Ip4.Parse("10.1.0.1"), 24);
        h.AddInterface("eth1", InterfaceKind.Ethernet).AddAddress(Ip4.Parse("10.2.0.1"), 24);
        h.RebuildKernelRoutes();
        return h;
    }

    /// <summary>The first packet of a forwarded connection through the nat hooks: conntrack-in, DNAT (or a null binding)
    /// in PREROUTING, SNAT/MASQUERADE (or a null binding) in POSTROUTING, confirm. Returns the entry and whether confirm succeeded.</summary>
    private static (ConntrackResult Ct, NatOutcome? Dnat, NatOutcome? Snat, bool Confirmed) First(Lab lab, Packet p,
        NatRange? dnat = null, NatRange? snat = null, (Host Host, string Out, NatRange Range)? masquerade = null)
    {
        var ct = lab.Tracker.Track(p);
        Assert.True(ct.IsNewEntry, ct.Reason);
        var e = ct.Entry!;
        var d = dnat is null ? lab.Nat.NullBinding(e, NatManipType.Dst) : lab.Nat.SetupInfo(e, dnat, NatManipType.Dst);
        NatOutcome s;
        if (masquerade is { } m)
        {
            var after = NatRewrite.ApplyDnat(p, e);
            var route = m.Host.Lookup(after.Dst)!;
            s = lab.Nat.Masquerade(e, m.Range, m.Host, m.Host.FindInterface(m.Out)!, route.NextHopFor(after.Dst));
        }
        else s = snat is null ? lab.Nat.NullBinding(e, NatManipType.Src) : lab.Nat.SetupInfo(e, snat, NatManipType.Src);
        return (ct, d, s, lab.Tracker.Confirm(ct));
    }

    // facts §4.3 test vectors: j and the chosen address for DNAT ranges, with and without --persistent.
    [Theory]
    [InlineData("10.1.0.2", "10.1.0.1", 0x658d4cc0u, "10.2.0.11", "10.2.0.12", 0x217c6d4bu, "10.2.0.10")]
    [InlineData("10.1.0.3", "10.1.0.1", 0x9464ee5cu, "10.2.0.12", "10.2.0.14", 0xcfab0e66u, "10.2.0.13")]
    [InlineData("10.1.0.20", "10.1.0.1", 0xa1870ce4u, "10.2.0.12", "10.2.0.14", 0xaa9ba9d5u, "10.2.0.12")]
    public void Address_hash_matches_the_kernels_test_vectors(string src, string dst, uint j, string to13, string to16, uint jPersistent, string persistent13)
    {
        Assert.Equal(0x0100010au, JHash.NativeWord(Ip4.Parse(dst)));
        Assert.Equal(j, JHash.NatAddressHash(Ip4.Parse(src), Ip4.Parse(dst), 0, persistent: false));
        Assert.Equal(jPersistent, JHash.NatAddressHash(Ip4.Parse(src), Ip4.Parse(dst), 0, persistent: true));
        Assert.Equal(to13, DnatTo(src, dst, "10.2.0.10-10.2.0.13"));
        Assert.Equal(to16, DnatTo(src, dst, "10.2.0.10-10.2.0.16"));
        Assert.Equal(persistent13, DnatTo(src, dst, "10.2.0.10-10.2.0.13", NatRangeFlags.Persistent));
    }

    // facts §4.3: observed choices for sources 10.1.0.20…29 and range 10.2.0.10-10.2.0.16.
    [Fact]
    public void Address_hash_predicts_the_observed_dnat_choices()
    {
        string[] observed = [".14", ".16", ".14", ".12", ".11", ".15", ".14", ".11", ".12", ".10"];
        for (int i = 0; i < 10; i++)
            Assert.Equal("10.2.0" + observed[i], DnatTo($"10.1.0.{20 + i}", "10.1.0.1", "10.2.0.10-10.2.0.16"));
    }

    private static string DnatTo(string src, string dst, string range, NatRangeFlags flags = NatRangeFlags.None)
    {
        var lab = new Lab();
        var (ct, d, _, ok) = First(lab, Tcp($"{src}:40000", $"{dst}:80", TcpFlags.Syn), dnat: Range(range, flags));
        Assert.True(ok);
        Assert.Equal(NatAddressRule.Hash, d!.AddressRule);
        Assert.Equal(CtState.New | CtState.Dnat, CtStates.Of(ct));
        return ct.Entry!.Reply.Src.ToString();
    }

    [Fact]
    public void Same_ip_pair_always_gets_the_same_address_whatever_the_ports()
    {
        var lab = new Lab();
        var chosen = Enumerable.Range(0, 20).Select(i =>
            First(lab, Tcp($"10.1.0.2:{40000 + i}", $"10.1.0.1:{80 + i}", TcpFlags.Syn), dnat: Range("10.2.0.10-10.2.0.16")).Ct.Entry!.Reply.Src).Distinct();
        Assert.Equal([Ip4.Parse("10.2.0.12")], chosen);
    }

    // facts §4.3: DNAT to a port range starts at the lowest port; a port inside the range is kept.
    [Fact]
    public void Dnat_port_range_starts_at_the_lowest_free_port_and_keeps_a_port_in_range()
    {
        var lab = new Lab();
        for (int i = 0; i < 6; i++)
        {
            var (ct, d, _, ok) = First(lab, Tcp($"10.1.0.2:{41000 + i}", "10.1.0.1:7802", TcpFlags.Syn), dnat: Range("10.2.0.2:9000-9005"));
            Assert.True(ok);
            Assert.Equal(9000, ct.Entry!.Reply.SrcPort);
            Assert.Equal(NatPortRule.Searched, d!.Port.Rule);
            Assert.False(d.Port.IsRandom);
        }
        var kept = First(lab, Tcp("10.1.0.2:42000", "10.1.0.1:9003", TcpFlags.Syn), dnat: Range("10.2.0.2:9000-9005"));
        Assert.Equal(9003, kept.Ct.Entry!.Reply.SrcPort);
    }

    [Fact]
    public void Dnat_without_port_range_never_changes_the_port()
    {
        var lab = new Lab();
        var (ct, d, _, _) = First(lab, Tcp("10.1.0.2:40000", "10.1.0.1:8080", TcpFlags.Syn), dnat: Range("10.2.0.2"));
        Assert.Equal(8080, ct.Entry!.Reply.SrcPort);
        Assert.Equal(NatAddressRule.Single, d!.AddressRule);
    }

    // facts §4.3: SNAT to a single port; four flows to one destination: only the first gets an entry.
    [Fact]
    public void Snat_to_a_single_used_port_drops_at_confirm()
    {
        var lab = new Lab();
        var results = Enumerable.Range(0, 4)
            .Select(i => First(lab, Tcp($"10.1.0.2:{45000 + i}", "10.2.0.2:80", TcpFlags.Syn), snat: Range("10.2.0.1:20005")))
            .ToList();
        Assert.True(results[0].Confirmed);
        Assert.False(results[0].Snat!.Clash);
        Assert.All(results.Skip(1), r => { Assert.False(r.Confirmed); Assert.True(r.Snat!.Clash); });
        Assert.Equal(1, lab.Table.Count);
    }

    // facts §4.3/§4.6: the original port is kept when free; a clash picks a random port in the original port's class.
    [Theory]
    [InlineData(500, 1, 511)]
    [InlineData(700, 600, 1023)]
    [InlineData(1023, 600, 1023)]
    [InlineData(1024, 1024, 65535)]
    [InlineData(45000, 1024, 65535)]
    public void Snat_clash_picks_a_random_port_in_the_windows_class(int port, int min, int max)
    {
        var lab = new Lab(seed: port);
        var h = Router();
        var first = First(lab, Tcp($"10.1.0.2:{port}", "10.2.0.2:80", TcpFlags.Syn), masquerade: (h, "eth1", NatRange.To(null)));
        Assert.Equal(port, first.Ct.Entry!.Reply.DstPort);
        // The masquerade address is the range's single address; the port is kept because the tuple is free.
        Assert.Equal(NatAddressRule.Single, first.Snat!.AddressRule);
        Assert.Equal(NatPortRule.Kept, first.Snat.Port.Rule);
        var second = First(lab, Tcp($"10.1.0.3:{port}", "10.2.0.2:80", TcpFlags.Syn), masquerade: (h, "eth1", NatRange.To(null)));
        Assert.True(second.Confirmed);
        var p = second.Ct.Entry!.Reply.DstPort;
        Assert.InRange(p, min, max);
        Assert.NotEqual(port, p);
        Assert.True(second.Snat!.Port.IsRandom);
        Assert.Equal((min, max), (second.Snat.Port.WindowMin, second.Snat.Port.WindowMax));
        Assert.Equal(CtState.New | CtState.Snat, CtStates.Of(second.Ct));
    }

    // facts §4.3: 10.1.0.3:45100 remapped once is given the same port for other destinations (endpoint-independent).
    [Fact]
    public void Snat_reuses_an_existing_mapping_for_the_same_source_endpoint()
    {
        var lab = new Lab();
        var h = Router();
        var masq = (h, "eth1", NatRange.To(null));
        First(lab, Tcp("10.1.0.2:45100", "10.2.0.2:80", TcpFlags.Syn), masquerade: masq);
        var remapped = First(lab, Tcp("10.1.0.3:45100", "10.2.0.2:80", TcpFlags.Syn), masquerade: masq);
        var port = remapped.Ct.Entry!.Reply.DstPort;
        Assert.NotEqual(45100, port);
        foreach (var dst in new[] { "10.2.0.3:80", "10.2.0.4:443" })
        {
            var again = First(lab, Tcp($"10.1.0.3:45100", dst, TcpFlags.Syn), masquerade: masq);
            Assert.Equal(port, again.Ct.Entry!.Reply.DstPort);
            Assert.Equal(NatPortRule.ReusedMapping, again.Snat!.Port.Rule);
        }
    }

    [Fact]
    public void Two_clients_share_an_external_port_when_their_destinations_differ()
    {
        var lab = new Lab();
        var h = Router();
        var a = First(lab, Tcp("10.1.0.2:45100", "10.2.0.2:80", TcpFlags.Syn), masquerade: (h, "eth1", NatRange.To(null)));
        var b = First(lab, Tcp("10.1.0.20:45100", "10.2.0.3:80", TcpFlags.Syn), masquerade: (h, "eth1", NatRange.To(null)));
        Assert.Equal(45100, a.Ct.Entry!.Reply.DstPort);
        Assert.Equal(45100, b.Ct.Entry!.Reply.DstPort);
    }

    // facts §6.5: --random-fully always re-chooses, in the original port's class; explain mode gets the window as data.
    [Theory]
    [InlineData(45001, 1024, 65535)]
    [InlineData(600, 600, 1023)]
    [InlineData(100, 1, 511)]
    public void Random_fully_always_picks_a_random_port(int port, int min, int max)
    {
        var lab = new Lab(seed: 7);
        var r = First(lab, Tcp($"10.1.0.2:{port}", "10.2.0.2:80", TcpFlags.Syn), masquerade: (Router(), "eth1", NatRange.To(null, flags: NatRangeFlags.ProtoRandomFully)));
        Assert.True(r.Snat!.Port.IsRandom);
        Assert.Equal((min, max), (r.Snat.Port.WindowMin, r.Snat.Port.WindowMax));
        Assert.InRange(r.Ct.Entry!.Reply.DstPort, min, max);
        Assert.Contains($"random free port in window {min}-{max}", r.Snat.Port.ToString());
    }

    [Fact]
    public void Masquerade_to_ports_picks_inside_the_range()
    {
        var lab = new Lab();
        var r = First(lab, Tcp("10.1.0.2:45001", "10.2.0.2:80", TcpFlags.Syn), masquerade: (Router(), "eth1", NatRange.To(null, 20000, 20009)));
        Assert.InRange(r.Ct.Entry!.Reply.DstPort, 20000, 20009);
    }

    // NAT never produces a tuple already in use unless the kernel would drop (confirm fails exactly when it reports a clash).
    [Fact]
    public void Nat_never_hands_out_a_used_tuple_unless_it_drops()
    {
        int confirmed = 0, dropped = 0;
        var gen = Gen.Select(Gen.Int[0, 3], Gen.Int[1, 3], Gen.Int[20000, 20003], Gen.Bool, Gen.Int[1, 4]).Array[1, 40];
        gen.Sample(flows =>
        {
            var lab = new Lab(seed: flows.Length);
            foreach (var (client, server, sport, fully, width) in flows)
            {
                var p = Tcp($"10.1.0.{10 + client}:{sport}", $"10.2.0.{server}:80", TcpFlags.Syn);
                var range = NatRange.To(new Ip4Range(Ip4.Parse("10.2.0.100"), Ip4.Parse("10.2.0.100")), 30000, (ushort)(30000 + width - 1),
                    fully ? NatRangeFlags.ProtoRandomFully : NatRangeFlags.None);
                var ct = lab.Tracker.Track(p);
                if (!ct.IsNewEntry) continue;
                lab.Nat.NullBinding(ct.Entry!, NatManipType.Dst);
                var s = lab.Nat.SetupInfo(ct.Entry!, range, NatManipType.Src);
                bool ok = lab.Tracker.Confirm(ct);
                if (ok == s.Clash) return false;
                if (ok) Interlocked.Increment(ref confirmed); else Interlocked.Increment(ref dropped);
            }
            // Every reply tuple in the table is unique.
            return lab.Table.List().Select(e => e.Reply).Distinct().Count() == lab.Table.Count;
        }, iter: 300);
        // Both outcomes occur: the property is not vacuous.
        Assert.True(confirmed > 100 && dropped > 100, $"confirmed {confirmed}, dropped {dropped}");
    }

    // facts §1.5: what each point sees for DNAT 10.1.0.1:80 → 10.2.0.2:8080 plus MASQUERADE out eth1 (10.2.0.1).
    [Fact]
    public void Dnat_and_masquerade_rewrite_original_and_reply_packets_like_the_kernel()
    {
        var lab = new Lab();
        var syn = Tcp("10.1.0.2:54024", "10.1.0.1:80", TcpFlags.Syn);
        var ct = lab.Tracker.Track(syn);
        var e = ct.Entry!;
        lab.Nat.SetupInfo(e, Range("10.2.0.2:8080"), NatManipType.Dst);
        var forward = NatRewrite.ApplyDnat(syn, e);
        Assert.Equal("tcp 10.1.0.2:54024 -> 10.2.0.2:8080", forward.ToString());
        // FORWARD timing: DNAT already, SNAT not yet.
        Assert.Equal(CtState.New | CtState.Dnat, CtStates.Of(ct));
        var h = Router();
        lab.Nat.Masquerade(e, NatRange.To(null), h, h.FindInterface("eth1")!, forward.Dst);
        Assert.Equal(CtState.New | CtState.Dnat | CtState.Snat, CtStates.Of(ct));
        Assert.Equal("tcp 10.2.0.1:54024 -> 10.2.0.2:8080", NatRewrite.ApplySnat(forward, e).ToString());
        Assert.True(lab.Tracker.Confirm(ct));
        Assert.Equal("eth1", e.MasqueradeInterface);

        var synAck = Tcp("10.2.0.2:8080", "10.2.0.1:54024", TcpFlags.Syn | TcpFlags.Ack);
        var back = lab.Tracker.Track(synAck);
        Assert.Equal(ConntrackDirection.Reply, back.Direction);
        var inForward = NatRewrite.UnSnatReply(synAck, e);
        Assert.Equal("tcp 10.2.0.2:8080 -> 10.1.0.2:54024", inForward.ToString());
        Assert.Equal("tcp 10.1.0.1:80 -> 10.1.0.2:54024", NatRewrite.UnDnatReply(inForward, e).ToString());
        Assert.Equal("tcp 10.1.0.1:80 -> 10.1.0.2:54024", NatRewrite.ReverseReply(synAck, e).ToString());
    }

    // facts §5.7: the curl through DNAT + MASQUERADE, server closes first: the exact conntrack -L line.
    [Fact]
    public void Curl_through_dnat_and_masquerade_gives_the_facts_line()
    {
        var lab = new Lab();
        var h = Router();
        var (ct, _, _, ok) = First(lab, Tcp("10.1.0.2:50672", "10.1.0.1:80", TcpFlags.Syn), dnat: Range("10.2.0.2:8080"), masquerade: (h, "eth1", NatRange.To(null)));
        Assert.True(ok);
        var e = ct.Entry!;
        // Later packets as they arrive on the wire: originals from the client, replies from the server to the masquerade address.
        var o = (string f) => Tcp("10.1.0.2:50672", "10.1.0.1:80", F(f));
        var r = (string f) => Tcp("10.2.0.2:8080", "10.2.0.1:50672", F(f));
        foreach (var p in new[] { r("SYN+ACK"), o("ACK"), r("FIN+ACK"), o("ACK"), o("FIN+ACK"), r("ACK") })
            Assert.Same(e, lab.Pass(p).Entry);
        lab.Clock.Advance(0.2);
        Assert.Equal("tcp      6 119 TIME_WAIT src=10.1.0.2 dst=10.1.0.1 sport=50672 dport=80 src=10.2.0.2 dst=10.2.0.1 sport=8080 dport=50672 [ASSURED] mark=0 use=1",
            ConntrackText.WriteTable(lab.Table).TrimEnd('\n'));
    }

    [Fact]
    public void Masquerade_leaves_a_zero_source_alone_and_drops_without_an_address()
    {
        var lab = new Lab();
        var h = Router();
        var ct = lab.Tracker.Track(Udp("0.0.0.0:68", "255.255.255.255:67"));
        var m = lab.Nat.Masquerade(ct.Entry!, NatRange.To(null), h, h.FindInterface("eth1")!, Ip4.Parse("255.255.255.255"));
        Assert.False(m.Changed);
        Assert.False(m.Dropped);

        var bare = new Host("bare");
        var dummy = bare.AddInterface("dummy0", InterfaceKind.Other);
        var ct2 = lab.Tracker.Track(Udp("10.9.0.1:5000", "10.2.0.2:53"));
        var d = lab.Nat.Masquerade(ct2.Entry!, NatRange.To(null), bare, dummy, Ip4.Parse("10.2.0.2"));
        Assert.True(d.Dropped);
        Assert.Contains("ate my IP address", d.Reason);
    }

    // facts §4.7: REDIRECT in PREROUTING goes to the incoming interface's first address (any scope), in OUTPUT to 127.0.0.1.
    [Fact]
    public void Redirect_takes_the_first_address_of_the_incoming_interface()
    {
        var lab = new Lab();
        var h = new Host("node");
        var eth0 = h.AddInterface("eth0", InterfaceKind.Ethernet);
        eth0.AddAddress(Ip4.Parse("10.3.0.2"), 24);
        var ct = lab.Tracker.Track(Tcp("10.1.0.2:40000", "10.77.0.1:9999", TcpFlags.Syn));
        lab.Nat.Redirect(ct.Entry!, NatRange.To(null, 8080), NatHook.Prerouting, h, "eth0");
        Assert.Equal("10.3.0.2:8080", $"{ct.Entry!.Reply.Src}:{ct.Entry.Reply.SrcPort}");

        eth0.AddAddress(Ip4.Parse("10.33.0.1"), 24, AddressScope.Link);
        var ct2 = lab.Tracker.Track(Tcp("10.1.0.2:40001", "10.77.0.1:9999", TcpFlags.Syn));
        lab.Nat.Redirect(ct2.Entry!, NatRange.To(null, 8080), NatHook.Prerouting, h, "eth0");
        Assert.Equal(Ip4.Parse("10.33.0.1"), ct2.Entry!.Reply.Src);

        var ct3 = lab.Tracker.Track(Tcp("10.250.0.1:40002", "10.77.0.1:9999", TcpFlags.Syn));
        lab.Nat.Redirect(ct3.Entry!, NatRange.To(null, 8080), NatHook.Output, h, null);
        Assert.Equal(Ip4.Parse("127.0.0.1"), ct3.Entry!.Reply.Src);

        var ct4 = lab.Tracker.Track(Tcp("10.1.0.2:40003", "10.77.0.1:9999", TcpFlags.Syn));
        Assert.True(lab.Nat.Redirect(ct4.Entry!, NatRange.To(null, 8080), NatHook.Prerouting, new Host("x"), "eth9").Dropped);
    }

    [Fact]
    public void Icmp_echo_through_masquerade_keeps_its_id_and_is_rewritten_both_ways()
    {
        var lab = new Lab();
        var (ct, _, s, ok) = First(lab, Icmp("10.1.0.2", "10.2.0.2", 8, 4660), masquerade: (Router(), "eth1", NatRange.To(null)));
        Assert.True(ok);
        Assert.Equal(4660, ct.Entry!.Reply.IcmpId);
        lab.Clock.Advance(0.5);
        Assert.Equal("icmp     1 29 src=10.1.0.2 dst=10.2.0.2 type=8 code=0 id=4660 [UNREPLIED] src=10.2.0.2 dst=10.2.0.1 type=0 code=0 id=4660 mark=0 use=1",
            ConntrackText.WriteTable(lab.Table).TrimEnd('\n'));
        var reply = Icmp("10.2.0.2", "10.2.0.1", 0, 4660);
        Assert.Equal(Ip4.Parse("10.1.0.2"), NatRewrite.ReverseReply(reply, ct.Entry).Dst);
    }

    // Verified on 6.18 (netns client/router/server, DNAT 10.1.0.1:80 → 10.2.0.2:8080): a client holding 10.1.0.2:40000 →
    // 10.1.0.1:80 then connecting 10.1.0.2:40000 → 10.2.0.2:8080 directly got `… src=10.2.0.2 dst=10.1.0.2 sport=8080
    // dport=6693`: the router's null binding moved the source port, and the server saw peer=10.1.0.2:6693.
    [Fact]
    public void Null_binding_moves_the_source_port_when_the_unchanged_reply_tuple_is_taken()
    {
        var lab = new Lab();
        // An existing DNATed connection whose reply tuple is what a direct connection would need.
        var first = First(lab, Tcp("10.1.0.2:40000", "10.1.0.1:80", TcpFlags.Syn), dnat: Range("10.2.0.2:8080"));
        Assert.True(first.Confirmed);
        var direct = First(lab, Tcp("10.1.0.2:40000", "10.2.0.2:8080", TcpFlags.Syn));
        Assert.True(direct.Confirmed);
        Assert.NotEqual(40000, direct.Ct.Entry!.Reply.DstPort);
        Assert.Equal(CtState.New | CtState.Snat, CtStates.Of(direct.Ct));
        Assert.True(direct.Snat!.Port.IsRandom);
        Assert.Equal((1024, 65535), (direct.Snat.Port.WindowMin, direct.Snat.Port.WindowMax));
    }

    [Theory]
    [InlineData("10.2.0.2:8080", "10.2.0.2:8080")]
    [InlineData("10.2.0.10-10.2.0.13", "10.2.0.10-10.2.0.13")]
    [InlineData("10.2.0.2:9000-9005", "10.2.0.2:9000-9005")]
    [InlineData(":20000-20009", ":20000-20009")]
    public void Nat_range_text_round_trips(string text, string printed) => Assert.Equal(printed, Range(text).ToString());

    [Theory]
    [InlineData("10.2.0.2:")]
    [InlineData("10.2.0.13-10.2.0.10")]
    [InlineData("10.2.0.2:9005-9000")]
    [InlineData("")]
    public void Bad_nat_ranges_are_refused(string text) => Assert.False(NatRange.TryParse(text, NatRangeFlags.None, out _));

    // facts §5.5: UDP cli → srv:7999 through MASQUERADE; srv's port unreachable to 10.2.0.1 reaches cli quoting cli's own packet.
    [Fact]
    public void Icmp_error_through_masquerade_is_rewritten_outside_and_inside()
    {
        var lab = new Lab();
        var h = Router();
        var udp = Udp("10.1.0.2:59633", "10.2.0.2:7999");
        var (ct, _, _, ok) = First(lab, udp, masquerade: (h, "eth1", NatRange.To(null)));
        Assert.True(ok);
        var e = ct.Entry!;
        var onWire = NatRewrite.ApplySnat(NatRewrite.ApplyDnat(udp, e), e);
        var error = Icmp("10.2.0.2", "10.2.0.1", 3, 0, code: 3);
        var rel = lab.Tracker.TrackIcmpError(error, onWire);
        Assert.Equal(CtInfo.RelatedReply, rel.Info);
        var (outer, quoted) = NatRewrite.ApplyToIcmpError(error, onWire, e, rel.Direction, NatManipType.Dst);
        (outer, quoted) = NatRewrite.ApplyToIcmpError(outer, quoted, e, rel.Direction, NatManipType.Src);
        Assert.Equal("icmp 10.2.0.2 -> 10.1.0.2 type=3 code=3 id=0", outer.ToString());
        Assert.Equal("udp 10.1.0.2:59633 -> 10.2.0.2:7999", quoted.ToString());
    }

    [Fact]
    public void Address_choice_is_a_deterministic_function_of_the_ip_pair() =>
        Gen.Select(Gen.UInt, Gen.UInt, Gen.UInt, Gen.UInt[0, 1000], Gen.Bool).Sample((s, d, lo, width, persistent) =>
        {
            var min = new Ip4(lo);
            var max = new Ip4((uint)Math.Min(uint.MaxValue, (ulong)lo + width));
            uint j = JHash.NatAddressHash(new Ip4(s), new Ip4(d), 0, persistent);
            var chosen = min.Value + JHash.ReciprocalScale(j, max.Value - min.Value + 1);
            bool inRange = chosen >= min.Value && chosen <= max.Value;
            bool stable = j == JHash.NatAddressHash(new Ip4(s), new Ip4(d), 0, persistent);
            bool persistentIgnoresDst = !persistent || j == JHash.NatAddressHash(new Ip4(s), new Ip4(d ^ 0x01010101), 0, true);
            return inRange && stable && persistentIgnoresDst;
        }, iter: 2000);

    [Fact]
    public void A_second_binding_of_the_same_manip_type_changes_nothing()
    {
        var lab = new Lab();
        var ct = lab.Tracker.Track(Tcp("10.1.0.2:40000", "10.1.0.1:80", TcpFlags.Syn));
        lab.Nat.SetupInfo(ct.Entry!, Range("10.2.0.2:8080"), NatManipType.Dst);
        Assert.True(NatEngine.IsBound(ct.Entry!, NatManipType.Dst));
        Assert.False(NatEngine.IsBound(ct.Entry!, NatManipType.Src));
        var second = lab.Nat.SetupInfo(ct.Entry!, Range("10.2.0.9:9090"), NatManipType.Dst);
        Assert.False(second.Changed);
        Assert.NotNull(second.Reason);
        Assert.Equal(Ip4.Parse("10.2.0.2"), ct.Entry!.Reply.Src);
    }

    // facts §4.6: masqueraded entries die with their interface, and a later packet leaving another way kills the entry.
    [Fact]
    public void Masqueraded_entries_follow_their_out_interface()
    {
        var lab = new Lab();
        var h = Router();
        var a = First(lab, Tcp("10.1.0.2:40000", "10.2.0.2:80", TcpFlags.Syn), masquerade: (h, "eth1", NatRange.To(null)));
        var b = First(lab, Tcp("10.1.0.2:40001", "10.2.0.2:80", TcpFlags.Syn), masquerade: (h, "eth1", NatRange.To(null)));
        var plain = First(lab, Tcp("10.1.0.2:40002", "10.1.0.9:80", TcpFlags.Syn));
        Assert.True(lab.Nat.CheckMasqueradeOut(a.Ct.Entry!, ConntrackDirection.Original, "eth1"));
        Assert.True(lab.Nat.CheckMasqueradeOut(plain.Ct.Entry!, ConntrackDirection.Original, "eth2"));
        Assert.False(lab.Nat.CheckMasqueradeOut(a.Ct.Entry!, ConntrackDirection.Original, "eth2"));
        Assert.False(lab.Table.Contains(a.Ct.Entry!));
        Assert.Equal(1, lab.Table.FlushMasquerade("eth1"));
        Assert.False(lab.Table.Contains(b.Ct.Entry!));
        Assert.Equal(1, lab.Table.Count);
        Assert.Equal(1, lab.Table.Flush());
        Assert.Equal(0, lab.Table.Count);
    }

    // Explain mode: --random-fully over 1024-65535 (64512 ports) from a uniform 16-bit offset: starts 0..1023 have two
    // draws each, the rest one; a used port gives its mass to the next free port.
    [Fact]
    public void Random_port_distribution_is_exact_for_explain_mode()
    {
        var lab = new Lab(seed: 3);
        var h = Router();
        var fully = NatRange.To(null, flags: NatRangeFlags.ProtoRandomFully);
        var first = First(lab, Tcp("10.1.0.2:45001", "10.2.0.2:80", TcpFlags.Syn), masquerade: (h, "eth1", fully));
        var used = first.Ct.Entry!.Reply.DstPort;
        var ct = lab.Tracker.Track(Tcp("10.1.0.3:45001", "10.2.0.2:80", TcpFlags.Syn));
        var m = lab.Nat.Masquerade(ct.Entry!, fully, h, h.FindInterface("eth1")!, Ip4.Parse("10.2.0.2"));
        var dist = lab.Nat.PortDistribution(ct.Entry!, m).ToDictionary(x => x.Port, x => x.Probability);
        Assert.Equal(1.0, dist.Values.Sum(), 9);
        Assert.False(dist.ContainsKey(used));
        Assert.Equal(2.0 / 65536, dist[1024], 12);
        Assert.Equal(1.0 / 65536, dist[40000 == used ? (ushort)40001 : (ushort)40000], 12);
        double before = used < 2048 ? 2.0 / 65536 : 1.0 / 65536;
        double own = (used + 1) < 2048 ? 2.0 / 65536 : 1.0 / 65536;
        Assert.Equal(before + own, dist[(ushort)(used + 1)], 12);
        Assert.True(dist.ContainsKey(ct.Entry!.Reply.DstPort));

        // A kept port is no random choice: no distribution.
        var kept = First(lab, Tcp("10.1.0.9:45009", "10.2.0.2:80", TcpFlags.Syn), masquerade: (h, "eth1", NatRange.To(null)));
        Assert.Empty(lab.Nat.PortDistribution(kept.Ct.Entry!, kept.Snat!));
    }
}
