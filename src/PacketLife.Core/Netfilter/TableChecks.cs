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
        // Chain indices by name, and each shared jump target resolved once (the reader gives every rule jumping to the
        // same chain the same JumpTarget object, so most rules need no name lookup at all).
        var index = new Dictionary<string, int>(table.Chains.Length, StringComparer.Ordinal);
        for (int k = 0; k < table.Chains.Length; k++) index[table.Chains[k].Name] = k;
        var resolved = new Dictionary<JumpTarget, int>(ReferenceEqualityComparer.Instance);
        int Resolve(JumpTarget j)
        {
            if (resolved.TryGetValue(j, out var t)) return t;
            t = index.TryGetValue(j.ChainName, out var x) ? x : -1;
            resolved[j] = t;
            return t;
        }
        var succ = new int[table.Chains.Length][];
        var seen = new HashSet<int>();
        var l = new List<int>();

        for (int k = 0; k < table.Chains.Length; k++)
        {
            var chain = table.Chains[k];
            seen.Clear();
            l.Clear();
            foreach (var rule in chain.Rules)
            {
                switch (rule.Target)
                {
                    case JumpTarget j:
                    {
                        int t = Resolve(j);
                        var at = rule.TargetColumn > 0 ? rule.Location with { Column = rule.TargetColumn } : rule.Location;
                        if (t < 0) diags.Add(NetfilterMessages.UndefinedChain(at, j.ChainName, table.Name));
                        else if (table.Chains[t].IsBuiltin) diags.Add(NetfilterMessages.BuiltinAsTarget(at, j.ChainName));
                        else if (seen.Add(t)) l.Add(t); // callers, for the hook walk below (distinct, in first-jump order)
                        break;
                    }
                    case VerdictTarget v when v == VerdictTarget.Drop && table.Name == "nat":
                        diags.Add(NetfilterMessages.DropInNat(rule.TargetColumn > 0 ? rule.Location with { Column = rule.TargetColumn } : rule.Location));
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
            succ[k] = l.Count == 0 ? [] : [.. l];
        }

        // Which hooks reach each chain (a rule in a user chain must be valid from every caller's hook): a bitmask per
        // chain, filled by a walk over chain indices from each built-in chain.
        var mask = new int[table.Chains.Length];
        var queue = new Queue<int>();
        for (int k = 0; k < table.Chains.Length; k++)
        {
            var c = table.Chains[k];
            if (!c.IsBuiltin || NetfilterTables.HookOf(c.Name) is not { } h) continue;
            int bit = 1 << (int)h;
            queue.Enqueue(k);
            while (queue.Count > 0)
            {
                int x = queue.Dequeue();
                if ((mask[x] & bit) != 0) continue;
                mask[x] |= bit;
                foreach (var y in succ[x]) if ((mask[y] & bit) == 0) queue.Enqueue(y);
            }
        }
        var hookSets = new Dictionary<int, NetfilterHook[]>();
        NetfilterHook[] HooksOf(int m)
        {
            if (!hookSets.TryGetValue(m, out var a))
                hookSets[m] = a = [.. Enum.GetValues<NetfilterHook>().Where(h => (m & (1 << (int)h)) != 0)];
            return a;
        }
        for (int k = 0; k < table.Chains.Length; k++)
        {
            var chain = table.Chains[k];
            var hs = HooksOf(mask[k]);
            foreach (var rule in chain.Rules)
            {
                var at = rule.TargetColumn > 0 ? rule.Location with { Column = rule.TargetColumn } : rule.Location;
                if (rule.Target is { } t && (t.AllowedTables is not null || t.AllowedHooks is not null))
                {
                    if (t.AllowedTables is { } tables && !tables.Contains(table.Name))
                        diags.Add(NetfilterMessages.HookRestriction(at, $"{t.Name} target: only valid in {string.Join("/", tables)} table, not {table.Name}", "iptables-restore fails with \"Invalid argument\""));
                    else if (t.AllowedHooks is { } allowed && hs.Length > 0 && !AllAllowed(hs, allowed) && hs.Where(h => !allowed.Contains(h)).ToList() is { Count: > 0 } bad)
                        diags.Add(NetfilterMessages.HookRestriction(at,
                            $"{t.Name} target: used from hooks {string.Join("/", bad.Select(NetfilterTables.ChainOf))}, but only usable from {string.Join("/", allowed.Select(NetfilterTables.ChainOf))}",
                            "iptables-restore fails with \"Invalid argument\""));
                }
                if (hs.Length > 0)
                    foreach (var m in rule.Matches)
                        if (m.CheckHooks(hs) is { } msg)
                            diags.Add(NetfilterMessages.HookRestriction(rule.Location, msg, "iptables-restore fails with \"Invalid argument\""));
            }
        }
    }

    static bool AllAllowed(NetfilterHook[] hooks, IReadOnlyList<NetfilterHook> allowed)
    {
        foreach (var h in hooks)
        {
            bool ok = false;
            for (int i = 0; i < allowed.Count && !ok; i++) ok = allowed[i] == h;
            if (!ok) return false;
        }
        return true;
    }
}
