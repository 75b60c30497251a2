using System.Text.RegularExpressions;
using PacketLife.App.Cli;

namespace PacketLife.Tests.Cluster;

/// <summary>Replays the seed's kubectl/az walkthroughs command by command through Program.Run and compares
/// each output with the seed's text. Values that are random on a real cluster (IPs, NodePorts, UIDs in
/// frontend names, pod-template-hashes and pod suffixes, ages) must match by shape, and the same seed value
/// must map to the same twin value in every command: that is what proves the NodePort in `get svc` is the
/// probe port, the frontend name is the rule and probe prefix, and the public IP is the EXTERNAL-IP.
/// Layout: describe and az lines must be byte-identical once the bound values are substituted; kubectl get
/// tables (whose widths follow the values' lengths, and which the seed hand-edited) must match token by
/// token and are checked for kubectl's tabwriter layout on their own.</summary>
public partial class SeedGoldenTests
{
    public static TheoryData<string> Walkthroughs => new() { "kubenet-pod.txt", "kubenet-deployment.txt" };

    sealed record Step(string Command, string? AssignTo, bool Commented, List<string> Expected);

    [GeneratedRegex(@"^(\w+)=\$\((.*)\)$")] private static partial Regex AssignCommand();
    [GeneratedRegex(@"^(\w+)=(\S+)$")] private static partial Regex AssignValue();

    static List<Step> ParseWalkthrough(string[] lines)
    {
        var steps = new List<Step>();
        Step? current = null;
        var foreign = false;
        foreach (var raw in lines)
        {
            var line = raw.TrimEnd();
            string? cmd = null; string? assign = null; var commented = false;
            if (line.StartsWith("kubectl ", StringComparison.Ordinal) || line.StartsWith("az ", StringComparison.Ordinal)) cmd = line;
            else if (line.StartsWith("# kubectl ", StringComparison.Ordinal)) { cmd = line[2..]; commented = true; }
            else if (AssignCommand().Match(line) is { Success: true } m) { cmd = m.Groups[2].Value; assign = m.Groups[1].Value; }
            else if (AssignValue().Match(line) is { Success: true } v) { cmd = "="; assign = v.Groups[1].Value + "=" + v.Groups[2].Value; }
            if (cmd is not null)
            {
                // `az ... -o table # port 80, tcp (not http)`: a shell comment after the command.
                var hash = cmd.IndexOf(" # ", StringComparison.Ordinal);
                if (hash > 0) cmd = cmd[..hash];
                current = new Step(cmd, assign, commented, []);
                steps.Add(current);
                foreign = false;
                continue;
            }
            // curl, iptables-save, conntrack and their outputs belong to other areas' golden tests.
            if (line.StartsWith("curl", StringComparison.Ordinal) || line.StartsWith("iptables-save", StringComparison.Ordinal) ||
                line.StartsWith("conntrack", StringComparison.Ordinal) || line == "tbd" || line.StartsWith("# nslookup", StringComparison.Ordinal))
            {
                foreign = true; current = null; continue;
            }
            if (foreign) continue;
            if (line.Length == 0 || line.StartsWith('#')) { current = null; continue; }
            current?.Expected.Add(raw);
        }
        // A commented command with no output after it (`# kubectl scale ...`) was not run.
        return steps.Where(s => !(s.Commented && s.Expected.Count == 0)).ToList();
    }

    static string[] Split(string cmd) => cmd.Split(' ', StringSplitOptions.RemoveEmptyEntries);

    [Theory, MemberData(nameof(Walkthroughs))]
    public void Seed_walkthrough_replays_command_by_command(string file)
    {
        var lines = File.ReadAllLines(Path.Combine(AppContext.BaseDirectory, "Golden", "Seed", file));
        var steps = ParseWalkthrough(lines);
        Assert.True(steps.Count(s => s.Expected.Count > 0) >= 9, $"{file}: parsed only {steps.Count} steps");

        var dir = Path.Combine(Path.GetTempPath(), "plt-golden-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        var state = Path.Combine(dir, "cluster.json");
        var clock = new ManualClock(new DateTimeOffset(2024, 12, 3, 9, 0, 0, TimeSpan.Zero));
        using var clockScope = ClusterSession.UseClock(clock);
        Assert.Equal(0, Run(["cluster", "init", "--cluster", state], out _, out _));
        clock.Advance(TimeSpan.FromMinutes(10));

        var vars = new Dictionary<string, string> { ["rg"] = "rg" };
        var bind = new Binding();
        var compared = 0;
        foreach (var step in steps)
        {
            clock.Advance(TimeSpan.FromSeconds(7));
            if (step.Command == "=")
            {
                var kv = step.AssignTo!.Split('=', 2);
                vars[kv[0]] = kv[1];
                continue;
            }
            var args = Split(step.Command).Select(a => Expand(a, vars, bind)).ToList();
            args.Add("--cluster"); args.Add(state);
            var rc = Run([.. args], out var stdout, out var stderr);
            if (step.AssignTo is not null) { Assert.Equal(0, rc); vars[step.AssignTo] = stdout.Trim(); continue; }
            if (step.Expected.Count == 0) continue; // e.g. the walkthrough's opening deletes: they may fail on a fresh cluster
            Assert.True(rc == 0, $"`{step.Command}` failed: {stderr}");
            var actual = stdout.Split('\n');
            var isGetTable = step.Command.StartsWith("kubectl get", StringComparison.Ordinal);
            var pos = 0;
            foreach (var exp in step.Expected)
            {
                var hit = -1;
                for (var i = pos; i < actual.Length && hit < 0; i++)
                    if (bind.TryMatch(exp, actual[i], exactLayout: !isGetTable && !exp.Contains('\t'))) hit = i;
                Assert.True(hit >= 0, $"{file}: `{step.Command}`\nexpected line:\n{exp}\nnot found (in order) in:\n{stdout}");
                pos = hit + 1;
                compared++;
            }
            if (isGetTable) AssertKubectlTableLayout(step.Command, actual);
        }
        Assert.True(compared >= 25, $"only {compared} lines compared");
        // Cross-command consistency, stated explicitly: NodePort = probe port, frontend = rule prefix, public IP = EXTERNAL-IP.
        Assert.True(bind.Values.Count(kv => Regex.IsMatch(kv.Key, "^3[0-2][0-9]{3}$")) == 1, "one NodePort bound across get svc, describe and probe list");
        Assert.True(bind.Values.Count(kv => Regex.IsMatch(kv.Key, "^a[0-9a-f]{31}$")) == 1, "one frontend name bound across frontend-ip, rule and probe lists");
        Directory.Delete(dir, true);
    }

    static string Expand(string arg, Dictionary<string, string> vars, Binding bind)
    {
        var s = Regex.Replace(arg, @"\$(\w+)", m => vars.TryGetValue(m.Groups[1].Value, out var v) ? v : m.Value);
        // A seed value typed into a command (the frontend name after -n) stands for the twin's value.
        return bind.Values.TryGetValue(s, out var bound) ? bound : s;
    }

    static int Run(string[] args, out string stdout, out string stderr)
    {
        var o = new StringWriter(); var e = new StringWriter();
        var rc = PacketLife.App.Program.Run(args, o, e);
        stdout = o.ToString(); stderr = e.ToString();
        return rc;
    }

    /// <summary>kubectl's tabwriter (minwidth 6, padding 3): every row's cells start where the header's do,
    /// and each column is as wide as its widest cell + 3.</summary>
    static void AssertKubectlTableLayout(string cmd, string[] lines)
    {
        var rows = lines.Where(l => l.Length > 0).ToList();
        if (rows.Count == 0 || rows[0].StartsWith('{') || rows[0].StartsWith("apiVersion", StringComparison.Ordinal)) return;
        static List<(int Start, string Text)> Cells(string l) =>
            Regex.Matches(l, @"\S+(?: \S+)*").Select(m => (m.Index, m.Value)).ToList();
        var header = Cells(rows[0]);
        var all = rows.Select(Cells).ToList();
        foreach (var r in all) Assert.True(r.Select(c => c.Start).SequenceEqual(header.Select(c => c.Start)), $"`{cmd}`: misaligned row\n{string.Join("\n", rows)}");
        for (var c = 0; c + 1 < header.Count; c++)
            Assert.Equal(Math.Max(6, all.Max(r => r[c].Text.Length) + 3), header[c + 1].Start - header[c].Start);
    }
}

/// <summary>Seed value ↔ twin value, one-to-one, for atoms that are random on a real cluster.</summary>
public sealed partial class Binding
{
    public Dictionary<string, string> Values { get; } = new(StringComparer.Ordinal);
    readonly Dictionary<string, string> _reverse = new(StringComparer.Ordinal);

    [GeneratedRegex(@"\d{1,3}(?:\.\d{1,3}){3}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[A-Za-z0-9_]+|\S")]
    private static partial Regex Atom();

    [GeneratedRegex(@"^\d+[smhdy](\d+[smhd])?$")] private static partial Regex Age();
    [GeneratedRegex(@"^a[0-9a-f]{31}$")] private static partial Regex LbName();
    [GeneratedRegex(@"^[4-9bcdf]{6,10}$")] private static partial Regex TemplateHash();
    [GeneratedRegex(@"^[bcdfghjklmnpqrstvwxz2456789]{5}$")] private static partial Regex Suffix();

    static List<(int Index, string Text)> Atoms(string line) => Atom().Matches(line).Select(m => (m.Index, m.Value)).ToList();

    enum Shape { None, Free, Bound }

    static Shape ShapeOf(string e, string a)
    {
        if (Age().IsMatch(e) && Age().IsMatch(a)) return Shape.Free;
        if (System.Net.IPAddress.TryParse(e, out var ei) && System.Net.IPAddress.TryParse(a, out var ai) && e.Count(c => c == '.') == 3 && a.Count(c => c == '.') == 3)
        {
            var eb = ei.GetAddressBytes(); var ab = ai.GetAddressBytes();
            // Same address plan: service CIDR 10.0/16 (dynamic band), node subnet 10.224/16, a node's pod /24, or public.
            bool Private(byte[] b) => b[0] == 10;
            if (Private(eb) != Private(ab)) return Shape.None;
            if (!Private(eb)) return Shape.Bound;
            if (eb[1] != ab[1]) return Shape.None;
            if (eb[1] == 244 && eb[2] != ab[2]) return Shape.None; // pod IPs stay in their node's /24
            return Shape.Bound;
        }
        if (int.TryParse(e, out var en) && int.TryParse(a, out var an) && en is >= 30000 and <= 32767 && an is >= 30000 and <= 32767) return Shape.Bound;
        if (LbName().IsMatch(e) && LbName().IsMatch(a)) return Shape.Bound;
        if (TemplateHash().IsMatch(e) && TemplateHash().IsMatch(a)) return Shape.Bound;
        if (Suffix().IsMatch(e) && Suffix().IsMatch(a)) return Shape.Bound;
        return Shape.None;
    }

    /// <summary>Matches one seed line against one output line; commits new bindings only on success.</summary>
    public bool TryMatch(string expected, string actual, bool exactLayout)
    {
        var ea = Atoms(expected); var aa = Atoms(actual);
        if (ea.Count != aa.Count) return false;
        var added = new Dictionary<string, string>(StringComparer.Ordinal);
        var substituted = new System.Text.StringBuilder(expected);
        var shift = 0;
        for (var i = 0; i < ea.Count; i++)
        {
            var (e, a) = (ea[i].Text, aa[i].Text);
            if (e == a && !Values.ContainsKey(e)) continue;
            var shape = ShapeOf(e, a);
            if (shape == Shape.None) return false;
            if (shape == Shape.Bound)
            {
                var known = Values.TryGetValue(e, out var v) ? v : added.TryGetValue(e, out var v2) ? v2 : null;
                if (known is not null && known != a) return false;
                if (known is null)
                {
                    if (_reverse.ContainsKey(a) || added.ContainsValue(a)) return false;
                    added[e] = a;
                }
            }
            substituted.Remove(ea[i].Index + shift, e.Length).Insert(ea[i].Index + shift, a);
            shift += a.Length - e.Length;
        }
        if (exactLayout && substituted.ToString().TrimEnd() != actual.TrimEnd()) return false;
        foreach (var (k, v) in added) { Values[k] = v; _reverse[v] = k; }
        return true;
    }
}
