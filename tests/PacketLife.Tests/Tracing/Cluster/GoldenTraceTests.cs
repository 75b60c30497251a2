using System.Runtime.CompilerServices;

namespace PacketLife.Tests.Tracing.Cluster;

/// <summary>Golden traces (issue 5 Proof): `packetlife trace` output for the seed's scenarios, compared byte for byte
/// with Golden/Traces/NAME.txt. Rewrite on purpose only: PACKETLIFE_UPDATE_GOLDEN=1.</summary>
public class GoldenTraceTests
{
    public static TheoryData<string, string[], string> Cases => new()
    {
        // name                       kubectl steps                                                                         trace arguments
        { "seed-pod",                 ["run --image=nginx nginx --port=80", "expose po nginx --type=LoadBalancer"],          "svc/nginx" },
        { "seed-deployment",          ["create deploy nginx --image=nginx --port=80 --replicas=2", "expose deploy nginx --type=LoadBalancer"], "svc/nginx --all" },
        { "seed-deployment-json",     ["create deploy nginx --image=nginx --port=80 --replicas=2", "expose deploy nginx --type=LoadBalancer"], "svc/nginx -o json" },
        { "probe-nodeport",           ["create deploy nginx --image=nginx --port=80 --replicas=2", "expose deploy nginx --type=LoadBalancer"], "--from probe svc/nginx" },
        { "pod-to-clusterip",         ["create deploy nginx --image=nginx --port=80 --replicas=2", "expose deploy nginx --type=LoadBalancer", "run --image=nginx client --port=80"], "--from pod/client svc/nginx" },
        { "etp-local",                ["create deploy nginx --image=nginx --port=80 --replicas=1", "apply -f web.yaml"],      "svc/web" },
        { "etp-local-probe",          ["create deploy nginx --image=nginx --port=80 --replicas=1", "apply -f web.yaml"],      "--from probe svc/web" },
        { "hairpin",                  ["run --image=nginx nginx --port=80", "expose po nginx --type=LoadBalancer"],          "--from pod/nginx svc/nginx" },
        { "no-endpoints",             ["create deploy nginx --image=nginx --port=80 --replicas=1", "expose deploy nginx --type=LoadBalancer", "run --image=nginx client --port=80", "scale deploy nginx --replicas=0"], "--from pod/client svc/nginx" },
        { "scaled-1-to-3",            ["create deploy nginx --image=nginx --port=80 --replicas=1", "expose deploy nginx --type=LoadBalancer", "scale deploy nginx --replicas=3"], "svc/nginx" },
    };

    static string Dir([CallerFilePath] string here = "") => Path.Combine(Path.GetDirectoryName(here)!, "..", "..", "Golden", "Traces");

    [Theory, MemberData(nameof(Cases))]
    public void Trace_matches_golden(string name, string[] steps, string args)
    {
        using var s = new TwinScenario();
        var yaml = s.Host.File("web.yaml", TwinScenario.EtpLocalWeb);
        foreach (var step in steps)
        {
            var (code, _, err) = s.Host.Run("kubectl " + step.Replace("web.yaml", yaml, StringComparison.Ordinal));
            Assert.True(code == 0, err);
        }
        var (c, output, e) = s.Host.Run("trace " + args);
        Assert.True(c == 0, e);
        var path = Path.Combine(Dir(), name + (name.EndsWith("-json", StringComparison.Ordinal) ? ".json" : ".txt"));
        if (Environment.GetEnvironmentVariable("PACKETLIFE_UPDATE_GOLDEN") == "1") File.WriteAllText(path, output);
        Assert.True(File.Exists(path), $"golden file {name} missing: run with PACKETLIFE_UPDATE_GOLDEN=1");
        Assert.Equal(File.ReadAllText(path), output);
    }
}
