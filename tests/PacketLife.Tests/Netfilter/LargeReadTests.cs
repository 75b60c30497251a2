using System.Runtime;
using System.Text;
using PacketLife.Core.Netfilter.Text;

namespace PacketLife.Tests.Netfilter;

/// <summary>Large inputs are read inside a no-GC region (NoGcScope): the result is the same as an ordinary read, reads
/// in parallel all succeed, and the process's GC mode is as before afterwards.</summary>
public class LargeReadTests
{
    static byte[] BigDump(int services)
    {
        var sb = new StringBuilder("*nat\n:PREROUTING ACCEPT [0:0]\n:KUBE-SERVICES - [0:0]\n");
        for (int i = 0; i < services; i++) sb.Append($":KUBE-SVC-{i:D8} - [0:0]\n");
        sb.Append("-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n");
        for (int i = 0; i < services; i++)
            sb.Append($"-A KUBE-SERVICES -d 10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}/32 -p tcp -m comment --comment \"ns/svc{i} cluster IP\" -m tcp --dport {80 + i % 3} -j KUBE-SVC-{i:D8}\n")
              .Append($"-A KUBE-SVC-{i:D8} -m comment --comment \"ns/svc{i} -> 10.244.{i >> 8 & 255}.{i & 255}:8080\" -m statistic --mode random --probability 0.50000000000 -j DNAT --to-destination 10.244.{i >> 8 & 255}.{i & 255}:8080\n");
        sb.Append("COMMIT\n");
        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    [Fact]
    public void A_large_read_equals_the_ordinary_read_and_leaves_the_gc_mode_alone()
    {
        var bytes = BigDump(20000);
        Assert.True(bytes.Length >= NoGcScope.MinInputBytes, $"{bytes.Length} bytes is below the no-GC threshold: the test would not exercise it");
        var big = IptablesSaveReader.Read(bytes, "big");
        Assert.NotEqual(GCLatencyMode.NoGCRegion, GCSettings.LatencyMode);
        var plain = IptablesSaveReader.Read(Encoding.UTF8.GetString(bytes), "big");
        Assert.False(big.HasErrors, string.Join("\n", big.Diagnostics.Take(3)));
        Assert.Equal(plain.Diagnostics.Select(d => d.ToString()), big.Diagnostics.Select(d => d.ToString()));
        Assert.Equal(Encoding.UTF8.GetString(bytes), IptablesSaveWriter.Write(big.RuleSet));
        Assert.Equal(40001, big.RuleSet.Table("nat")!.Chains.Sum(c => c.Rules.Length));
    }

    [Fact]
    public void Parallel_large_reads_all_succeed()
    {
        var bytes = BigDump(20000);
        var results = new NetfilterParseResult[4];
        Parallel.For(0, results.Length, i => results[i] = IptablesSaveReader.Read(bytes, "p" + i));
        foreach (var r in results)
        {
            Assert.False(r.HasErrors);
            Assert.Equal(40001, r.RuleSet.Table("nat")!.Chains.Sum(c => c.Rules.Length));
        }
        Assert.NotEqual(GCLatencyMode.NoGCRegion, GCSettings.LatencyMode);
    }
}
