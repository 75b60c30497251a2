using PacketLife.Core.Net;
using PacketLife.Core.Netfilter;
using PacketLife.Core.Netfilter.Evaluation;
using PacketLife.Core.Netfilter.Text;

namespace PacketLife.Tests.Netfilter;

/// <summary>`iptables-restore --noflush` of a payload onto a node's rules, as iptables-save then prints them.</summary>
public class SaveViewTests
{
    [Fact]
    public void Noflush_flushes_declared_user_chains_deletes_X_and_keeps_the_rest()
    {
        var existing = IptablesSaveReader.Read(
            "*nat\n:PREROUTING ACCEPT [7:420]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n" +
            ":KUBE-SERVICES - [0:0]\n:KUBE-SVC-OLD - [0:0]\n:DOCKER - [0:0]\n" +
            "-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n" +
            "-A DOCKER -i docker0 -j RETURN\n" +
            "-A KUBE-SERVICES -d 10.0.0.9/32 -p tcp -m tcp --dport 80 -j KUBE-SVC-OLD\n" +
            "-A KUBE-SVC-OLD -j RETURN\nCOMMIT\n" +
            "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n-A FORWARD -j ACCEPT\nCOMMIT\n", "node").RuleSet;
        var payload = IptablesSaveReader.Read(
            "*nat\n:KUBE-SERVICES - [0:0]\n:KUBE-SVC-OLD - [0:0]\n:KUBE-MARK-MASQ - [0:0]\n" +
            "-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000\n" +
            "-A KUBE-SERVICES -m comment --comment \"ns/a cluster IP\" -m tcp -p tcp -d 10.0.0.10 --dport 80 -j KUBE-MARK-MASQ\n" +
            "-X KUBE-SVC-OLD\nCOMMIT\n", "payload").RuleSet;
        var saved = IptablesSaveWriter.Write(SaveView.AfterRestore(payload, existing));
        Assert.Equal(
            "*nat\n:PREROUTING ACCEPT [7:420]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n" +
            ":DOCKER - [0:0]\n:KUBE-MARK-MASQ - [0:0]\n:KUBE-SERVICES - [0:0]\n" +
            "-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n" +
            "-A DOCKER -i docker0 -j RETURN\n" +
            "-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000\n" +
            "-A KUBE-SERVICES -d 10.0.0.10/32 -p tcp -m comment --comment \"ns/a cluster IP\" -m tcp --dport 80 -j KUBE-MARK-MASQ\n" +
            "COMMIT\n" +
            "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n-A FORWARD -j ACCEPT\nCOMMIT\n", saved);
    }

    [Fact]
    public void A_builtin_chain_line_sets_the_policy_and_does_not_flush()
    {
        var existing = IptablesSaveReader.Read("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A FORWARD -j ACCEPT\nCOMMIT\n", "node").RuleSet;
        var payload = IptablesSaveReader.Read("*filter\n:FORWARD DROP [0:0]\n-I FORWARD 1 -s 10.0.0.0/8 -j DROP\nCOMMIT\n", "payload").RuleSet;
        Assert.Equal("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n-A FORWARD -s 10.0.0.0/8 -j DROP\n-A FORWARD -j ACCEPT\nCOMMIT\n",
            IptablesSaveWriter.Write(SaveView.AfterRestore(payload, existing)));
    }

    [Fact]
    public void Connmark_save_and_restore_arithmetic()
    {
        // facts §4.2: ctmark 0xf00, skb mark 0xb; --save-mark --nfmask 0x0f --ctmask 0xff → ctmark 0xf0b.
        var p = new Packet(IpProtocol.Udp, Ip4.Parse("10.1.0.2"), 1, Ip4.Parse("10.2.0.2"), 2, Mark: 0xb);
        var save = TraversalTests.Eval("mangle", ":PREROUTING ACCEPT [0:0]\n-A PREROUTING -j CONNMARK --save-mark --nfmask 0x0f --ctmask 0xff");
        var o = Assert.Single(save.Explain(TraversalTests.Ctx(p, NetfilterHook.Prerouting) with { Conntrack = ConntrackView.NewFor(p) with { Mark = 0xf00 } }));
        Assert.Equal(0xf0bu, Assert.Single(o.Requests.OfType<ConnmarkRequest>()).NewMark);
        // skb mark 0x4000; --restore-mark --nfmask 0xff00 --ctmask 0x0f00 with ctmark 0xf0b → skb mark 0xf00.
        var restore = TraversalTests.Eval("mangle", ":PREROUTING ACCEPT [0:0]\n-A PREROUTING -j CONNMARK --restore-mark --nfmask 0xff00 --ctmask 0x0f00");
        var o2 = Assert.Single(restore.Explain(TraversalTests.Ctx(p with { Mark = 0x4000 }, NetfilterHook.Prerouting) with { Conntrack = ConntrackView.NewFor(p) with { Mark = 0xf0b } }));
        Assert.Equal(0xf00u, o2.Packet.Mark);
    }

    [Theory]
    [InlineData("-j CT --notrack", typeof(NoTrackRequest))]
    [InlineData("-j NOTRACK", typeof(NoTrackRequest))]
    [InlineData("-j CT --zone 5", typeof(CtZoneRequest))]
    [InlineData("-j TRACE", typeof(TraceRequest))]
    public void Raw_table_targets_return_requests_and_continue(string target, Type request)
    {
        var p = new Packet(IpProtocol.Udp, Ip4.Parse("10.1.0.2"), 1, Ip4.Parse("10.2.0.2"), 2);
        var e = TraversalTests.Eval("raw", $":PREROUTING ACCEPT [0:0]\n-A PREROUTING {target}\n-A PREROUTING -j ACCEPT");
        var o = Assert.Single(e.Explain(TraversalTests.Ctx(p, NetfilterHook.Prerouting)));
        Assert.IsType(request, Assert.Single(o.Requests));
        Assert.Equal("PREROUTING:1 Matched, PREROUTING:2 Verdict", string.Join(", ", o.Visits.Select(v => $"{v.Chain}:{v.Index} {v.Action}")));
    }
}
