using CsCheck;
using PacketLife.Core.Net;
using PacketLife.Core.Routing;

namespace PacketLife.Tests.Routing;

public class HostFilePropertyTests
{
    private static readonly Gen<(int Kind, (uint Ip, int Len, int Scope)[] Addresses)> GenInterface =
        Gen.Select(Gen.Int[0, 3], Gen.Select(Gen.UInt[0x0A000001, 0x0AFFFFFE], Gen.Int[8, 32], Gen.Int[0, 2]).Array[0, 4]);

    private static readonly Gen<(int Type, uint Net, int Len, uint Gw, int Metric, int Table)> GenRoute =
        Gen.Select(Gen.Int[0, 3], Gen.UInt, Gen.Int[0, 32], Gen.UInt[0x0A000001, 0x0A0000FE], Gen.Int[0, 500], Gen.Int[0, 1]);

    private static string Build((int Kind, (uint Ip, int Len, int Scope)[] Addresses)[] ifaces, (int Type, uint Net, int Len, uint Gw, int Metric, int Table)[] routes, bool forward, int rp)
    {
        var sb = new System.Text.StringBuilder("host gen\n");
        if (forward) sb.Append("sysctl net.ipv4.ip_forward = 1\n");
        sb.Append($"sysctl net.ipv4.conf.all.rp_filter = {rp}\n");
        string[] kinds = ["ethernet", "veth", "bridge", "other"];
        string[] scopes = ["global", "link", "host"];
        for (int i = 0; i < ifaces.Length; i++)
        {
            sb.Append($"interface if{i} {kinds[ifaces[i].Kind]}\n");
            foreach (var (ip, len, scope) in ifaces[i].Addresses) sb.Append($"  address {new Ip4(ip)}/{len} scope {scopes[scope]}\n");
        }
        string[] types = ["", "blackhole ", "unreachable ", "prohibit "];
        foreach (var (type, net, len, gw, metric, table) in routes)
        {
            var prefix = new Ip4Prefix(new Ip4(net), len);
            var target = len == 0 ? "default" : len == 32 ? prefix.Network.ToString() : prefix.ToString();
            var via = type == 0 && ifaces.Length > 0 ? $" via {new Ip4(gw)} dev if0" : "";
            sb.Append($"route {types[type]}{target}{via} metric {metric}{(table == 1 ? " table 100" : "")}\n");
        }
        return sb.ToString();
    }

    // Any host the format can describe prints back to a text that reads to the same host (write ∘ read is a fixpoint).
    [Fact]
    public void Writing_then_reading_a_host_file_is_stable()
    {
        int checkedHosts = 0;
        Gen.Select(GenInterface.Array[0, 4], GenRoute.Array[0, 6], Gen.Bool, Gen.Int[0, 2]).Sample((ifaces, routes, forward, rp) =>
        {
            var first = HostFile.Read(Build(ifaces, routes, forward, rp), "gen");
            if (first.HasErrors) return first.Diagnostics.All(d => d.Code == "PLRT007"); // duplicate/secondary-scope refusals are the kernel's
            Interlocked.Increment(ref checkedHosts);
            var text = HostFile.Write(first.Host!);
            var second = HostFile.Read(text, "gen");
            return !second.HasErrors && HostFile.Write(second.Host!) == text
                && second.Host!.Interfaces.Select(i => string.Join(",", i.Addresses)).SequenceEqual(first.Host!.Interfaces.Select(i => string.Join(",", i.Addresses)));
        }, iter: 500);
        Assert.True(checkedHosts > 250, $"only {checkedHosts} generated hosts were valid");
    }
}
