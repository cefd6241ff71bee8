using System.Buffers.Binary;

namespace Xar.Runtime;

/// <summary>
/// Where an ELF executable's own bytes end, so that what follows them can be found: the XAR of a
/// self-contained executable (at that end rounded up to <see cref="XarAlignment"/>) or the SquashFS
/// image of a type-2 AppImage (at that end exactly). The end is the furthest of the ELF header, the
/// program header table, every segment's file bytes and the section header table, as the ELF header
/// and program headers give them (the section header table is what a linker writes last; AppImage's
/// runtime computes its end the same way). Allocation-free: the launch core uses it before the .NET
/// runtime starts.
/// </summary>
public static class ElfExtent
{
    /// <summary>The bytes from the start of the file that <see cref="End"/> needs (program headers beyond them are refused).</summary>
    public const int HeadBytes = 4096;
    /// <summary>A self-contained executable's XAR starts at the ELF end rounded up to this.</summary>
    public const long XarAlignment = 4096;

    public static bool IsElf(ReadOnlySpan<byte> head) =>
        head.Length >= 4 && head[0] == 0x7F && head[1] == (byte)'E' && head[2] == (byte)'L' && head[3] == (byte)'F';

    /// <summary>The end of the ELF file whose first bytes are <paramref name="head"/>; -1 when they are not a little-endian ELF header (32 or 64 bit) with its program headers.</summary>
    public static long End(ReadOnlySpan<byte> head)
    {
        if (!IsElf(head) || head.Length < 64 || head[5] != 1 /* ELFDATA2LSB */)
            return -1;
        bool is64 = head[4] == 2;
        if (!is64 && head[4] != 1)
            return -1;
        ulong phoff = is64 ? BinaryPrimitives.ReadUInt64LittleEndian(head[0x20..]) : BinaryPrimitives.ReadUInt32LittleEndian(head[0x1C..]);
        ulong shoff = is64 ? BinaryPrimitives.ReadUInt64LittleEndian(head[0x28..]) : BinaryPrimitives.ReadUInt32LittleEndian(head[0x20..]);
        int at = is64 ? 0x36 : 0x2A;
        ulong phentsize = BinaryPrimitives.ReadUInt16LittleEndian(head[at..]);
        ulong phnum = BinaryPrimitives.ReadUInt16LittleEndian(head[(at + 2)..]);
        ulong shentsize = BinaryPrimitives.ReadUInt16LittleEndian(head[(at + 4)..]);
        ulong shnum = BinaryPrimitives.ReadUInt16LittleEndian(head[(at + 6)..]);
        ulong headerSize = is64 ? 64UL : 52UL;
        ulong end = headerSize;
        // Each term fits in 64 bits without overflow only when small; anything past 2^62 is not a file.
        const ulong Limit = 1UL << 62;
        if (phoff > Limit || shoff > Limit)
            return -1;
        if (phnum > 0)
        {
            ulong tableEnd = phoff + phentsize * phnum;
            if (phentsize < (is64 ? 56UL : 32UL) || tableEnd > (ulong)head.Length)
                return -1;
            end = Math.Max(end, tableEnd);
            for (ulong i = 0; i < phnum; i++)
            {
                var entry = head[(int)(phoff + i * phentsize)..];
                ulong offset = is64 ? BinaryPrimitives.ReadUInt64LittleEndian(entry[8..]) : BinaryPrimitives.ReadUInt32LittleEndian(entry[4..]);
                ulong size = is64 ? BinaryPrimitives.ReadUInt64LittleEndian(entry[32..]) : BinaryPrimitives.ReadUInt32LittleEndian(entry[16..]);
                if (offset > Limit || size > Limit)
                    return -1;
                end = Math.Max(end, offset + size);
            }
        }
        if (shnum > 0)
            end = Math.Max(end, shoff + shentsize * shnum);
        return (long)end;
    }

    /// <summary>Where a self-contained executable's XAR starts: <paramref name="elfEnd"/> rounded up to <see cref="XarAlignment"/>.</summary>
    public static long XarStart(long elfEnd) => (elfEnd + XarAlignment - 1) & ~(XarAlignment - 1);
}
