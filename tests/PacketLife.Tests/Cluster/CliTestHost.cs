using PacketLife.App.Cli;

namespace PacketLife.Tests.Cluster;

/// <summary>Runs `packetlife` verbs against a private state file with a manual clock.</summary>
public sealed class CliTestHost : IDisposable
{
    readonly string _dir = Path.Combine(Path.GetTempPath(), "plt-cli-" + Guid.NewGuid().ToString("N"));
    readonly IDisposable _clockScope;
    public ManualClock Clock { get; } = new(new DateTimeOffset(2025, 3, 1, 12, 0, 0, TimeSpan.Zero));
    public string StatePath => Path.Combine(_dir, "cluster.json");

    public CliTestHost(bool init = true)
    {
        Directory.CreateDirectory(_dir);
        _clockScope = ClusterSession.UseClock(Clock);
        if (init) Assert.Equal(0, Run("cluster init").Code);
    }

    public (int Code, string Out, string Err) Run(string commandLine) => RunArgs(Tokenize(commandLine));

    public (int Code, string Out, string Err) RunArgs(IEnumerable<string> args)
    {
        var o = new StringWriter(); var e = new StringWriter();
        var code = PacketLife.App.Program.Run([.. args, "--cluster", StatePath], o, e);
        return (code, o.ToString(), e.ToString());
    }

    /// <summary>Whitespace split with single/double quotes, enough for test command lines.</summary>
    static List<string> Tokenize(string s)
    {
        var list = new List<string>(); var cur = new System.Text.StringBuilder(); char? q = null; var any = false;
        foreach (var c in s)
        {
            if (q is not null) { if (c == q) q = null; else cur.Append(c); continue; }
            if (c is '\'' or '"') { q = c; any = true; continue; }
            if (char.IsWhiteSpace(c)) { if (cur.Length > 0 || any) { list.Add(cur.ToString()); cur.Clear(); any = false; } continue; }
            cur.Append(c);
        }
        if (cur.Length > 0 || any) list.Add(cur.ToString());
        return list;
    }

    public string File(string name, string text)
    {
        var p = Path.Combine(_dir, name);
        System.IO.File.WriteAllText(p, text);
        return p;
    }

    public void Dispose()
    {
        _clockScope.Dispose();
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }
}
