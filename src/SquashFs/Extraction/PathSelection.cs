using System.Text;
using Xar.Posix;

namespace Xar.SquashFs.Extraction;

/// <summary>
/// The paths asked for (<see cref="SquashFsExtractOptions.Paths"/>) as a tree of names: the walk
/// enters only names that are in it; a node asked for as a whole takes everything below it.
/// </summary>
internal sealed class PathSelection
{
    private readonly Dictionary<byte[], PathSelection> _children = new(ByteArrayComparer.Instance);

    private bool _whole;

    /// <summary>Null when the whole image is asked for (no paths, or the root among them).</summary>
    public static PathSelection? Build(SquashFsImage image, IReadOnlyList<string>? paths)
    {
        if (paths is null || paths.Count == 0)
            return null;
        var root = new PathSelection();
        foreach (var path in paths)
        {
            var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Any(p => p is "." or ".."))
                throw new ArgumentException($"{path}: paths to extract may not contain \".\" or \"..\"");
            if (image.GetEntry(path, followSymlinks: false) is null)
                throw new FileNotFoundException($"{path}: not found in the image (symlinks are not followed)", path);
            var node = root;
            if (parts.Length == 0)
                return null;
            foreach (var part in parts)
            {
                var key = LosslessUtf8.Encode(part);
                if (!node._children.TryGetValue(key, out var next))
                    node._children[key] = next = new PathSelection();
                node = next;
            }
            node._whole = true;
        }
        return root;
    }

    /// <summary>
    /// Whether the walk enters <paramref name="name"/>; <paramref name="child"/> is the selection
    /// below it, null when everything below it is wanted.
    /// </summary>
    public bool TryEnter(byte[] name, out PathSelection? child)
    {
        if (!_children.TryGetValue(name, out child))
            return false;
        if (child._whole)
            child = null;
        return true;
    }
}
