using System.Globalization;
using System.Text;
using PacketLife.Core.Netfilter.Evaluation;

namespace PacketLife.Core.Netfilter.Matches;

public enum StatisticMode
{
    Random,
    Nth,
}

/// <summary>`-m statistic` (iptables-extensions(8) "statistic"). Random mode: iptables stores
/// P = lround(p × 2^31) and the kernel matches when (random_u32 &amp; 0x7FFFFFFF) &lt; P, so the exact
/// probability is P / 2^31 and save prints it `%.11f` (facts §3.1). Nth mode: a per-rule counter starting at
/// (n-1)-p that wraps at n-1; the packet matches when the counter becomes 0 (facts §3.2). `!` inverts either.</summary>
public sealed class StatisticMatch : Match
{
    public StatisticMode Mode { get; init; }
    /// <summary>The stored 31-bit fixed-point probability P (random mode).</summary>
    public uint Probability31 { get; init; }
    public uint Every { get; init; }
    public uint Packet { get; init; }
    public bool Negated { get; init; }

    /// <summary>The exact probability the kernel applies: P / 2^31.</summary>
    public double Probability => Probability31 / 2147483648.0;

    public override string Module => "statistic";

    public static readonly MatchModule Spec = new("statistic",
    [
        new("--mode", 1),
        new("--probability", 1, true),
        new("--every", 1, true),
        new("--packet", 1),
    ], Build);

    /// <summary>lround(p × 2^31): round half away from zero.</summary>
    public static uint ToFixed(double p) => (uint)Math.Round(p * 2147483648.0, MidpointRounding.AwayFromZero);

    static Match? Build(OptionBag bag)
    {
        var mode = bag.Get("--mode");
        if (mode is null) { bag.Problem("statistic: option \"--mode\" must be specified"); return null; }
        if (mode.Arg == "random")
        {
            if (bag.Get("--every") is { } e || bag.Get("--packet") is { } _) { bag.Problem("statistic: --every and --packet only with --mode nth", bag.Get("--every") ?? bag.Get("--packet")); return null; }
            var p = bag.Get("--probability");
            if (p is null) { bag.Problem("statistic: option \"--mode random\" requires \"--probability\"", mode); return null; }
            if (!double.TryParse(p.Arg, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || v < 0 || v > 1 || double.IsNaN(v))
            {
                bag.BadValue(p, "--probability must be between 0 and 1");
                return null;
            }
            return new StatisticMatch { Mode = StatisticMode.Random, Probability31 = ToFixed(v), Negated = p.Negated };
        }
        if (mode.Arg == "nth")
        {
            if (bag.Get("--probability") is { } pr) { bag.Problem("statistic: --probability only with --mode random", pr); return null; }
            var e = bag.Get("--every");
            if (e is null) { bag.Problem("statistic: option \"--mode nth\" requires \"--every\"", mode); return null; }
            var pk = bag.Get("--packet");
            if (pk is null) { bag.Problem("statistic: option \"--every\" also requires \"--packet\".", e); return null; }
            if (!uint.TryParse(e.Arg, out var every) || every == 0) { bag.BadValue(e, $"statistic: Bad value for \"--every\" option: \"{e.Arg}\""); return null; }
            if (!uint.TryParse(pk.Arg, out var packet) || packet > every - 1) { bag.BadValue(pk, "the --packet p must be 0 <= p <= n-1"); return null; }
            return new StatisticMatch { Mode = StatisticMode.Nth, Every = every, Packet = packet, Negated = e.Negated };
        }
        bag.BadValue(mode, $"statistic: Bad mode \"{mode.Arg}\"");
        return null;
    }

    public override void WriteSave(StringBuilder sb)
    {
        if (Mode == StatisticMode.Random)
        {
            sb.Append(" --mode random").Append(Negated ? " ! --probability " : " --probability ")
              .Append(Probability.ToString("F11", CultureInfo.InvariantCulture));
        }
        else
        {
            sb.Append(" --mode nth").Append(Negated ? " ! --every " : " --every ").Append(Every).Append(" --packet ").Append(Packet);
        }
    }

    public override MatchResult Evaluate(EvalContext ctx)
    {
        if (Mode == StatisticMode.Random)
        {
            double p = Negated ? 1 - Probability : Probability;
            if (p >= 1) return MatchResult.True;
            if (p <= 0) return MatchResult.False;
            return MatchResult.Branch(p);
        }
        // xt_statistic.c: counter = (counter == every-1) ? 0 : counter + 1; match when it becomes 0.
        var counters = ctx.State.NthCounters;
        uint every1 = Every - 1;
        uint c = counters.TryGetValue(this, out var cur) ? cur : every1 - Packet;
        c = c == every1 ? 0 : c + 1;
        counters[this] = c;
        return MatchResult.Of((c == 0) != Negated);
    }
}
