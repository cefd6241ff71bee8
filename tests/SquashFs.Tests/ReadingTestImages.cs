using System.Text;
using Xar.Tests;

namespace Xar.SquashFs.Tests;

/// <summary>Small trees and the images mksquashfs makes of them, for the reader's unit, fuzz and hostile tests.</summary>
internal static class ReadingTestImages
{
    /// <summary>A small tree with one of everything a reader meets: blocks, a fragment, a sparse file, links, a fifo, xattrs.</summary>
    public static void MakeSmallTree(string root)
    {
        Directory.CreateDirectory(root);
        File.WriteAllText(Path.Combine(root, "hello.txt"), "hello, world\n");
        var rng = new Random(7);
        var big = new byte[3 * 4096 + 1000];
        rng.NextBytes(big);
        File.WriteAllBytes(Path.Combine(root, "blocks.bin"), big);
        var text = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("compressible text ", 600)));
        File.WriteAllBytes(Path.Combine(root, "text.txt"), text);
        using (var f = File.Create(Path.Combine(root, "sparse.bin")))
        {
            f.SetLength(5 * 4096);
            f.Position = 2 * 4096;
            f.Write(big.AsSpan(0, 4096));
        }
        Directory.CreateDirectory(Path.Combine(root, "sub", "deeper"));
        File.WriteAllText(Path.Combine(root, "sub", "a"), "a");
        File.WriteAllText(Path.Combine(root, "sub", "deeper", "b"), "bb");
        File.CreateSymbolicLink(Path.Combine(root, "link"), "sub/a");
        File.CreateSymbolicLink(Path.Combine(root, "dirlink"), "sub");
        TestEnv.Run("ln", Path.Combine(root, "hello.txt"), Path.Combine(root, "hello-hard")).EnsureSuccess("ln");
        TestEnv.Run("mkfifo", Path.Combine(root, "fifo")).EnsureSuccess("mkfifo");
        if (TestEnv.FindTool("setfattr") is { } setfattr)
            TestEnv.Run(setfattr, "-n", "user.comment", "-v", "a value", Path.Combine(root, "hello.txt"));
        foreach (var p in Directory.EnumerateFileSystemEntries(root, "*", SearchOption.AllDirectories).Append(root))
            TestEnv.Run("touch", "-h", "-d", "@1700000000", p);
    }

    public static byte[] MkSquashFs(string source, string image, params string[] options)
    {
        TestEnv.RequireTool("mksquashfs");
        TestEnv.Run(TestEnv.FindTool("mksquashfs")!, [source, image, "-noappend", "-no-progress", "-quiet", .. options]).EnsureSuccess("mksquashfs");
        return File.ReadAllBytes(image);
    }
}
