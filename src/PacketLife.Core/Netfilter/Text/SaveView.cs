using System.Collections.Immutable;

namespace PacketLife.Core.Netfilter.Text;

/// <summary>What `iptables-save` prints after `iptables-restore --noflush` of a payload onto an existing rule set
/// (kube-proxy-iptables.md §6–§7, netfilter-conntrack.md §3.14). Per table:
/// <list type="bullet">
/// <item>a table the kernel did not have is created with all its built-in chains (policy ACCEPT, [0:0]);</item>
/// <item>`:USER - [0:0]` creates the chain or, with --noflush, flushes it (then the payload refills it);
///   `:BUILTIN POLICY [..]` sets the policy and never flushes (iptables-restore.c);</item>
/// <item>`-A`/`-I`, `-N`, `-X`, `-F`, `-P` apply in order;</item>
/// <item>tables the payload does not mention stay as they were.</item>
/// </list>
/// Output order: built-in chains first in kernel hook order, then user chains sorted ordinally; each rule printed
/// in canonical save form (<see cref="IptablesSaveWriter.WriteCanonicalRule"/>) without counters; existing tables
/// keep their order and new tables follow in payload order.</summary>
public static class SaveView
{
    sealed class ChainState(string name, bool builtin, string? policy, Counters counters)
    {
        public string Name { get; } = name;
        public bool Builtin { get; } = builtin;
        public string? Policy { get; set; } = policy;
        public Counters Counters { get; set; } = counters;
        public List<Rule> Rules { get; } = [];
    }

    public static RuleSet AfterRestore(RuleSet payload, RuleSet? existing = null)
    {
        var tables = new List<(string Name, Dictionary<string, ChainState> Chains)>();
        Dictionary<string, ChainState> TableOf(string name)
        {
            foreach (var t in tables) if (t.Name == name) return t.Chains;
            var d = new Dictionary<string, ChainState>(StringComparer.Ordinal);
            foreach (var b in NetfilterTables.BuiltinChains(name)) d[b] = new ChainState(b, true, "ACCEPT", Counters.Zero);
            tables.Add((name, d));
            return d;
        }

        if (existing is not null)
            foreach (var t in existing.Tables)
            {
                var d = TableOf(t.Name);
                foreach (var c in t.Chains)
                {
                    if (!d.TryGetValue(c.Name, out var cs)) d[c.Name] = cs = new ChainState(c.Name, c.IsBuiltin, c.Policy, c.IsBuiltin ? c.Counters : Counters.Zero);
                    else { cs.Policy = c.Policy ?? cs.Policy; cs.Counters = c.Counters; }
                    cs.Rules.AddRange(c.Rules);
                }
            }

        foreach (var t in payload.Tables)
        {
            var d = TableOf(t.Name);
            foreach (var line in t.Lines)
            {
                switch (line)
                {
                    case ChainLine cl:
                        if (d.TryGetValue(cl.Name, out var cs))
                        {
                            if (cs.Builtin) { if (cl.Policy is not null) cs.Policy = cl.Policy; }
                            else cs.Rules.Clear();
                        }
                        else d[cl.Name] = new ChainState(cl.Name, NetfilterTables.IsBuiltin(t.Name, cl.Name), cl.Policy, Counters.Zero);
                        break;
                    case RuleLine rl:
                    {
                        var r = rl.Rule;
                        if (!d.TryGetValue(r.Chain, out var c)) d[r.Chain] = c = new ChainState(r.Chain, false, null, Counters.Zero);
                        if (r.Command == RuleCommand.Insert) c.Rules.Insert(Math.Clamp((r.InsertPosition ?? 1) - 1, 0, c.Rules.Count), r);
                        else c.Rules.Add(r);
                        break;
                    }
                    case ChainCommandLine cc:
                        switch (cc.Command)
                        {
                            case ChainCommand.New when cc.Chain is not null && !d.ContainsKey(cc.Chain):
                                d[cc.Chain] = new ChainState(cc.Chain, false, null, Counters.Zero);
                                break;
                            case ChainCommand.Delete:
                                if (cc.Chain is null) foreach (var k in d.Where(kv => !kv.Value.Builtin).Select(kv => kv.Key).ToList()) d.Remove(k);
                                else if (d.TryGetValue(cc.Chain, out var x) && !x.Builtin) d.Remove(cc.Chain);
                                break;
                            case ChainCommand.Flush:
                                if (cc.Chain is null) foreach (var x2 in d.Values) x2.Rules.Clear();
                                else if (d.TryGetValue(cc.Chain, out var x3)) x3.Rules.Clear();
                                break;
                            case ChainCommand.Policy when cc.Chain is not null && cc.Args.Length > 0 && d.TryGetValue(cc.Chain, out var x4) && x4.Builtin:
                                x4.Policy = cc.Args[0];
                                break;
                        }
                        break;
                }
            }
        }

        var result = ImmutableArray.CreateBuilder<RuleSetLine>();
        foreach (var (name, d) in tables)
        {
            var builtins = NetfilterTables.BuiltinChains(name);
            var ordered = builtins.Where(d.ContainsKey).Select(b => d[b])
                .Concat(d.Values.Where(c => !builtins.Contains(c.Name)).OrderBy(c => c.Name, StringComparer.Ordinal));
            var chains = ordered.Select(c => new Chain
            {
                Name = c.Name,
                IsBuiltin = c.Builtin,
                Policy = c.Policy,
                Counters = c.Counters,
                Rules = [.. c.Rules.Select(r => r with { Text = null, Counters = null, Command = RuleCommand.Append, InsertPosition = null })],
            }).ToImmutableArray();
            result.Add(new Table { Name = name, Chains = chains });
        }
        return new RuleSet { Lines = result.ToImmutable() };
    }
}
