using System.Text.RegularExpressions;
using PacketLife.Core.Conntrack;
using PacketLife.Core.Conntrack.Nat;
using PacketLife.Core.Conntrack.Text;
using PacketLife.Core.Net;
using PacketLife.Tests.Routing;
using static PacketLife.Tests.Conntrack.Lab;

namespace PacketLife.Tests.Conntrack;

/// <summary>The seed's conntrack lines, produced by the model on the AKS node fixture: kube-proxy's DNAT to a pod on this
/// node and `MASQUERADE --random-fully` out cbr0 (scope link), so the reply goes to the node IP with a random port.</summary>
public class SeedScenarioTests
{
    public static TheoryData<string, string, string, int> SeedFlows => new()
    {
        // case                       client                  node port              pod
        { "Azure probe to NodePort", "168.63.129.16:57400", "10.224.0.4:32670", 80 },
        { "internet to NodePort",    "198.51.100.7:53108",  "10.224.0.4:32670", 80 },
    };

    [Theory]
    [MemberData(nameof(SeedFlows))]
    public void Nodeport_to_a_local_pod_masquerades_to_the_node_ip_with_a_random_port(string name, string client, string nodePort, int podPort)
    {
        _ = name;
        var host = RoutingTests.AksNode();
        var lab = new Lab(host.Conntrack, seed: 42);
        var syn = Tcp(client, nodePort, TcpFlags.Syn);
        var ct = lab.Tracker.Track(syn);
        var e = ct.Entry!;
        // nat PREROUTING: KUBE-SEP-… -j DNAT --to-destination 10.244.1.136:80
        Assert.True(NatRange.TryParse($"10.244.1.136:{podPort}", NatRangeFlags.None, out var dnat));
        var d = lab.Nat.SetupInfo(e, dnat, NatManipType.Dst);
        Assert.True(d.Changed);
        var routed = NatRewrite.ApplyDnat(syn, e);
        var route = host.Lookup(routed.Dst)!;
        Assert.Equal("cbr0", route.OutInterface);
        // nat POSTROUTING: KUBE-POSTROUTING -j MASQUERADE --random-fully
        var m = lab.Nat.Masquerade(e, NatRange.To(null, flags: NatRangeFlags.ProtoRandomFully), host, host.FindInterface("cbr0")!, route.NextHopFor(routed.Dst));
        Assert.Equal(Ip4.Parse("10.224.0.4"), m.NewAddress);
        Assert.True(m.Port.IsRandom);
        Assert.Equal((1024, 65535), (m.Port.WindowMin, m.Port.WindowMax));
        Assert.True(lab.Tracker.Confirm(ct));

        var pod = $"10.244.1.136:{podPort}";
        var natted = $"10.224.0.4:{e.Reply.DstPort}";
        foreach (var p in new[]
                 {
                     Tcp(pod, natted, F("SYN+ACK")), Tcp(client, nodePort, F("ACK")), Tcp(client, nodePort, F("FIN+ACK")),
                     Tcp(pod, natted, F("ACK")), Tcp(pod, natted, F("FIN+ACK")), Tcp(client, nodePort, F("ACK")),
                 })
            lab.Pass(p);
        lab.Clock.Advance(71.5);
        var line = ConntrackText.WriteTable(lab.Table).TrimEnd('\n');
        var (cip, cport) = (client.Split(':')[0], client.Split(':')[1]);
        Assert.Equal($"tcp      6 48 TIME_WAIT src={cip} dst=10.224.0.4 sport={cport} dport=32670 src=10.244.1.136 dst=10.224.0.4 sport=80 dport=PORT [ASSURED] mark=0 use=1",
            Regex.Replace(line, @"dport=\d+ \[ASSURED\]", "dport=PORT [ASSURED]"));
    }

    [Fact]
    public void Same_seed_gives_the_same_port_and_another_seed_may_not()
    {
        int Port(int seed)
        {
            var host = RoutingTests.AksNode();
            var lab = new Lab(host.Conntrack, seed);
            var ct = lab.Tracker.Track(Tcp("168.63.129.16:57628", "10.224.0.4:32670", TcpFlags.Syn));
            lab.Nat.SetupInfo(ct.Entry!, NatRange.To(new Ip4Range(Ip4.Parse("10.244.1.136"), Ip4.Parse("10.244.1.136")), 80), NatManipType.Dst);
            lab.Nat.Masquerade(ct.Entry!, NatRange.To(null, flags: NatRangeFlags.ProtoRandomFully), host, host.FindInterface("cbr0")!, Ip4.Parse("10.244.1.136"));
            return ct.Entry!.Reply.DstPort;
        }
        Assert.Equal(Port(5), Port(5));
        Assert.NotEqual(Port(5), Port(6));
    }
}
