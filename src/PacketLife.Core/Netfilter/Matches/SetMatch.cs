using System.Text;
using PacketLife.Core.Netfilter.Evaluation;

namespace PacketLife.Core.Netfilter.Matches;

/// <summary>`-m set [!] --match-set NAME dir[,dir...]` (iptables-extensions(8) "set"): each flag says where the next
/// dimension of the element comes from; fewer flags than the set's dimensions never match, extra flags are ignored
/// (facts §3.13). The sets come from an `ipset save` dump; a set that is not loaded makes the rule uncertain.</summary>
public sealed class SetMatch : Match
{
    public required string SetName { get; init; }
    public required IReadOnlyList<bool> FromSource { get; init; }
    public bool Negated { get; init; }
    public override string Module => "set";

    public static readonly MatchModule Spec = new("set",
    [
        new("--match-set", 2, true, ["--set"]), new("--return-nomatch", 0), new("--update-counters", 0, true),
        new("--update-subcounters", 0, true), new("--packets-eq", 1, true), new("--packets-lt", 1), new("--packets-gt", 1),
        new("--bytes-eq", 1, true), new("--bytes-lt", 1), new("--bytes-gt", 1),
    ], Build);

    static Match? Build(OptionBag bag)
    {
        var o = bag.Get("--match-set");
        if (o is null) { bag.Problem("set match: You must specify `--match-set' with proper arguments"); return null; }
        var flags = new List<bool>();
        foreach (var f in o.Args[1].Split(','))
        {
            if (f == "src") flags.Add(true);
            else if (f == "dst") flags.Add(false);
            else { bag.Problem($"You must specify (the comma separated list of) 'src' or 'dst'. (\"{o.Args[1]}\")", o); return null; }
        }
        if (flags.Count > 6) { bag.Problem("Can't be more src/dst options than 6.", o); return null; }
        foreach (var extra in bag.Options.Where(x => x.Name != "--match-set")) bag.NotModelled(extra);
        return new SetMatch { SetName = o.Args[0], FromSource = flags, Negated = o.Negated };
    }

    public override void WriteSave(StringBuilder sb)
    {
        sb.Append(Negated ? " ! --match-set " : " --match-set ").Append(SetName).Append(' ');
        sb.Append(string.Join(',', FromSource.Select(s => s ? "src" : "dst")));
    }

    public override MatchResult Evaluate(EvalContext ctx)
    {
        var set = ctx.State.IpSets.Find(SetName);
        if (set is null) return MatchResult.Unknown($"ipset \"{SetName}\" is not loaded (pass `ipset save` output)");
        var r = set.Test(ctx.Packet, FromSource);
        if (r is null) return MatchResult.Unknown($"ipset \"{SetName}\" of type {set.Type} is not modelled");
        return MatchResult.Of(r.Value != Negated);
    }
}
