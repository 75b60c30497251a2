using System.Globalization;
using System.Text;

namespace PacketLife.Core.Netfilter.Text;

/// <summary>Small printing helpers shared by matches and targets, following libxtables.</summary>
public static class SaveFormat
{
    /// <summary>xtables_save_string: bare when the text is only `[A-Za-z0-9_-]` (and non-empty), otherwise
    /// double-quoted with `"`, `\` and `'` escaped by a backslash.</summary>
    public static StringBuilder AppendSaveString(this StringBuilder sb, string value)
    {
        sb.Append(' ');
        bool bare = value.Length > 0;
        foreach (var c in value)
        {
            if (!(c is '_' or '-' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) { bare = false; break; }
        }
        if (bare) return sb.Append(value);
        sb.Append('"');
        foreach (var c in value)
        {
            if (c is '"' or '\\' or '\'') sb.Append('\\');
            sb.Append(c);
        }
        return sb.Append('"');
    }

    public static StringBuilder AppendNeg(this StringBuilder sb, bool negated) => negated ? sb.Append(" !") : sb;

    public static string Hex(uint v) => "0x" + v.ToString("x", CultureInfo.InvariantCulture);

    public static bool TryParseUInt32(string s, out uint v)
    {
        // strtoul with base 0: 0x.. hex, 0.. octal, else decimal (xtables_strtoui).
        v = 0;
        if (string.IsNullOrEmpty(s)) return false;
        if (s.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
            return s.Length > 2 && uint.TryParse(s.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out v);
        if (s.Length > 1 && s[0] == '0')
        {
            ulong acc = 0;
            foreach (var c in s.AsSpan(1))
            {
                if (c < '0' || c > '7') return false;
                acc = acc * 8 + (ulong)(c - '0');
                if (acc > uint.MaxValue) return false;
            }
            v = (uint)acc;
            return true;
        }
        return uint.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out v);
    }

    /// <summary>`value[/mask]` as mark and connmark take it; mask defaults to 0xffffffff.</summary>
    public static bool TryParseMarkMask(string s, out uint value, out uint mask, out bool hasMask)
    {
        mask = uint.MaxValue;
        int slash = s.IndexOf('/');
        hasMask = slash >= 0;
        if (!hasMask) return TryParseUInt32(s, out value);
        return TryParseUInt32(s[..slash], out value) & TryParseUInt32(s[(slash + 1)..], out mask);
    }
}
