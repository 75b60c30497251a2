using System.Globalization;
using System.Text;
using PacketLife.Core.Net;
using PacketLife.Lab.Kernel;

namespace PacketLife.Lab.Generation;

/// <summary>A generated differential case: iptables-save text for the router and the packets to send.</summary>
public sealed record GeneratedCase(int Seed, string RulesetText, IReadOnlyList<PacketSpec> Packets)
{
    public KernelCase ToKernelCase() => new(RulesetText, RouterSetup.Default, [.. Packets]);

    public override string ToString() =>
        $"seed {Seed}: " + string.Join(", ", Packets.Select(p => $"{p.From.ToString().ToLowerInvariant()}: {p.Packet} ttl={p.Packet.Ttl} len={p.Packet.Length}"))
        + "\n" + RulesetText;
}

/// <summary>Random (ruleset, packets) cases at the text level, seeded: rulesets over the matches and targets issue 2
/// lists, written so that `iptables-legacy-restore` accepts them (the kernel's table, hook and protocol restrictions,
/// netfilter-conntrack.md §2.5, are respected), with values drawn from the packet's own fields so rules often match.
/// The same seed gives the same case on every run.</summary>
/// <remarks>Outcomes stay checkable: `statistic --mode random` uses probability 0 or 1 only, everything else
/// is deterministic in the kernel (nth counters restart with every table load, §3.2).</remarks>
public sealed class RulesetGenerator
{
    private enum Hook { Prerouting, Input, Forward, Output, Postrouting }

    private sealed record ChainSpec(string Table, string Name, Hook Hook, bool BuiltIn);

    private static readonly Ip4 ServiceIp = Ip4.Parse("10.96.0.10");
    private static readonly string[] TableOrder = ["raw", "mangle", "nat", "filter"];

    /// <summary>Generates the case of <paramref name="seed"/>.</summary>
    public GeneratedCase Generate(int seed)
    {
        var g = new Builder(new Random(seed));
        var packets = g.Packets();
        var text = g.Ruleset(packets[0].Packet, packets[0].From);
        return new GeneratedCase(seed, text, packets);
    }

    private sealed class Builder(Random rng)
    {
        private Packet _p = null!;
        private PacketOrigin _origin;

        private bool Chance(double p) => rng.NextDouble() < p;
        private T Pick<T>(IReadOnlyList<T> xs) => xs[rng.Next(xs.Count)];
        private string Not(double p = 0.2) => Chance(p) ? "! " : "";
        private static string S(long v) => v.ToString(CultureInfo.InvariantCulture);

        // ---------------------------------------------------------------- packets

        public List<PacketSpec> Packets()
        {
            _origin = Chance(0.15) ? PacketOrigin.Router : PacketOrigin.Client;
            var proto = Pick<IpProtocol>([IpProtocol.Tcp, IpProtocol.Tcp, IpProtocol.Tcp, IpProtocol.Tcp, IpProtocol.Tcp,
                                          IpProtocol.Udp, IpProtocol.Udp, IpProtocol.Udp, IpProtocol.Icmp, IpProtocol.Icmp]);
            Ip4 src, dst;
            if (_origin == PacketOrigin.Client)
            {
                src = Chance(0.6) ? KernelTopology.ClientAddress : Pick(KernelTopology.ClientExtraAddresses);
                dst = Pick([KernelTopology.ServerAddress, KernelTopology.ServerAddress, ServiceIp,
                            KernelTopology.RouterClientSide, KernelTopology.RouterServerSide]);
            }
            else
            {
                src = Pick([KernelTopology.RouterServerSide, KernelTopology.RouterClientSide]);
                dst = Pick([KernelTopology.ServerAddress, ServiceIp, KernelTopology.ClientAddress]);
            }
            ushort sport = proto == IpProtocol.Icmp ? (ushort)rng.Next(1, 65536) : (ushort)rng.Next(32768, 61000);
            ushort dport = proto == IpProtocol.Icmp ? (ushort)0 : Pick<ushort>([22, 53, 80, 80, 443, 8080, 30080, 7000]);
            var flags = proto != IpProtocol.Tcp ? TcpFlags.None : Pick([TcpFlags.Syn, TcpFlags.Syn, TcpFlags.Syn, TcpFlags.Syn,
                TcpFlags.Ack, TcpFlags.Ack | TcpFlags.Psh, TcpFlags.Syn | TcpFlags.Ack, TcpFlags.Rst, TcpFlags.Fin | TcpFlags.Ack, TcpFlags.Syn | TcpFlags.Fin]);
            byte ttl = Pick<byte>([64, 64, 64, 64, 64, 63, 128, 2, 1]);
            var icmpType = proto == IpProtocol.Icmp ? Pick<byte>([8, 8, 8, 0, 13]) : (byte)8;
            int min = Agent.RawPacket.MinimumLength(proto);
            var length = (ushort)(min + Pick([0, 0, 4, 12, 100, 400]));
            _p = new Packet(proto, src, sport, dst, dport, flags, 0, ttl, length, 0, icmpType, 0);
            var list = new List<PacketSpec> { new(_p, _origin) };
            int more = Chance(0.3) ? rng.Next(1, 4) : 0;
            for (int i = 0; i < more; i++)
            {
                // The same flow again (a retransmission, or the handshake's ACK), or a neighbouring flow.
                var next = Chance(0.5) ? _p : Chance(0.5)
                    ? _p with { Flags = proto == IpProtocol.Tcp ? TcpFlags.Ack : TcpFlags.None }
                    : _p with { SrcPort = (ushort)(_p.SrcPort + 1) };
                list.Add(new PacketSpec(next, _origin, Seq: 1000 + (uint)i + 1, Ack: next.Flags.HasFlag(TcpFlags.Ack) ? 5000u : 0u));
            }
            return list;
        }

        // ---------------------------------------------------------------- ruleset

        public string Ruleset(Packet p, PacketOrigin origin)
        {
            _p = p;
            _origin = origin;
            var w = new StringBuilder();
            w.Append("# generated by PacketLife RulesetGenerator\n");
            bool any = false;
            foreach (var table in TableOrder)
            {
                double chance = table switch { "filter" => 0.75, "nat" => 0.55, "mangle" => 0.35, _ => 0.2 };
                if (!Chance(chance) && !(table == "filter" && !any)) continue;
                any = true;
                Table(w, table);
            }
            return w.ToString();
        }

        private void Table(StringBuilder w, string table)
        {
            var builtins = KernelOracle.BuiltinChains(table).Select(c => new ChainSpec(table, c, Enum.Parse<Hook>(c, true), true)).ToList();
            var users = new Dictionary<ChainSpec, List<ChainSpec>>();
            foreach (var b in builtins)
            {
                int n = Chance(0.4) ? rng.Next(1, 3) : 0;
                users[b] = Enumerable.Range(1, n).Select(i => new ChainSpec(table, $"U-{b.Name[..3]}-{i}", b.Hook, false)).ToList();
            }
            w.Append('*').Append(table).Append('\n');
            foreach (var b in builtins)
            {
                // iptables refuses a DROP policy in nat (§2.2).
                var policy = table != "nat" && Chance(0.12) ? "DROP" : "ACCEPT";
                w.Append(':').Append(b.Name).Append(' ').Append(policy).Append(" [0:0]\n");
            }
            foreach (var u in users.Values.SelectMany(x => x)) w.Append(':').Append(u.Name).Append(" - [0:0]\n");
            foreach (var b in builtins)
            {
                var family = users[b];
                // Only chains the packet can reach get most of the rules; others still get a few, for realism.
                int count = Relevant(b) ? rng.Next(1, 6) : rng.Next(0, 3);
                // Each user chain gets at least one jump from an earlier chain, or it would never be traversed.
                if (family.Count > 0) count = Math.Max(count, 1);
                int forcedAt = rng.Next(0, Math.Max(count, 1));
                for (int i = 0; i < count; i++)
                    w.Append(Rule(b, family, 0, i == forcedAt && family.Count > 0 ? "-j " + family[0].Name : null)).Append('\n');
                for (int k = 0; k < family.Count; k++)
                {
                    int uc = rng.Next(1, 5);
                    int forcedNext = k + 1 < family.Count ? rng.Next(0, uc) : -1;
                    for (int i = 0; i < uc; i++)
                        w.Append(Rule(family[k], family, k + 1, i == forcedNext ? (Chance(0.75) ? "-j " : "-g ") + family[k + 1].Name : null)).Append('\n');
                }
            }
            w.Append("COMMIT\n");
        }

        /// <summary>Whether the case's packet passes this hook at all (either origin).</summary>
        private bool Relevant(ChainSpec c)
        {
            bool local = _p.Dst == KernelTopology.RouterClientSide || _p.Dst == KernelTopology.RouterServerSide;
            return _origin == PacketOrigin.Router
                ? c.Hook is Hook.Output or Hook.Postrouting
                : c.Hook is Hook.Prerouting || (local ? c.Hook == Hook.Input : c.Hook is Hook.Forward or Hook.Postrouting);
        }

        /// <param name="forcedTarget">A jump that must be this rule's target (to make a user chain reachable).</param>
        /// <param name="family">User chains of the same built-in chain; a rule may jump only to chains after
        /// <paramref name="firstTarget"/> (a DAG: the kernel refuses loops).</param>
        private string Rule(ChainSpec chain, List<ChainSpec> family, int firstTarget, string? forcedTarget = null)
        {
            var parts = new List<string> { "-A " + chain.Name };
            // Protocol first: several matches and targets depend on it.
            string? proto = Chance(0.65) ? (Chance(0.75) ? IpProtocols.Name(_p.Protocol) : Pick(["tcp", "udp", "icmp"])) : null;
            bool protoNegated = false;

            if (Chance(0.35)) parts.Add(Not() + "-s " + Prefix(_p.Src, client: true));
            if (Chance(0.35)) parts.Add(Not() + "-d " + Prefix(_p.Dst, client: false));
            // -i is refused in OUTPUT/POSTROUTING, -o in PREROUTING/INPUT (§2.6).
            if (chain.Hook is Hook.Prerouting or Hook.Input or Hook.Forward && Chance(0.25))
                parts.Add(Not() + "-i " + Pick(["eth0", "eth1", "eth+", "lo"]));
            if (chain.Hook is Hook.Output or Hook.Postrouting or Hook.Forward && Chance(0.25))
                parts.Add(Not() + "-o " + Pick(["eth0", "eth1", "eth+", "lo"]));

            var matches = new List<string>();
            if (proto is "tcp" or "udp")
            {
                var l4 = new List<string>();
                if (Chance(0.3)) l4.Add(Not() + "--sport " + PortSpec(_p.SrcPort, source: true));
                if (Chance(0.6)) l4.Add(Not() + "--dport " + PortSpec(_p.DstPort, source: false));
                if (proto == "tcp" && Chance(0.35))
                    l4.Add(Chance(0.3) ? Not() + "--syn" : Not() + "--tcp-flags " + Pick(["SYN,ACK SYN", "SYN,RST,ACK,FIN SYN", "ACK ACK", "ALL NONE", "RST RST", "FIN,ACK FIN,ACK", "SYN,FIN SYN,FIN"]));
                if (l4.Count > 0) matches.Add($"-m {proto} " + string.Join(' ', l4));
                if (Chance(0.2)) matches.Add("-m multiport " + Not() + Pick(["--dports ", "--sports ", "--ports "]) + PortList());
            }
            else if (proto == "icmp" && Chance(0.6))
            {
                matches.Add("-m icmp " + Not() + "--icmp-type " + Pick(["8", "echo-request", "0", "echo-reply", "13", "3/3", "any", $"{_p.IcmpType}"]));
            }
            else if (proto is not null && Chance(0.15))
            {
                protoNegated = true; // `! -p` only where nothing depends on the protocol
            }

            int extra = rng.Next(0, 3);
            for (int i = 0; i < extra; i++)
            {
                var m = OtherMatch(chain);
                if (m is not null) matches.Add(m);
            }

            var target = forcedTarget is null ? Target(chain, family, firstTarget, proto, protoNegated) : new TargetText(forcedTarget);
            if (target.NeedsProto && (proto is not ("tcp" or "udp") || protoNegated))
            {
                proto = IpProtocols.Name(_p.Protocol) is "tcp" or "udp" ? IpProtocols.Name(_p.Protocol) : "tcp";
                protoNegated = false;
                matches.RemoveAll(m => m.StartsWith("-m icmp", StringComparison.Ordinal));
            }
            if (target.NeedsTcp)
            {
                if (proto != "tcp") matches.RemoveAll(m => m.StartsWith("-m udp", StringComparison.Ordinal) || m.StartsWith("-m icmp", StringComparison.Ordinal) || m.StartsWith("-m multiport", StringComparison.Ordinal));
                proto = "tcp";
                protoNegated = false;
            }
            if (proto is not null) parts.Add((protoNegated ? "! " : "") + "-p " + proto);
            parts.AddRange(matches);
            if (target.Text.Length > 0) parts.Add(target.Text);
            return string.Join(' ', parts);
        }

        private string? OtherMatch(ChainSpec chain)
        {
            switch (rng.Next(12))
            {
                case 0: return "-m mark " + Not() + "--mark " + Pick(["0x1", "0x1/0x1", "0x0", "0x4000/0x4000", "0x0/0xffff", "0x2/0x2"]);
                case 1: return "-m connmark " + Not() + "--mark " + Pick(["0x1", "0x0", "0x1/0xff", "0x10/0x10"]);
                case 2:
                    var states = Pick(["NEW", "ESTABLISHED", "RELATED,ESTABLISHED", "INVALID", "NEW,ESTABLISHED", "UNTRACKED", "DNAT", "SNAT", "NEW,DNAT"]);
                    var more = Chance(0.25) ? " --ctorigdst " + Prefix(_p.Dst, client: false) : Chance(0.2) ? " --ctdir ORIGINAL" : "";
                    return "-m conntrack " + Not() + "--ctstate " + states + more;
                case 3: return "-m state " + Not() + "--state " + Pick(["NEW", "ESTABLISHED", "RELATED,ESTABLISHED", "INVALID"]);
                case 4:
                    var side = Chance(0.5) ? "--dst-type " : "--src-type ";
                    var types = Pick(["LOCAL", "UNICAST", "BROADCAST", "MULTICAST", "LOCAL,UNICAST"]);
                    // --limit-iface-in only on PREROUTING/INPUT/FORWARD, -out only on OUTPUT/POSTROUTING/FORWARD (§2.5, §3.3).
                    var limit = !Chance(0.3) ? "" : chain.Hook is Hook.Prerouting or Hook.Input ? " --limit-iface-in"
                        : chain.Hook is Hook.Output or Hook.Postrouting ? " --limit-iface-out" : Pick([" --limit-iface-in", " --limit-iface-out"]);
                    return "-m addrtype " + Not() + side + types + limit;
                case 5:
                    if (Chance(0.5)) return "-m statistic --mode random " + Not() + "--probability " + Pick(["0", "1", "0.00000000000", "1.00000000000"]);
                    int every = rng.Next(2, 5);
                    return "-m statistic --mode nth " + Not() + $"--every {every} --packet {rng.Next(0, every)}";
                case 6:
                    var lo = _p.Src.Add(-rng.Next(0, 3));
                    var hi = _p.Src.Add(rng.Next(0, 3));
                    var dlo = _p.Dst.Add(-rng.Next(0, 2));
                    return Chance(0.6) ? $"-m iprange {Not()}--src-range {lo}-{hi}" : $"-m iprange {Not()}--dst-range {dlo}-{_p.Dst.Add(rng.Next(0, 2))}";
                case 7:
                    var len = _p.Length;
                    return "-m length " + Not() + "--length " + Pick([S(len), $"{Math.Max(0, len - 10)}:{len + 10}", $"{len + 1}:65535", "0:60"]);
                case 8:
                    var t = _p.Ttl;
                    return Pick([$"-m ttl {Not()}--ttl-eq {t}", $"-m ttl --ttl-gt {Math.Max(0, t - 2)}", $"-m ttl --ttl-lt {Math.Min(255, t + 1)}", "-m ttl --ttl-eq 64", "-m ttl --ttl-lt 5"]);
                case 9: return "-m comment --comment " + Pick(["\"generated rule\"", "plain", "\"kube-proxy style: default/nginx:http\"", "\"with \\\"quotes\\\"\""]);
                default: return null;
            }
        }

        private sealed record TargetText(string Text, bool NeedsProto = false, bool NeedsTcp = false);

        private TargetText Target(ChainSpec chain, List<ChainSpec> family, int firstTarget, string? proto, bool protoNegated)
        {
            var options = new List<Func<TargetText>>();
            void Add(int weight, Func<TargetText> f) { for (int i = 0; i < weight; i++) options.Add(f); }

            Add(1, () => new TargetText(""));                         // counts only
            Add(3, () => new TargetText("-j ACCEPT"));
            Add(2, () => new TargetText("-j RETURN"));
            if (chain.Table != "nat") Add(3, () => new TargetText("-j DROP")); // refused in nat (§2.2)
            Add(2, () => new TargetText("-j MARK " + Pick(["--set-xmark 0x1/0xffffffff", "--set-mark 0x4000/0x4000", "--or-mark 0x2", "--and-mark 0xfffe", "--xor-mark 0x1"])));
            Add(1, () => new TargetText("-j CONNMARK " + Pick(["--set-xmark 0x1/0xff", "--save-mark", "--restore-mark", "--set-mark 0x10/0x10"])));
            var jumpable = family.Skip(firstTarget).ToList();
            if (jumpable.Count > 0)
            {
                Add(3, () => new TargetText("-j " + Pick(jumpable).Name));
                Add(1, () => new TargetText("-g " + Pick(jumpable).Name));
            }
            if (chain.Table == "filter")
            {
                Add(2, () => new TargetText("-j REJECT --reject-with " + Pick(["icmp-port-unreachable", "icmp-host-unreachable", "icmp-net-unreachable",
                    "icmp-host-prohibited", "icmp-admin-prohibited", "icmp-proto-unreachable", "icmp-net-prohibited"])));
                // tcp-reset needs -p tcp, not negated (ipt_REJECT checkentry).
                if (proto == "tcp" && !protoNegated) Add(2, () => new TargetText("-j REJECT --reject-with tcp-reset", NeedsTcp: true));
            }
            if (chain.Table == "nat")
            {
                if (chain.Hook is Hook.Prerouting or Hook.Output)
                {
                    Add(4, () => Pick([
                        new TargetText($"-j DNAT --to-destination {KernelTopology.ServerAddress}"),
                        new TargetText($"-j DNAT --to-destination {KernelTopology.ServerAddress}:8080", NeedsProto: true),
                        new TargetText($"-j DNAT --to-destination {KernelTopology.ServerAddress}:8080-8089", NeedsProto: true),
                        new TargetText($"-j DNAT --to-destination {KernelTopology.RouterServerSide}"),
                        new TargetText($"-j DNAT --to-destination {ServiceIp}:53", NeedsProto: true)]));
                    Add(1, () => Chance(0.5) ? new TargetText("-j REDIRECT") : new TargetText("-j REDIRECT --to-ports 8080", NeedsProto: true));
                }
                if (chain.Hook is Hook.Postrouting or Hook.Input)
                    Add(3, () => Pick([
                        new TargetText($"-j SNAT --to-source {KernelTopology.RouterServerSide}"),
                        new TargetText($"-j SNAT --to-source 203.0.113.50"),
                        new TargetText($"-j SNAT --to-source {KernelTopology.RouterServerSide}:20000-20100", NeedsProto: true)]));
                if (chain.Hook is Hook.Postrouting)
                    Add(3, () => Pick([new TargetText("-j MASQUERADE"), new TargetText("-j MASQUERADE --random-fully"),
                        new TargetText("-j MASQUERADE --to-ports 20000-20100", NeedsProto: true)]));
            }
            return Pick(options)();
        }

        private string Prefix(Ip4 own, bool client)
        {
            var r = rng.Next(6);
            return r switch
            {
                0 or 1 => $"{own}/32",
                2 => $"{new Ip4Prefix(own, 24).Network}/24",
                3 => client ? "198.51.100.0/29" : "203.0.113.0/24",
                4 => "10.0.0.0/8",
                _ => Pick(["198.51.100.4/32", "203.0.113.2/32", "198.51.100.1/32", "203.0.113.1/32"]),
            };
        }

        private string PortSpec(ushort own, bool source)
        {
            if (own == 0) own = 80;
            return rng.Next(5) switch
            {
                0 or 1 => S(own),
                2 => $"{Math.Max(1, own - rng.Next(0, 50))}:{Math.Min(65535, own + rng.Next(0, 50))}",
                3 => source ? "1024:65535" : "1:1023",
                _ => S(Pick<ushort>([22, 53, 80, 443, 8080])),
            };
        }

        /// <summary>A multiport list: at most 15 entries, a range counting as two (§3.6).</summary>
        private string PortList()
        {
            var items = new List<string>();
            int budget = rng.Next(1, 16);
            var own = new[] { _p.SrcPort, _p.DstPort }.Where(x => x != 0).Select(x => (int)x).ToList();
            while (budget > 0)
            {
                if (budget >= 2 && Chance(0.3))
                {
                    int a = rng.Next(1, 60000);
                    items.Add($"{a}:{a + rng.Next(1, 5000)}");
                    budget -= 2;
                }
                else
                {
                    items.Add(S(own.Count > 0 && Chance(0.4) ? Pick(own) : Pick([22, 53, 80, 443, 8080, 30080, 7000])));
                    budget -= 1;
                }
            }
            return string.Join(',', items.Distinct());
        }
    }
}
