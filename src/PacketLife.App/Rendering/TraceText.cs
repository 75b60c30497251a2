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
        var sb = new StringBuilder();
        sb.Append($"trace {t.Packet} from {t.From} to {t.To}\n");
        sb.Append(t.Paths.Length == 1 ? "1 path\n" : $"{t.Paths.Length} paths\n");
        int i = 0;
        foreach (var p in t.Paths)
        {
            i++;
            if (sb.Length > 1 << 16)
            {
                output.Write(sb);
                sb.Clear();
            }
            sb.Append('\n').Append($"path {i}/{t.Paths.Length}  {Percent(p.Probability)}  {p.Disposition.ToString().ToUpperInvariant()}");
            if (p.AnsweredBy is not null) sb.Append("  by ").Append(p.AnsweredBy);
            sb.Append(p.Masqueraded ? "  (masqueraded)" : "").Append('\n');
            int h = 0;
            foreach (var hop in p.Hops) Hop(sb, ++h, hop, brief);
            if (p.ReplyHops.Length > 0)
            {
                sb.Append("  reply:\n");
                foreach (var hop in p.ReplyHops) Hop(sb, ++h, hop, brief);
            }
            sb.Append("  disposition: ").Append(p.Disposition.ToString().ToUpperInvariant()).Append(": ").Append(p.DispositionDetail).Append('\n');
        }
        var ex = t.Explanations;
        if (ex.Length > 0)
        {
            sb.Append("\nexplanations:\n");
            foreach (var e in ex)
            {
                sb.Append($"  [{e.Code}] {e.Message}\n");
                if (e.Rule is not null) sb.Append("      rule: ").Append(e.Rule).Append('\n');
                if (e.KubernetesObject is not null) sb.Append("      object: ").Append(e.KubernetesObject).Append('\n');
            }
        }
        output.Write(sb);
    }

    static void Hop(StringBuilder sb, int n, TraceHop hop, bool brief)
    {
        sb.Append($"  {n,2}. {hop.Host}");
        if (hop.InInterface is not null) sb.Append("  in ").Append(hop.InInterface);
        if (hop.OutInterface is not null) sb.Append("  out ").Append(hop.OutInterface);
        sb.Append('\n');
        var before = hop.Before.ToString();
        var after = ReferenceEquals(hop.After, hop.Before) ? before : hop.After.ToString();
        sb.Append("      packet: ").Append(before);
        if (after != before) sb.Append("  =>  ").Append(after);
        sb.Append('\n');
        foreach (var s in hop.Steps)
        {
            switch (s)
            {
                case RuleStep r:
                    if (brief && r.Action is "Return" or "Policy" && r.Rule is null) continue;
                    sb.Append($"      {r.Position,-40} {r.Action}{(r.Detail is null ? "" : " " + r.Detail)}");
                    if (r.Rule is not null) sb.Append("  ").Append(r.Rule);
                    sb.Append('\n');
                    break;
                case NatStep x:
                    sb.Append(x.Before.Length == 0 ? $"      nat {x.Nat}: {x.Why}\n" : $"      nat {x.Nat}: {x.Before} => {x.After}  ({x.Why})\n");
                    break;
                case RouteStep x:
                    sb.Append($"      route [{x.Table}] {x.Route}  -> {x.OutInterface}{(x.Gateway is null ? "" : " via " + x.Gateway)}  ({x.Why})\n");
                    break;
                case ConntrackStep x:
                    sb.Append($"      conntrack {(x.Created ? "new" : "matched " + x.Direction)}: {x.Entry}\n");
                    break;
                case LoadBalancerStep x:
                    sb.Append($"      lb rule {x.Rule}: {x.Why}\n");
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
