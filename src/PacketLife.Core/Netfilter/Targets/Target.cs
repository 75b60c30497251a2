using System.Collections.Immutable;
using System.Text;
using PacketLife.Core.Netfilter.Evaluation;
using PacketLife.Core.Netfilter.Matches;

namespace PacketLife.Core.Netfilter.Targets;

public enum TargetAction : byte
{
    /// <summary>Non-terminating (MARK, LOG, ...): the next rule runs.</summary>
    Continue,
    /// <summary>ACCEPT: ends this table for this hook.</summary>
    Accept,
    /// <summary>DROP: ends everything.</summary>
    Drop,
    /// <summary>REJECT: drop plus an error reply.</summary>
    Reject,
    Return,
    Jump,
    Goto,
    /// <summary>DNAT/SNAT/MASQUERADE/REDIRECT: a NAT binding is requested and the nat table ends (accept).</summary>
    Nat,
    /// <summary>Not modelled: the trace is uncertain from here.</summary>
    Uncertain,
}

public readonly record struct TargetResult(TargetAction Action, string? Detail = null);

/// <summary>A `-j` target (iptables-extensions(8)). Each target is one file: it parses its options, writes itself
/// as iptables-save prints it, and executes against the walk (changing marks or returning requests).</summary>
public abstract class Target
{
    /// <summary>The name after `-j` (or the chain name for jumps).</summary>
    public abstract string Name { get; }

    /// <summary>Writes the options in save form, each preceded by a space.</summary>
    public virtual void WriteSave(StringBuilder sb) { }

    public abstract TargetResult Execute(EvalContext ctx, Rule rule);

    public virtual string? UnsupportedReason => null;

    /// <summary>Tables where the kernel accepts this target (null: any), and hooks (built-in chains) it may be
    /// reached from (null: any). iptables-restore fails with "Invalid argument" otherwise (facts §2.5).</summary>
    public virtual IReadOnlyList<string>? AllowedTables => null;
    public virtual IReadOnlyList<NetfilterHook>? AllowedHooks => null;

    public string SaveText
    {
        get
        {
            var sb = new StringBuilder(Name);
            WriteSave(sb);
            return sb.ToString();
        }
    }

    public override bool Equals(object? obj) => obj is Target t && t.GetType() == GetType() && t.SaveText == SaveText;
    public override int GetHashCode() => SaveText.GetHashCode(StringComparison.Ordinal);
    public override string ToString() => SaveText;
}

/// <summary>A target module's description: its options and how to build it.</summary>
public sealed record TargetModule(string Name, ImmutableArray<OptionSpec> Options, Func<OptionBag, Target?> Build)
{
    public OptionSpec? Find(string token)
    {
        foreach (var o in Options) if (o.Is(token)) return o;
        return null;
    }
}
