using System.Globalization;
using System.Text;
using PacketLife.Core.Diagnostics;
using PacketLife.Core.Net;

namespace PacketLife.Core.Conntrack.Text;

/// <summary>What <see cref="ConntrackText.Read"/> found: the entry lines (with their 1-based line numbers), the summary
/// line's count if one was pasted, and every problem at once.</summary>
public sealed record ConntrackReadResult(IReadOnlyList<(int Line, ConntrackLine Entry)> Lines, int? SummaryCount, IReadOnlyList<Diagnostic> Diagnostics)
{
    public bool HasErrors => Diagnostics.Any(d => d.Severity == Severity.Error);

    /// <summary>Loads the lines into <paramref name="table"/> as its starting state (timeouts become expiries relative to the
    /// table's clock). All or nothing: with any error (in reading or a duplicate tuple) the table is left untouched.</summary>
    public IReadOnlyList<Diagnostic> LoadInto(ConntrackTable table, string source)
    {
        var diags = new List<Diagnostic>();
        if (HasErrors) return Diagnostics;
        var now = table.Now;
        var seen = new HashSet<ConntrackTuple>();
        var entries = new List<ConntrackEntry>(Lines.Count);
        foreach (var (line, l) in Lines)
        {
            var e = l.ToEntry(now);
            bool fresh = seen.Add(e.Original) & (e.Reply == e.Original || seen.Add(e.Reply));
            if (!fresh || table.IsTaken(e.Original) || table.IsTaken(e.Reply))
            {
                diags.Add(ConntrackMessages.DuplicateTuple(new SourceLocation(source, line, 1), e.Original.ToString()));
                continue;
            }
            entries.Add(e);
        }
        if (diags.Count > 0) return diags;
        foreach (var e in entries) table.TryInsert(e);
        return diags;
    }
}

/// <summary>Reader and writer for the `conntrack -L` line format (conntrack-tools 1.4.7, libnetfilter_conntrack 1.0.9
/// snprintf_default.c; facts §5.6):
/// <code>
/// [ipv4     2 ]proto(%-8s) num timeout [STATE] src= dst= (sport= dport= | type= code= id=) [zone-orig=] [packets= bytes=]
///   [[UNREPLIED]] src= dst= ... [zone-reply=] [packets= bytes=] [[ASSURED]|[OFFLOAD]|[HW_OFFLOAD]] [mark=] [secmark=]
///   [secctx=] [zone=] [delta-time=] [helper=] use= [id=]
/// </code>
/// `conntrack -E` lines (`    [NEW] …`) are read too. The summary line conntrack writes to stderr
/// (<see cref="Summary"/>) may be present and is checked against the count.</summary>
public static class ConntrackText
{
    public const string Version = "1.4.7";

    /// <summary>The stderr summary line: `conntrack v1.4.7 (conntrack-tools): N flow entries have been shown.`</summary>
    public static string Summary(int count, bool events = false) =>
        $"conntrack v{Version} (conntrack-tools): {count} flow {(events ? "events" : "entries")} have been shown.";

    /// <summary>One line exactly as conntrack prints it (no newline).</summary>
    public static string Write(ConntrackLine l)
    {
        var sb = new StringBuilder(160);
        if (l.Event is { } ev) sb.Append(("[" + ev + "]").PadLeft(9)).Append(' ');
        if (l.Extended) sb.Append("ipv4     2 ");
        sb.Append(ConntrackLine.ProtocolName(l.ProtocolNumber).PadRight(8)).Append(' ').Append(l.ProtocolNumber).Append(' ');
        sb.Append(l.Timeout).Append(' ');
        if (l.State is { } st) sb.Append(st).Append(' ');
        AppendTuple(sb, l.Original, l.ProtocolNumber);
        if (l.ZoneOrig is { } zo) sb.Append("zone-orig=").Append(zo).Append(' ');
        if (l.OriginalCounters is { } oc) sb.Append("packets=").Append(oc.Packets).Append(" bytes=").Append(oc.Bytes).Append(' ');
        if (l.Unreplied) sb.Append("[UNREPLIED] ");
        AppendTuple(sb, l.Reply, l.ProtocolNumber);
        if (l.ZoneReply is { } zr) sb.Append("zone-reply=").Append(zr).Append(' ');
        if (l.ReplyCounters is { } rc) sb.Append("packets=").Append(rc.Packets).Append(" bytes=").Append(rc.Bytes).Append(' ');
        if (l.AssuredFlag is { } af) sb.Append('[').Append(af).Append("] ");
        if (l.Mark is { } m) sb.Append("mark=").Append(m).Append(' ');
        if (l.SecMark is { } sm) sb.Append("secmark=").Append(sm).Append(' ');
        if (l.SecCtx is { } sc) sb.Append("secctx=").Append(sc).Append(' ');
        if (l.Zone is { } z) sb.Append("zone=").Append(z).Append(' ');
        if (l.DeltaTime is { } dt) sb.Append("delta-time=").Append(dt).Append(' ');
        if (l.Helper is { } h) sb.Append("helper=").Append(h).Append(' ');
        if (l.Use is { } u) sb.Append("use=").Append(u).Append(' ');
        if (l.Id is { } id) sb.Append("id=").Append(id).Append(' ');
        sb.Length--; // the trailing space is removed
        return sb.ToString();
    }

    private static void AppendTuple(StringBuilder sb, in ConntrackTuple t, byte proto)
    {
        sb.Append("src=").Append(t.Src).Append(" dst=").Append(t.Dst).Append(' ');
        if (proto == 1) sb.Append("type=").Append(t.IcmpType).Append(" code=").Append(t.IcmpCode).Append(" id=").Append(t.IcmpId).Append(' ');
        else if (ConntrackLine.HasPorts(proto)) sb.Append("sport=").Append(t.SrcPort).Append(" dport=").Append(t.DstPort).Append(' ');
    }

    /// <summary>Writes a whole table as `conntrack -L` shows it: one line per live entry (stdout); the summary line is
    /// separate (<see cref="Summary"/>), as conntrack writes it to stderr.</summary>
    public static string WriteTable(ConntrackTable table, ConntrackFilter? filter = null, bool extended = false, bool showId = false)
    {
        var sb = new StringBuilder();
        var now = table.Now;
        foreach (var e in table.List(filter))
            sb.Append(Write(ConntrackLine.FromEntry(e, now, extended, showId))).Append('\n');
        return sb.ToString();
    }

    /// <summary>Reads `conntrack -L` text: blank lines and `#` comments are skipped, a summary line is recognised;
    /// every other line must be an entry. All problems are reported, each with line:column.</summary>
    public static ConntrackReadResult Read(string text, string source)
    {
        var lines = new List<(int, ConntrackLine)>();
        var diags = new List<Diagnostic>();
        int? summary = null;
        int summaryLine = 0;
        int n = 0;
        foreach (var raw in text.Split('\n'))
        {
            n++;
            var line = raw.EndsWith('\r') ? raw[..^1] : raw;
            if (line.Trim().Length == 0 || line.TrimStart().StartsWith('#')) continue;
            if (TryReadSummary(line, out var count))
            {
                summary = count;
                summaryLine = n;
                continue;
            }
            var parsed = ReadLine(line, source, n, diags);
            if (parsed is not null)
            {
                lines.Add((n, parsed));
                if (Write(parsed) != line) diags.Add(ConntrackMessages.NotExactFormat(new SourceLocation(source, n, 1)));
            }
        }
        if (summary is { } s && s != lines.Count)
            diags.Add(ConntrackMessages.SummaryMismatch(new SourceLocation(source, summaryLine, 1), s, lines.Count));
        return new ConntrackReadResult(lines, summary, diags);
    }

    private static bool TryReadSummary(string line, out int count)
    {
        count = 0;
        const string prefix = "conntrack v";
        if (!line.StartsWith(prefix, StringComparison.Ordinal)) return false;
        int colon = line.IndexOf("): ", StringComparison.Ordinal);
        if (colon < 0) return false;
        var rest = line[(colon + 3)..];
        int sp = rest.IndexOf(' ');
        return sp > 0 && int.TryParse(rest[..sp], NumberStyles.None, CultureInfo.InvariantCulture, out count);
    }

    /// <summary>Reads one entry line; null (with diagnostics added) when it is not valid.</summary>
    public static ConntrackLine? ReadLine(string line, string source, int lineNumber, List<Diagnostic> diags)
    {
        var r = new Cursor(line, source, lineNumber, diags);
        return r.Entry();
    }

    private sealed class Cursor(string text, string source, int line, List<Diagnostic> diags)
    {
        private int _pos;
        private int _tokStart;
        private bool _failed;

        private SourceLocation At(int col) => new(source, line, col + 1);

        // The reader allocates only for what it keeps (state words, helper/secctx) and for diagnostics: tokens are spans.
        private ReadOnlySpan<char> PeekSpan()
        {
            int p = _pos;
            while (p < text.Length && text[p] == ' ') p++;
            if (p >= text.Length) return default;
            int e = text.IndexOf(' ', p);
            return e < 0 ? text.AsSpan(p) : text.AsSpan(p, e - p);
        }

        private string? Peek() => PeekSpan() is { IsEmpty: false } s ? s.ToString() : null;

        private bool PeekStartsWith(string prefix) => PeekSpan().StartsWith(prefix, StringComparison.Ordinal);

        private bool NextSpan(string expected, out ReadOnlySpan<char> tok, string? suffix = null)
        {
            while (_pos < text.Length && text[_pos] == ' ') _pos++;
            if (_pos >= text.Length)
            {
                Fail(ConntrackMessages.UnexpectedEnd(At(text.Length), expected + suffix));
                tok = default;
                return false;
            }
            _tokStart = _pos;
            int e = text.IndexOf(' ', _pos);
            if (e < 0) e = text.Length;
            tok = text.AsSpan(_pos, e - _pos);
            _pos = e;
            return true;
        }

        private string? Next(string expected) => NextSpan(expected, out var tok) ? tok.ToString() : null;

        private void Fail(Diagnostic d)
        {
            if (!_failed) diags.Add(d);
            _failed = true;
        }

        private bool FieldSpan(string name, out ReadOnlySpan<char> value)
        {
            value = default;
            if (!NextSpan(name, out var tok, "=")) return false;
            if (tok.Length <= name.Length || tok[name.Length] != '=' || !tok.StartsWith(name, StringComparison.Ordinal))
            {
                Fail(ConntrackMessages.ExpectedField(At(_tokStart), $"{name}=", tok.ToString()));
                return false;
            }
            value = tok[(name.Length + 1)..];
            return true;
        }

        private string? Field(string name) => FieldSpan(name, out var v) ? v.ToString() : null;

        private ulong? Number(string name, ReadOnlySpan<char> value, ulong max, int col)
        {
            if (ulong.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v <= max) return v;
            Fail(ConntrackMessages.InvalidNumber(At(col), name, value.ToString(), $"a decimal number 0..{max}"));
            return null;
        }

        private ulong? NumField(string name, ulong max) =>
            FieldSpan(name, out var v) ? Number(name, v, max, _tokStart + name.Length + 1) : null;

        private Ip4? Addr(string name)
        {
            if (!FieldSpan(name, out var v)) return null;
            if (Ip4.TryParse(v, out var ip)) return ip;
            Fail(ConntrackMessages.InvalidAddress(At(_tokStart + name.Length + 1), name, v.ToString()));
            return null;
        }

        private ConntrackTuple? Tuple(byte proto)
        {
            var src = Addr("src");
            if (src is null) return null;
            var dst = Addr("dst");
            if (dst is null) return null;
            if (proto == 1)
            {
                var type = NumField("type", 255);
                var code = type is null ? null : NumField("code", 255);
                var id = code is null ? null : NumField("id", 65535);
                if (id is null) return null;
                return ConntrackTuple.Icmp(src.Value, dst.Value, (byte)type!.Value, (byte)code!.Value, (ushort)id.Value);
            }
            if (ConntrackLine.HasPorts(proto))
            {
                var sport = NumField("sport", 65535);
                var dport = sport is null ? null : NumField("dport", 65535);
                if (dport is null) return null;
                return new ConntrackTuple((IpProtocol)proto, src.Value, dst.Value, (ushort)sport!.Value, (ushort)dport.Value);
            }
            return new ConntrackTuple((IpProtocol)proto, src.Value, dst.Value, 0, 0);
        }

        private (ulong, ulong)? Counters()
        {
            if (!PeekStartsWith("packets=")) return null;
            var packets = NumField("packets", ulong.MaxValue);
            var bytes = packets is null ? null : NumField("bytes", ulong.MaxValue);
            return bytes is null ? null : (packets!.Value, bytes.Value);
        }

        private ushort? OptionalUShort(string name)
        {
            var p = PeekSpan();
            if (p.Length <= name.Length || p[name.Length] != '=' || !p.StartsWith(name, StringComparison.Ordinal)) return null;
            return (ushort?)NumField(name, 65535);
        }

        private static readonly string[] TrailingFields = ["mark", "secmark", "secctx", "zone", "delta-time", "helper", "use", "id"];

        public ConntrackLine? Entry()
        {
            string? ev = null;
            var first = Peek();
            if (first is { Length: > 2 } && first[0] == '[' && first[^1] == ']')
            {
                Next("event");
                ev = first[1..^1];
            }
            bool extended = false;
            var tok = Next("protocol name");
            if (tok is null) return null;
            if (tok == "ipv4")
            {
                var l3 = Next("layer 3 protocol number");
                if (l3 is null) return null;
                if (l3 != "2")
                {
                    Fail(ConntrackMessages.ExpectedField(At(_tokStart), "2 after ipv4", l3));
                    return null;
                }
                extended = true;
                tok = Next("protocol name");
                if (tok is null) return null;
            }
            else if (tok == "ipv6")
            {
                Fail(ConntrackMessages.InvalidAddress(At(_tokStart), "layer 3 protocol", tok));
                return null;
            }
            var nameTok = tok;
            int nameCol = _tokStart;
            var numTok = Next("protocol number");
            if (numTok is null) return null;
            var num = Number("protocol number", numTok, 255, _tokStart);
            if (num is null) return null;
            byte proto = (byte)num.Value;
            if (ConntrackLine.ProtocolName(proto) != nameTok)
            {
                Fail(ConntrackMessages.ProtocolMismatch(At(nameCol), nameTok, numTok));
                return null;
            }
            if (proto is 47 or 58)
            {
                Fail(ConntrackMessages.ProtocolNotModelled(At(nameCol), nameTok));
                return null;
            }
            var timeoutTok = Next("timeout");
            if (timeoutTok is null) return null;
            var timeout = Number("timeout", timeoutTok, uint.MaxValue, _tokStart);
            if (timeout is null) return null;
            string? state = null;
            if (ConntrackLine.HasState(proto))
            {
                state = Next("state");
                if (state is null) return null;
                if (proto == 6 && !TcpStates.TryParse(state, out _))
                {
                    Fail(ConntrackMessages.UnknownTcpState(At(_tokStart), state));
                    return null;
                }
            }
            int tupleStart = _pos;
            var orig = Tuple(proto);
            if (orig is null) return null;
            if (proto == 1 && ConntrackTuple.IcmpInverse(orig.Value.IcmpType) < 0)
            {
                Fail(ConntrackMessages.IcmpTypeNotTracked(At(text.IndexOf("type=", tupleStart, StringComparison.Ordinal)), orig.Value.IcmpType));
                return null;
            }
            var zoneOrig = OptionalUShort("zone-orig");
            var origCounters = Counters();
            if (_failed) return null;
            bool unreplied = false;
            if (Peek() == "[UNREPLIED]")
            {
                Next("[UNREPLIED]");
                unreplied = true;
            }
            var reply = Tuple(proto);
            if (reply is null) return null;
            var zoneReply = OptionalUShort("zone-reply");
            var replyCounters = Counters();
            if (_failed) return null;
            string? assured = null;
            if (Peek() is "[ASSURED]" or "[OFFLOAD]" or "[HW_OFFLOAD]")
            {
                assured = Next("flag")![1..^1];
            }

            uint? mark = null, secmark = null, use = null, id = null;
            string? secctx = null, helper = null;
            ushort? zone = null;
            ulong? delta = null;
            // The trailing fields, in the order conntrack prints them; each at most once.
            var order = TrailingFields;
            int next = 0;
            while (!_failed && PeekSpan() is { IsEmpty: false } t)
            {
                int eq = t.IndexOf('=');
                int idx = -1;
                if (eq > 0)
                    for (int k = next; k < order.Length; k++)
                        if (t[..eq].SequenceEqual(order[k])) { idx = k; break; }
                if (idx < 0)
                {
                    var bad = t.ToString();
                    Next("field");
                    Fail(ConntrackMessages.UnknownField(At(_tokStart), bad));
                    break;
                }
                next = idx + 1;
                switch (order[idx])
                {
                    case "mark": mark = (uint?)NumField("mark", uint.MaxValue); break;
                    case "secmark": secmark = (uint?)NumField("secmark", uint.MaxValue); break;
                    case "secctx": secctx = Field("secctx"); break;
                    case "zone": zone = (ushort?)NumField("zone", 65535); break;
                    case "delta-time": delta = NumField("delta-time", ulong.MaxValue); break;
                    case "helper": helper = Field("helper"); break;
                    case "use": use = (uint?)NumField("use", uint.MaxValue); break;
                    case "id": id = (uint?)NumField("id", uint.MaxValue); break;
                }
            }
            if (_failed) return null;
            var o = orig.Value with { Zone = zone ?? 0 };
            var rp = reply.Value with { Zone = zone ?? 0 };
            return new ConntrackLine
            {
                Event = ev,
                Extended = extended,
                ProtocolNumber = proto,
                Timeout = timeout.Value,
                State = state,
                Original = o,
                ZoneOrig = zoneOrig,
                OriginalCounters = origCounters,
                Unreplied = unreplied,
                Reply = rp,
                ZoneReply = zoneReply,
                ReplyCounters = replyCounters,
                AssuredFlag = assured,
                Mark = mark,
                SecMark = secmark,
                SecCtx = secctx,
                Zone = zone,
                DeltaTime = delta,
                Helper = helper,
                Use = use,
                Id = id,
            };
        }
    }
}
