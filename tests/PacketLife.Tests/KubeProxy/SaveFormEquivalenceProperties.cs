using CsCheck;
using PacketLife.Core.KubeProxy;

namespace PacketLife.Tests.KubeProxy;

/// <summary>The span-based save formatter prints exactly what the string-based one printed (kept as
/// <see cref="ReferenceSaveRuleFormatter"/>), for random lines made of the words kube-proxy and kubelet write plus
/// odd ones (quotes, escapes, tabs, negations in odd places, missing arguments, IPv6 and sloppy IPv4 text):
/// same text, or the same exception type.</summary>
public class SaveFormEquivalenceProperties
{
    static readonly string[] Words =
    [
        "-A", "-A", "KUBE-SVC-X", "KUBE-SEP-Y", "!", "!", "-s", "-d", "--src", "--dst", "--source", "--destination", "-i", "-o",
        "--in-interface", "-p", "--protocol", "tcp", "udp", "-m", "-m", "comment", "--comment", "\"a b\"", "\"x\\\"y\\\\z'\"",
        "ns/svc:p", "\"ns/svc:p cluster IP\"", "\"\"", "a_b-c", "mark", "--mark", "0x4000/0x4000", "0x00004000", "0xffffffff",
        "conntrack", "--ctstate", "--state", "RELATED,ESTABLISHED,DNAT", "NEW", "FOO,INVALID", "statistic", "--mode", "random",
        "--probability", "0.3333333333", "0.5000000000", "0.0500000000", "recent", "--name", "--set", "--rcheck", "--update",
        "--remove", "--seconds", "10800", "--reap", "--mask", "--rdest", "--rsource", "--hitcount", "--rttl", "nfacct",
        "--nfacct-name", "ct_state_invalid_dropped_pkts", "-j", "-j", "MARK", "--or-mark", "--xor-mark", "--set-xmark",
        "--and-mark", "--set-mark", "REJECT", "--reject-with", "icmp-host-prohibited", "DNAT", "--to-destination",
        "10.0.0.1:80", "[fd00::1]:80", "10.0.0.1", "10.0.0.5/8", "010.001.2.3", "1.2.3.4/33", "1.2.3.4/032", "1.2.3.4/", "/8",
        "1.2.3", "256.1.1.1", "fd00::1", "fd00::1/64", "::ffff:1.2.3.4", "127.0.0.0/8", "0.0.0.0/0", "addrtype", "--dst-type",
        "LOCAL", "--dport", "80", "KUBE-MARK-MASQ", "ACCEPT", "DROP", "RETURN", "a\"b c\"d",
    ];

    static readonly Gen<string> GenLine =
        Gen.Select(Gen.Int[0, Words.Length - 1].Array[0, 18], Gen.Int[0, 9].Array[18], (words, seps) =>
            string.Concat(words.Select((w, i) => (i == 0 ? "" : seps[i] switch { 0 => "\t", 1 => "  ", _ => " " }) + Words[w])));

    static string Run(Func<string> f)
    {
        try { return f(); }
        catch (Exception e) { return "threw " + e.GetType().Name; }
    }

    [Fact]
    public void Span_formatter_prints_what_the_string_formatter_printed() =>
        Gen.Select(GenLine, Gen.Bool).Sample((line, v6) =>
        {
            var family = v6 ? IpFamily.IPv6 : IpFamily.IPv4;
            Assert.Equal(Run(() => ReferenceSaveRuleFormatter.Format(line, family)), Run(() => SaveRuleFormatter.Format(line, family)));
        }, iter: 20_000);

    [Fact]
    public void Span_tokenizer_splits_as_the_string_tokenizer_did() =>
        GenLine.Sample(line => Assert.Equal(ReferenceSaveRuleFormatter.Tokenize(line), SaveRuleFormatter.Tokenize(line)), iter: 5_000);

    public static TheoryData<string> KubeProxyLines => new()
    {
        "-A KUBE-SERVICES -m comment --comment \"ns1/svc1:p80 cluster IP\" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j KUBE-SVC-X",
        "-A KUBE-SEP-X -m comment --comment ns1/svc1:p80 -s 10.180.0.1 -j KUBE-MARK-MASQ",
        "-A KUBE-SVC-X -m comment --comment \"ns1/svc1:p80 -> 10.180.0.1:80\" -m statistic --mode random --probability 0.3333333333 -j KUBE-SEP-X",
        "-A KUBE-SEP-X -m comment --comment ns/a -m recent --name KUBE-SEP-X --set -m tcp -p tcp -j DNAT --to-destination 10.0.0.1:80",
        "-A KUBE-POSTROUTING -m mark ! --mark 0x00004000/0x00004000 -j RETURN",
        "-A KUBE-POSTROUTING -j MARK --xor-mark 0x00004000",
        "-A KUBE-FORWARD -m conntrack --ctstate INVALID -m nfacct --nfacct-name ct_state_invalid_dropped_pkts -j DROP",
        "-A KUBE-FIREWALL -m comment --comment \"block incoming localnet connections\" --dst 127.0.0.0/8 ! --src 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP",
        "-A KUBE-SERVICES -m comment --comment \"x has no endpoints\" -m udp -p udp -d fd00::10 --dport 53 -j REJECT",
    };

    [Theory, MemberData(nameof(KubeProxyLines))]
    public void Kube_proxy_lines_print_the_same_in_both_families(string line)
    {
        foreach (var family in new[] { IpFamily.IPv4, IpFamily.IPv6 })
            Assert.Equal(ReferenceSaveRuleFormatter.Format(line, family), SaveRuleFormatter.Format(line, family));
    }
}

/// <summary>The managed SHA-256 behind chain names gives the library's digest for any message, across the one- and
/// two-block padding boundary (55/56 bytes) and multi-block lengths, including non-ASCII text as UTF-8.</summary>
public class ShortSha256Properties
{
    [Fact]
    public void Digest_is_the_library_s() =>
        Gen.Byte.Array[0, 300].Sample(message =>
        {
            Span<byte> mine = stackalloc byte[32];
            ShortSha256.Hash(message, mine);
            Assert.Equal(Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(message)), Convert.ToHexString(mine));
        }, iter: 5_000);

    [Theory]
    [InlineData(0), InlineData(55), InlineData(56), InlineData(63), InlineData(64), InlineData(119), InlineData(120), InlineData(128)]
    public void Padding_boundaries(int length)
    {
        var message = Enumerable.Range(0, length).Select(i => (byte)(i * 7 + 1)).ToArray();
        Span<byte> mine = stackalloc byte[32];
        ShortSha256.Hash(message, mine);
        Assert.Equal(System.Security.Cryptography.SHA256.HashData(message), mine.ToArray());
    }

    /// <summary>FIPS 180-4 example "abc" (NIST CSRC example values).</summary>
    [Fact]
    public void Abc()
    {
        Span<byte> mine = stackalloc byte[32];
        ShortSha256.Hash("abc"u8, mine);
        Assert.Equal("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD", Convert.ToHexString(mine));
    }

    /// <summary>Chain names as kube-proxy's own tests list them (proxier_test.go): unchanged by the managed hash.</summary>
    [Fact]
    public void Chain_names_are_kube_proxy_s()
    {
        Assert.Equal("KUBE-SEP-" + LibraryHash16("ns1/svc1:p80" + "tcp" + "10.180.0.1:80"), ChainNames.EndpointChain("ns1/svc1:p80", "tcp", "10.180.0.1:80"));
        Assert.Equal(LibraryHash16("ns1/svc1:p80tcp"), ChainNames.PortProtoHash("ns1/svc1:p80", "tcp"));
        Assert.Equal("XPGD46QRK7WJZT7O", ChainNames.PortProtoHash("ns1/svc1:p80", "tcp"));
    }

    static string LibraryHash16(string s)
    {
        var d = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(s));
        // Go's base32.StdEncoding of the digest, first 16 characters.
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        var bits = string.Concat(d.Take(10).Select(b => Convert.ToString(b, 2).PadLeft(8, '0')));
        return string.Concat(Enumerable.Range(0, 16).Select(i => alphabet[Convert.ToInt32(bits.Substring(i * 5, 5), 2)]));
    }
}
