namespace Xar.SquashFs.Writing;

/// <summary>One extended attribute: the prefix id (0 user., 1 trusted., 2 security.), the rest of the name, the value.</summary>
internal readonly record struct Xattr(ushort Prefix, byte[] Name, byte[] Value);
