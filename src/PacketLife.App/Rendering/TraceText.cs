using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using PacketLife.Core.Tracing.Cluster;

namespace PacketLife.App.Rendering;

/// <summary>Plain-text and JSON renderings of a <see cref="ClusterTrace"/> (results are data; this only prints them).</summary>
public static class TraceText
{
    public static string Percent(double p) => (p * 100).ToString("0.##", CultureInfo.InvariantCulture) + "%";

    public static string Render(ClusterTrace t, bool brief = false)
    {
        var w = new StringWriter(CultureInfo.InvariantCulture);
        Render(t, w, brief);
        return w.ToString();
    }

    /// <summary>The same text, written path by path to <paramref name="output"/>: `--all` on a large cluster prints tens
    /// of megabytes, which need not exist as one string first.</summary>
    public static void Render(ClusterTrace t, TextWriter output, bool brief = false)
    {
        var sb = new StringBuilder(1 << 17);
        Render(t, sb, output, brief);
        output.Write(sb);
    }

    /// <summary>Writes the text into <paramref name="sb"/>, handing it over to <paramref name="output"/> every 64 KiB.
    /// Every piece is appended in place (interpolated appends, packets and addresses formatted into the builder): the
    /// text of 2,500 paths is 29 M characters, and a string per line would double what it costs. Many paths are
    /// rendered in blocks on every core and written in order (the text is the same).</summary>
    static void Render(ClusterTrace t, StringBuilder sb, TextWriter output, bool brief)
    {
        var inv = CultureInfo.InvariantCulture;
        sb.Append(inv, $"trace {t.Packet} from {t.From} to {t.To}\n");
        if (t.Paths.Length == 1) sb.Append("1 path\n");
        else sb.Append(inv, $"{t.Paths.Length} paths\n");
        const int Block = 32;
        int n = t.Paths.Length, cores = Environment.ProcessorCount;
        if (n < 4 * Block || cores < 2)
        {
            for (int i = 0; i < n; i++)
            {
                if (sb.Length > 1 << 16)
                {
                    output.Write(sb);
                    sb.Clear();
                }
                AppendPath(sb, t, i, brief);
            }
        }
        else
        {
            output.Write(sb);
            sb.Clear();
            // Waves of a few blocks per core: rendered in parallel, then written in path order.
            var wave = new StringBuilder[2 * cores];
            for (int first = 0; first < n; first += wave.Length * Block)
            {
                int blocks = Math.Min(wave.Length, (n - first + Block - 1) / Block);
                Parallel.For(0, blocks, b =>
                {
                    var part = wave[b] ??= new StringBuilder(1 << 18);
                    part.Clear();
                    int from = first + b * Block, to = Math.Min(n, from + Block);
                    for (int i = from; i < to; i++) AppendPath(part, t, i, brief);
                });
                for (int b = 0; b < blocks; b++) output.Write(wave[b]);
            }
        }
        var ex = t.Explanations;
        if (ex.Length > 0)
        {
            sb.Append("\nexplanations:\n");
            foreach (var e in ex)
            {
                sb.Append("  [").Append(e.Code).Append("] ").Append(e.Message).Append('\n');
                if (e.Rule is not null) sb.Append("      rule: ").Append(e.Rule).Append('\n');
                if (e.KubernetesObject is not null) sb.Append("      object: ").Append(e.KubernetesObject).Append('\n');
            }
        }
    }

    /// <summary>Path <paramref name="index"/> (from 0) with its hops, its reply and its disposition.</summary>
    static void AppendPath(StringBuilder sb, ClusterTrace t, int index, bool brief)
    {
        var inv = CultureInfo.InvariantCulture;
        var p = t.Paths[index];
        var disposition = DispositionName(p.Disposition);
        sb.Append(inv, $"\npath {index + 1}/{t.Paths.Length}  ").Append(Percent(p.Probability)).Append("  ").Append(disposition);
        if (p.AnsweredBy is not null) sb.Append("  by ").Append(p.AnsweredBy);
        if (p.Masqueraded) sb.Append("  (masqueraded)");
        sb.Append('\n');
        int h = 0;
        foreach (var hop in p.Hops) Hop(sb, ++h, hop, brief);
        if (p.ReplyHops.Length > 0)
        {
            sb.Append("  reply:\n");
            foreach (var hop in p.ReplyHops) Hop(sb, ++h, hop, brief);
        }
        sb.Append("  disposition: ").Append(disposition).Append(": ").Append(p.DispositionDetail).Append('\n');
    }

    /// <summary>A disposition as the text shows it (upper case), without a string per path.</summary>
    static string DispositionName(TraceDisposition d) => d switch
    {
        TraceDisposition.Answered => "ANSWERED",
        TraceDisposition.Refused => "REFUSED",
        TraceDisposition.Rejected => "REJECTED",
        TraceDisposition.Dropped => "DROPPED",
        TraceDisposition.ReplyLost => "REPLYLOST",
        TraceDisposition.Uncertain => "UNCERTAIN",
        _ => d.ToString().ToUpperInvariant(),
    };

    /// <summary>Whether two packets print the same (<see cref="Core.Net.Packet.ToString"/> shows the protocol, the
    /// addresses and ports, and for ICMP its type, code and id): a hop shows `before  =>  after` only when they differ.</summary>
    static bool SameText(Core.Net.Packet a, Core.Net.Packet b)
    {
        if (ReferenceEquals(a, b)) return true;
        if (a.Protocol != b.Protocol || a.Src != b.Src || a.Dst != b.Dst || a.SrcPort != b.SrcPort) return false;
        return a.Protocol == Core.Net.IpProtocol.Icmp ? a.IcmpType == b.IcmpType && a.IcmpCode == b.IcmpCode : a.DstPort == b.DstPort;
    }

    static void Hop(StringBuilder sb, int n, TraceHop hop, bool brief)
    {
        var inv = CultureInfo.InvariantCulture;
        sb.Append(inv, $"  {n,2}. ").Append(hop.Host);
        if (hop.InInterface is not null) sb.Append("  in ").Append(hop.InInterface);
        if (hop.OutInterface is not null) sb.Append("  out ").Append(hop.OutInterface);
        sb.Append('\n');
        sb.Append(inv, $"      packet: {hop.Before}");
        if (!SameText(hop.Before, hop.After)) sb.Append(inv, $"  =>  {hop.After}");
        sb.Append('\n');
        foreach (var s in hop.Steps)
        {
            switch (s)
            {
                case RuleStep r:
                    if (brief && r.Action is "Return" or "Policy" && r.Rule is null) continue;
                    // `{r.Position,-40}`: table:chain:index, padded to 40 columns (never cut).
                    sb.Append("      ");
                    int from = sb.Length;
                    sb.Append(r.Table).Append(':').Append(r.Chain).Append(':').Append(r.Index);
                    int width = sb.Length - from;
                    if (width < 40) sb.Append(' ', 40 - width);
                    sb.Append(' ').Append(r.Action);
                    if (r.Detail is not null) sb.Append(' ').Append(r.Detail);
                    if (r.Rule is not null) sb.Append("  ").Append(r.Rule);
                    sb.Append('\n');
                    break;
                case NatStep x:
                    if (x.Before.Length == 0) sb.Append("      nat ").Append(x.Nat).Append(": ").Append(x.Why).Append('\n');
                    else sb.Append("      nat ").Append(x.Nat).Append(": ").Append(x.Before).Append(" => ").Append(x.After).Append("  (").Append(x.Why).Append(")\n");
                    break;
                case RouteStep x:
                    sb.Append("      route [").Append(x.Table).Append("] ").Append(x.Route).Append("  -> ").Append(x.OutInterface);
                    if (x.Gateway is not null) sb.Append(" via ").Append(x.Gateway);
                    sb.Append("  (").Append(x.Why).Append(")\n");
                    break;
                case ConntrackStep x:
                    sb.Append("      conntrack ");
                    if (x.Created) sb.Append("new");
                    else sb.Append("matched ").Append(x.Direction);
                    sb.Append(": ").Append(x.Entry).Append('\n');
                    break;
                case LoadBalancerStep x:
                    sb.Append("      lb rule ").Append(x.Rule).Append(": ").Append(x.Why).Append('\n');
                    break;
                case NoteStep x:
                    sb.Append("      ").Append(x.Text).Append('\n');
                    break;
            }
        }
    }

    /// <summary>`-o json`: the same as data (`paths[]` with `probability`, `hops[]`, `disposition`, `explanations[]`).</summary>
    public static string Json(ClusterTrace t)
    {
        var root = new JsonObject
        {
            ["from"] = t.From,
            ["to"] = t.To,
            ["packet"] = t.Packet.ToString(),
            ["paths"] = new JsonArray([.. t.Paths.Select(p => (JsonNode)new JsonObject
            {
                ["probability"] = p.Probability,
                ["disposition"] = p.Disposition.ToString(),
                ["detail"] = p.DispositionDetail,
                ["answeredBy"] = p.AnsweredBy,
                ["masqueraded"] = p.Masqueraded,
                ["hops"] = Hops(p.Hops),
                ["replyHops"] = Hops(p.ReplyHops),
                ["explanations"] = Explanations(p.Explanations),
            })]),
            ["explanations"] = Explanations(t.Explanations),
        };
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }

    static JsonArray Explanations(IEnumerable<Explanation> ex) => new([.. ex.Select(e => (JsonNode)new JsonObject
    {
        ["code"] = e.Code, ["message"] = e.Message, ["rule"] = e.Rule, ["object"] = e.KubernetesObject,
    })]);

    static JsonArray Hops(IEnumerable<TraceHop> hops) => new([.. hops.Select(h => (JsonNode)new JsonObject
    {
        ["host"] = h.Host,
        ["in"] = h.InInterface,
        ["out"] = h.OutInterface,
        ["before"] = h.Before.ToString(),
        ["after"] = h.After.ToString(),
        ["steps"] = new JsonArray([.. h.Steps.Select(Step)]),
    })]);

    static JsonNode Step(TraceStep s) => s switch
    {
        RuleStep r => new JsonObject { ["kind"] = "rule", ["position"] = r.Position, ["table"] = r.Table, ["chain"] = r.Chain, ["index"] = r.Index, ["action"] = r.Action, ["detail"] = r.Detail, ["rule"] = r.Rule },
        NatStep x => new JsonObject { ["kind"] = "nat", ["nat"] = x.Nat, ["before"] = x.Before, ["after"] = x.After, ["rule"] = x.Rule, ["why"] = x.Why },
        RouteStep x => new JsonObject { ["kind"] = "route", ["table"] = x.Table, ["route"] = x.Route, ["out"] = x.OutInterface, ["gateway"] = x.Gateway, ["why"] = x.Why },
        ConntrackStep x => new JsonObject { ["kind"] = "conntrack", ["entry"] = x.Entry, ["created"] = x.Created, ["direction"] = x.Direction },
        LoadBalancerStep x => new JsonObject { ["kind"] = "loadbalancer", ["rule"] = x.Rule, ["frontend"] = x.Frontend, ["backend"] = x.Backend, ["why"] = x.Why },
        NoteStep x => new JsonObject { ["kind"] = "note", ["text"] = x.Text },
        _ => new JsonObject { ["kind"] = s.Kind },
    };
}
