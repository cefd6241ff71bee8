using System.Buffers.Binary;
using System.Text;

namespace Xar.Packer.Desktop;

/// <summary>
/// An application icon, told by its bytes: a PNG (its size from the IHDR chunk) or an SVG. The hicolor
/// icon theme keeps a PNG under its pixel size (48x48/apps) and an SVG under scalable/apps.
/// </summary>
public sealed record class DesktopIcon(bool IsSvg, int Width, int Height)
{
    /// <summary>The sizes the hicolor theme lists (Debian's index.theme): a PNG of another size is not looked up.</summary>
    public static readonly int[] ThemeSizes = [16, 22, 24, 32, 36, 48, 64, 72, 96, 128, 192, 256, 512];

    public string Extension => IsSvg ? ".svg" : ".png";

    /// <summary>The hicolor directory the icon belongs in: "scalable" or "WxH".</summary>
    public string ThemeDirectory => IsSvg ? "scalable" : $"{Width}x{Height}";

    /// <summary>True when the theme looks an icon of this size up (every SVG; a square PNG of a listed size).</summary>
    public bool IsThemeSize => IsSvg || (Width == Height && ThemeSizes.Contains(Width));

    /// <summary>The icon <paramref name="bytes"/> hold, or null when they are neither a PNG nor an SVG.</summary>
    public static DesktopIcon? Identify(ReadOnlySpan<byte> bytes)
    {
        // PNG: the 8-byte signature, then the IHDR chunk (length 13) with width and height, big-endian.
        ReadOnlySpan<byte> signature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];
        if (bytes.StartsWith(signature))
        {
            if (bytes.Length < 24 || !bytes[12..16].SequenceEqual("IHDR"u8))
                return null;
            int width = (int)Math.Min(BinaryPrimitives.ReadUInt32BigEndian(bytes[16..]), int.MaxValue);
            int height = (int)Math.Min(BinaryPrimitives.ReadUInt32BigEndian(bytes[20..]), int.MaxValue);
            return width > 0 && height > 0 ? new DesktopIcon(false, width, height) : null;
        }
        // SVG: XML text whose first element is <svg (after an XML declaration, comments or a doctype).
        string head = Encoding.UTF8.GetString(bytes[..Math.Min(bytes.Length, 4096)]).TrimStart('\uFEFF');
        int at = 0;
        while (at < head.Length)
        {
            while (at < head.Length && char.IsWhiteSpace(head[at]))
                at++;
            if (string.CompareOrdinal(head, at, "<svg", 0, 4) == 0)
                return new DesktopIcon(true, 0, 0);
            string? close = string.CompareOrdinal(head, at, "<?", 0, 2) == 0 ? "?>"
                : string.CompareOrdinal(head, at, "<!--", 0, 4) == 0 ? "-->"
                : string.CompareOrdinal(head, at, "<!", 0, 2) == 0 ? ">"
                : null;
            if (close is null)
                return null;
            int end = head.IndexOf(close, at, StringComparison.Ordinal);
            if (end < 0)
                return null;
            at = end + close.Length;
        }
        return null;
    }
}
