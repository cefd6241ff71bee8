using System.Buffers.Binary;
using System.Text;

namespace Xar.Packer.Python;

/// <summary>
/// The library search path (DT_RUNPATH, or the older DT_RPATH) of a bundled ELF file, made relative to the file. A
/// shared-library build (pyenv's, python.org's with --enable-shared) names its own lib folder there as an absolute path
/// on the packer's machine: the image's LD_LIBRARY_PATH hides it from the app, but boot.py takes that variable back out,
/// so a child Python (subprocess of sys.executable, multiprocessing's spawn) loaded libpython from that folder, or the
/// system's libpython of another version, or failed, wherever the file ran; DT_RPATH even wins over LD_LIBRARY_PATH.
/// The string is rewritten in place in .dynstr (no section grows): only ELF64 little-endian, the kinds of machines the
/// launcher runs on.
/// </summary>
internal static class ElfRunPath
{
    private const long DtNull = 0, DtNeeded = 1, DtStrTab = 5, DtStrSize = 10, DtSoName = 14, DtRPath = 15, DtRunPath = 29;

    /// <summary>
    /// Replaces a search path that names anything but $ORIGIN-relative folders with <paramref name="relative"/> (as
    /// "$ORIGIN/../lib"), padded with NULs. Returns the path replaced, or null when there was nothing to replace (no
    /// search path, one already relative, not an ELF64 little-endian file). Throws InvalidDataException when it cannot
    /// (the new text does not fit, or a library name shares its bytes; symbol names have no '/', so could share only its
    /// last component, a symbol named "lib": not met in practice).
    /// </summary>
    public static string? MakeRelative(string file, string relative)
    {
        byte[] elf = File.ReadAllBytes(file);
        if (elf.Length < 64 || !elf.AsSpan(0, 4).SequenceEqual("\u007fELF"u8) || elf[4] != 2 || elf[5] != 1)
            return null;
        long phOffset = (long)BinaryPrimitives.ReadUInt64LittleEndian(elf.AsSpan(0x20));
        int phSize = BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(0x36)), phCount = BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(0x38));
        var loads = new List<(ulong Address, ulong Offset, ulong Size)>();
        (long Offset, long Size)? dynamic = null;
        for (int i = 0; i < phCount; i++)
        {
            long at = phOffset + (long)i * phSize;
            if (phSize < 56 || at < 0 || at + 56 > elf.Length)
                return null;
            var header = elf.AsSpan((int)at, 56);
            uint type = BinaryPrimitives.ReadUInt32LittleEndian(header);
            ulong offset = BinaryPrimitives.ReadUInt64LittleEndian(header[8..]), address = BinaryPrimitives.ReadUInt64LittleEndian(header[16..]);
            ulong fileSize = BinaryPrimitives.ReadUInt64LittleEndian(header[32..]);
            if (type == 1)
                loads.Add((address, offset, fileSize));
            else if (type == 2)
                dynamic = ((long)offset, (long)fileSize);
        }
        if (dynamic is not { } dyn || dyn.Offset < 0 || dyn.Offset + dyn.Size > elf.Length)
            return null;
        ulong strTab = 0, strSize = 0;
        var names = new List<ulong>(); // string offsets other entries use: the path's bytes must not be one of theirs
        long pathEntry = -1;
        for (long at = dyn.Offset; at + 16 <= dyn.Offset + dyn.Size; at += 16)
        {
            long tag = BinaryPrimitives.ReadInt64LittleEndian(elf.AsSpan((int)at));
            ulong value = BinaryPrimitives.ReadUInt64LittleEndian(elf.AsSpan((int)at + 8));
            if (tag == DtNull)
                break;
            if (tag == DtStrTab)
                strTab = value;
            else if (tag == DtStrSize)
                strSize = value;
            else if (tag is DtRunPath or DtRPath)
                pathEntry = pathEntry < 0 ? at : throw new InvalidDataException($"{file}: two library search paths (DT_RPATH and DT_RUNPATH)");
            else if (tag is DtNeeded or DtSoName)
                names.Add(value);
        }
        if (pathEntry < 0)
            return null;
        // .dynstr's address to its place in the file, through the loaded segment that holds it.
        if (loads.FirstOrDefault(l => strTab >= l.Address && strTab < l.Address + l.Size) is not { Size: > 0 } load)
            throw new InvalidDataException($"{file}: its string table is in no loaded segment");
        long table = (long)(strTab - load.Address + load.Offset);
        ulong pathOffset = BinaryPrimitives.ReadUInt64LittleEndian(elf.AsSpan((int)pathEntry + 8));
        long start = table + (long)pathOffset;
        if (pathOffset >= strSize || start >= elf.Length)
            throw new InvalidDataException($"{file}: its library search path is outside its string table");
        int length = elf.AsSpan((int)start).IndexOf((byte)0);
        if (length < 0)
            throw new InvalidDataException($"{file}: its library search path is not terminated");
        string path = Encoding.UTF8.GetString(elf, (int)start, length);
        if (path.Split(':').All(p => p.StartsWith("$ORIGIN", StringComparison.Ordinal) || p.StartsWith("${ORIGIN}", StringComparison.Ordinal)))
            return null;
        byte[] replacement = Encoding.UTF8.GetBytes(relative);
        if (replacement.Length > length)
            throw new InvalidDataException($"{file}: its library search path {path} is shorter than {relative}, which cannot be written in its place");
        if (names.Any(n => n > pathOffset && n <= pathOffset + (ulong)length))
            throw new InvalidDataException($"{file}: its library search path {path} shares its bytes with a library name");
        // A copy keeps its source's mode, often read-only (0555): writable while it is written, then as it was, so the
        // image shows the mode the interpreter's files have.
        if (OperatingSystem.IsWindows())
            throw new PlatformNotSupportedException();
        var mode = File.GetUnixFileMode(file);
        File.SetUnixFileMode(file, mode | UnixFileMode.UserWrite);
        using (var stream = new FileStream(file, FileMode.Open, FileAccess.Write))
        {
            stream.Position = start;
            stream.Write(replacement);
            stream.Write(new byte[length - replacement.Length]);
        }
        File.SetUnixFileMode(file, mode);
        return path;
    }
}
