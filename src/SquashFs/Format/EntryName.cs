namespace Xar.SquashFs.Format;

/// <summary>What a directory entry's name may be: one path component, so it can never lead elsewhere.</summary>
internal static class EntryName
{
    /// <summary>Not empty, not "." or "..", and without '/' or NUL.</summary>
    public static bool IsSafe(ReadOnlySpan<byte> name) =>
        name.Length > 0 && !name.SequenceEqual("."u8) && !name.SequenceEqual(".."u8)
        && name.IndexOfAny((byte)'/', (byte)0) < 0;
}
