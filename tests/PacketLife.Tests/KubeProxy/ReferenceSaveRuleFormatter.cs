using System.Globalization;
using System.Text;

using PacketLife.Core.KubeProxy;

namespace PacketLife.Tests.KubeProxy;

/// <summary>The save formatter as it was before it worked on spans (commit ca0f5d5), kept unchanged as the oracle
/// for <see cref="SaveFormEquivalenceProperties"/>: simple string code that the span version must match byte for byte.</summary>
internal static class ReferenceSaveRuleFormatter
{
    static readonly string[] GenericNames = ["-s", "-d", "-i", "-o", "-p"];

    public static string Format(string restoreLine, IpFamily family = IpFamily.IPv4)
    {
        var t = Tokenize(restoreLine);
        var sb = new StringBuilder(restoreLine.Length + 48);
        int i = 0;
        if (t.Count >= 2 && t[0] == "-A") { sb.Append("-A ").Append(t[1]); i = 2; }
        // generic options: -s -d -i -o -p, each optionally negated
        string?[] generic = new string?[5];
        var matches = new List<(string Module, List<string> Opts)>();
        string? target = null;
        var targetOpts = new List<string>();
        bool neg = false;
        List<string>? current = null;
        for (; i < t.Count; i++)
        {
            string tok = t[i];
            if (tok == "!") { neg = true; continue; }
            // long forms as kubelet writes them (--dst, --src) print as the short ones
            int g = tok switch
            {
                "-s" or "--source" or "--src" => 0, "-d" or "--destination" or "--dst" => 1, "-i" or "--in-interface" => 2,
                "-o" or "--out-interface" => 3, "-p" or "--protocol" => 4, _ => -1,
            };
            if (g >= 0 && target is null)
            {
                string v = t[++i];
                if (g <= 1) v = Address(v, family);
                generic[g] = (neg ? "! " : "") + GenericNames[g] + " " + v;
                neg = false;
                continue;
            }
            if (tok == "-m" && target is null)
            {
                current = [];
                matches.Add((t[++i], current));
                continue;
            }
            if (tok == "-j") { target = t[++i]; continue; }
            var dest = target is not null ? targetOpts : current ?? targetOpts;
            if (neg) { dest.Add("!"); neg = false; }
            dest.Add(tok);
        }
        foreach (var g in generic)
            if (g is not null) sb.Append(' ').Append(g);
        foreach (var (module, opts) in matches)
        {
            sb.Append(" -m ").Append(module);
            AppendMatch(sb, module, opts, family);
        }
        if (target is not null)
        {
            sb.Append(" -j ").Append(target);
            AppendTarget(sb, target, targetOpts, family);
        }
        return sb.ToString();
    }

    /// <summary>iptables prints addresses as network/prefix-length (the kernel stores address and mask).</summary>
    static string Address(string v, IpFamily family)
    {
        if (!v.Contains('/')) v += family == IpFamily.IPv6 || v.Contains(':') ? "/128" : "/32";
        return KubeIp.TryParseCidr(v, out var c) ? c.Text : v;
    }

    static void AppendMatch(StringBuilder sb, string module, List<string> o, IpFamily family)
    {
        switch (module)
        {
            case "comment":
                for (int i = 0; i < o.Count; i++)
                    if (o[i] == "--comment") { sb.Append(" --comment "); AppendSaveString(sb, o[++i]); }
                    else sb.Append(' ').Append(o[i]);
                return;
            case "mark":
                for (int i = 0; i < o.Count; i++)
                    sb.Append(' ').Append(o[i] == "--mark" ? "--mark " + MarkText(o[++i], keepFullMask: false) : o[i]);
                return;
            case "conntrack":
                for (int i = 0; i < o.Count; i++)
                    sb.Append(' ').Append(o[i] is "--ctstate" or "--state" ? "--ctstate " + CtStates(o[++i]) : o[i]);
                return;
            case "statistic":
                for (int i = 0; i < o.Count; i++)
                    sb.Append(' ').Append(o[i] == "--probability" ? "--probability " + SavedProbability(o[++i]) : o[i]);
                return;
            case "recent":
                AppendRecent(sb, o, family);
                return;
            case "nfacct":
                // libxt_nfacct prints "--nfacct-name " then a space-prefixed name: two spaces (facts §7).
                for (int i = 0; i < o.Count; i++)
                    sb.Append(' ').Append(o[i] == "--nfacct-name" ? "--nfacct-name  " + o[++i] : o[i]);
                return;
            default:
                foreach (var x in o) sb.Append(' ').Append(x);
                return;
        }
    }

    /// <summary>libxt_recent's save order: command, --seconds, --reap, --hitcount, --rttl, --name, --mask, --rsource/--rdest.</summary>
    static void AppendRecent(StringBuilder sb, List<string> o, IpFamily family)
    {
        string? cmd = null, seconds = null, hitcount = null, name = "DEFAULT", mask = null;
        bool reap = false, rttl = false, rdest = false, negCmd = false;
        for (int i = 0; i < o.Count; i++)
        {
            switch (o[i])
            {
                case "!": negCmd = true; break;
                case "--set" or "--rcheck" or "--update" or "--remove": cmd = o[i]; break;
                case "--seconds": seconds = o[++i]; break;
                case "--hitcount": hitcount = o[++i]; break;
                case "--name": name = o[++i]; break;
                case "--mask": mask = o[++i]; break;
                case "--reap": reap = true; break;
                case "--rttl": rttl = true; break;
                case "--rdest": rdest = true; break;
                case "--rsource": rdest = false; break;
            }
        }
        if (cmd is not null) sb.Append(negCmd ? " ! " : " ").Append(cmd);
        if (seconds is not null) sb.Append(" --seconds ").Append(seconds);
        if (reap) sb.Append(" --reap");
        if (hitcount is not null) sb.Append(" --hitcount ").Append(hitcount);
        if (rttl) sb.Append(" --rttl");
        sb.Append(" --name ").Append(name);
        sb.Append(" --mask ").Append(mask ?? (family == IpFamily.IPv6 ? "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff" : "255.255.255.255"));
        sb.Append(rdest ? " --rdest" : " --rsource");
    }

    static void AppendTarget(StringBuilder sb, string target, List<string> o, IpFamily family)
    {
        switch (target)
        {
            case "MARK":
                // libxt_MARK (revision 2) saves every form as --set-xmark value/mask:
                // --or-mark M = --set-xmark M/M, --xor-mark M = --set-xmark M/0, --set-mark M = --set-xmark M/0xffffffff.
                for (int i = 0; i < o.Count; i++)
                {
                    switch (o[i])
                    {
                        case "--or-mark": { uint m = Hex(o[++i]); sb.Append($" --set-xmark 0x{m:x}/0x{m:x}"); break; }
                        case "--xor-mark": { uint m = Hex(o[++i]); sb.Append($" --set-xmark 0x{m:x}/0x0"); break; }
                        case "--and-mark": { uint m = Hex(o[++i]); sb.Append($" --set-xmark 0x0/0x{~m:x}"); break; }
                        case "--set-mark" or "--set-xmark":
                            {
                                var (v, mask) = ValueMask(o[++i]);
                                sb.Append($" --set-xmark 0x{v:x}/0x{mask:x}");
                                break;
                            }
                        default: sb.Append(' ').Append(o[i]); break;
                    }
                }
                return;
            case "REJECT":
                foreach (var x in o) sb.Append(' ').Append(x);
                if (!o.Contains("--reject-with"))
                    sb.Append(family == IpFamily.IPv6 ? " --reject-with icmp6-port-unreachable" : " --reject-with icmp-port-unreachable");
                return;
            default:
                foreach (var x in o) sb.Append(' ').Append(x);
                return;
        }
    }

    /// <summary>libxt_statistic keeps lround(p·2^31) and prints it back as %.11f of value/2^31.</summary>
    public static string SavedProbability(string written)
    {
        double p = double.Parse(written, CultureInfo.InvariantCulture);
        double stored = Math.Round(p * 2147483648.0, MidpointRounding.AwayFromZero);
        return (stored / 2147483648.0).ToString("F11", CultureInfo.InvariantCulture);
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
        bool bare = value.Length > 0 && value.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-');
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
        var list = new List<string>(24);
        var cur = new StringBuilder();
        bool inQuote = false, any = false;
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (inQuote)
            {
                if (c == '\\' && i + 1 < line.Length) { cur.Append(line[++i]); continue; }
                if (c == '"') { inQuote = false; continue; }
                cur.Append(c);
                continue;
            }
            if (c == '"') { inQuote = true; any = true; continue; }
            if (c == ' ' || c == '\t')
            {
                if (any || cur.Length > 0) { list.Add(cur.ToString()); cur.Clear(); any = false; }
                continue;
            }
            cur.Append(c);
        }
        if (any || cur.Length > 0) list.Add(cur.ToString());
        return list;
    }
}
