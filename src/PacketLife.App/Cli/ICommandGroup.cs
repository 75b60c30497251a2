using System.CommandLine;

namespace PacketLife.App.Cli;

/// <summary>A set of top-level verbs (`iptables`, `kubectl`, `az`, ...). Implementations are found by
/// reflection at start-up, so each area adds its own file and nothing else.</summary>
public interface ICommandGroup
{
    /// <summary>Position in `--help`; lower first.</summary>
    int Order => 100;

    IEnumerable<Command> Commands();
}

/// <summary>An expected failure that ends the command: its message is printed as one line on stderr,
/// without a stack trace, and the process exits with <see cref="ExitCode"/>.</summary>
public sealed class CliException(string message, int exitCode = 1) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}
