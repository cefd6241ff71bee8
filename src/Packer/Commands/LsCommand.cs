using System.CommandLine;
using System.Globalization;
using System.Text;
using Xar.Packer.Cli;
using Xar.Posix;
using Xar.SquashFs;

namespace Xar.Packer.Commands;

/// <summary>
/// `xar ls FILE [PATH] [-l]`: the tree as `unsquashfs -l` prints it (paths under "squashfs-root",
/// names as raw bytes), and with -l line for line as `unsquashfs -lls`.
/// </summary>
public static class LsCommand
{
    private const string Top = "squashfs-root";

    public static Command Create()
    {
        var file = ImageInput.FileArgument();
        var offset = ImageInput.OffsetOption();
        var path = new Argument<string?>("PATH") { Description = "list only this path (and what is below it)", Arity = ArgumentArity.ZeroOrOne };
        var longFormat = new Option<bool>("--long", "-l") { Description = "mode, owner, size, time and link target, like unsquashfs -lls" };
        var command = new Command("ls", "List the files in a XAR or SquashFS image.") { file, path, offset, longFormat };
        command.SetAction(parse =>
        {
            string input = parse.GetValue(file)!;
            return CliRunner.Run(ImageInput.Display(input), () =>
            {
                using var archive = ImageInput.Open(input, parse.GetValue(offset));
                var image = archive.Image;
                using var stdout = new HeldOutput(StandardOutput.Stream);
                using (var buffered = new BufferedStream(stdout, 1 << 16))
                {
                    new Lister(image, buffered, parse.GetValue(longFormat)).Run(parse.GetValue(path) is { } listed ? ImageInput.PathArgument(listed) : null);
                    buffered.Flush();
                }
                stdout.Commit();
                return ExitCodes.Success;
            });
        });
        return command;
    }

    private sealed class Lister(SquashFsImage image, Stream output, bool longFormat)
    {
        private readonly UnixNames? _names = longFormat ? UnixNames.Load() : null;

        public void Run(string? path)
        {
            var root = image.Root;
            byte[] top = Encoding.ASCII.GetBytes(Top);
            if (string.IsNullOrEmpty(path) || path.Trim('/').Length == 0)
            {
                Walk(root, top, 0);
                return;
            }
            // The directories on the way are listed, then the path and everything below it; the whole
            // path is looked up first, so a missing one prints nothing.
            var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
            var chain = new List<(SquashFsEntry Entry, byte[] Path)> { (root, top) };
            foreach (string part in parts)
            {
                var (current, currentPath) = chain[^1];
                byte[] name = LosslessUtf8.Encode(part);
                SquashFsEntry? next = null;
                if (current.EntryType == SquashFsEntryType.Directory)
                    foreach (var e in image.EnumerateDirectory(current))
                        if (e.NameBytes.AsSpan().SequenceEqual(name))
                        {
                            next = e;
                            break;
                        }
                if (next is null)
                    throw new UsageException($"{LosslessUtf8.Display(path)}: no such path in the image");
                chain.Add((next, Join(currentPath, name)));
            }
            foreach (var (entry, entryPath) in chain[..^1])
                Print(entry, entryPath);
            var (last, lastPath) = chain[^1];
            if (last.EntryType == SquashFsEntryType.Directory)
                Walk(last, lastPath, chain.Count - 1);
            else
                Print(last, lastPath);
        }

        /// <summary>
        /// Lists a directory and everything below it, depth first in stored order, without recursion:
        /// one enumerator per open level and one path buffer, so depth costs no stack and no copies
        /// of the path. A directory met twice is a loop; nesting deeper than xar's limit (the same
        /// for every command) has its own message.
        /// </summary>
        private void Walk(SquashFsEntry directory, byte[] path, int startDepth)
        {
            var visited = new HashSet<uint> { directory.InodeNumber };
            byte[] buffer = new byte[Math.Max(256, path.Length * 2)];
            path.CopyTo(buffer, 0);
            Print(directory, path);
            var levels = new Stack<(IEnumerator<SquashFsEntry> Children, int PathLength)>();
            levels.Push((image.EnumerateDirectory(directory).GetEnumerator(), path.Length));
            try
            {
                while (levels.Count > 0)
                {
                    var (children, length) = levels.Peek();
                    if (!children.MoveNext())
                    {
                        children.Dispose();
                        levels.Pop();
                        continue;
                    }
                    var entry = children.Current;
                    // A name such as ".." or "a/b" would print a path outside the listing (extract and verify refuse it too).
                    if (!entry.HasSafeName)
                        throw new SquashFs.Format.SquashFsCorruptException($"refusing entry name \"{NativePath.Display(entry.NameBytes)}\" (empty, \".\", \"..\", or contains '/' or NUL)");
                    int end = length + 1 + entry.NameBytes.Length;
                    if (end > buffer.Length)
                        Array.Resize(ref buffer, Math.Max(end, buffer.Length * 2));
                    buffer[length] = (byte)'/';
                    entry.NameBytes.CopyTo(buffer, length + 1);
                    if (entry.EntryType != SquashFsEntryType.Directory)
                    {
                        Print(entry, buffer.AsSpan(0, end));
                        continue;
                    }
                    if (!visited.Add(entry.InodeNumber))
                        throw new SquashFs.Format.SquashFsCorruptException($"{entry}: directory reached twice (a loop in the image)");
                    if (startDepth + levels.Count > SquashFs.Format.SquashFsConstants.MaxDirectoryDepth)
                        throw new SquashFs.Format.SquashFsCorruptException($"{entry}: directories nest deeper than {SquashFs.Format.SquashFsConstants.MaxDirectoryDepth} levels (xar's limit)");
                    Print(entry, buffer.AsSpan(0, end));
                    levels.Push((image.EnumerateDirectory(entry).GetEnumerator(), end));
                }
            }
            finally
            {
                foreach (var (children, _) in levels)
                    children.Dispose();
            }
        }

        private static byte[] Join(byte[] a, byte[] b)
        {
            var r = new byte[a.Length + 1 + b.Length];
            a.CopyTo(r, 0);
            r[a.Length] = (byte)'/';
            b.CopyTo(r, a.Length + 1);
            return r;
        }

        private void Print(SquashFsEntry entry, ReadOnlySpan<byte> path)
        {
            if (longFormat)
                output.Write(Encoding.UTF8.GetBytes(LongPrefix(entry)));
            output.Write(path);
            if (longFormat && entry.EntryType == SquashFsEntryType.SymbolicLink)
            {
                output.Write(" -> "u8);
                output.Write(entry.LinkNameBytes);
            }
            output.WriteByte((byte)'\n');
        }

        // unsquashfs -lls: "MODE USER/GROUP SIZE YYYY-MM-DD HH:MM ", the size right-aligned so that
        // owner and size take 25 columns together (wider owners push it right).
        private string LongPrefix(SquashFsEntry entry)
        {
            string user = _names!.User(entry.Uid);
            string group = _names.Group(entry.Gid);
            int pad = 25 - user.Length - group.Length;
            var sb = new StringBuilder(80);
            sb.Append(ModeString(entry)).Append(' ').Append(user).Append('/').Append(group).Append(' ');
            if (entry.EntryType is SquashFsEntryType.CharacterDevice or SquashFsEntryType.BlockDevice)
            {
                // unsquashfs: printf("%*s%3d,%3d ", pad - 7, " ", (int)dev >> 8, (int)dev & 0xff) on the stored 32-bit number.
                uint dev = entry.DeviceMinor & 0xFF | (entry.DeviceMajor << 8) | ((entry.DeviceMinor & ~0xFFu) << 12);
                sb.Append(' ', Math.Max(1, pad - 7));
                sb.Append(((int)dev >> 8).ToString(CultureInfo.InvariantCulture).PadLeft(3)).Append(',')
                  .Append((dev & 0xFF).ToString(CultureInfo.InvariantCulture).PadLeft(3));
            }
            else
            {
                // printf("%*lld", pad > 0 ? pad : 0, size)
                long size = entry.EntryType is SquashFsEntryType.Fifo or SquashFsEntryType.Socket ? 0 : entry.Length;
                sb.Append(size.ToString(CultureInfo.InvariantCulture).PadLeft(Math.Max(0, pad)));
            }
            var time = DateTimeOffset.FromUnixTimeSeconds(entry.ModificationTimeSeconds).ToLocalTime();
            sb.Append(' ').Append(time.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture)).Append(' ');
            return sb.ToString();
        }

        private static string ModeString(SquashFsEntry entry)
        {
            int m = (int)entry.Mode;
            var c = new char[10];
            c[0] = entry.EntryType switch
            {
                SquashFsEntryType.Directory => 'd',
                SquashFsEntryType.SymbolicLink => 'l',
                SquashFsEntryType.BlockDevice => 'b',
                SquashFsEntryType.CharacterDevice => 'c',
                SquashFsEntryType.Fifo => 'p',
                SquashFsEntryType.Socket => 's',
                _ => '-',
            };
            c[1] = (m & 0x100) != 0 ? 'r' : '-';
            c[2] = (m & 0x80) != 0 ? 'w' : '-';
            c[3] = Exec(m & 0x40, m & 0x800, 's');
            c[4] = (m & 0x20) != 0 ? 'r' : '-';
            c[5] = (m & 0x10) != 0 ? 'w' : '-';
            c[6] = Exec(m & 0x8, m & 0x400, 's');
            c[7] = (m & 0x4) != 0 ? 'r' : '-';
            c[8] = (m & 0x2) != 0 ? 'w' : '-';
            c[9] = Exec(m & 0x1, m & 0x200, 't');
            return new string(c);
        }

        private static char Exec(int x, int special, char letter) =>
            special != 0 ? (x != 0 ? letter : char.ToUpperInvariant(letter)) : (x != 0 ? 'x' : '-');
    }
}
