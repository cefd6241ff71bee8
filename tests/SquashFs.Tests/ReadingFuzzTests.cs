using System.Buffers.Binary;
using System.Diagnostics;
using Xar.SquashFs.Format;
using Xar.Tests;

namespace Xar.SquashFs.Tests;

/// <summary>
/// Mutated images (fixed seeds): truncations, bit flips, superblock table offsets and counts
/// rewritten, metadata words set to boundary values. Every one must end in a complete read or a
/// <see cref="SquashFsCorruptException"/> (nothing else, no hang, no runaway memory).
/// </summary>
public class ReadingFuzzTests
{
    private const int MaxCaseMilliseconds = 2000;
    private const long MaxCaseAllocatedBytes = 512L << 20;

    public static TheoryData<string, string[], int, int> Bases => new()
    {
        // name, mksquashfs options, seed, cases
        { "gzip-4K", ["-b", "4K"], 1, 3500 },
        { "uncompressed-4K", ["-b", "4K", "-noI", "-noD", "-noF", "-noX"], 2, 4000 },
        { "zstd-exports", ["-b", "4K", "-comp", "zstd", "-exports"], 3, 1500 },
        { "xz-no-fragments", ["-b", "4K", "-comp", "xz", "-no-fragments"], 4, 1000 },
    };

    [SkippableTheory]
    [MemberData(nameof(Bases))]
    public void MutatedImagesReadOrFailCleanly(string name, string[] options, int seed, int cases)
    {
        using var tmp = new TempDir("fuzz-" + name);
        ReadingTestImages.MakeSmallTree(tmp["tree"]);
        byte[] original = ReadingTestImages.MkSquashFs(tmp["tree"], tmp["base.sqfs"], options);
        // The unmutated image reads completely.
        ReadEverything(original, extractTo: null);

        var rng = new Random(seed);
        int corrupt = 0;
        for (int i = 0; i < cases; i++)
        {
            byte[] image = Mutate(original, rng, out string how);
            string? extractTo = i % 100 == 0 ? tmp[$"x{i}"] : null;
            long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
            var watch = Stopwatch.StartNew();
            try
            {
                ReadEverything(image, extractTo);
            }
            catch (InvalidArchiveException e)
            {
                corrupt++;
                Assert.False(string.IsNullOrWhiteSpace(e.Message), $"case {i} ({how}): empty message");
            }
            catch (Exception e)
            {
                Assert.Fail($"{name} case {i} ({how}): {e.GetType().Name}: {e.Message}\n{e.StackTrace}");
            }
            watch.Stop();
            long allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
            Assert.True(watch.ElapsedMilliseconds < MaxCaseMilliseconds, $"{name} case {i} ({how}) took {watch.ElapsedMilliseconds} ms");
            Assert.True(allocated < MaxCaseAllocatedBytes, $"{name} case {i} ({how}) allocated {allocated >> 20} MiB");
            if (extractTo is not null)
            {
                // An extraction either completed or left nothing behind, not even its temporary directory.
                var left = Directory.GetFileSystemEntries(tmp.Path).Select(Path.GetFileName).Where(n => n!.StartsWith('.') || n.StartsWith('x')).ToList();
                Assert.True(left.Count <= 1 && (left.Count == 0 || left[0] == Path.GetFileName(extractTo)), $"case {i}: left behind {string.Join(", ", left)}");
                if (Directory.Exists(extractTo))
                    new TempDirRemover(extractTo).Dispose();
            }
        }
        // The mutations must mostly hit something, or the test proves little.
        Assert.True(corrupt > cases / 4, $"only {corrupt} of {cases} mutations were detected as corrupt");
    }

    /// <summary>Opens the image and reads every entry, file byte and xattr; extracts it when asked.</summary>
    internal static void ReadEverything(byte[] bytes, string? extractTo)
    {
        using var image = SquashFsImage.Open(new MemoryStream(bytes, writable: false));
        var seen = new HashSet<uint>();
        var stack = new Stack<SquashFsEntry>();
        stack.Push(image.Root);
        var buffer = new byte[8192];
        int entries = 0;
        while (stack.Count > 0)
        {
            var dir = stack.Pop();
            if (!seen.Add(dir.InodeNumber))
                throw new SquashFsCorruptException("directory loop");
            foreach (var e in image.EnumerateDirectory(dir))
            {
                if (++entries > 10_000)
                    throw new InvalidOperationException("more entries than the image can hold");
                image.GetXattrs(e);
                _ = e.Mode;
                switch (e.EntryType)
                {
                    case SquashFsEntryType.Directory:
                        stack.Push(e);
                        break;
                    case SquashFsEntryType.RegularFile:
                        using (var s = image.OpenRead(e))
                        {
                            long total = 0;
                            int n;
                            while ((n = s.Read(buffer)) > 0)
                                total += n;
                            Assert.Equal(e.Length, total);
                        }
                        break;
                }
            }
        }
        image.GetEntry("sub/deeper/b");
        image.GetEntry("dirlink/deeper/b", followSymlinks: true);
        image.Verify();
        if (extractTo is not null)
            SquashFsFile.ExtractToDirectory(image, extractTo, new SquashFsExtractOptions { MaxDegreeOfParallelism = 2 });
    }

    internal static byte[] Mutate(byte[] original, Random rng, out string how)
    {
        byte[] b = (byte[])original.Clone();
        var sb = Superblock.Read(original);
        int kind = rng.Next(6);
        switch (kind)
        {
            case 0:
            {
                int length = rng.Next(b.Length);
                how = $"truncated to {length}";
                return b[..length];
            }
            case 1:
            {
                int flips = 1 + rng.Next(8);
                how = $"{flips} bit flips";
                for (int i = 0; i < flips; i++)
                {
                    int at = rng.Next(b.Length);
                    b[at] ^= (byte)(1 << rng.Next(8));
                }
                return b;
            }
            case 2:
            {
                // A table start or the root reference rewritten.
                int[] fields = [32, 40, 48, 56, 64, 72, 80, 88];
                int field = fields[rng.Next(fields.Length)];
                ulong old = BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(field));
                ulong value = rng.Next(4) switch
                {
                    0 => (ulong)rng.NextInt64(0, b.Length + 100),
                    1 => old + (ulong)rng.Next(-40, 40),
                    2 => ulong.MaxValue,
                    _ => (ulong)rng.NextInt64(),
                };
                BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(field), value);
                how = $"superblock u64 at {field}: {old} -> {value}";
                return b;
            }
            case 3:
            {
                // A count rewritten: inodes, fragments, ids, block size/log, flags.
                int[] fields = [4, 12, 16, 22, 24, 26];
                int field = fields[rng.Next(fields.Length)];
                uint value = Boundary(rng);
                if (field is 22 or 24 or 26)
                    BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(field), (ushort)value);
                else
                    BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(field), value);
                how = $"superblock count at {field} = {value}";
                return b;
            }
            default:
            {
                // Words inside the tables (inodes, directories, ids, fragments, xattrs) set to boundary values.
                long start = (long)sb.InodeTableStart;
                int at = (int)(start + rng.NextInt64(Math.Max(1, b.Length - start - 4)));
                uint value = Boundary(rng);
                int width = rng.Next(3);
                if (width == 0)
                    b[at] = (byte)value;
                else if (width == 1)
                    BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(at), (ushort)value);
                else
                    BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(at), value);
                how = $"table word at {at} (width {1 << width}) = {value}";
                return b;
            }
        }
    }

    private static uint Boundary(Random rng) => rng.Next(8) switch
    {
        0 => 0,
        1 => 1,
        2 => 0xFF,
        3 => 0xFFFF,
        4 => 0x7FFFFFFF,
        5 => 0xFFFFFFFF,
        6 => 0x8000,
        _ => (uint)rng.Next(0, 70000),
    };

    private sealed class TempDirRemover(string path) : IDisposable
    {
        public void Dispose()
        {
            TestEnv.Run("chmod", "-R", "u+rwX", path);
            TestEnv.Run("rm", "-rf", path);
        }
    }
}
