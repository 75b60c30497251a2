using System.Text;

namespace PacketLife.App.Rendering;

/// <summary>Go's text/tabwriter (elastic tabstops) as kubectl uses it: a cell ends at '\t'; the text after a
/// line's last tab is not part of any column. Column widths are computed per block of consecutive lines
/// that have that column, width = widest cell + padding (at least minwidth). kubectl `get` uses
/// (minwidth 6, padding 3) [cli-runtime printers/tabwriter.go]; `describe` uses (0, 2) [kubectl describe.go].
/// Written here because the layout must be byte-identical to kubectl's, which no .NET table library does.</summary>
public sealed class KubectlTabWriter(int minWidth, int padding)
{
    readonly List<List<string>> _lines = [];

    public static KubectlTabWriter ForGet() => new(6, 3);
    public static KubectlTabWriter ForDescribe() => new(0, 2);

    /// <summary>Adds text (may contain several lines); '\t' ends a cell.</summary>
    public void Write(string text)
    {
        var rows = text.Split('\n');
        for (var i = 0; i < rows.Length; i++)
        {
            if (i == rows.Length - 1 && rows[i].Length == 0) break;
            _lines.Add([.. rows[i].Split('\t')]);
        }
    }

    public void Row(IEnumerable<string> cells) => _lines.Add([.. cells]);

    public override string ToString()
    {
        var sb = new StringBuilder();
        var widths = new List<int>();
        Format(sb, widths, 0, _lines.Count);
        return sb.ToString();
    }

    void Format(StringBuilder sb, List<int> widths, int line0, int line1)
    {
        var column = widths.Count;
        for (var i = line0; i < line1; i++)
        {
            if (column >= _lines[i].Count - 1) continue;
            WriteLines(sb, widths, line0, i);
            line0 = i;
            var width = minWidth;
            for (; i < line1; i++)
            {
                var line = _lines[i];
                if (column >= line.Count - 1) break;
                var w = line[column].Length + padding;
                if (w > width) width = w;
            }
            widths.Add(width);
            Format(sb, widths, line0, i);
            widths.RemoveAt(widths.Count - 1);
            line0 = i;
            i--;
        }
        WriteLines(sb, widths, line0, line1);
    }

    void WriteLines(StringBuilder sb, List<int> widths, int line0, int line1)
    {
        for (var i = line0; i < line1; i++)
        {
            var line = _lines[i];
            for (var j = 0; j < line.Count; j++)
            {
                sb.Append(line[j]);
                if (j < widths.Count && j < line.Count - 1) sb.Append(' ', Math.Max(0, widths[j] - line[j].Length));
            }
            sb.Append('\n');
        }
    }
}
