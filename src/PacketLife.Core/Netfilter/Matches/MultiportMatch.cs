using System.Text;
using PacketLife.Core.Net;
using PacketLife.Core.Netfilter.Evaluation;

namespace PacketLife.Core.Netfilter.Matches;

public enum MultiportSide
{
    Source,
    Destination,
    Either,
}

/// <summary>`-m multiport [!] --sports|--dports|--ports p[,p:q...]` (iptables-extensions(8) "multiport"): up to 15
/// entries, a range counting as two; `!` negates the whole list; non-first fragments never match.</summary>
public sealed class MultiportMatch : Match
{
    public MultiportSide Side { get; init; }
    public IReadOnlyList<PortRange> Entries { get; init; } = [];
    public bool Negated { get; init; }

    public override string Module => "multiport";

    public static readonly MatchModule Spec = new("multiport",
    [
        new("--sports", 1, true, ["--source-ports"]),
        new("--dports", 1, true, ["--destination-ports"]),
        new("--ports", 1, true),
    ], Build);

    static Match? Build(OptionBag bag)
    {
        var given = bag.Options.Where(o => o.Name is "--sports" or "--dports" or "--ports").ToList();
        if (given.Count != 1)
        {
            bag.Problem(given.Count == 0 ? "multiport: one of --sports, --dports or --ports is required" : "multiport can only have one option");
            return null;
        }
        var o = given[0];
        var list = new List<PortRange>();
        int slots = 0;
        foreach (var part in o.Arg.Split(','))
        {
            if (!Ports.TryParseRange(part, out var r) || part.Length == 0)
            {
                bag.Error(Diagnostics.NetfilterMessages.BadPort(o.Location, part));
                return null;
            }
            list.Add(r);
            slots += part.Contains(':') ? 2 : 1;
        }
        if (slots > 15) { bag.Problem("too many ports specified", o); return null; }
        return new MultiportMatch
        {
            Side = o.Name switch { "--sports" => MultiportSide.Source, "--dports" => MultiportSide.Destination, _ => MultiportSide.Either },
            Entries = list,
            Negated = o.Negated,
        };
    }

    public override void WriteSave(StringBuilder sb)
    {
        if (Negated) sb.Append(" !");
        sb.Append(Side switch { MultiportSide.Source => " --sports ", MultiportSide.Destination => " --dports ", _ => " --ports " });
        for (int i = 0; i < Entries.Count; i++)
        {
            if (i > 0) sb.Append(',');
            var e = Entries[i];
            sb.Append(e.Min);
            // A range written `a:b` is stored as a range even when a == b? iptables stores pflags only for `:`.
            if (e.Min != e.Max) sb.Append(':').Append(e.Max);
        }
    }

    public override MatchResult Evaluate(EvalContext ctx)
    {
        var p = ctx.Packet;
        if (p.FragmentOffset != 0 || !p.HasPorts) return MatchResult.False;
        bool hit = false;
        foreach (var e in Entries)
        {
            if (Side != MultiportSide.Destination && e.Contains(p.SrcPort)) { hit = true; break; }
            if (Side != MultiportSide.Source && e.Contains(p.DstPort)) { hit = true; break; }
        }
        return MatchResult.Of(hit != Negated);
    }
}
