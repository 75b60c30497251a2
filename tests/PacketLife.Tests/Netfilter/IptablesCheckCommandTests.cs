namespace PacketLife.Tests.Netfilter;

/// <summary>`packetlife iptables check`: diagnostics, exit codes, --echo round trip, --ipset.</summary>
public class IptablesCheckCommandTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("plcheck").FullName;
    public void Dispose() => Directory.Delete(dir, true);

    (int Code, string Out, string Err) Run(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = PacketLife.App.Program.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    string Write(string name, string text)
    {
        var p = Path.Combine(dir, name);
        File.WriteAllText(p, text);
        return p;
    }

    [Fact]
    public void A_clean_dump_exits_0_with_a_summary()
    {
        var f = Write("aks.txt", Nf.Golden("aks-node.legacy.iptables-save"));
        var (code, stdout, stderr) = Run("iptables", "check", f);
        Assert.Equal(0, code);
        Assert.Equal($"{f}: 0 errors, 0 warnings; 53 rules in 3 tables, 0 not modelled\n", stdout.Replace("\r", ""));
        Assert.Equal("", stderr);
    }

    [Fact]
    public void Errors_are_all_printed_one_line_each_and_exit_2()
    {
        var f = Write("bad.txt", "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -s 10.0.0.300 -j DROP\n-A INPUT -j NOWHERE\n");
        var (code, stdout, _) = Run("iptables", "check", f);
        Assert.Equal(2, code);
        var lines = stdout.Replace("\r", "").TrimEnd('\n').Split('\n');
        Assert.Equal($"{f}:3:13: error NF0016: host/network `10.0.0.300' not found (hint: an IPv4 address, address/length or address/dotted-mask (10.0.0.0/8))", lines[0]);
        Assert.StartsWith($"{f}:4:1: error NF0005: unexpected end of file", lines[1]);
        Assert.StartsWith($"{f}:4:13: error NF0012: Couldn't load target `NOWHERE'", lines[2]);
        Assert.Equal($"{f}: 3 errors, 0 warnings; 2 rules in 1 table, 1 not modelled", lines[3]);
    }

    [Fact]
    public void Echo_writes_the_file_back_byte_for_byte()
    {
        var text = Nf.Golden("calico.iptables-save");
        var f = Write("calico.txt", text);
        var (code, stdout, stderr) = Run("iptables", "check", f, "--echo");
        Assert.Equal(0, code);
        Assert.Equal(text, stdout);
        Assert.Contains("warning NF0021: match module \"rpfilter\" is not modelled", stderr);
    }

    [Fact]
    public void Ipset_names_are_checked_against_the_ipset_dump()
    {
        var f = Write("calico.txt", Nf.Golden("calico.iptables-save"));
        var sets = Write("sets.txt", "create cali40masq-ipam-pools hash:net family inet hashsize 1024 maxelem 1048576\nadd cali40masq-ipam-pools 10.244.0.0/16\n");
        var (code, stdout, _) = Run("iptables", "check", f, "--ipset", sets);
        Assert.Equal(0, code);
        Assert.Contains("warning NF0037: Set cali40all-ipam-pools doesn't exist.", stdout);
        Assert.DoesNotContain("Set cali40masq-ipam-pools doesn't exist", stdout);
    }

    [Fact]
    public void A_missing_file_is_one_line_on_stderr_and_exit_2()
    {
        var (code, stdout, stderr) = Run("iptables", "check", Path.Combine(dir, "nope.txt"));
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.Equal($"error: open {Path.Combine(dir, "nope.txt")}: no such file or directory\n", stderr.Replace("\r", ""));
    }

    [Fact]
    public void An_empty_file_is_an_error()
    {
        var f = Write("empty.txt", "");
        var (code, stdout, _) = Run("iptables", "check", f);
        Assert.Equal(2, code);
        Assert.StartsWith($"{f}:1:1: error NF0001: empty file", stdout);
    }
}
