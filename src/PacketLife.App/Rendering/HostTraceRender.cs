using System.Globalization;
using System.Text.Json;
using PacketLife.Core.Conntrack;
using PacketLife.Core.Conntrack.Text;
using PacketLife.Core.Diagnostics;
using PacketLife.Core.Net;
using PacketLife.Core.Netfilter.Evaluation;
using PacketLife.Core.Tracing.Host;

namespace PacketLife.App.Rendering;

/// <summary>Output of `packetlife iptables trace`: text shaped like the kernel's TRACE lines (`table:chain:rule#`,
/// `policy`, `return`), with the packet before and after every rewrite and the conntrack entry made; JSON for machines.
/// Plain writers on purpose: the text is copied into tickets and diffed, so no markup.</summary>
public static class HostTraceRender
{
    public static void Text(TextWriter w, Packet packet, HostPacketOrigin origin, IReadOnlyList<HostWalkOutcome> outcomes, HostRuntime rt, int? seed)
    {
        w.WriteLine($"packet: {Describe(packet)} {origin}");
        w.WriteLine(rt.ConntrackActive
            ? $"conntrack: active (first rule that needs it: {rt.ConntrackActiveBecause})"
            : "conntrack: not active (no rule needs it): no entries, nat chains never run");
        w.WriteLine(seed is { } s ? $"mode: sample, seed {s} (the state changes are applied)" : $"mode: explain, {outcomes.Count} outcome{(outcomes.Count == 1 ? "" : "s")}");
        int i = 0;
        foreach (var o in outcomes)
        {
            i++;
            w.WriteLine();
            w.WriteLine($"outcome {i}: {Percent(o.Probability)}  {HostWalkOutcome.DispositionName(o.Disposition)}: {o.Reason}");
            foreach (var step in o.Steps)
            {
                if (step.Rule is { } v) w.WriteLine("  " + Visit(v));
                else
                {
                    w.WriteLine($"  [{step.Hook}] {step.Text}");
                    if (step.Before is { } b && step.After is { } a) w.WriteLine($"      before: {Describe(b)}\n      after:  {Describe(a)}");
                }
            }
            w.WriteLine($"  packet after: {Describe(o.PacketAfter)}");
            if (o.Conntrack is { } e)
                w.WriteLine($"  conntrack entry{(o.ConntrackCreated ? " made" : "")}: {ConntrackText.Write(ConntrackLine.FromEntry(e, rt.Conntrack.Now))}");
            foreach (var rp in o.RandomPorts)
                w.WriteLine($"  random port: any free port of {rp.WindowMin}-{rp.WindowMax} ({rp.Manip} NAT; this walk used {rp.Sampled})");
            if (o.Reply is { } r) w.WriteLine($"  answer: {Describe(r)}" + (o.ReplyQuotes is { } q ? $" quoting [{q}]" : "") +
                (o.ReplyWalk is { } rw ? $" -> {HostWalkOutcome.DispositionName(rw.Disposition)} ({rw.Reason})" : ""));
            foreach (var u in o.Uncertain) w.WriteLine($"  uncertain: {u}");
        }
    }

    static string Percent(double p) => p.ToString("0.######", CultureInfo.InvariantCulture) + $" ({(p * 100).ToString("0.####", CultureInfo.InvariantCulture)}%)";

    static string Describe(Packet p) =>
        $"{p}{(p.Protocol == IpProtocol.Tcp ? " flags " + Flags(p.Flags) : "")} ttl={p.Ttl} len={p.Length}{(p.Mark != 0 ? $" mark=0x{p.Mark:x}" : "")}";

    static string Flags(TcpFlags f)
    {
        var s = "";
        if ((f & TcpFlags.Syn) != 0) s += "S";
        if ((f & TcpFlags.Ack) != 0) s += "A";
        if ((f & TcpFlags.Fin) != 0) s += "F";
        if ((f & TcpFlags.Rst) != 0) s += "R";
        if ((f & TcpFlags.Psh) != 0) s += "P";
        if ((f & TcpFlags.Urg) != 0) s += "U";
        return s.Length == 0 ? "none" : s;
    }

    /// <summary>`nat:KUBE-SERVICES:3 -A KUBE-SERVICES ... => JUMP KUBE-SVC-X`; `filter:FORWARD:policy:4 => ACCEPT`.</summary>
    public static string Visit(RuleVisit v) => v.Action switch
    {
        VisitAction.Policy => $"{v.Table}:{v.Chain}:policy:{v.Index} => {v.Detail}",
        VisitAction.Return when v.Rule is null => $"{v.Table}:{v.Chain}:return:{v.Index}",
        _ => $"{v.Table}:{v.Chain}:{v.Index} {v.Rule} => {Verdict(v)}",
    };

    public static string Verdict(RuleVisit v) => v.Action switch
    {
        VisitAction.Matched => v.Detail is null ? "MATCH" : "MATCH " + v.Detail,
        VisitAction.Jump => "JUMP " + v.Detail,
        VisitAction.Goto => "GOTO " + v.Detail,
        VisitAction.Return => "RETURN",
        VisitAction.Policy => "POLICY " + v.Detail,
        VisitAction.Verdict => v.Detail ?? "VERDICT",
        VisitAction.Uncertain => "UNCERTAIN " + v.Detail,
        VisitAction.Branch => "BRANCH " + v.Detail,
        _ => v.Action.ToString().ToUpperInvariant(),
    };

    public static void Json(TextWriter w, Packet packet, HostPacketOrigin origin, IReadOnlyList<HostWalkOutcome> outcomes,
        IReadOnlyList<Diagnostic> diags, HostRuntime rt, int? seed)
    {
        using var ms = new MemoryStream();
        using (var j = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true }))
        {
            j.WriteStartObject();
            j.WriteString("mode", seed is null ? "explain" : "sample");
            if (seed is { } s) j.WriteNumber("seed", s);
            j.WritePropertyName("packet");
            WritePacket(j, packet);
            j.WriteString("origin", origin.ToString());
            j.WriteBoolean("conntrackActive", rt.ConntrackActive);
            j.WriteStartArray("outcomes");
            foreach (var o in outcomes)
            {
                j.WriteStartObject();
                j.WriteNumber("probability", o.Probability);
                j.WriteString("disposition", o.Disposition switch
                {
                    HostDisposition.Drop => "drop",
                    HostDisposition.Reject => "reject",
                    HostDisposition.Local => "local",
                    HostDisposition.Forward => "forward",
                    HostDisposition.Output => "output",
                    _ => "uncertain",
                });
                j.WriteString("where", o.Where);
                j.WriteString("reason", o.Reason);
                if (o.OutInterface is { } oi) j.WriteString("outInterface", oi);
                if (o.Nexthop is { } nh) j.WriteString("nexthop", nh.ToString());
                if (o.OutBridgePort is { } bp) j.WriteString("outBridgePort", bp);
                j.WritePropertyName("packet");
                WritePacket(j, o.PacketAfter);
                j.WriteStartArray("rules");
                foreach (var v in o.RuleVisits)
                {
                    j.WriteStartObject();
                    j.WriteString("table", v.Table);
                    j.WriteString("chain", v.Chain);
                    j.WriteNumber("index", v.Index);
                    if (v.Rule is null) j.WriteNull("text"); else j.WriteString("text", v.Rule);
                    j.WriteString("verdict", Verdict(v));
                    j.WriteEndObject();
                }
                j.WriteEndArray();
                j.WriteStartArray("steps");
                foreach (var st in o.Steps.Where(x => x.Rule is null))
                {
                    j.WriteStartObject();
                    j.WriteString("kind", st.Kind.ToString().ToLowerInvariant());
                    j.WriteString("hook", st.Hook);
                    j.WriteString("text", st.Text);
                    if (st.Before is { } b) { j.WritePropertyName("before"); WritePacket(j, b); }
                    if (st.After is { } a) { j.WritePropertyName("after"); WritePacket(j, a); }
                    j.WriteEndObject();
                }
                j.WriteEndArray();
                if (o.Conntrack is { } e)
                {
                    j.WriteString("conntrack", ConntrackText.Write(ConntrackLine.FromEntry(e, rt.Conntrack.Now)));
                    j.WriteBoolean("conntrackCreated", o.ConntrackCreated);
                }
                if (o.Reply is { } r) { j.WritePropertyName("reply"); WritePacket(j, r); }
                j.WriteStartArray("randomPorts");
                foreach (var rp in o.RandomPorts)
                {
                    j.WriteStartObject();
                    j.WriteString("manip", rp.Manip.ToString().ToLowerInvariant());
                    j.WriteNumber("min", rp.WindowMin);
                    j.WriteNumber("max", rp.WindowMax);
                    j.WriteNumber("sampled", rp.Sampled);
                    j.WriteEndObject();
                }
                j.WriteEndArray();
                j.WriteStartArray("uncertain");
                foreach (var u in o.Uncertain) j.WriteStringValue(u);
                j.WriteEndArray();
                j.WriteEndObject();
            }
            j.WriteEndArray();
            j.WriteStartArray("diagnostics");
            foreach (var d in diags)
            {
                j.WriteStartObject();
                j.WriteString("file", d.Location.Source);
                j.WriteNumber("line", d.Location.Line);
                j.WriteNumber("column", d.Location.Column);
                j.WriteString("severity", d.Severity.ToString().ToLowerInvariant());
                j.WriteString("code", d.Code);
                j.WriteString("message", d.Message);
                j.WriteEndObject();
            }
            j.WriteEndArray();
            j.WriteEndObject();
        }
        w.WriteLine(System.Text.Encoding.UTF8.GetString(ms.ToArray()));
    }

    static void WritePacket(Utf8JsonWriter j, Packet p)
    {
        j.WriteStartObject();
        j.WriteString("proto", IpProtocols.Name(p.Protocol));
        j.WriteString("src", p.Src.ToString());
        j.WriteNumber("sport", p.SrcPort);
        j.WriteString("dst", p.Dst.ToString());
        j.WriteNumber("dport", p.DstPort);
        j.WriteString("mark", $"0x{p.Mark:x}");
        j.WriteNumber("ttl", p.Ttl);
        if (p.Protocol == IpProtocol.Icmp) { j.WriteNumber("type", p.IcmpType); j.WriteNumber("code", p.IcmpCode); }
        if (p.Protocol == IpProtocol.Tcp) j.WriteString("flags", Flags(p.Flags));
        j.WriteEndObject();
    }
}
