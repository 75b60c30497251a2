using PacketLife.Core.Diagnostics;
using PacketLife.Core.Netfilter.Targets;

namespace PacketLife.Core.Netfilter;

/// <summary>Checks a committed table the way iptables-restore and the kernel's checkentry functions would:
/// jumps to undefined chains, DROP in nat, `-i`/`-o` in built-in chains that cannot have them (iptables(8)), and
/// targets/matches used from hooks or tables the kernel refuses (facts §2.5; kernel reports "Invalid argument").</summary>
internal static class TableChecks
{
    public static void Check(Table table, List<Diagnostic> diags)
    {
        var byName = new Dictionary<string, Chain>(StringComparer.Ordinal);
        foreach (var c in table.Chains) byName[c.Name] = c;

        foreach (var chain in table.Chains)
            foreach (var rule in chain.Rules)
            {
                var at = rule.TargetColumn > 0 ? rule.Location with { Column = rule.TargetColumn } : rule.Location;
                switch (rule.Target)
                {
                    case JumpTarget j when !byName.ContainsKey(j.ChainName):
                        diags.Add(NetfilterMessages.UndefinedChain(at, j.ChainName, table.Name));
                        break;
                    case JumpTarget j when byName[j.ChainName].IsBuiltin:
                        diags.Add(NetfilterMessages.BuiltinAsTarget(at, j.ChainName));
                        break;
                    case VerdictTarget v when v == VerdictTarget.Drop && table.Name == "nat":
                        diags.Add(NetfilterMessages.DropInNat(at));
                        break;
                }
                if (chain.IsBuiltin)
                {
                    if (rule.InInterface is not null && chain.Name is "OUTPUT" or "POSTROUTING")
                        diags.Add(NetfilterMessages.HookRestriction(rule.Location, $"Can't use -i with {chain.Name}", "-i is only known before routing; use a user chain or -o"));
                    if (rule.OutInterface is not null && chain.Name is "PREROUTING" or "INPUT")
                        diags.Add(NetfilterMessages.HookRestriction(rule.Location, $"Can't use -o with {chain.Name}", "the output interface is not known before routing"));
                }
            }

        // Which hooks reach each chain (a rule in a user chain must be valid from every caller's hook).
        var hooks = new Dictionary<string, HashSet<NetfilterHook>>(StringComparer.Ordinal);
        foreach (var c in table.Chains)
        {
            if (!c.IsBuiltin || NetfilterTables.HookOf(c.Name) is not { } h) continue;
            var stack = new Stack<string>();
            stack.Push(c.Name);
            while (stack.Count > 0)
            {
                var name = stack.Pop();
                if (!hooks.TryGetValue(name, out var set)) hooks[name] = set = [];
                if (!set.Add(h)) continue;
                if (!byName.TryGetValue(name, out var cc)) continue;
                foreach (var r in cc.Rules)
                    if (r.Target is JumpTarget jt && byName.TryGetValue(jt.ChainName, out var tgt) && !tgt.IsBuiltin) stack.Push(jt.ChainName);
            }
        }
        foreach (var chain in table.Chains)
        {
            var hs = hooks.GetValueOrDefault(chain.Name) ?? [];
            foreach (var rule in chain.Rules)
            {
                var at = rule.TargetColumn > 0 ? rule.Location with { Column = rule.TargetColumn } : rule.Location;
                if (rule.Target is { } t)
                {
                    if (t.AllowedTables is { } tables && !tables.Contains(table.Name))
                        diags.Add(NetfilterMessages.HookRestriction(at, $"{t.Name} target: only valid in {string.Join("/", tables)} table, not {table.Name}", "iptables-restore fails with \"Invalid argument\""));
                    else if (t.AllowedHooks is { } allowed && hs.Count > 0 && hs.Where(h => !allowed.Contains(h)).ToList() is { Count: > 0 } bad)
                        diags.Add(NetfilterMessages.HookRestriction(at,
                            $"{t.Name} target: used from hooks {string.Join("/", bad.Select(NetfilterTables.ChainOf))}, but only usable from {string.Join("/", allowed.Select(NetfilterTables.ChainOf))}",
                            "iptables-restore fails with \"Invalid argument\""));
                }
                if (hs.Count > 0)
                    foreach (var m in rule.Matches)
                        if (m.CheckHooks(hs) is { } msg)
                            diags.Add(NetfilterMessages.HookRestriction(rule.Location, msg, "iptables-restore fails with \"Invalid argument\""));
            }
        }
    }
}
