using System.Text;
using PacketLife.Core.Netfilter.Evaluation;
using PacketLife.Core.Netfilter.Text;

namespace PacketLife.Core.Netfilter.Matches;

/// <summary>`-m nfacct --nfacct-name NAME` (iptables-extensions(8) "nfacct"): an accounting object; it always matches
/// and counts. kube-proxy 1.30+ uses it. Save prints two spaces before the name (`--nfacct-name  ct_state_...`),
/// because libxt_nfacct prints "--nfacct-name " and then xtables_save_string adds its own space.</summary>
public sealed class NfacctMatch(string name) : Match
{
    public string Name { get; } = name;
    public override string Module => "nfacct";

    public static readonly MatchModule Spec = new("nfacct", [new("--nfacct-name", 1)], bag =>
    {
        var o = bag.Get("--nfacct-name");
        if (o is null) { bag.Problem("nfacct: option \"--nfacct-name\" must be specified"); return null; }
        if (o.Arg.Length > 31) { bag.Problem("nfacct: name too long (max 31)", o); return null; }
        return new NfacctMatch(o.Arg);
    });

    public override void WriteSave(StringBuilder sb) => sb.Append(" --nfacct-name ").AppendSaveString(Name);

    public override MatchResult Evaluate(EvalContext ctx) => MatchResult.True;
}
