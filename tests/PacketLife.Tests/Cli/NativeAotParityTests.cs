using System.Diagnostics;
using PacketLife.Manifests;

namespace PacketLife.Tests.Cli;

/// <summary>Runs only when PACKETLIFE_AOT_BIN names a NativeAOT build of the CLI (scripts/test.sh publishes one through
/// scripts/packetlife and sets it); elsewhere it is skipped with that reason.</summary>
public sealed class NativeAotFactAttribute : FactAttribute
{
    public NativeAotFactAttribute()
    {
        if (NativeAotParityTests.AotBinary is null)
            Skip = "PACKETLIFE_AOT_BIN is not set to a NativeAOT build (scripts/test.sh sets it after `scripts/packetlife --version` built artifacts/aot/packetlife)";
    }
}

/// <summary>`scripts/packetlife` runs a NativeAOT build: no reflection-based JSON, trimmed metadata. Every verb family
/// runs here in the AOT binary and in the JIT build (`dotnet packetlife.dll`), step by step on copies of the same state
/// file, and must print the same stdout and stderr with the same exit code.</summary>
public class NativeAotParityTests
{
    internal static string? AotBinary => Environment.GetEnvironmentVariable("PACKETLIFE_AOT_BIN") is { Length: > 0 } p && File.Exists(p) ? p : null;

    static string Golden(string relative) => Path.Combine(AppContext.BaseDirectory, "Golden", relative);

    [NativeAotFact]
    public void The_native_build_prints_what_the_jit_build_prints()
    {
        var dir = Directory.CreateTempSubdirectory("plt-aot-parity-").FullName;
        try
        {
            var shared = Path.Combine(dir, "shared.json");
            string[][] steps =
            [
                ["cluster", "init", "--seed", "11"],
                ["kubectl", "create", "deployment", "web", "--image=nginx", "--replicas=3", "--seed", "5"],
                ["kubectl", "expose", "deployment", "web", "--type=LoadBalancer", "--port=80"],
                ["kubectl", "apply", "-f", Golden("KubeProxy/seed-deployment/objects.yaml")],
                ["kubectl", "get", "svc", "-o", "json"],
                ["kubectl", "get", "pods", "-o", "yaml"],
                ["az", "network", "lb", "probe", "list", "-g", "mc_rg_aks_swedencentral", "--lb-name", "kubernetes", "-o", "json"],
                ["iptables-save"],
                ["trace", "svc/web", "--all"],
                ["trace", "svc/web", "--all", "-o", "json"],
                ["trace", "svc/web", "--seed", "3", "--sport", "40000"],
                ["trace", "--from", "probe", "svc/web"],
                ["iptables", "check", Golden("Netfilter/calico.iptables-save"), "--echo"],
                ["iptables", "trace", "--rules", Golden("Netfilter/aks-node.legacy.iptables-save"), "--packet", "tcp 198.51.100.7:53108 -> 20.240.25.37:80 in eth0", "--all", "-o", "json"],
                ["kube-proxy", "sync", "--objects", Golden("KubeProxy/seed-deployment/objects.yaml"), "--hostname", "aks-nodepool1-33086427-vmss000000", "--format", "save"],
                ["kubectl", "get", "svc", "nope"],
                ["trace", "svc/nope"],
                ["iptables", "check", Path.Combine(dir, "missing.rules")],
            ];
            // Not here: curl, conntrack -L, `kubectl get` tables and `kubectl describe`, whose Date header, countdowns,
            // AGE columns and event ages follow the wall clock of each process.
            foreach (var args in steps)
            {
                var jit = Path.Combine(dir, "jit.json");
                var aot = Path.Combine(dir, "aot.json");
                foreach (var f in new[] { "", ".conntrack" })
                {
                    if (File.Exists(shared + f)) { File.Copy(shared + f, jit + f, true); File.Copy(shared + f, aot + f, true); }
                }
                var a = Run(AotBinary!, [], args, aot);
                var j = Run("dotnet", [typeof(PacketLife.App.Program).Assembly.Location], args, jit);
                var what = string.Join(' ', args);
                Assert.True(j.Code is 0 or 1 or 2, $"{what}: the JIT build exited {j.Code}: {j.Err}");
                Assert.Equal((what, j.Code, j.Err), (what, a.Code, a.Err));
                Assert.Equal((what, j.Out), (what, a.Out));
                if (File.Exists(jit)) File.Copy(jit, shared, true);
                if (File.Exists(jit + ".conntrack")) File.Copy(jit + ".conntrack", shared + ".conntrack", true);
            }
            // The steps reached a real cluster (not only errors): the Service got its LB IP.
            Assert.NotEmpty(StateFile.Load(shared)!.FindService("default", "web")!.Status.LoadBalancerIngress);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    static (int Code, string Out, string Err) Run(string exe, string[] prefix, string[] args, string state)
    {
        var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        // File verbs (iptables check/trace, kube-proxy sync) take no state file.
        var fileVerb = args[0] == "kube-proxy" || (args[0] == "iptables" && args[1] is "check" or "trace");
        foreach (var a in prefix.Concat(args).Concat(fileVerb ? [] : ["--cluster", state])) psi.ArgumentList.Add(a);
        psi.Environment.Remove("PACKETLIFE_CLUSTER");
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        var output = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(120_000)) { p.Kill(); throw new TimeoutException(string.Join(' ', args)); }
        // Messages that name the state file name each side's own copy.
        return (p.ExitCode, output.Replace(state, "STATE"), err.Result.Replace(state, "STATE"));
    }
}
