namespace Xar.SquashFs.Runtime;

/// <summary>
/// Deletes a tree the runtime owns (a stale temporary extraction, a collected cache entry):
/// never follows a symlink, and makes read-only directories writable first so an image's
/// 0555 directories cannot make an entry undeletable. Names are handled as raw bytes (the
/// extractor's remover): an image's names need not be UTF-8, and .NET's string paths cannot
/// name such a file to delete it.
/// </summary>
internal static class TreeDeleter
{
    public static void Delete(string path)
    {
        var st = PosixPath.TryLstat(path);
        if (st is null)
            return;
        if (!st.Value.IsDirectory)
        {
            File.Delete(path);
            return;
        }
        Extraction.TreeRemover.Remove(path);
        if (PosixPath.TryLstat(path) is not null)
            throw new IOException($"cannot delete {path} completely");
    }
}
