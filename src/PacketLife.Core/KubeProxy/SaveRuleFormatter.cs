using System.Globalization;
using System.Text;
using PacketLife.Core.Net;

namespace PacketLife.Core.KubeProxy;

/// <summary>Prints a rule the way `iptables-save` prints it back after `iptables-restore` loaded it
/// (facts §7, measured with iptables v1.8.9): `-s`/`-d`/`-i`/`-o`/`-p` first (with `!`, addresses with their
/// prefix length), then the matches in written order with each module's own save form, then the target
/// with its save form. Covers the modules and targets kube-proxy writes; any other option is kept as written.</summary>
/// <remarks>The node view formats every rule of a sync (~100k on a large cluster), so the work is done on spans:
/// a line is split into tokens in a reused scratch area and the save form is written straight into a
/// <see cref="SaveBuffer"/>; only rare forms (marks, ctstates, IPv6 addresses) go through strings.</remarks>
public static class SaveRuleFormatter
{
    static readonly string[] GenericNames = ["-s", "-d", "-i", "-o", "-p"];

    [ThreadStatic] static Scratch? shared;

    public static string Format(string restoreLine, IpFamily family = IpFamily.IPv4)
    {
        var buf = new SaveBuffer(restoreLine.Length + 48);
        FormatInto(restoreLine, family, buf, shared ??= new Scratch());
        return buf.ToString();
    }

    /// <summary>The tokens of one line (unescaped, back to back in <see cref="Text"/>) and the options of each
    /// match and of the target, reused from rule to rule.</summary>
    internal sealed class Scratch
    {
        public char[] Text = new char[256];
        public int[] Start = new int[32], Len = new int[32];
        public int Count;
        // One entry per option in written order: the group it belongs to (a match's index, or -1 for the target
        // and for options before any -m) and its token (-1 stands for a "!" written before it).
        public int[] EntryGroup = new int[32], EntryTok = new int[32];
        public int Entries;
        public int[] MatchTok = new int[8];
        public int Matches;
        public int[] Opts = new int[32];

        public ReadOnlySpan<char> Tok(int i) => i < 0 ? "!" : Text.AsSpan(Start[i], Len[i]);

        public void AddEntry(int group, int tok)
        {
            if (Entries == EntryGroup.Length)
            {
                Array.Resize(ref EntryGroup, Entries * 2);
                Array.Resize(ref EntryTok, Entries * 2);
            }
            EntryGroup[Entries] = group;
            EntryTok[Entries++] = tok;
        }

        public void AddMatch(int tok)
        {
            if (Matches == MatchTok.Length) Array.Resize(ref MatchTok, Matches * 2);
            MatchTok[Matches++] = tok;
        }

        /// <summary>The options of one group, in written order, into <see cref="Opts"/>; returns their count.</summary>
        public int OptionsOf(int group)
        {
            if (Opts.Length < Entries) Opts = new int[EntryGroup.Length];
            int n = 0;
            for (int e = 0; e < Entries; e++)
                if (EntryGroup[e] == group) Opts[n++] = EntryTok[e];
            return n;
        }

        /// <summary>Splits a restore line into arguments as iptables-restore does: spaces separate, double quotes
        /// group (and are removed), a backslash inside quotes escapes the next character.</summary>
        public void Tokenize(ReadOnlySpan<char> line)
        {
            if (Text.Length < line.Length) Text = new char[line.Length * 2];
            Count = 0;
            int text = 0, start = 0;
            bool inQuote = false, any = false;
            for (int i = 0; i < line.Length; i++)
            {
                char c = line[i];
                if (inQuote)
                {
                    if (c == '\\' && i + 1 < line.Length) { Text[text++] = line[++i]; continue; }
                    if (c == '"') { inQuote = false; continue; }
                    Text[text++] = c;
                    continue;
                }
                if (c == '"') { inQuote = true; any = true; continue; }
                if (c == ' ' || c == '\t')
                {
                    if (any || text > start) Add(start, text - start);
                    start = text;
                    any = false;
                    continue;
                }
                Text[text++] = c;
            }
            if (any || text > start) Add(start, text - start);
        }

        void Add(int start, int len)
        {
            if (Count == Start.Length)
            {
                Array.Resize(ref Start, Count * 2);
                Array.Resize(ref Len, Count * 2);
            }
            Start[Count] = start;
            Len[Count++] = len;
        }
    }

    /// <summary>The save form of <paramref name="line"/>, appended to <paramref name="sb"/>.</summary>
    internal static void FormatInto(ReadOnlySpan<char> line, IpFamily family, SaveBuffer sb, Scratch s)
    {
        s.Tokenize(line);
        s.Entries = 0;
        s.Matches = 0;
        int n = s.Count, i = 0;
        if (n >= 2 && s.Tok(0) is "-A") { sb.Append("-A "); sb.Append(s.Tok(1)); i = 2; }
        // generic options: -s -d -i -o -p, each optionally negated; a repeated one keeps the last
        Span<int> generic = [-1, -1, -1, -1, -1];
        Span<bool> genericNeg = stackalloc bool[5];
        int target = -1, current = -1;
        bool neg = false;
        for (; i < n; i++)
        {
            var tok = s.Tok(i);
            if (tok is "!") { neg = true; continue; }
            // long forms as kubelet writes them (--dst, --src) print as the short ones
            int g = tok switch
            {
                "-s" or "--source" or "--src" => 0, "-d" or "--destination" or "--dst" => 1, "-i" or "--in-interface" => 2,
                "-o" or "--out-interface" => 3, "-p" or "--protocol" => 4, _ => -1,
            };
            if (g >= 0 && target < 0)
            {
                generic[g] = Next(ref i, n);
                genericNeg[g] = neg;
                neg = false;
                continue;
            }
            if (tok is "-m" && target < 0)
            {
                s.AddMatch(Next(ref i, n));
                current = s.Matches - 1;
                continue;
            }
            if (tok is "-j") { target = Next(ref i, n); continue; }
            int group = target >= 0 ? -1 : current;
            if (neg) { s.AddEntry(group, -1); neg = false; }
            s.AddEntry(group, i);
        }
        for (int g = 0; g < 5; g++)
        {
            if (generic[g] < 0) continue;
            sb.Append(genericNeg[g] ? " ! " : " ");
            sb.Append(GenericNames[g]);
            sb.Append(' ');
            if (g <= 1) AppendAddress(sb, s.Tok(generic[g]), family);
            else sb.Append(s.Tok(generic[g]));
        }
        for (int m = 0; m < s.Matches; m++)
        {
            var module = s.Tok(s.MatchTok[m]);
            sb.Append(" -m ");
            sb.Append(module);
            AppendMatch(sb, module, s, s.OptionsOf(m), family);
        }
        if (target >= 0)
        {
            var t = s.Tok(target);
            sb.Append(" -j ");
            sb.Append(t);
            AppendTarget(sb, t, s, s.OptionsOf(-1), family);
        }
    }

    /// <summary>The index of the argument an option takes; a missing argument is a malformed line.</summary>
    static int Next(ref int i, int count) =>
        ++i < count ? i : throw new ArgumentOutOfRangeException(nameof(i), "an option is missing its argument");

    /// <summary>iptables prints addresses as network/prefix-length (the kernel stores address and mask).</summary>
    internal static void AppendAddress(SaveBuffer sb, ReadOnlySpan<char> v, IpFamily family)
    {
        if (v.Contains(':')) { sb.Append(Address(v.ToString(), family)); return; }
        // IPv4 text: the address gets /32 (or /128 in an IPv6 table, which then fails to parse and prints as
        // written), and a parsed address/length prints masked, as KubeIp.TryParseCidr does.
        bool slash = v.Contains('/');
        Span<char> candidate = v.Length <= 240 ? stackalloc char[v.Length + 4] : new char[v.Length + 4];
        v.CopyTo(candidate);
        int len = v.Length;
        if (!slash)
        {
            var suffix = family == IpFamily.IPv6 ? "/128" : "/32";
            suffix.CopyTo(candidate[len..]);
            len += suffix.Length;
        }
        var text = candidate[..len];
        if (!TryAppendIPv4Cidr(sb, text)) sb.Append(text);
    }

    static bool TryAppendIPv4Cidr(SaveBuffer sb, ReadOnlySpan<char> text)
    {
        int slash = text.IndexOf('/');
        if (slash <= 0 || !Ip4.TryParse(text[..slash], out var ip)) return false;
        var lenText = text[(slash + 1)..];
        if (lenText.Length is 0 or > 3) return false;
        int len = 0;
        foreach (var c in lenText)
        {
            if (!char.IsAsciiDigit(c)) return false;
            len = len * 10 + (c - '0');
        }
        if (len > 32) return false;
        uint net = len == 0 ? 0 : ip.Value & (uint.MaxValue << (32 - len));
        var dest = sb.Reserve(20);
        int w = 0;
        for (int o = 3; o >= 0; o--)
        {
            ((net >> (8 * o)) & 255).TryFormat(dest[w..], out int k, default, CultureInfo.InvariantCulture);
            w += k;
            dest[w++] = o > 0 ? '.' : '/';
        }
        len.TryFormat(dest[w..], out int l, default, CultureInfo.InvariantCulture);
        sb.Advance(w + l);
        return true;
    }

    static string Address(string v, IpFamily family)
    {
        if (!v.Contains('/')) v += family == IpFamily.IPv6 || v.Contains(':') ? "/128" : "/32";
        return KubeIp.TryParseCidr(v, out var c) ? c.Text : v;
    }

    static ReadOnlySpan<char> Arg(Scratch s, int[] o, ref int i, int count) => s.Tok(o[Next(ref i, count)]);

    static void AppendMatch(SaveBuffer sb, ReadOnlySpan<char> module, Scratch s, int count, IpFamily family)
    {
        var o = s.Opts;
        switch (module)
        {
            case "comment":
                for (int i = 0; i < count; i++)
                    if (s.Tok(o[i]) is "--comment") { sb.Append(" --comment "); AppendSaveString(sb, Arg(s, o, ref i, count)); }
                    else { sb.Append(' '); sb.Append(s.Tok(o[i])); }
                return;
            case "mark":
                for (int i = 0; i < count; i++)
                {
                    sb.Append(' ');
                    if (s.Tok(o[i]) is "--mark") { sb.Append("--mark "); sb.Append(MarkText(Arg(s, o, ref i, count).ToString(), keepFullMask: false)); }
                    else sb.Append(s.Tok(o[i]));
                }
                return;
            case "conntrack":
                for (int i = 0; i < count; i++)
                {
                    sb.Append(' ');
                    if (s.Tok(o[i]) is "--ctstate" or "--state") { sb.Append("--ctstate "); sb.Append(CtStates(Arg(s, o, ref i, count).ToString())); }
                    else sb.Append(s.Tok(o[i]));
                }
                return;
            case "statistic":
                for (int i = 0; i < count; i++)
                {
                    sb.Append(' ');
                    if (s.Tok(o[i]) is "--probability") { sb.Append("--probability "); AppendSavedProbability(sb, Arg(s, o, ref i, count)); }
                    else sb.Append(s.Tok(o[i]));
                }
                return;
            case "recent":
                AppendRecent(sb, s, count, family);
                return;
            case "nfacct":
                // libxt_nfacct prints "--nfacct-name " then a space-prefixed name: two spaces (facts §7).
                for (int i = 0; i < count; i++)
                {
                    sb.Append(' ');
                    if (s.Tok(o[i]) is "--nfacct-name") { sb.Append("--nfacct-name  "); sb.Append(Arg(s, o, ref i, count)); }
                    else sb.Append(s.Tok(o[i]));
                }
                return;
            default:
                for (int i = 0; i < count; i++) { sb.Append(' '); sb.Append(s.Tok(o[i])); }
                return;
        }
    }

    /// <summary>libxt_recent's save order: command, --seconds, --reap, --hitcount, --rttl, --name, --mask, --rsource/--rdest.</summary>
    static void AppendRecent(SaveBuffer sb, Scratch s, int count, IpFamily family)
    {
        var o = s.Opts;
        const int unset = int.MinValue;
        int cmd = unset, seconds = unset, hitcount = unset, name = unset, mask = unset;
        bool reap = false, rttl = false, rdest = false, negCmd = false;
        for (int i = 0; i < count; i++)
        {
            switch (s.Tok(o[i]))
            {
                case "!": negCmd = true; break;
                case "--set" or "--rcheck" or "--update" or "--remove": cmd = o[i]; break;
                case "--seconds": seconds = o[Next(ref i, count)]; break;
                case "--hitcount": hitcount = o[Next(ref i, count)]; break;
                case "--name": name = o[Next(ref i, count)]; break;
                case "--mask": mask = o[Next(ref i, count)]; break;
                case "--reap": reap = true; break;
                case "--rttl": rttl = true; break;
                case "--rdest": rdest = true; break;
                case "--rsource": rdest = false; break;
            }
        }
        if (cmd != unset) { sb.Append(negCmd ? " ! " : " "); sb.Append(s.Tok(cmd)); }
        if (seconds != unset) { sb.Append(" --seconds "); sb.Append(s.Tok(seconds)); }
        if (reap) sb.Append(" --reap");
        if (hitcount != unset) { sb.Append(" --hitcount "); sb.Append(s.Tok(hitcount)); }
        if (rttl) sb.Append(" --rttl");
        sb.Append(" --name ");
        sb.Append(name != unset ? s.Tok(name) : "DEFAULT");
        sb.Append(" --mask ");
        sb.Append(mask != unset ? s.Tok(mask) : family == IpFamily.IPv6 ? "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff" : "255.255.255.255");
        sb.Append(rdest ? " --rdest" : " --rsource");
    }

    static void AppendTarget(SaveBuffer sb, ReadOnlySpan<char> target, Scratch s, int count, IpFamily family)
    {
        var o = s.Opts;
        switch (target)
        {
            case "MARK":
                // libxt_MARK (revision 2) saves every form as --set-xmark value/mask:
                // --or-mark M = --set-xmark M/M, --xor-mark M = --set-xmark M/0, --set-mark M = --set-xmark M/0xffffffff.
                for (int i = 0; i < count; i++)
                {
                    switch (s.Tok(o[i]))
                    {
                        case "--or-mark": { uint m = Hex(Arg(s, o, ref i, count).ToString()); sb.Append($" --set-xmark 0x{m:x}/0x{m:x}"); break; }
                        case "--xor-mark": { uint m = Hex(Arg(s, o, ref i, count).ToString()); sb.Append($" --set-xmark 0x{m:x}/0x0"); break; }
                        case "--and-mark": { uint m = Hex(Arg(s, o, ref i, count).ToString()); sb.Append($" --set-xmark 0x0/0x{~m:x}"); break; }
                        case "--set-mark" or "--set-xmark":
                            {
                                var (v, mask) = ValueMask(Arg(s, o, ref i, count).ToString());
                                sb.Append($" --set-xmark 0x{v:x}/0x{mask:x}");
                                break;
                            }
                        default: sb.Append(' '); sb.Append(s.Tok(o[i])); break;
                    }
                }
                return;
            case "REJECT":
                bool with = false;
                for (int i = 0; i < count; i++)
                {
                    var x = s.Tok(o[i]);
                    with |= x is "--reject-with";
                    sb.Append(' ');
                    sb.Append(x);
                }
                if (!with) sb.Append(family == IpFamily.IPv6 ? " --reject-with icmp6-port-unreachable" : " --reject-with icmp-port-unreachable");
                return;
            default:
                for (int i = 0; i < count; i++) { sb.Append(' '); sb.Append(s.Tok(o[i])); }
                return;
        }
    }

    /// <summary>libxt_statistic keeps lround(p·2^31) and prints it back as %.11f of value/2^31.</summary>
    public static string SavedProbability(string written)
    {
        var sb = new SaveBuffer(16);
        AppendSavedProbability(sb, written);
        return sb.ToString();
    }

    static void AppendSavedProbability(SaveBuffer sb, ReadOnlySpan<char> written)
    {
        double p = double.Parse(written, CultureInfo.InvariantCulture);
        double stored = Math.Round(p * 2147483648.0, MidpointRounding.AwayFromZero);
        var dest = sb.Reserve(32);
        if ((stored / 2147483648.0).TryFormat(dest, out int w, "F11", CultureInfo.InvariantCulture)) { sb.Advance(w); return; }
        sb.Append((stored / 2147483648.0).ToString("F11", CultureInfo.InvariantCulture));
    }

    static readonly string[] CtStateOrder = ["INVALID", "NEW", "RELATED", "ESTABLISHED", "UNTRACKED", "SNAT", "DNAT"];

    /// <summary>libxt_conntrack prints the states in its own fixed order, whatever order they were written in.</summary>
    static string CtStates(string s)
    {
        var set = s.Split(',');
        var known = CtStateOrder.Where(set.Contains).ToList();
        known.AddRange(set.Where(x => !CtStateOrder.Contains(x)));
        return string.Join(',', known);
    }

    static string MarkText(string v, bool keepFullMask)
    {
        var (value, mask) = ValueMask(v);
        return mask == uint.MaxValue && !keepFullMask ? $"0x{value:x}" : $"0x{value:x}/0x{mask:x}";
    }

    static (uint Value, uint Mask) ValueMask(string v)
    {
        int slash = v.IndexOf('/');
        return slash < 0 ? (Hex(v), uint.MaxValue) : (Hex(v[..slash]), Hex(v[(slash + 1)..]));
    }

    static uint Hex(string s) => s.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
        ? uint.Parse(s.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture)
        : uint.Parse(s, CultureInfo.InvariantCulture);

    /// <summary>xtables_save_string: bare when the value is non-empty and only [A-Za-z0-9_-]; otherwise
    /// double-quoted with `"`, `\` and `'` backslash-escaped.</summary>
    public static void AppendSaveString(StringBuilder sb, string value)
    {
        var buf = new SaveBuffer(value.Length + 8);
        AppendSaveString(buf, value);
        sb.Append(buf.ToString());
    }

    static void AppendSaveString(SaveBuffer sb, ReadOnlySpan<char> value)
    {
        bool bare = value.Length > 0;
        foreach (var c in value)
            if (!(char.IsAsciiLetterOrDigit(c) || c is '_' or '-')) { bare = false; break; }
        if (bare) { sb.Append(value); return; }
        sb.Append('"');
        foreach (var c in value)
        {
            if (c is '"' or '\\' or '\'') sb.Append('\\');
            sb.Append(c);
        }
        sb.Append('"');
    }

    /// <summary>Splits a restore line into arguments as iptables-restore does: spaces separate, double quotes
    /// group (and are removed), a backslash inside quotes escapes the next character.</summary>
    public static List<string> Tokenize(string line)
    {
        var s = new Scratch();
        s.Tokenize(line);
        var list = new List<string>(s.Count);
        for (int i = 0; i < s.Count; i++) list.Add(s.Tok(i).ToString());
        return list;
    }
}
