namespace Xar.SquashFs.Runtime;

/// <summary>
/// Deletes a tree the runtime owns (a stale temporary extraction, a collected cache entry):
/// never follows a symlink, and makes read-only directories writable first so an image's
/// 0555 directories cannot make an entry undeletable.
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
        if ((st.Value.Permissions & 0x1C0) != 0x1C0)
            RuntimeInterop.Chmod(path, (int)(st.Value.Permissions | 0x1C0));
        foreach (string child in Directory.EnumerateFileSystemEntries(path))
            Delete(child);
        Directory.Delete(path);
    }
}
