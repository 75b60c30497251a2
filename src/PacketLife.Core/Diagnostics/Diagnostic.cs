namespace PacketLife.Core.Diagnostics;

public enum Severity
{
    Info,
    Warning,
    Error,
}

/// <summary>Where something was read: a file (or other source name), 1-based line and column.</summary>
public readonly record struct SourceLocation(string Source, int Line, int Column)
{
    public override string ToString() => Line > 0 ? $"{Source}:{Line}:{Column}" : Source;
}

/// <summary>An expected problem found in input, reported as a value (never an exception).
/// <paramref name="Code"/> is stable (for tests and docs); <paramref name="Hint"/> says how to fix or what is assumed.</summary>
public sealed record Diagnostic(Severity Severity, string Code, string Message, SourceLocation Location, string? Hint = null)
{
    /// <summary>One line: `file:line:col: error PL0001: message (hint: ...)`.</summary>
    public override string ToString()
    {
        var sev = Severity switch { Severity.Error => "error", Severity.Warning => "warning", _ => "info" };
        return Hint is null ? $"{Location}: {sev} {Code}: {Message}" : $"{Location}: {sev} {Code}: {Message} (hint: {Hint})";
    }
}
