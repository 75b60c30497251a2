using System.Globalization;

namespace PacketLife.App.Cli;

public enum FlagKind { Bool, String, Int }

public sealed record FlagDef(string Long, char? Short, FlagKind Kind);

/// <summary>kubectl's flag grammar (spf13/pflag): `--flag=v`, `--flag v`, `-fv`, `-f v`, `-f=v`, bool flags
/// without a value, `--` ends flags, flags and arguments interleave. Hand-written because kubectl's
/// messages (`error: unknown flag: --foo`, `error: unknown shorthand flag: 'x' in -x`,
/// `error: flag needs an argument: --port`) and interleaving differ from System.CommandLine's.</summary>
public sealed class KubectlFlags
{
    readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);
    public List<string> Args { get; } = [];

    public static KubectlFlags Parse(IReadOnlyList<string> tokens, IReadOnlyList<FlagDef> defs)
    {
        var f = new KubectlFlags();
        for (var i = 0; i < tokens.Count; i++)
        {
            var t = tokens[i];
            if (t == "--") { f.Args.AddRange(tokens.Skip(i + 1)); break; }
            if (t.StartsWith("--", StringComparison.Ordinal))
            {
                var eq = t.IndexOf('=');
                var name = eq > 0 ? t[2..eq] : t[2..];
                var def = defs.FirstOrDefault(d => d.Long == name) ?? throw new CliException($"error: unknown flag: --{name}");
                string value;
                if (eq > 0) value = t[(eq + 1)..];
                else if (def.Kind == FlagKind.Bool) value = "true";
                else if (i + 1 < tokens.Count) value = tokens[++i];
                else throw new CliException($"error: flag needs an argument: --{name}");
                f.Set(def, value, $"--{name}");
            }
            else if (t.Length > 1 && t[0] == '-')
            {
                // Shorthands may be bundled (`-Ao wide`); a value-taking one eats the rest of the token.
                for (var j = 1; j < t.Length; j++)
                {
                    var c = t[j];
                    var def = defs.FirstOrDefault(d => d.Short == c) ?? throw new CliException($"error: unknown shorthand flag: '{c}' in {t}");
                    if (def.Kind == FlagKind.Bool) { f.Set(def, "true", $"-{c}"); continue; }
                    string value;
                    if (j + 1 < t.Length) value = t[j + 1] == '=' ? t[(j + 2)..] : t[(j + 1)..];
                    else if (i + 1 < tokens.Count) value = tokens[++i];
                    else throw new CliException($"error: flag needs an argument: '{c}' in -{c}");
                    f.Set(def, value, $"-{c}");
                    break;
                }
            }
            else f.Args.Add(t);
        }
        return f;
    }

    void Set(FlagDef def, string value, string shown)
    {
        if (def.Kind == FlagKind.Int && !int.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _))
            throw new CliException($"error: invalid argument \"{value}\" for \"{Shown(def)}\" flag: strconv.ParseInt: parsing \"{value}\": invalid syntax");
        if (def.Kind == FlagKind.Bool && value is not ("true" or "false" or "1" or "0" or "t" or "f" or "TRUE" or "FALSE" or "True" or "False"))
            throw new CliException($"error: invalid argument \"{value}\" for \"{Shown(def)}\" flag: strconv.ParseBool: parsing \"{value}\": invalid syntax");
        _values[def.Long] = value;
    }

    static string Shown(FlagDef def) => def.Short is { } s ? $"-{s}, --{def.Long}" : $"--{def.Long}";

    public string? Get(string name) => _values.TryGetValue(name, out var v) ? v : null;
    public bool Has(string name) => _values.ContainsKey(name);
    public bool Bool(string name) => _values.TryGetValue(name, out var v) && v is "true" or "1" or "t" or "TRUE" or "True";
    public int? Int(string name) => _values.TryGetValue(name, out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : null;
}
