using System.Collections.Immutable;
using PacketLife.Core.Diagnostics;
using PacketLife.Core.Net;
using PacketLife.Core.Netfilter.Matches;
using PacketLife.Core.Netfilter.Targets;

namespace PacketLife.Core.Netfilter;

/// <summary>The five netfilter hooks (include/uapi/linux/netfilter_ipv4.h), in kernel order.</summary>
public enum NetfilterHook
{
    Prerouting,
    Input,
    Forward,
    Output,
    Postrouting,
}

/// <summary>The iptables tables and their built-in chains (iptable_*.c register these hooks).</summary>
public static class NetfilterTables
{
    public static readonly ImmutableArray<string> Names = ["raw", "mangle", "nat", "filter", "security"];

    public static bool IsKnown(string table) => Names.Contains(table);

    /// <summary>Built-in chains of a table in kernel (hook) order, which is also iptables-save's order.</summary>
    public static ImmutableArray<string> BuiltinChains(string table) => table switch
    {
        "filter" => ["INPUT", "FORWARD", "OUTPUT"],
        "nat" => ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"],
        "mangle" => ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"],
        "raw" => ["PREROUTING", "OUTPUT"],
        "security" => ["INPUT", "FORWARD", "OUTPUT"],
        _ => [],
    };

    public static bool IsBuiltin(string table, string chain) => BuiltinChains(table).Contains(chain);

    public static NetfilterHook? HookOf(string builtinChain) => builtinChain switch
    {
        "PREROUTING" => NetfilterHook.Prerouting,
        "INPUT" => NetfilterHook.Input,
        "FORWARD" => NetfilterHook.Forward,
        "OUTPUT" => NetfilterHook.Output,
        "POSTROUTING" => NetfilterHook.Postrouting,
        _ => null,
    };

    public static string ChainOf(NetfilterHook hook) => hook switch
    {
        NetfilterHook.Prerouting => "PREROUTING",
        NetfilterHook.Input => "INPUT",
        NetfilterHook.Forward => "FORWARD",
        NetfilterHook.Output => "OUTPUT",
        _ => "POSTROUTING",
    };
}

/// <summary>`[packets:bytes]` as iptables-save prints them (bytes count IP total length).</summary>
public readonly record struct Counters(ulong Packets, ulong Bytes)
{
    public static readonly Counters Zero = new(0, 0);
    public override string ToString() => $"[{Packets}:{Bytes}]";

    public static bool TryParse(ReadOnlySpan<char> s, out Counters c)
    {
        c = default;
        if (s.Length < 5 || s[0] != '[' || s[^1] != ']') return false;
        var inner = s[1..^1];
        int colon = inner.IndexOf(':');
        if (colon <= 0) return false;
        if (!ulong.TryParse(inner[..colon], System.Globalization.NumberStyles.None, null, out var p)) return false;
        if (!ulong.TryParse(inner[(colon + 1)..], System.Globalization.NumberStyles.None, null, out var b)) return false;
        c = new Counters(p, b);
        return true;
    }
}

/// <summary>`[!] -s/-d address[/mask]`.</summary>
public readonly record struct AddressSpec(Ip4Prefix Prefix, bool Negated)
{
    public bool Test(Ip4 ip) => Prefix.Contains(ip) != Negated;
}

/// <summary>`[!] -i/-o name[+]`: a trailing `+` matches any name with that prefix (iptables(8)).</summary>
public sealed record InterfaceSpec(string Name, bool Negated)
{
    public bool IsWildcard => Name.EndsWith('+');

    /// <summary>A packet with no interface on that side (empty name) only matches a negated or `+` spec,
    /// as the kernel compares against an empty string (ip_tables.c ip_packet_match).</summary>
    public bool Test(string? iface)
    {
        iface ??= "";
        bool m = IsWildcard ? iface.StartsWith(Name.AsSpan(0, Name.Length - 1), StringComparison.Ordinal) : iface == Name;
        return m != Negated;
    }
}

/// <summary>`[!] -p proto`; <see cref="Protocol"/> null means `all` (0).</summary>
public sealed record ProtocolSpec(IpProtocol? Protocol, bool Negated, string Written)
{
    public bool Test(IpProtocol p) => (Protocol is null || Protocol == p) != Negated;
}

public enum RuleCommand
{
    Append,
    Insert,
}

/// <summary>One iptables rule: built-in fields, matches in written order, a target, counters, and where it was
/// read (exact text and location) so that traces can quote it and the writer can reproduce it.</summary>
/// <remarks>A large dump has one of these per line, so the storage is compact (128 bytes instead of ~210): the
/// addresses are packed, the fields most rules never have (`-I` and its position, `-f`, counters, why it is
/// unsupported) share one object that most rules do not need, and the text is one range of the file's text. Every
/// property reads and writes as if it were a plain field; a <c>with</c> copy never shares a changed part.</remarks>
public sealed record Rule
{
    public required string Chain { get; init; }

    /// <summary>The fields few rules have, kept together (null: all at their defaults).</summary>
    sealed record Rare(RuleCommand Command, int? InsertPosition, bool? Fragment, Counters? Counters, ImmutableArray<string> Unsupported)
    {
        public static readonly Rare None = new(RuleCommand.Append, null, null, null, []);
        public bool IsNone => Command == RuleCommand.Append && InsertPosition is null && Fragment is null && Counters is null && Unsupported.IsDefaultOrEmpty;
        // ImmutableArray compares by reference; two rules with equal reasons are equal rules.
        public bool Equals(Rare? other) => other is not null && Command == other.Command && InsertPosition == other.InsertPosition
            && Fragment == other.Fragment && Counters == other.Counters && Unsupported.AsSpan().SequenceEqual(other.Unsupported.AsSpan());
        public override int GetHashCode() => HashCode.Combine(Command, InsertPosition, Fragment, Counters, Unsupported.Length);
    }

    Rare? rare;
    Rare R => rare ?? Rare.None;
    Rare? With(Rare r) => r.IsNone ? null : r;

    public RuleCommand Command { get => R.Command; init { if (value != R.Command) rare = With(R with { Command = value }); } }
    /// <summary>1-based position of `-I CHAIN N` (null: `-I CHAIN`, i.e. 1).</summary>
    public int? InsertPosition { get => R.InsertPosition; init { if (value != R.InsertPosition) rare = With(R with { InsertPosition = value }); } }

    // `-s`/`-d`, each packed: present (bit 40), negated (bit 41), prefix length (bits 32-39), address (bits 0-31).
    ulong source, destination;

    static ulong Pack(AddressSpec? a) =>
        a is { } v ? 1UL << 40 | (v.Negated ? 1UL << 41 : 0) | (ulong)(byte)v.Prefix.Length << 32 | v.Prefix.Address.Value : 0;

    static AddressSpec? Unpack(ulong p) =>
        (p & 1UL << 40) == 0 ? null : new AddressSpec(new Ip4Prefix(new Ip4((uint)p), (int)(p >> 32 & 0xFF)), (p & 1UL << 41) != 0);

    public AddressSpec? Source { get => Unpack(source); init => source = Pack(value); }
    public AddressSpec? Destination { get => Unpack(destination); init => destination = Pack(value); }

    public InterfaceSpec? InInterface { get; init; }
    public InterfaceSpec? OutInterface { get; init; }
    public ProtocolSpec? Protocol { get; init; }
    /// <summary>`-f` (true), `! -f` (false) or absent.</summary>
    public bool? Fragment { get => R.Fragment; init { if (value != R.Fragment) rare = With(R with { Fragment = value }); } }
    public ImmutableArray<Match> Matches { get; init; } = [];
    /// <summary>null: a rule without a target only counts packets.</summary>
    public Target? Target { get; init; }
    public Counters? Counters { get => R.Counters; init { if (value != R.Counters) rare = With(R with { Counters = value }); } }
    // The text is kept as a range of the file that was read (one string for the whole file instead of one per line:
    // a 200k-line dump would otherwise spend most of its reading time in the garbage collector); a text given as a
    // string is the range over all of it.
    string? textSource;
    int textStart, textLength;

    /// <summary>The line exactly as read (null when built in code).</summary>
    public string? Text
    {
        get => textSource is null ? null : textStart == 0 && textLength == textSource.Length ? textSource : textSource.Substring(textStart, textLength);
        init => (textSource, textStart, textLength) = (value, 0, value?.Length ?? 0);
    }

    /// <summary>Sets <see cref="Text"/> to a range of the source text without copying it.</summary>
    internal (string Source, int Start, int Length) TextRange
    {
        get => (textSource!, textStart, textLength);
        init => (textSource, textStart, textLength) = value;
    }
    public SourceLocation Location { get; init; }
    /// <summary>Why this rule cannot be evaluated exactly (unknown module, option or target). Traces that
    /// reach it are marked uncertain with these reasons.</summary>
    public ImmutableArray<string> Unsupported { get => R.Unsupported.IsDefault ? [] : R.Unsupported; init { if (!(value.IsDefaultOrEmpty && R.Unsupported.IsDefaultOrEmpty)) rare = With(R with { Unsupported = value.IsDefault ? [] : value }); } }
    /// <summary>Column of the target name in <see cref="Text"/> (0 when there is none), for diagnostics.</summary>
    public int TargetColumn { get; init; }

    public bool IsUnsupported => !Unsupported.IsDefaultOrEmpty;

    /// <summary>The rule as `iptables-save` prints it (see IptablesSaveWriter.WriteCanonicalRule).</summary>
    public string Canonical => PacketLife.Core.Netfilter.Text.IptablesSaveWriter.WriteCanonicalRule(this);

    public override string ToString() => Canonical;
}

/// <summary>A chain: built-in (with a policy and policy counters) or user-defined.</summary>
public sealed record Chain
{
    public required string Name { get; init; }
    public bool IsBuiltin { get; init; }
    /// <summary>ACCEPT or DROP for built-in chains; null for user chains (printed `-`).</summary>
    public string? Policy { get; init; }
    public Counters Counters { get; init; } = Counters.Zero;
    public ImmutableArray<Rule> Rules { get; init; } = [];
    public SourceLocation Location { get; init; }

    public string ChainLine => $":{Name} {Policy ?? "-"} {Counters}";
}

/// <summary>A line of an iptables-save / iptables-restore file, kept in file order for the exact round trip.</summary>
public abstract record RuleSetLine
{
    /// <summary>The line exactly as read (null when built in code).</summary>
    public abstract string? Text { get; init; }

    /// <summary>Sets <see cref="Text"/> to a range of the source text without copying it.</summary>
    internal abstract (string Source, int Start, int Length) TextRange { init; }

    public abstract SourceLocation Location { get; init; }
}

/// <summary>A line that keeps its own text and location (every kind but a rule line, whose rule has them).</summary>
public abstract record TextLine : RuleSetLine
{
    // The text is kept as a range of the file that was read (one string for the whole file instead of one per line:
    // a 200k-line dump would otherwise spend most of its reading time in the garbage collector); a text given as a
    // string is the range over all of it.
    string? textSource;
    int textStart, textLength;

    public override string? Text
    {
        get => textSource is null ? null : textStart == 0 && textLength == textSource.Length ? textSource : textSource.Substring(textStart, textLength);
        init => (textSource, textStart, textLength) = (value, 0, value?.Length ?? 0);
    }

    internal override (string Source, int Start, int Length) TextRange
    {
        init => (textSource, textStart, textLength) = value;
    }

    public override SourceLocation Location { get; init; }
}

/// <summary>`# ...` or an empty line.</summary>
public sealed record CommentLine(string Comment) : TextLine;

/// <summary>`:NAME POLICY [p:b]`.</summary>
public sealed record ChainLine(string Name, string? Policy, Counters Counters) : TextLine;

/// <summary>`-A`/`-I` with its rule. Its text and location are the rule's (a large dump has one of these per rule, and
/// two copies of each cost memory the read has to fill); setting either keeps a value of the line's own.</summary>
public sealed record RuleLine(Rule Rule) : RuleSetLine
{
    sealed record Own(bool HasText, string? Text, (string Source, int Start, int Length)? Range, SourceLocation? Location)
    {
        public static readonly Own None = new(false, null, null, null);
    }
    Own? own;

    public override string? Text
    {
        get => own is { HasText: true } o ? o.Range is { } r ? r.Source.Substring(r.Start, r.Length) : o.Text : Rule.Text;
        init => own = (own ?? Own.None) with { HasText = true, Text = value, Range = null };
    }

    internal override (string Source, int Start, int Length) TextRange
    {
        init => own = (own ?? Own.None) with { HasText = true, Text = null, Range = value };
    }

    public override SourceLocation Location
    {
        get => own?.Location ?? Rule.Location;
        init => own = (own ?? Own.None) with { Location = value };
    }
}

public enum ChainCommand
{
    New,       // -N
    Delete,    // -X
    Flush,     // -F
    Policy,    // -P
    Zero,      // -Z (kept, not applied)
    Rename,    // -E (kept, not applied)
    DeleteRule,  // -D (kept, not applied)
    ReplaceRule, // -R (kept, not applied)
}

/// <summary>A restore-payload command that is not a rule: `-N X`, `-X X`, `-F [X]`, `-P X POLICY`, ...</summary>
public sealed record ChainCommandLine(ChainCommand Command, string? Chain, ImmutableArray<string> Args) : TextLine;

/// <summary>`COMMIT`.</summary>
public sealed record CommitLine : TextLine;

/// <summary>A table: its header line (`*nat`), its lines in file order, and the chains they build (the state
/// `iptables-restore` without `--noflush` leaves: declaration order, rules in application order).</summary>
public sealed record Table : TextLine
{
    public required string Name { get; init; }
    public ImmutableArray<RuleSetLine> Lines { get; init; } = [];
    public ImmutableArray<Chain> Chains { get; init; } = [];

    public Chain? Chain(string name)
    {
        foreach (var c in Chains) if (c.Name == name) return c;
        return null;
    }

    /// <summary>Rules of every chain, chain by chain.</summary>
    public IEnumerable<Rule> AllRules => Chains.SelectMany(c => c.Rules);
}

/// <summary>A whole file: tables in file order with the comment lines where they stood.</summary>
public sealed record RuleSet
{
    public ImmutableArray<RuleSetLine> Lines { get; init; } = [];
    /// <summary>True when the text ended with a line break (iptables-save's output does).</summary>
    public bool EndsWithNewline { get; init; } = true;
    /// <summary>The file started with a UTF-8 byte order mark (given back by the writer).</summary>
    public bool ByteOrderMark { get; init; }

    public IEnumerable<Table> Tables => Lines.OfType<Table>();

    public Table? Table(string name)
    {
        foreach (var t in Tables) if (t.Name == name) return t;
        return null;
    }

    public static RuleSet FromTables(IEnumerable<Table> tables) => new() { Lines = [.. tables] };
}
