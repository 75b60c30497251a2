using System.Buffers.Binary;
using System.Numerics;

namespace PacketLife.Core.Conntrack.Nat;

/// <summary>Bob Jenkins' lookup3 word hash as the kernel has it (include/linux/jhash.h, <c>jhash2</c>). The NAT core
/// hashes the source address with it to pick an address from a range (nf_nat_core.c, <c>find_best_ips_proto</c>).
/// Hand-written because no allowed package provides it, and it must be bit-exact to reproduce the kernel's choice.</summary>
public static class JHash
{
    public const uint InitVal = 0xdeadbeef;

    public static uint Jhash2(ReadOnlySpan<uint> k, uint initval)
    {
        uint a, b, c;
        a = b = c = InitVal + ((uint)k.Length << 2) + initval;
        int i = 0, length = k.Length;
        while (length > 3)
        {
            a += k[i];
            b += k[i + 1];
            c += k[i + 2];
            Mix(ref a, ref b, ref c);
            length -= 3;
            i += 3;
        }
        switch (length)
        {
            case 3: c += k[i + 2]; goto case 2;
            case 2: b += k[i + 1]; goto case 1;
            case 1:
                a += k[i];
                Final(ref a, ref b, ref c);
                break;
        }
        return c;
    }

    private static void Mix(ref uint a, ref uint b, ref uint c)
    {
        a -= c; a ^= BitOperations.RotateLeft(c, 4); c += b;
        b -= a; b ^= BitOperations.RotateLeft(a, 6); a += c;
        c -= b; c ^= BitOperations.RotateLeft(b, 8); b += a;
        a -= c; a ^= BitOperations.RotateLeft(c, 16); c += b;
        b -= a; b ^= BitOperations.RotateLeft(a, 19); a += c;
        c -= b; c ^= BitOperations.RotateLeft(b, 4); b += a;
    }

    private static void Final(ref uint a, ref uint b, ref uint c)
    {
        c ^= b; c -= BitOperations.RotateLeft(b, 14);
        a ^= c; a -= BitOperations.RotateLeft(c, 11);
        b ^= a; b -= BitOperations.RotateLeft(a, 25);
        c ^= b; c -= BitOperations.RotateLeft(b, 16);
        a ^= c; a -= BitOperations.RotateLeft(c, 4);
        b ^= a; b -= BitOperations.RotateLeft(a, 14);
        c ^= b; c -= BitOperations.RotateLeft(b, 24);
    }

    /// <summary>An IPv4 address as the kernel's x86 code reads its 4 network-order bytes into a u32 (little-endian).</summary>
    public static uint NativeWord(Net.Ip4 ip) => BinaryPrimitives.ReverseEndianness(ip.Value);

    /// <summary>The NAT address hash: <c>jhash2([S,0,0,0], persistent ? 0 : D ^ zone)</c>, S and D read as native words.</summary>
    public static uint NatAddressHash(Net.Ip4 src, Net.Ip4 dst, ushort zone, bool persistent)
    {
        Span<uint> words = [NativeWord(src), 0, 0, 0];
        return Jhash2(words, persistent ? 0 : NativeWord(dst) ^ zone);
    }

    /// <summary>Kernel <c>reciprocal_scale</c>: maps a 32-bit hash onto [0, range).</summary>
    public static uint ReciprocalScale(uint value, uint range) => (uint)(((ulong)value * range) >> 32);
}
