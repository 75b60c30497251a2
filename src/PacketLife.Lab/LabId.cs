using System.Globalization;

namespace PacketLife.Lab;

/// <summary>A lab's identity: 8 lower-case hex digits. Every name a lab creates carries it
/// (`plab-&lt;id&gt;-&lt;role&gt;`), so teardown can remove exactly what one lab made and nothing of another lab
/// or of anyone else on the machine.</summary>
public readonly record struct LabId
{
    /// <summary>The fixed prefix of every lab namespace.</summary>
    public const string Prefix = "plab-";

    public string Value { get; }

    private LabId(string value) => Value = value;

    /// <summary>A fresh id from the given random source (injected, so tests and `--seed` runs are reproducible;
    /// the default is unseeded because two concurrent labs must not collide).</summary>
    public static LabId New(Random? random = null)
    {
        var r = random ?? Random.Shared;
        return new LabId(((uint)r.NextInt64(0, 1L << 32)).ToString("x8", CultureInfo.InvariantCulture));
    }

    public static bool TryParse(string? text, out LabId id)
    {
        id = default;
        if (text is not { Length: 8 } || !text.All(c => c is >= '0' and <= '9' or >= 'a' and <= 'f')) return false;
        id = new LabId(text);
        return true;
    }

    public static LabId Parse(string text) =>
        TryParse(text, out var id) ? id : throw new FormatException($"invalid lab id \"{text}\" (8 lower-case hex digits)");

    /// <summary>`plab-&lt;id&gt;-&lt;role&gt;`. Roles are short lower-case words; the whole name must stay within
    /// the kernel's 15-character limit only for interfaces, not namespaces, but we keep roles short anyway.</summary>
    public string Namespace(string role)
    {
        if (role.Length is 0 or > 24 || !role.All(c => c is >= 'a' and <= 'z' or >= '0' and <= '9' or '-'))
            throw new ArgumentException($"invalid namespace role \"{role}\" (lower-case letters, digits, '-')", nameof(role));
        return $"{Prefix}{Value}-{role}";
    }

    /// <summary>True when <paramref name="ns"/> is a namespace name of this lab.</summary>
    public bool Owns(string ns) => ns.StartsWith($"{Prefix}{Value}-", StringComparison.Ordinal);

    public override string ToString() => Value ?? "";
}
