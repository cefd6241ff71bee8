using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace Xar.Tests;

/// <summary>The verdict of one comparison: every difference found and a report to show on failure.</summary>
public sealed record TreeComparison(bool Identical, IReadOnlyList<string> Differences, IReadOnlyList<string> Problems, string Report);

/// <summary>
/// Do two trees hold exactly the same files? A and B are each a directory, a bare SquashFS image
/// or a XAR (the image at the header's OFFSET); images are read through a real peer (--via).
/// For every path (raw bytes): type; permission bits incl. setuid/setgid/sticky; uid, gid; mtime
/// in whole seconds; regular files: size and SHA-256 of the bytes; symlinks: target; devices:
/// major,minor; xattrs: every name and exact value; hard links: the partition of paths into link
/// groups (not raw nlink); and the top directory's own attributes. Not compared unless asked
/// (<see cref="TreeCompareOptions"/>): inode numbers, link counts, allocated blocks; never: atime,
/// ctime, directory sizes. A path that cannot be read is never called equal.
/// </summary>
public static class TreeComparer
{
    public static TreeComparison Compare(string a, string b, params string[] options) => Compare(a, b, TreeCompareOptions.Parse(options));

    public static TreeComparison Compare(string a, string b, TreeCompareOptions options)
    {
        string work = options.WorkDirectory is null
            ? Directory.CreateTempSubdirectory("xar-treecmp-").FullName
            : Directory.CreateDirectory(Path.Combine(options.WorkDirectory, "xar-treecmp-" + Guid.NewGuid().ToString("N")[..12])).FullName;
        var views = new List<ImageView>();
        TreeComparison result;
        try
        {
            var sideA = Open(a, options.ViaA, options.OffsetA, Path.Combine(work, "a"), views);
            var sideB = Open(b, options.ViaB, options.OffsetB, Path.Combine(work, "b"), views);
            var settings = new ManifestSettings
            {
                Owner = options.Owner,
                Times = options.Times,
                Xattrs = options.Xattrs,
                Root = options.Root,
                WriteBits = options.WriteBits,
                Inodes = options.Inodes,
                Sparse = options.Sparse,
                LinkCountsOnly = ((sideA.Quirks | sideB.Quirks) & ReaderQuirks.InodePerPath) != 0,
            };
            // One thread per side: each mostly waits on its own reader.
            var scanA = Task.Run(() => TreeManifest.Scan(sideA.Root, settings, sideA.Quirks));
            var scanB = Task.Run(() => TreeManifest.Scan(sideB.Root, settings, sideB.Quirks));
            Task.WhenAll(scanA, scanB).GetAwaiter().GetResult(); // the first failure as it is, not wrapped
            result = Judge(sideA, scanA.Result, sideB, scanB.Result, settings, options.MaxShown);
        }
        catch
        {
            CloseAll(views, work, throwOnFailure: false);
            throw;
        }
        CloseAll(views, work, throwOnFailure: true);
        return result;
    }

    private sealed record Side(string Root, string Description, ReaderQuirks Quirks);

    private static Side Open(string path, string via, long? offset, string place, List<ImageView> views)
    {
        if (!Path.Exists(path) && Regex.Match(path, @"^(.+)@([0-9]+)$") is { Success: true } at && File.Exists(at.Groups[1].Value))
        {
            path = at.Groups[1].Value;
            offset = long.Parse(at.Groups[2].Value);
        }
        if (Directory.Exists(path))
            return new Side(path, "directory " + path, ReaderQuirks.None);
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: no such file or directory");
        long start = offset ?? FindImage(path);
        using (var f = File.OpenRead(path))
        {
            var magic = new byte[4];
            f.Position = start;
            if (f.ReadAtLeast(magic, 4, throwOnEndOfStream: false) != 4 || !magic.AsSpan().SequenceEqual("hsqs"u8))
                throw new InvalidDataException($"{path}: no SquashFS magic (hsqs) at offset {start}");
        }
        var view = ImageReaders.Resolve(via).Open(path, start, place);
        views.Add(view);
        return new Side(view.Root, view.Description, view.Quirks);
    }

    /// <summary>0 for a bare image; N for a XAR, whose header's second line is OFFSET="N".</summary>
    private static long FindImage(string path)
    {
        var head = new byte[8192];
        int n;
        using (var f = File.OpenRead(path))
            n = f.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        var bytes = head.AsSpan(0, n);
        if (bytes.StartsWith("hsqs"u8))
            return 0;
        if (bytes.StartsWith("#!"u8))
        {
            string[] lines = Encoding.Latin1.GetString(bytes).Split('\n');
            if (lines.Length > 1 && Regex.Match(lines[1], "^OFFSET=\"([0-9]+)\"$") is { Success: true } m)
                return long.Parse(m.Groups[1].Value);
            throw new InvalidDataException($"{path}: starts with #! but line 2 is not OFFSET=\"N\" (give --offset-a/-b)");
        }
        throw new InvalidDataException($"{path}: no SquashFS magic at offset 0 and no XAR header (give --offset-a/-b)");
    }

    private static void CloseAll(List<ImageView> views, string work, bool throwOnFailure)
    {
        var failures = new List<Exception>();
        for (int i = views.Count - 1; i >= 0; i--)
        {
            try
            {
                views[i].Dispose();
            }
            catch (Exception e) when (e is IOException or InvalidOperationException or UnauthorizedAccessException or Xunit.Sdk.XunitException)
            {
                failures.Add(e);
            }
        }
        // Not recursive: whatever is left (a mount that would not go) is left alone, not deleted through.
        if (failures.Count == 0)
            Directory.Delete(work);
        if (throwOnFailure && failures.Count > 0)
            throw new AggregateException("tree comparison: cleaning up failed", failures);
    }

    private static TreeComparison Judge(Side sideA, TreeManifest a, Side sideB, TreeManifest b, ManifestSettings settings, int maxShown)
    {
        var differences = new List<string>();
        int hidden = 0;
        var paths = a.Entries.Keys.Union(b.Entries.Keys).Order(RawPath.TreeOrder).ToList();
        foreach (string path in paths)
        {
            var ea = a.Entries.GetValueOrDefault(path);
            var eb = b.Entries.GetValueOrDefault(path);
            if (ea is null || eb is null)
            {
                // Below a directory that is only on one side, the directory's line says it all.
                var other = ea is null ? a : b;
                if (path.Length > 0 && !other.Entries.ContainsKey(RawPath.Parent(path)))
                    hidden++;
                else
                    differences.Add($"only in {(ea is null ? "B" : "A")}: {RawPath.Show(path)} ({(ea ?? eb)!.Type})");
                continue;
            }
            var parts = new List<string>();
            foreach (string field in ea.Fields.Keys.Union(eb.Fields.Keys).Order(ManifestEntry.FieldOrder))
            {
                string va = ea.Fields.GetValueOrDefault(field, "-"), vb = eb.Fields.GetValueOrDefault(field, "-");
                if (va != vb)
                    parts.Add($"{field} A={Shorten(va)} B={Shorten(vb)}");
            }
            if (parts.Count > 0)
                differences.Add($"differ: {RawPath.Show(path)}: {string.Join("; ", parts)}");
        }

        var problems = a.Problems.Select(p => "cannot read on A: " + p).Concat(b.Problems.Select(p => "cannot read on B: " + p)).ToList();
        var report = new StringBuilder();
        report.AppendLine($"A: {sideA.Description}").AppendLine($"B: {sideB.Description}");
        foreach (var (label, manifest) in new[] { ("A", a), ("B", b) })
            foreach (var (what, count) in manifest.QuirkNotes)
                report.AppendLine($"reader quirk on {label}: {what} ({count} times)");
        if (settings.LinkCountsOnly)
            report.AppendLine("high-level squashfuse in use: hard links compared by nlink only");
        int shown = maxShown == 0 ? differences.Count : Math.Min(maxShown, differences.Count);
        foreach (string d in differences.Take(shown))
            report.AppendLine(d);
        foreach (string p in problems.Take(maxShown == 0 ? problems.Count : maxShown))
            report.AppendLine(p);
        int total = differences.Count + hidden;
        if (problems.Count > 0)
            report.AppendLine($"NO VERDICT: {a.Problems.Count} unreadable paths on A, {b.Problems.Count} on B; {total} of {paths.Count} paths differ");
        else if (total > 0)
            report.AppendLine($"DIFFERENT: {total} of {paths.Count} paths differ ({shown} shown{(hidden > 0 ? $", {hidden} below a path only on one side not listed" : "")})");
        else
            report.AppendLine($"IDENTICAL: {paths.Count} paths ({a.FileCount} files, {a.FileBytes} file bytes)");
        return new TreeComparison(total == 0 && problems.Count == 0, differences, problems, report.ToString());
    }

    /// <summary>A long value cut for the report, with a hash of the whole so a difference past the cut still shows.</summary>
    private static string Shorten(string value) =>
        value.Length <= 100 ? value
            : $"{value[..72]}...({value.Length} chars, sha256 {Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(value)))[..12]})";
}
