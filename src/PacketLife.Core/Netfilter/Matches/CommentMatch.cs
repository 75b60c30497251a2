using System.Text;
using PacketLife.Core.Netfilter.Evaluation;
using PacketLife.Core.Netfilter.Text;

namespace PacketLife.Core.Netfilter.Matches;

/// <summary>`-m comment --comment TEXT` (iptables-extensions(8) "comment"): always matches. At most 255 characters;
/// iptables 1.8.9 silently truncates longer ones (facts §3.12), which the reader reports. Saved with
/// xtables_save_string quoting.</summary>
public sealed class CommentMatch : Match
{
    public const int MaxLength = 255;

    public CommentMatch(string comment) => this.comment = comment;

    /// <summary>A comment read from <paramref name="source"/>[<paramref name="start"/>..+<paramref name="length"/>] (the
    /// text between its quotes, without escapes), made a string of its own only when asked for: a kube-proxy dump has a
    /// comment on every rule and most of them are never read again.</summary>
    internal CommentMatch(string source, int start, int length) => (this.source, this.start, this.length) = (source, start, length);

    string? comment;
    readonly string? source;
    readonly int start, length;

    // A benign race: two threads asking at once make equal strings.
    public string Comment => comment ??= source!.Substring(start, length);

    /// <summary>The comment's text without making a string of it.</summary>
    internal ReadOnlySpan<char> CommentSpan => comment is not null ? comment.AsSpan() : source.AsSpan(start, length);
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
