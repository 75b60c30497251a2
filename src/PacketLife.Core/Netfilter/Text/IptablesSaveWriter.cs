using System.Text;
using PacketLife.Core.Net;
using PacketLife.Core.Netfilter.Targets;

namespace PacketLife.Core.Netfilter.Text;

/// <summary>Writes rule sets: <see cref="Write"/> gives back every line that was read exactly as read (and prints
/// lines built in code in iptables-save's form); <see cref="WriteCanonicalRule"/> prints one rule the way
/// `iptables-save` prints it after the kernel stored it, whatever order it was written in.</summary>
public static class IptablesSaveWriter
{
    public static string Write(RuleSet ruleSet)
    {
        var sb = new StringBuilder();
        if (ruleSet.ByteOrderMark) sb.Append('\uFEFF');
        bool first = true;
        void Line(string s)
        {
            if (!first) sb.Append('\n');
            sb.Append(s);
            first = false;
        }
        foreach (var item in ruleSet.Lines)
        {
            if (item is Table t)
            {
                Line(t.Text ?? "*" + t.Name);
                if (t.Lines.IsDefaultOrEmpty)
                {
                    foreach (var c in t.Chains) Line(c.ChainLine);
                    foreach (var c in t.Chains)
                        foreach (var r in c.Rules) Line(r.Text ?? WriteCanonicalRule(r));
                    Line("COMMIT");
                }
                else
                {
                    foreach (var l in t.Lines) Line(l.Text ?? LineText(l));
                }
            }
            else Line(item.Text ?? LineText(item));
        }
        if (ruleSet.EndsWithNewline && sb.Length > 0) sb.Append('\n');
        return sb.ToString();
    }

    static string LineText(RuleSetLine line) => line switch
    {
        CommentLine c => c.Comment,
        ChainLine c => $":{c.Name} {c.Policy ?? "-"} {c.Counters}",
        RuleLine r => WriteCanonicalRule(r.Rule),
        ChainCommandLine c => string.Join(' ', new[] { CommandFlag(c.Command), c.Chain }.Concat(c.Args).Where(x => x is not null)),
        CommitLine => "COMMIT",
        Table t => "*" + t.Name,
        _ => throw new InvalidOperationException(line.GetType().Name),
    };

    static string CommandFlag(ChainCommand c) => c switch
    {
        ChainCommand.New => "-N",
        ChainCommand.Delete => "-X",
        ChainCommand.Flush => "-F",
        ChainCommand.Policy => "-P",
        ChainCommand.Zero => "-Z",
        ChainCommand.Rename => "-E",
        ChainCommand.DeleteRule => "-D",
        _ => "-R",
    };

    /// <summary>The rule as iptables-save prints it (ip_tables print_rule4 / nft save_rule, identical here):
    /// optional `[p:b] ` counters, `-A CHAIN`, then `-s -d -i -o -p -f` (each with a leading `!` when negated,
    /// addresses masked with `/len`), the matches in their order with `-m NAME` (including the ones `-p`
    /// loaded implicitly), and `-j TARGET` or `-g CHAIN` with the target's options in save form.</summary>
    public static string WriteCanonicalRule(Rule rule)
    {
        var sb = new StringBuilder(128);
        if (rule.Counters is { } c) sb.Append(c).Append(' ');
        sb.Append("-A ").Append(rule.Chain);
        WriteSpec(sb, rule);
        return sb.ToString();
    }

    /// <summary>Everything after `-A CHAIN` (with a leading space), in save form.</summary>
    public static void WriteSpec(StringBuilder sb, Rule rule)
    {
        Address(sb, "-s", rule.Source);
        Address(sb, "-d", rule.Destination);
        Iface(sb, "-i", rule.InInterface);
        Iface(sb, "-o", rule.OutInterface);
        if (rule.Protocol is { Protocol: { } p } ps)
        {
            if (ps.Negated) sb.Append(" !");
            sb.Append(" -p ").Append(ProtocolNames.Name(p));
        }
        if (rule.Fragment is { } f) sb.Append(f ? " -f" : " ! -f");
        foreach (var m in rule.Matches)
        {
            sb.Append(" -m ").Append(m.Module);
            m.WriteSave(sb);
        }
        switch (rule.Target)
        {
            case null:
                break;
            case JumpTarget { IsGoto: true } g:
                sb.Append(" -g ").Append(g.ChainName);
                break;
            case { } t:
                sb.Append(" -j ").Append(t.Name);
                t.WriteSave(sb);
                break;
        }
    }

    static void Address(StringBuilder sb, string flag, AddressSpec? a)
    {
        if (a is not { } s) return;
        // A zero mask is not printed unless negated (print_ip).
        if (s.Prefix.Length == 0 && !s.Negated) return;
        if (s.Negated) sb.Append(" !");
        sb.Append(' ').Append(flag).Append(' ').Append(s.Prefix.ToString());
    }

    static void Iface(StringBuilder sb, string flag, InterfaceSpec? i)
    {
        // `-i +` matches everything and is stored with an empty mask, so iptables-save omits it (and its `!`).
        if (i is null || i.Name == "+") return;
        if (i.Negated) sb.Append(" !");
        sb.Append(' ').Append(flag).Append(' ').Append(i.Name);
    }
}
