using System.Text;
using PacketLife.Core.Netfilter.Evaluation;
using PacketLife.Core.Netfilter.Text;

namespace PacketLife.Core.Netfilter.Targets;

public enum ConnmarkMode
{
    Set,
    Save,
    Restore,
}

/// <summary>`-j CONNMARK` (iptables-extensions(8) "CONNMARK", xt_connmark.c; facts §4.2): `--set-xmark v/m` →
/// ctmark = (ctmark &amp; ~m) ^ v; `--save-mark` → ctmark = (ctmark &amp; ~ctmask) ^ (mark &amp; nfmask);
/// `--restore-mark` → mark = (mark &amp; ~nfmask) ^ (ctmark &amp; ctmask). Masks default to 0xffffffff, `--mask`
/// sets both. Without a conntrack entry nothing happens. Non-terminating.</summary>
public sealed class ConnmarkTarget : Target
{
    public ConnmarkMode Mode { get; init; }
    public uint CtMark { get; init; }
    public uint CtMask { get; init; } = uint.MaxValue;
    public uint NfMask { get; init; } = uint.MaxValue;
    public override string Name => "CONNMARK";

    public static readonly TargetModule Spec = new("CONNMARK",
    [
        new("--set-xmark", 1), new("--set-mark", 1), new("--and-mark", 1), new("--or-mark", 1), new("--xor-mark", 1),
        new("--save-mark", 0), new("--restore-mark", 0), new("--nfmask", 1), new("--ctmask", 1), new("--mask", 1),
    ], Build);

    static Target? Build(Matches.OptionBag bag)
    {
        bool save = bag.Has("--save-mark"), restore = bag.Has("--restore-mark");
        if (save || restore)
        {
            if (save && restore) { bag.Problem("CONNMARK target: --save-mark and --restore-mark cannot be combined"); return null; }
            uint nf = uint.MaxValue, ct = uint.MaxValue;
            if (bag.Get("--mask") is { } m && !SaveFormat.TryParseUInt32(m.Arg, out nf)) { bag.BadValue(m); return null; }
            if (bag.Get("--mask") is not null) ct = nf;
            if (bag.Get("--nfmask") is { } n && !SaveFormat.TryParseUInt32(n.Arg, out nf)) { bag.BadValue(n); return null; }
            if (bag.Get("--ctmask") is { } c && !SaveFormat.TryParseUInt32(c.Arg, out ct)) { bag.BadValue(c); return null; }
            return new ConnmarkTarget { Mode = save ? ConnmarkMode.Save : ConnmarkMode.Restore, NfMask = nf, CtMask = ct };
        }
        return XMark.Parse(bag, (v, m) => new ConnmarkTarget { Mode = ConnmarkMode.Set, CtMark = v, CtMask = m });
    }

    public override void WriteSave(StringBuilder sb)
    {
        switch (Mode)
        {
            case ConnmarkMode.Set:
                sb.Append(" --set-xmark ").Append(SaveFormat.Hex(CtMark)).Append('/').Append(SaveFormat.Hex(CtMask));
                break;
            case ConnmarkMode.Save:
                sb.Append(" --save-mark --nfmask ").Append(SaveFormat.Hex(NfMask)).Append(" --ctmask ").Append(SaveFormat.Hex(CtMask));
                break;
            default:
                sb.Append(" --restore-mark --nfmask ").Append(SaveFormat.Hex(NfMask)).Append(" --ctmask ").Append(SaveFormat.Hex(CtMask));
                break;
        }
    }

    public override TargetResult Execute(EvalContext ctx, Rule rule)
    {
        if (ctx.Input.Conntrack is null || ctx.Input.Conntrack.State.HasFlag(CtState.Untracked)) return new(TargetAction.Continue);
        switch (Mode)
        {
            case ConnmarkMode.Set:
                ctx.CtMark = (ctx.CtMark & ~CtMask) ^ CtMark;
                ctx.CtMarkChanged = true;
                ctx.CtMarkRule = rule.Text ?? rule.Canonical;
                break;
            case ConnmarkMode.Save:
                ctx.CtMark = (ctx.CtMark & ~CtMask) ^ (ctx.Mark & NfMask);
                ctx.CtMarkChanged = true;
                ctx.CtMarkRule = rule.Text ?? rule.Canonical;
                break;
            default:
                ctx.Mark = (ctx.Mark & ~NfMask) ^ (ctx.CtMark & CtMask);
                break;
        }
        return new(TargetAction.Continue);
    }
}
