using System.Collections.Immutable;
using System.Text;
using PacketLife.Core.Diagnostics;
using PacketLife.Core.Netfilter.Evaluation;

namespace PacketLife.Core.Netfilter.Matches;

public enum MatchOutcome : byte
{
    NoMatch,
    Match,
    /// <summary>Matches with <see cref="MatchResult.Probability"/> (statistic random): the walk forks.</summary>
    Branch,
    /// <summary>Cannot be decided (not modelled, or input missing): the trace becomes uncertain.</summary>
    Uncertain,
}

public readonly record struct MatchResult(MatchOutcome Outcome, double Probability = 0, string? Reason = null)
{
    public static readonly MatchResult True = new(MatchOutcome.Match);
    public static readonly MatchResult False = new(MatchOutcome.NoMatch);
    public static MatchResult Of(bool value) => value ? True : False;
    public static MatchResult Branch(double p) => new(MatchOutcome.Branch, p);
    public static MatchResult Unknown(string reason) => new(MatchOutcome.Uncertain, 0, reason);
}

/// <summary>A `-m` match (iptables-extensions(8)). Each module is one file: it parses its options, writes
/// itself as iptables-save prints it, and evaluates itself against a packet.</summary>
public abstract class Match
{
    /// <summary>The module name as written after `-m`.</summary>
    public abstract string Module { get; }

    /// <summary>Loaded implicitly by `-p PROTO` because an option of it was used without `-m` (iptables-save
    /// then prints the `-m PROTO` it inserted).</summary>
    public bool Implicit { get; internal set; }

    /// <summary>True in the types that override <see cref="CheckHooks"/> (the table checks call it only for them).
    /// A virtual flag rather than reflection, so a trimmed NativeAOT build keeps it; a test holds every match type's
    /// flag to whether it overrides CheckHooks.</summary>
    internal virtual bool ChecksHooks => false;

    /// <summary>Writes the options in iptables-save's form and order, each preceded by a space.</summary>
    public abstract void WriteSave(StringBuilder sb);

    public abstract MatchResult Evaluate(EvalContext ctx);

    /// <summary>The kernel's checkentry for hooks: a message (dmesg wording) when the match may not be used from one
    /// of <paramref name="hooks"/> (the built-in chains that reach the rule), else null.</summary>
    public virtual string? CheckHooks(IReadOnlyCollection<NetfilterHook> hooks) => null;

    /// <summary>Non-null when this match is kept but not modelled.</summary>
    public virtual string? UnsupportedReason => null;

    public string SaveText
    {
        get
        {
            var sb = new StringBuilder();
            sb.Append("-m ").Append(Module);
            WriteSave(sb);
            return sb.ToString();
        }
    }

    // Value semantics by the save text: two matches are equal when iptables-save prints them the same.
    public override bool Equals(object? obj) => obj is Match m && m.GetType() == GetType() && m.SaveText == SaveText;
    public override int GetHashCode() => SaveText.GetHashCode(StringComparison.Ordinal);
    public override string ToString() => SaveText;
}

/// <summary>How an option is written: its arity (0..2 arguments) and whether `!` may precede it.</summary>
public sealed record OptionSpec(string Name, int Arity, bool Invertible = false, string[]? Aliases = null)
{
    public bool Is(string token) => token == Name || (Aliases is not null && Array.IndexOf(Aliases, token) >= 0);
}

public sealed record ParsedOption(string Name, bool Negated, string[] Args, SourceLocation Location)
{
    public string Arg => Args[0];
}

/// <summary>The options given to one module, with a sink for its errors (all reported, not just the first).</summary>
public sealed class OptionBag(string module, SourceLocation moduleLocation, List<Diagnostic> diagnostics)
{
    public string Module { get; private set; } = module;
    public SourceLocation Location { get; private set; } = moduleLocation;
    public List<ParsedOption> Options { get; } = [];
    public bool Failed { get; private set; }
    /// <summary>Diagnostics this bag has reported since it was filled (errors, warnings, options not modelled): the
    /// reader only shares a built match by its text when its options said nothing.</summary>
    internal int Reported { get; private set; }
    List<string>? unmodelled;
    public IReadOnlyList<string> Unmodelled => (IReadOnlyList<string>?)unmodelled ?? [];

    /// <summary>Empties the bag for the next module of the same read (the reader reuses bags rule after rule; a built
    /// match keeps none of the bag's objects).</summary>
    internal void Reset(string module, SourceLocation moduleLocation)
    {
        (Module, Location, Failed, Reported) = (module, moduleLocation, false, 0);
        Options.Clear();
        unmodelled = null;
    }

    public ParsedOption? Get(string name)
    {
        foreach (var o in Options) if (o.Name == name) return o;
        return null;
    }

    public bool Has(string name) => Get(name) is not null;

    public void Error(Diagnostic d)
    {
        diagnostics.Add(d);
        Reported++;
        Failed = true;
    }

    public void Warn(Diagnostic d)
    {
        diagnostics.Add(d);
        Reported++;
    }

    public void BadValue(ParsedOption o, string? detail = null, int arg = 0) =>
        Error(NetfilterMessages.BadValue(o.Location, Module, o.Name, o.Args.Length > arg ? o.Args[arg] : "", detail));

    public void Problem(string message, ParsedOption? at = null, string? hint = null) =>
        Error(NetfilterMessages.OptionProblem(at?.Location ?? Location, message, hint));

    /// <summary>An option iptables accepts and we read but do not model: the rule becomes uncertain.</summary>
    public void NotModelled(ParsedOption o)
    {
        diagnostics.Add(NetfilterMessages.UnsupportedOption(o.Location, Module, o.Name));
        Reported++;
        (unmodelled ??= []).Add($"{Module} option {o.Name} is not modelled");
    }
}

/// <summary>A match module's description: its options and how to build the match from them.</summary>
public sealed record MatchModule(string Name, ImmutableArray<OptionSpec> Options, Func<OptionBag, Match?> Build)
{
    public OptionSpec? Find(string token)
    {
        foreach (var o in Options) if (o.Is(token)) return o;
        return null;
    }
}
