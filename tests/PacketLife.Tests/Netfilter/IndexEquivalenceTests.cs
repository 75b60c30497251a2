using System.Globalization;
using System.Text;
using CsCheck;
using PacketLife.Core.Net;
using PacketLife.Core.Netfilter;
using PacketLife.Core.Netfilter.Evaluation;
using PacketLife.Core.Netfilter.Text;

namespace PacketLife.Tests.Netfilter;

/// <summary>The chain index (Evaluation/ChainIndex.cs) must be exact: for every packet, an indexed evaluator gives
/// the same verdict, rule path (`table:chain:rule#` with actions), branches, probabilities, requests, packet and
/// uncertainty as one that scans every rule (<see cref="TableEvaluator.Scanning"/>), in explain and sample mode,
/// with stateful matches advancing alike. Checked on generated kube-proxy nat dumps with rules between kube-proxy's
/// that break the indexed shapes, and on random packets, most of which match no Service.</summary>
public class IndexEquivalenceTests
{
    static readonly string[] Protos = ["tcp", "udp", "sctp"];
    static readonly ushort[] Ports = [53, 80, 443];
    static readonly Ip4 Node = Ip4.Parse("10.224.0.4");

    /// <summary>One Service: protocol, cluster IP 10.0.0.N, port, LB IP 20.0.0.N (0: none), NodePort 3000N (0: none), endpoints.</summary>
    sealed record Svc(int Proto, int Ip, int Port, int Lb, int NodePort, int Endpoints, int Id);

    /// <summary>A rule that does not have kube-proxy's shape, written into KUBE-SERVICES or KUBE-NODEPORTS at a position.</summary>
    sealed record Extra(int Kind, int Chain, int Position, int Ip, int Port, int Proto);

    static readonly Gen<Svc> GenSvc = Gen.Select(Gen.Int[0, 2], Gen.Int[1, 12], Gen.Int[0, 2], Gen.Int[0, 4], Gen.Int[0, 5], Gen.Int[0, 3],
        (pr, ip, port, lb, np, eps) => new Svc(pr, ip, port, lb, np, eps, 0));

    static readonly Gen<Extra> GenExtra = Gen.Select(Gen.Int[0, ExtraKinds - 1], Gen.Int[0, 1], Gen.Int[0, 1000], Gen.Int[1, 12], Gen.Int[0, 2], Gen.Int[0, 5],
        (k, c, pos, ip, port, pr) => new Extra(k, c, pos, ip, port, pr));

    const int ExtraKinds = 20;

    /// <summary>Rules that break or bend kube-proxy's shapes: each is either scanned or filed in a bucket with tests of
    /// its own that the walk must still run.</summary>
    static string ExtraRule(Extra e, string chain, Svc[] services)
    {
        // Half the time the rule has a Service's key (so that packets to the Service meet it), else its own.
        var aim = services[e.Ip % services.Length];
        var p = Protos[e.Proto < 3 ? e.Proto : aim.Proto];
        var ip = $"10.0.0.{(e.Proto < 3 ? e.Ip : aim.Ip)}";
        var port = Ports[e.Proto < 3 ? e.Port : aim.Port];
        return e.Kind switch
        {
            0 => $"-A {chain} -s 10.244.0.0/16 -j RETURN",
            1 => $"-A {chain} ! -d {ip}/32 -p {p} -m {p} --dport {port} -j KUBE-MARK-MASQ",
            2 => $"-A {chain} -d {ip}/32 -p {p} -m {p} ! --dport {port} -j KUBE-MARK-DROP",
            3 => $"-A {chain} -d 10.0.0.0/28 -p {p} -m {p} --dport {port} -m statistic --mode random --probability 0.50000000000 -j KUBE-MARK-MASQ",
            4 => $"-A {chain} -p {p} -m {p} --dport {port} -m mark --mark 0x1/0x1 -j ACCEPT",
            5 => $"-A {chain} -d {ip}/32 -p {p} -m rpfilter -m {p} --dport {port} -j ACCEPT",
            6 => $"-A {chain} -d {ip}/32 -p {p} -m {p} --dport {port} -m rpfilter -j ACCEPT",
            7 => $"-A {chain} -d {ip}/32 -p {p} -m {p} --dport {port} -m statistic --mode nth --every 2 --packet 0 -j KUBE-MARK-MASQ",
            8 => $"-A {chain} -d {ip}/32 -p {p} -m {p} --dport {port} -g KUBE-MARK-MASQ",
            9 => $"-A {chain} -d {ip}/32 -p {p} -m {p} --dport {port} -j KUBE-NODEPORTS",
            10 => $"-A {chain} -d {ip}/32 -i eth1 -p {p} -m {p} --dport {port} -j ACCEPT",
            11 => $"-A {chain} -d {ip}/32 -p tcp -m tcp --dport {port} --tcp-flags SYN,ACK SYN -j ACCEPT",
            12 => $"-A {chain} -d {ip}/32 -p {p} -m {p} --sport 1024:40000 --dport {port} -j KUBE-MARK-MASQ",
            13 => $"-A {chain} -f -j ACCEPT",
            14 => $"-A {chain} -d {ip}/32 -p {p} -m {p} --dport {port} -j RETURN",
            15 => $"-A {chain} -d {ip}/32 -p {p} -m comment --comment \"no endpoints\" -m {p} --dport {port} -j KUBE-MARK-DROP",
            16 => $"-A {chain} -m recent --set --name SEEN -p {p} -m {p} --dport {port}",
            17 => $"-A {chain} ! -s 10.244.0.0/16 -d {ip}/32 -p {p} -m comment --comment \"ns/x cluster IP\" -m {p} --dport {port} -j KUBE-MARK-MASQ",
            18 => $"-A {chain} -d 10.0.0.0/28 -p {p} -m {p} --dport {port} -j KUBE-MARK-MASQ",
            _ => $"-A {chain} -d {ip}/32 -p {p} -m {p} --dport {port} -j KUBE-MARK-MASQ",
        };
    }

    static string Dump(Svc[] services, Extra[] extras)
    {
        var chains = new SortedSet<string>(StringComparer.Ordinal) { "KUBE-MARK-DROP", "KUBE-MARK-MASQ", "KUBE-NODEPORTS", "KUBE-SERVICES" };
        var ks = new List<string>();
        var np = new List<string>();
        var other = new List<string>();
        for (int i = 0; i < services.Length; i++)
        {
            var s = services[i];
            var p = Protos[s.Proto];
            var port = Ports[s.Port];
            var svc = $"KUBE-SVC-S{i}";
            var ext = $"KUBE-EXT-S{i}";
            chains.Add(svc);
            if (s.Endpoints == 0)
            {
                ks.Add($"-A KUBE-SERVICES -d 10.0.0.{s.Ip}/32 -p {p} -m comment --comment \"ns/s{i} has no endpoints\" -m {p} --dport {port} -j KUBE-MARK-DROP");
                continue;
            }
            ks.Add($"-A KUBE-SERVICES -d 10.0.0.{s.Ip}/32 -p {p} -m comment --comment \"ns/s{i} cluster IP\" -m {p} --dport {port} -j {svc}");
            if (s.Lb > 0 || s.NodePort > 0)
            {
                chains.Add(ext);
                other.Add($"-A {ext} -m comment --comment \"masquerade traffic for ns/s{i} external destinations\" -j KUBE-MARK-MASQ");
                other.Add($"-A {ext} -j {svc}");
            }
            if (s.Lb > 0) ks.Add($"-A KUBE-SERVICES -d 20.0.0.{s.Lb}/32 -p {p} -m comment --comment \"ns/s{i} loadbalancer IP\" -m {p} --dport {port} -j {ext}");
            if (s.NodePort > 0) np.Add($"-A KUBE-NODEPORTS -p {p} -m comment --comment \"ns/s{i}\" -m {p} --dport {30000 + s.NodePort} -j {ext}");
            other.Add($"-A {svc} ! -s 10.244.0.0/16 -d 10.0.0.{s.Ip}/32 -p {p} -m comment --comment \"ns/s{i} cluster IP\" -m {p} --dport {port} -j KUBE-MARK-MASQ");
            for (int e = 0; e < s.Endpoints; e++)
            {
                var sep = $"KUBE-SEP-S{i}E{e}";
                chains.Add(sep);
                var prob = e < s.Endpoints - 1
                    ? " -m statistic --mode random --probability " + (1.0 / (s.Endpoints - e)).ToString("F11", CultureInfo.InvariantCulture)
                    : "";
                other.Add($"-A {svc} -m comment --comment \"ns/s{i} -> 10.244.{i}.{e + 2}:8080\"{prob} -j {sep}");
                other.Add($"-A {sep} -s 10.244.{i}.{e + 2}/32 -m comment --comment \"ns/s{i}\" -j KUBE-MARK-MASQ");
                other.Add($"-A {sep} -p {p} -m comment --comment \"ns/s{i}\" -m {p} -j DNAT --to-destination 10.244.{i}.{e + 2}:8080");
            }
        }
        foreach (var e in extras)
        {
            var list = e.Chain == 0 ? ks : np;
            list.Insert(e.Position % (list.Count + 1), ExtraRule(e, e.Chain == 0 ? "KUBE-SERVICES" : "KUBE-NODEPORTS", services));
        }
        ks.Add("-A KUBE-SERVICES -m comment --comment \"kubernetes service nodeports; NOTE: this must be the last rule in this chain\" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS");
        var sb = new StringBuilder("*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n");
        foreach (var c in chains) sb.Append(':').Append(c).Append(" - [0:0]\n");
        sb.Append("-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n");
        sb.Append("-A OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n");
        sb.Append("-A KUBE-MARK-DROP -j MARK --set-xmark 0x8000/0x8000\n");
        sb.Append("-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000\n");
        foreach (var l in np) sb.Append(l).Append('\n');
        foreach (var l in ks) sb.Append(l).Append('\n');
        foreach (var l in other) sb.Append(l).Append('\n');
        sb.Append("COMMIT\n");
        return sb.ToString();
    }

    /// <summary>A packet: half aimed at a generated Service (cluster IP, LB IP or NodePort, with its protocol and
    /// port), half at the generated addresses and ports at random, or at ones no rule names.</summary>
    sealed record PacketSpec(int Aim, int Proto, int DstKind, int DstN, int PortKind, int SrcKind, int Frag, bool Eth1, bool Output, int Addrtype);

    static readonly Gen<PacketSpec> GenPacket = Gen.Select(
        Gen.Select(Gen.Int[0, 5], Gen.Int[0, 4], Gen.Int[0, 5], Gen.Int[0, 13], Gen.Int[0, 9]),
        Gen.Select(Gen.Int[0, 2], Gen.Int[0, 9], Gen.Bool, Gen.Bool, Gen.Int[0, 4]),
        (a, b) => new PacketSpec(a.Item1, a.Item2, a.Item3, a.Item4, a.Item5, b.Item1, b.Item2, b.Item3, b.Item4, b.Item5));

    static PacketContext Make(PacketSpec g, Svc[] services)
    {
        var protocol = g.Proto switch { 0 => IpProtocol.Tcp, 1 => IpProtocol.Udp, 2 => IpProtocol.Sctp, 3 => IpProtocol.Icmp, _ => IpProtocol.Tcp };
        var dst = g.DstKind switch
        {
            0 or 1 => Ip4.Parse($"10.0.0.{g.DstN}"),
            2 => Ip4.Parse($"20.0.0.{g.DstN % 6}"),
            3 => Node,
            4 => Ip4.Parse("10.9.9.9"),
            _ => Ip4.Parse("127.0.0.1"),
        };
        ushort dport = g.PortKind switch { < 3 => Ports[g.PortKind], < 9 => (ushort)(30000 + g.PortKind - 3), _ => 9999 };
        if (g.Aim < 3)
        {
            var s = services[g.DstN % services.Length];
            protocol = new[] { IpProtocol.Tcp, IpProtocol.Udp, IpProtocol.Sctp }[s.Proto];
            (dst, dport) = g.Aim switch
            {
                0 => (Ip4.Parse($"10.0.0.{s.Ip}"), Ports[s.Port]),
                1 => (Ip4.Parse($"20.0.0.{s.Lb}"), Ports[s.Port]),
                _ => (Node, (ushort)(30000 + s.NodePort)),
            };
        }
        var src = g.SrcKind switch { 0 => Ip4.Parse("198.51.100.7"), 1 => Ip4.Parse("10.244.1.5"), _ => Ip4.Parse("10.1.2.3") };
        var packet = new Packet(protocol, src, 40000, dst, dport, FragmentOffset: (ushort)(g.Frag == 0 ? 8 : 0), Mark: (uint)(g.SrcKind == 2 ? 1 : 0));
        return new PacketContext
        {
            Packet = packet,
            Hook = g.Output ? NetfilterHook.Output : NetfilterHook.Prerouting,
            InInterface = g.Output ? null : g.Eth1 ? "eth1" : "eth0",
            OutInterface = g.Output ? "eth0" : null,
            Conntrack = ConntrackView.NewFor(packet),
            // Usually the node's addresses are known; sometimes not, and addrtype is then uncertain.
            AddressTypeOf = g.Addrtype == 0 ? null : (ip, _) => ip == Node ? AddressType.Local : AddressType.Unicast,
        };
    }

    static string Show(EvaluationOutcome o)
    {
        var sb = new StringBuilder();
        sb.Append(o.Verdict).Append(" p=").Append(o.Probability.ToString("R", CultureInfo.InvariantCulture))
            .Append(' ').Append(o.Packet).Append(" mark=").Append(o.Packet.Mark)
            .Append(" branches=").Append(string.Join(",", o.Branches)).Append('\n');
        foreach (var r in o.Requests) sb.Append("  request ").Append(r).Append('\n');
        foreach (var v in o.Visits) sb.Append("  ").Append(v).Append('\n');
        foreach (var u in o.Uncertain) sb.Append("  uncertain ").Append(u).Append('\n');
        return sb.ToString();
    }

    [Fact]
    public void Indexed_and_scanning_evaluators_agree_on_generated_kube_proxy_dumps()
    {
        int indexedTables = 0, packets = 0, matchedService = 0;
        Gen.Select(GenSvc.Array[6, 30], GenExtra.Array[0, 12], GenPacket.Array[1, 40], Gen.Int[0, 1000])
            .Sample((services, extras, specs, seed) =>
            {
                var text = Dump(services, extras);
                var read = IptablesSaveReader.Read(text, "gen");
                Assert.False(read.HasErrors, string.Join("\n", read.Diagnostics));
                var table = read.RuleSet.Table("nat")!;
                var indexed = new TableEvaluator(table);
                var scanning = TableEvaluator.Scanning(table);
                Assert.Equal(0, scanning.IndexedChains);
                if (indexed.IndexedChains > 0) indexedTables++;
                // Sample mode with stateful matches: the same packets in the same order through both, each with its
                // own state and the same seed; verdict-only and recorded walks must agree too.
                var (stateA, stateB) = (new NetfilterState(), new NetfilterState());
                var (rngA, rngB) = (new Random(seed), new Random(seed));
                foreach (var ctx in specs.Select(g => Make(g, services)))
                {
                    packets++;
                    var ea = indexed.Explain(ctx);
                    var eb = scanning.Explain(ctx);
                    Assert.Equal(string.Join("--\n", eb.Select(Show)), string.Join("--\n", ea.Select(Show)));
                    if (ea.Any(o => o.Nat is not null)) matchedService++;
                    var sa = indexed.Sample(ctx with { State = stateA }, rngA);
                    var sb = scanning.Sample(ctx with { State = stateB }, rngB);
                    Assert.Equal(Show(sb), Show(sa));
                    var va = indexed.Sample(ctx with { State = stateA }, rngA, recordVisits: false);
                    var vb = scanning.Sample(ctx with { State = stateB }, rngB, recordVisits: false);
                    Assert.Equal(Show(vb), Show(va));
                    Assert.Empty(va.Visits);
                }
            }, iter: 400);
        // The property is only worth something if the index was in play and packets reached Services through it.
        Assert.True(indexedTables > 300, $"only {indexedTables} generated tables had an indexed chain");
        Assert.True(matchedService > packets / 5, $"only {matchedService} of {packets} packets reached a Service");
    }

    static PacketContext Ctx(string proto, string dst, ushort dport, ushort frag = 0) =>
        TraversalTests.Ctx(new Packet(Enum.Parse<IpProtocol>(proto, true), Ip4.Parse("198.51.100.7"), 40000, Ip4.Parse(dst), dport, FragmentOffset: frag), NetfilterHook.Prerouting);

    /// <summary>16 kube-proxy rules in KUBE-SERVICES (enough to be indexed) after the rows' own rules.</summary>
    static string Filler => string.Concat(Enumerable.Range(1, 16).Select(i =>
        $"-A KUBE-SERVICES -d 10.0.1.{i}/32 -p tcp -m comment --comment \"ns/f{i} cluster IP\" -m tcp --dport 80 -j KUBE-SVC-F\n"));

    public static TheoryData<string, string, string, string> Rows => new()
    {
        // case, KUBE-SERVICES rules before the filler, packet (proto dst:port [frag]), expected walk
        {
            "a Service's rule is found by its key and jumps",
            "", "tcp 10.0.1.7:80",
            "PREROUTING:1 jump, KUBE-SERVICES:7 jump, KUBE-SVC-F:1 verdict"
        },
        {
            "no rule has the packet's key: only the scanned end of chain",
            "", "tcp 10.0.1.7:81",
            "PREROUTING:1 jump, KUBE-SERVICES:17 return, PREROUTING:2 policy"
        },
        {
            "a rule of the same key before the Service's wins (overflow bucket)",
            "-A KUBE-SERVICES -d 10.0.1.7/32 -p tcp -m tcp --dport 80 -j RETURN\n", "tcp 10.0.1.7:80",
            "PREROUTING:1 jump, KUBE-SERVICES:1 return, PREROUTING:2 policy"
        },
        {
            "an unmodelled match before the port match is scanned and makes the walk uncertain",
            "-A KUBE-SERVICES -p tcp -m rpfilter -m tcp --dport 9 -j ACCEPT\n", "tcp 10.0.1.7:80",
            "PREROUTING:1 jump, KUBE-SERVICES:1 uncertain"
        },
        {
            "an unmodelled match after the port match is skipped with it",
            "-A KUBE-SERVICES -p tcp -m tcp --dport 9 -m rpfilter -j ACCEPT\n", "tcp 10.0.1.7:80",
            "PREROUTING:1 jump, KUBE-SERVICES:8 jump, KUBE-SVC-F:1 verdict"
        },
        {
            "a negated destination is filed under any destination and still tested",
            "-A KUBE-SERVICES ! -d 10.0.1.7/32 -p tcp -m tcp --dport 80 -j ACCEPT\n", "tcp 10.0.1.7:80",
            "PREROUTING:1 jump, KUBE-SERVICES:8 jump, KUBE-SVC-F:1 verdict"
        },
        {
            "a negated port is scanned",
            "-A KUBE-SERVICES -p tcp -m tcp ! --dport 81 -j ACCEPT\n", "tcp 10.0.1.7:80",
            "PREROUTING:1 jump, KUBE-SERVICES:1 verdict"
        },
        {
            "non-first fragments never match a port match: only scanned rules",
            "-A KUBE-SERVICES -f -m comment --comment \"fragments\"\n", "tcp 10.0.1.7:80 8",
            "PREROUTING:1 jump, KUBE-SERVICES:1 matched, KUBE-SERVICES:18 return, PREROUTING:2 policy"
        },
    };

    [Theory]
    [MemberData(nameof(Rows))]
    public void Index_walks_like_a_scan(string @case, string before, string packet, string walk)
    {
        var body = ":PREROUTING ACCEPT [0:0]\n:KUBE-SERVICES - [0:0]\n:KUBE-SVC-F - [0:0]\n-A PREROUTING -j KUBE-SERVICES\n" + before + Filler +
                   "-A KUBE-SVC-F -p tcp -m tcp -j DNAT --to-destination 10.244.0.2:8080\n";
        var parts = packet.Split(' ');
        var dst = parts[1].Split(':');
        var ctx = Ctx(parts[0], dst[0], ushort.Parse(dst[1]), parts.Length > 2 ? ushort.Parse(parts[2]) : (ushort)0);
        var indexed = TraversalTests.Eval("nat", body);
        Assert.Equal(1, indexed.IndexedChains);
        foreach (var e in new[] { indexed, TableEvaluator.Scanning(IptablesSaveReader.Read($"*nat\n{body}\nCOMMIT\n", "t").RuleSet.Table("nat")!) })
        {
            var o = Assert.Single(e.Explain(ctx));
            var got = string.Join(", ", o.Visits.Select(v => $"{v.Chain}:{v.Index} {v.Action.ToString().ToLowerInvariant()}"));
            Assert.True(walk == got, $"{@case}: {got}");
        }
    }
}
