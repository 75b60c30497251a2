using System.Text;
using PacketLife.Core.Netfilter.Evaluation;

namespace PacketLife.Core.Netfilter.Matches;

/// <summary>`-m limit --limit N/unit --limit-burst B` (iptables-extensions(8) "limit", xt_limit.c): a token bucket of
/// B tokens refilled at the average rate. iptables stores the rate as avg = 10000 × seconds-per-unit / N
/// (XT_LIMIT_SCALE) and prints it back with the largest unit that divides evenly (libxt_limit.c print_rate);
/// the burst only when it is not the default 5. The default rate is 3/hour.</summary>
public sealed class LimitMatch : Match
{
    public const uint Scale = 10000;
    public uint Avg { get; init; } = Scale * 3600 / 3;
    public uint Burst { get; init; } = 5;
    public override string Module => "limit";

    public static readonly MatchModule Spec = new("limit", [new("--limit", 1), new("--limit-burst", 1)], Build);

    static readonly (string Name, uint Mult)[] Rates = [("day", Scale * 86400), ("hour", Scale * 3600), ("min", Scale * 60), ("sec", Scale)];

    static Match? Build(OptionBag bag)
    {
        uint avg = Scale * 3600 / 3, burst = 5;
        if (bag.Get("--limit") is { } l)
        {
            var parts = l.Arg.Split('/');
            uint mult = Scale;
            if (parts.Length == 2)
            {
                var u = parts[1];
                if (u.Length == 0) { bag.BadValue(l, $"bad rate \"{l.Arg}\"'"); return null; }
                mult = "second".StartsWith(u, StringComparison.Ordinal) ? Scale
                     : "minute".StartsWith(u, StringComparison.Ordinal) ? Scale * 60
                     : "hour".StartsWith(u, StringComparison.Ordinal) ? Scale * 3600
                     : "day".StartsWith(u, StringComparison.Ordinal) ? Scale * 86400 : 0;
                if (mult == 0) { bag.BadValue(l, $"bad rate \"{l.Arg}\"'"); return null; }
            }
            if (parts.Length > 2 || !uint.TryParse(parts[0], out var r) || r == 0) { bag.BadValue(l, $"bad rate \"{l.Arg}\"'"); return null; }
            avg = mult / r;
            if (avg == 0) { bag.Problem("Rate too fast \"" + l.Arg + "\"", l); return null; }
        }
        if (bag.Get("--limit-burst") is { } b && (!uint.TryParse(b.Arg, out burst) || burst > 10000))
        {
            bag.BadValue(b, $"limit: Bad value for \"--limit-burst\" option: \"{b.Arg}\"");
            return null;
        }
        return new LimitMatch { Avg = avg, Burst = burst };
    }

    public override void WriteSave(StringBuilder sb)
    {
        sb.Append(" --limit");
        int i;
        for (i = 1; i < Rates.Length; i++)
            if (Avg > Rates[i].Mult || Rates[i].Mult / Avg < Rates[i].Mult % Avg) break;
        sb.Append(' ').Append(Rates[i - 1].Mult / Avg).Append('/').Append(Rates[i - 1].Name);
        if (Burst != 5) sb.Append(" --limit-burst ").Append(Burst);
    }

    public override MatchResult Evaluate(EvalContext ctx)
    {
        double interval = Avg / (double)Scale;
        double now = ctx.State.NowSeconds;
        var b = ctx.State.LimitBuckets.TryGetValue(this, out var cur) ? cur : new LimitBucket(Burst, now);
        double tokens = Math.Min(Burst, b.Tokens + (now - b.LastSeconds) / interval);
        bool ok = tokens >= 1;
        if (ok) tokens -= 1;
        ctx.State.LimitBuckets[this] = new LimitBucket(tokens, now);
        return MatchResult.Of(ok);
    }
}
