using PacketLife.Core.Diagnostics;
using PacketLife.Core.Net;

namespace PacketLife.Core.Netfilter.Evaluation;

/// <summary>One ipset from an `ipset save` dump (ipset(8)). Dimensions are IP (hash:ip), network (hash:net) or
/// protocol:port; elements are matched by the flags of `-m set` in dimension order.</summary>
public sealed class IpSet(string name, string type)
{
    public string Name { get; } = name;
    public string Type { get; } = type;
    /// <summary>The kinds of each dimension: 'i' address, 'n' network, 'p' proto:port; null when the type is not modelled.</summary>
    public string? Dimensions { get; } = type switch
    {
        "hash:ip" => "i",
        "hash:net" => "n",
        "hash:ip,port" => "ip",
        "hash:net,port" => "np",
        "hash:ip,port,ip" => "ipi",
        "hash:ip,port,net" => "ipn",
        "hash:net,net" => "nn",
        "hash:ip,mark" => null,
        "bitmap:port" => "p",
        _ => null,
    };

    public readonly record struct Dim(Ip4Prefix Prefix, IpProtocol Proto, ushort Port);

    public List<Dim[]> Elements { get; } = [];

    /// <summary>Null when the type is not modelled.</summary>
    public bool? Test(Packet p, IReadOnlyList<bool> fromSource)
    {
        if (Dimensions is not { } dims) return null;
        if (fromSource.Count < dims.Length) return false; // too few flags never match (facts §3.13)
        foreach (var e in Elements)
        {
            bool all = true;
            for (int i = 0; i < dims.Length && all; i++)
            {
                bool src = fromSource[i];
                if (dims[i] == 'p')
                {
                    if (!p.HasPorts || p.Protocol != e[i].Proto) { all = false; break; }
                    all = (src ? p.SrcPort : p.DstPort) == e[i].Port;
                }
                else all = e[i].Prefix.Contains(src ? p.Src : p.Dst);
            }
            if (all) return true;
        }
        return false;
    }
}

/// <summary>The sets of one network namespace, read from `ipset save` output.</summary>
public sealed class IpSetCollection
{
    readonly Dictionary<string, IpSet> sets = new(StringComparer.Ordinal);

    public IpSet? Find(string name) => sets.GetValueOrDefault(name);
    public IEnumerable<IpSet> Sets => sets.Values;

    public static (IpSetCollection Sets, IReadOnlyList<Diagnostic> Diagnostics) Read(string text, string source)
    {
        var result = new IpSetCollection();
        var diags = new List<Diagnostic>();
        int lineNo = 0;
        foreach (var raw in text.Split('\n'))
        {
            lineNo++;
            var line = raw.TrimEnd('\r').Trim();
            if (line.Length == 0 || line[0] == '#') continue;
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var at = new SourceLocation(source, lineNo, 1);
            switch (parts[0])
            {
                case "create" or "-N" or "-exist" when parts.Length >= 3:
                    result.sets[parts[1]] = new IpSet(parts[1], parts[2]);
                    if (result.sets[parts[1]].Dimensions is null)
                        diags.Add(NetfilterMessages.IpsetTypeNotModelled(at, parts[2], parts[1]));
                    break;
                case "add" or "-A" when parts.Length >= 3:
                {
                    if (!result.sets.TryGetValue(parts[1], out var set)) { diags.Add(NetfilterMessages.IpsetProblem(at, $"The set with the given name does not exist: {parts[1]}")); break; }
                    if (set.Dimensions is not { } dims) break;
                    var items = parts[2].Split(',');
                    if (items.Length != dims.Length) { diags.Add(NetfilterMessages.IpsetProblem(at with { Column = raw.IndexOf(parts[2], StringComparison.Ordinal) + 1 }, $"Syntax error: element \"{parts[2]}\" does not fit {set.Type}")); break; }
                    var dim = new IpSet.Dim[dims.Length];
                    bool ok = true;
                    for (int i = 0; i < dims.Length && ok; i++)
                    {
                        var it = items[i];
                        if (dims[i] == 'p')
                        {
                            var proto = IpProtocol.Tcp;
                            int c = it.IndexOf(':');
                            if (c >= 0) { ok = IpProtocols.TryParse(it[..c], out proto); it = it[(c + 1)..]; }
                            ok &= ushort.TryParse(it, out var port);
                            dim[i] = new IpSet.Dim(default, proto, port);
                        }
                        else
                        {
                            ok = Ip4Prefix.TryParse(it, out var pf) && (dims[i] == 'n' || pf.Length == 32);
                            dim[i] = new IpSet.Dim(pf, 0, 0);
                        }
                    }
                    if (ok) set.Elements.Add(dim);
                    else diags.Add(NetfilterMessages.IpsetProblem(at, $"Syntax error: cannot parse element \"{parts[2]}\" of {set.Type}"));
                    break;
                }
                default:
                    diags.Add(NetfilterMessages.IpsetProblem(at, $"unexpected ipset save line \"{line}\""));
                    break;
            }
        }
        return (result, diags);
    }
}
