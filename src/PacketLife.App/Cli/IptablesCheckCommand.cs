using System.CommandLine;
using PacketLife.Core.Diagnostics;
using PacketLife.Core.Netfilter;
using PacketLife.Core.Netfilter.Evaluation;
using PacketLife.Core.Netfilter.Matches;
using PacketLife.Core.Netfilter.Text;

namespace PacketLife.App.Cli;

/// <summary>`packetlife iptables check FILE [--ipset FILE] [--echo]`: reads an iptables-save dump (or a restore
/// payload), prints every diagnostic as `file:line:col: severity CODE: message (hint: ...)`, and exits 0 when none is
/// an error, 2 otherwise. `--echo` writes the rule set back exactly as read (the round trip) to stdout; the
/// diagnostics then go to stderr. Other `iptables` subcommands (trace) belong in <see cref="Build"/>.</summary>
public sealed class IptablesCheckCommand : ICommandGroup
{
    public int Order => 20;

    public IEnumerable<Command> Commands()
    {
        yield return Build();
    }

    public static Command Build()
    {
        var iptables = new Command("iptables", "Read a node's iptables rules (iptables-save output) and check them.");
        iptables.Subcommands.Add(Check());
        iptables.Subcommands.Add(IptablesTraceCommand.Build());
        return iptables;
    }

    static Command Check()
    {
        var file = new Argument<string>("FILE") { Description = "iptables-save output or an iptables-restore payload" };
        var ipset = new Option<string?>("--ipset") { Description = "`ipset save` output of the same node, for -m set rules" };
        var echo = new Option<bool>("--echo") { Description = "write the rule set back as read (byte for byte) to stdout; diagnostics go to stderr" };
        var cmd = new Command("check", "Print every problem in an iptables-save dump (exit 0 when none is an error, 2 otherwise).") { file, ipset, echo };
        cmd.SetAction(pr =>
        {
            var stdout = pr.InvocationConfiguration.Output;
            var stderr = pr.InvocationConfiguration.Error;
            var path = pr.GetValue(file)!;
            try
            {
                return Run(pr, path, pr.GetValue(ipset), pr.GetValue(echo), stdout, stderr);
            }
            catch (CliException e)
            {
                // Expected failures end the command with one line on stderr (the host's handler would print a trace).
                stderr.WriteLine(e.Message);
                return e.ExitCode;
            }
        });
        return cmd;
    }

    static int Run(ParseResult pr, string path, string? ipsetPath, bool doEcho, TextWriter stdout, TextWriter stderr)
    {
        {
            var result = ReadRules(path);
            var diags = result.Diagnostics.ToList();
            var setNames = SetReferences(result.RuleSet);
            if (ipsetPath is not null)
            {
                var (sets, setDiags) = IpSetCollection.Read(System.Text.Encoding.UTF8.GetString(ReadFile(ipsetPath)), ipsetPath);
                diags.AddRange(setDiags);
                foreach (var (name, at) in setNames)
                    if (sets.Find(name) is null) diags.Add(NetfilterMessages.UnknownIpset(at, name));
            }
            else
            {
                foreach (var (name, at) in setNames) diags.Add(NetfilterMessages.UnknownIpset(at, name));
            }
            var report = doEcho ? stderr : stdout;
            foreach (var d in diags) report.WriteLine(d.ToString());
            int errors = diags.Count(d => d.Severity == Severity.Error);
            int warnings = diags.Count(d => d.Severity == Severity.Warning);
            int rules = result.RuleSet.Tables.Sum(t => t.Chains.Sum(c => c.Rules.Length));
            int unsupported = result.RuleSet.Tables.Sum(t => t.Chains.Sum(c => c.Rules.Count(r => r.IsUnsupported)));
            report.WriteLine($"{path}: {errors} error{(errors == 1 ? "" : "s")}, {warnings} warning{(warnings == 1 ? "" : "s")}; " +
                $"{rules} rule{(rules == 1 ? "" : "s")} in {result.RuleSet.Tables.Count()} table{(result.RuleSet.Tables.Count() == 1 ? "" : "s")}, {unsupported} not modelled");
            if (doEcho) stdout.Write(IptablesSaveWriter.Write(result.RuleSet));
            return errors == 0 ? 0 : 2;
        }
    }

    /// <summary>A file named on the command line, or one line `error: open PATH: why` with exit 2.</summary>
    internal static byte[] ReadFile(string path) => Open(path, File.ReadAllBytes);

    /// <summary>A rules file named on the command line, read (<see cref="IptablesSaveReader.ReadFile"/>: a large dump on
    /// every core), or one line `error: open PATH: why` with exit 2.</summary>
    internal static NetfilterParseResult ReadRules(string path) => Open(path, IptablesSaveReader.ReadFile);

    static T Open<T>(string path, Func<string, T> read)
    {
        try
        {
            return read(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            var why = e is FileNotFoundException or DirectoryNotFoundException ? "no such file or directory" : e.Message;
            throw new CliException($"error: open {path}: {why}", 2);
        }
    }

    static List<(string Name, SourceLocation At)> SetReferences(RuleSet rs) =>
        [.. rs.Tables.SelectMany(t => t.Chains).SelectMany(c => c.Rules)
            .SelectMany(r => r.Matches.OfType<SetMatch>().Select(m => (m.SetName, r.Location)))];
}
