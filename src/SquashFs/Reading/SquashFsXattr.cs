using System.Text;

namespace Xar.SquashFs;

/// <summary>One extended attribute: the full name (with its namespace prefix) and the value.</summary>
public sealed class SquashFsXattr(byte[] nameBytes, byte[] value)
{
    /// <summary>The name as stored, e.g. "user.comment" (any bytes but NUL).</summary>
    public byte[] NameBytes { get; } = nameBytes;

    public string Name => Encoding.UTF8.GetString(NameBytes);

    public byte[] Value { get; } = value;

    public override string ToString() => Name;
}
