using System.Diagnostics;
using PacketLife.Core.Netfilter.Text;
using Xunit.Abstractions;

namespace PacketLife.Tests.Netfilter;

/// <summary>Differential check of the canonical save form against the real iptables on this machine: each rule is
/// loaded with `iptables-restore` into a network namespace this test creates (`plt-` + 8 hex digits) and deletes by
/// that name, and `iptables-save` must print exactly what <see cref="IptablesSaveWriter.WriteCanonicalRule"/> prints.
/// Needs root, `ip` and `iptables-restore`; skipped with the reason otherwise.</summary>
public sealed class KernelSaveTests : IClassFixture<KernelSaveTests.Namespace>
{
    public sealed class Namespace : IDisposable
    {
        public string? Name { get; }
        public string? Why { get; }

        public Namespace()
        {
            Why = KernelFactAttribute.Unavailable();
            if (Why is not null) return;
            var name = "plt-" + Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(4)).ToLowerInvariant();
            var (rc, _, err) = Run("ip", ["netns", "add", name], null);
            if (rc != 0) { Why = "ip netns add failed: " + err.Trim(); return; }
            Name = name;
        }

        public void Dispose()
        {
            if (Name is not null) Run("ip", ["netns", "del", Name], null);
        }
    }

    readonly Namespace ns;
    readonly ITestOutputHelper output;

    public KernelSaveTests(Namespace ns, ITestOutputHelper output)
    {
        this.ns = ns;
        this.output = output;
    }

    internal static (int Code, string Out, string Err) Run(string file, string[] args, string? stdin)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        if (stdin is not null) p.StandardInput.Write(stdin);
        p.StandardInput.Close();
        var o = p.StandardOutput.ReadToEndAsync();
        var e = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, o.Result, e);
    }

    /// <summary>The canonical rows, minus the ones the kernel check cannot express: counters (iptables-save without
    /// -c omits them), ipset rows (the sets would have to exist) and nfacct rows (the accounting object would have to
    /// be created with nfacct(8), which is not installed).</summary>
    public static TheoryData<string, string, string> Rows()
    {
        var data = new TheoryData<string, string, string>();
        foreach (var row in CanonicalSaveTests.Rows)
        {
            var (table, written, printed) = ((string)row[0], (string)row[1], (string)row[2]);
            if (printed.StartsWith('[') || written.Contains("-m set") || written.Contains("-m nfacct")) continue;
            data.Add(table, written, printed);
        }
        return data;
    }

    [KernelTheory]
    [MemberData(nameof(Rows))]
    public void Iptables_save_in_a_namespace_prints_our_canonical_form(string table, string written, string printed)
    {
        Assert.True(ns.Name is not null, ns.Why);
        var payload = $"*{table}\n:X - [0:0]\n:Y - [0:0]\n{written}\nCOMMIT\n";
        var (rc, _, err) = Run("ip", ["netns", "exec", ns.Name!, "iptables-restore"], payload);
        Assert.True(rc == 0, $"iptables-restore refused `{written}`: {err.Trim()}");
        var (rc2, saved, err2) = Run("ip", ["netns", "exec", ns.Name!, "iptables-save", "-t", table], null);
        Assert.True(rc2 == 0, err2);
        var rules = saved.Split('\n').Where(l => l.StartsWith("-A ", StringComparison.Ordinal)).ToList();
        output.WriteLine(string.Join("\n", rules));
        Assert.Equal(printed, Assert.Single(rules));
        Assert.Equal(printed, Nf.Canonical(table, written));
    }

    /// <summary>The realistic dumps are what iptables-save prints: restoring one and saving it gives the same lines
    /// (comments aside: they carry dates).</summary>
    [KernelTheory]
    [InlineData("aks-node.legacy.iptables-save", true)]
    [InlineData("docker.nft.iptables-save", false)]
    public void Realistic_dumps_survive_a_trip_through_the_kernel(string file, bool counters)
    {
        Assert.True(ns.Name is not null, ns.Why);
        var text = Nf.Golden(file);
        string[] c = counters ? ["-c"] : [];
        var (rc, _, err) = Run("ip", ["netns", "exec", ns.Name!, "iptables-restore", .. c], text);
        Assert.True(rc == 0, err);
        var back = "";
        foreach (var t in IptablesSaveReader.Read(text, file).RuleSet.Tables)
            back += Run("ip", ["netns", "exec", ns.Name!, "iptables-save", .. c, "-t", t.Name], null).Out;
        static string NoComments(string s) => string.Concat(s.Split('\n').Where(l => l.Length > 0 && !l.StartsWith('#')).Select(l => l + "\n"));
        Assert.Equal(NoComments(text), NoComments(back));
    }

    [KernelFact]
    public void The_seed_payload_restored_with_noflush_saves_as_our_golden_file()
    {
        Assert.True(ns.Name is not null, ns.Why);
        // A clean kernel state first (other rows share the namespace): restoring without --noflush replaces the tables.
        Run("ip", ["netns", "exec", ns.Name!, "iptables-restore"],
            "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n");
        var (rc, _, err) = Run("ip", ["netns", "exec", ns.Name!, "iptables-restore", "--noflush"], Nf.Golden("seed-deployment.payload"));
        Assert.True(rc == 0, err);
        var (_, saved, _) = Run("ip", ["netns", "exec", ns.Name!, "iptables-save", "-t", "filter"], null);
        var (_, savedNat, _) = Run("ip", ["netns", "exec", ns.Name!, "iptables-save", "-t", "nat"], null);
        var kernel = string.Concat((saved + savedNat).Split('\n').Where(l => !l.StartsWith('#') && l.Length > 0).Select(l => l + "\n"));
        Assert.Equal(Nf.Golden("seed-deployment.after-restore"), kernel);
    }
}

/// <summary>A fact that needs root and the iptables tools; skipped with the reason otherwise.</summary>
public sealed class KernelFactAttribute : FactAttribute
{
    public KernelFactAttribute()
    {
        if (Unavailable() is { } why) Skip = why;
    }

    internal static string? Unavailable()
    {
        if (!OperatingSystem.IsLinux()) return "needs Linux network namespaces";
        if (Environment.UserName != "root") return "needs root to create a network namespace";
        foreach (var tool in new[] { "/usr/sbin/iptables-restore", "/usr/sbin/ip", "/usr/bin/ip", "/sbin/ip" })
            if (tool.EndsWith("iptables-restore") && !File.Exists(tool)) return "needs iptables-restore (apt-get install -y iptables)";
        return null;
    }
}

public sealed class KernelTheoryAttribute : TheoryAttribute
{
    public KernelTheoryAttribute()
    {
        if (KernelFactAttribute.Unavailable() is { } why) Skip = why;
    }
}
