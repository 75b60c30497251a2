using System.Text;
using PacketLife.Core.Netfilter.Evaluation;
using PacketLife.Core.Netfilter.Text;

namespace PacketLife.Core.Netfilter.Matches;

/// <summary>`-m comment --comment TEXT` (iptables-extensions(8) "comment"): always matches. At most 255 characters;
/// iptables 1.8.9 silently truncates longer ones (facts §3.12), which the reader reports. Saved with
/// xtables_save_string quoting.</summary>
public sealed class CommentMatch(string comment) : Match
{
    public const int MaxLength = 255;
    public string Comment { get; } = comment;
    public override string Module => "comment";

    public static readonly MatchModule Spec = new("comment", [new("--comment", 1)], Build);

    static Match? Build(OptionBag bag)
    {
        var o = bag.Get("--comment");
        if (o is null) return new CommentMatch("");
        var text = o.Arg;
        if (text.Length > MaxLength)
        {
            bag.Warn(Diagnostics.NetfilterMessages.CommentTruncated(o.Location, text.Length, MaxLength));
            text = text[..MaxLength];
        }
        return new CommentMatch(text);
    }

    public override void WriteSave(StringBuilder sb) => sb.Append(" --comment").AppendSaveString(Comment);

    public override MatchResult Evaluate(EvalContext ctx) => MatchResult.True;
}
