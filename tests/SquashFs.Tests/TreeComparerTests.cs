using System.Text;
using Xar.Tests;

namespace Xar.SquashFs.Tests;

/// <summary>
/// The tree comparer that judges every extraction and every image in the other tests: identical
/// trees pass, and each kind of difference it promises to see makes it fail, named in the report.
/// </summary>
public sealed class TreeComparerTests : IDisposable
{
    /// <summary>
    /// Builds the same tree every time at $1: every kind of entry, hard links of a file, an empty
    /// file, a symlink and a fifo, xattrs (one empty), a name that is not UTF-8, a hole; as root
    /// also devices, an owner and a trusted.* xattr; with $2 = deep, a file 4.4 KB deep (beyond PATH_MAX).
    /// </summary>
    private const string MakeTree = """
        set -euo pipefail
        mkdir "$1"
        cd "$1"
        mkdir -p sub/deeper empty
        printf 'hello\n' > sub/file
        printf 'other\n' > sub/deeper/b
        head -c 300000 /dev/zero | tr '\0' q > big
        printf 'odd\n' > $'name-\xff\n-odd'
        ln -s file sub/link
        ln -s ../missing dangling
        ln sub/file hard
        : > empty-file
        ln empty-file empty-hard
        mkfifo fifo
        ln fifo fifo-hard
        ln -s file sub/symlink-a
        ln -P sub/symlink-a sub/symlink-b
        printf 's\n' > setuid
        chmod 4711 setuid
        chmod 1777 empty
        truncate -s 1M holey
        printf data | dd of=holey bs=1 seek=500000 conv=notrunc status=none
        setfattr -n user.note -v value sub/file
        setfattr -n user.empty sub/file
        setfattr -n user.dir -v d sub
        if [[ $(id -u) == 0 ]]; then
            mknod chr c 1 3
            mknod blk b 259 65536
            chown 1234:5678 sub/deeper/b
            setfattr -n trusted.t -v secret sub/deeper/b
        fi
        if [[ ${2:-} == deep ]]; then (
            n=$(printf 'd%.0s' {1..200})
            for i in $(seq 22); do mkdir $n; cd $n; done
            printf 'deep\n' > leaf
            setfattr -n user.deep -v yes leaf
            ln leaf leaf-hard
        ) fi
        find . -depth -execdir touch -h -d @1600000000 {} +
        # Symlink atimes in the future: mksquashfs 4.5.1 splits a hard-linked symlink whose atime
        # changes (reading it, under relatime) between the stats of its two names.
        find . -type l -execdir touch -h -a -d @4294967295 {} +
        """;

    private readonly TempDir _tmp = new("treecmp");

    public void Dispose() => _tmp.Dispose();

    private string Build(string name, bool deep = true)
    {
        TestEnv.RequireTool("setfattr");
        string dir = _tmp[name];
        TestEnv.Run("bash", "-c", MakeTree, "make-tree", dir, deep ? "deep" : "").EnsureSuccess("make the tree");
        return dir;
    }

    private static void Change(string tree, string script) =>
        TestEnv.Run(new RunOptions("bash", ["-c", "set -euo pipefail; cd \"$1\"; " + script, "change", tree])).EnsureSuccess(script);

    [SkippableFact]
    public void IdenticalTreesPass()
    {
        string a = Build("a"), b = Build("b");
        var result = TreeComparer.Compare(a, b);
        Assert.True(result.Identical, result.Report);
        Assert.Empty(result.Differences);
        Assert.Contains("IDENTICAL", result.Report);
        Assert.True(TreeComparer.Compare(a, a).Identical);
    }

    public static TheoryData<string, string, string, string> Changes => new()
    {
        // name, change made to B, what the report must say about it, the option that stops looking at it ("" = none)
        { "one byte", "printf J | dd of=sub/file bs=1 conv=notrunc status=none; touch -d @1600000000 sub/file", "differ: sub/file: sha256 A=", "" },
        { "one byte, not UTF-8 name", "printf ODD | dd of=$'name-\\xff\\n-odd' bs=1 conv=notrunc status=none; touch -d @1600000000 $'name-\\xff\\n-odd'", "differ: name-\\xff\\n-odd: sha256 A=", "" },
        { "one byte past PATH_MAX", "for i in $(seq 22); do cd $(printf 'd%.0s' {1..200}); done; printf D | dd of=leaf bs=1 conv=notrunc status=none; touch -d @1600000000 leaf", "/leaf: sha256 A=", "" },
        { "size", "printf more >> sub/deeper/b; touch -d @1600000000 sub/deeper/b", "differ: sub/deeper/b: size A=6 B=10; sha256", "" },
        { "mode", "chmod 0600 setuid", "differ: setuid: mode A=4711 B=0600", "" },
        { "sticky bit", "chmod 0777 empty", "differ: empty: mode A=1777 B=0777", "" },
        { "mtime", "touch -d @1600000001 sub/deeper/b", "differ: sub/deeper/b: mtime A=1600000000 B=1600000001", "--no-times" },
        { "top directory mtime", "touch -d @1600000001 .", "differ: .: mtime A=1600000000 B=1600000001", "--no-root" },
        { "xattr value", "setfattr -n user.note -v valuE sub/file", "differ: sub/file: xattr user.note A=\"value\" B=\"valuE\"", "--no-xattrs" },
        { "empty xattr gone", "setfattr -x user.empty sub/file", "differ: sub/file: xattr user.empty A=\"\" B=-", "--no-xattrs" },
        { "directory xattr", "setfattr -n user.dir -v e sub", "differ: sub: xattr user.dir A=\"d\" B=\"e\"", "--no-xattrs" },
        { "symlink target", "rm sub/link; ln -s fil sub/link; touch -h -d @1600000000 sub/link sub", "differ: sub/link: target A=file B=fil", "" },
        { "type", "rm fifo; : > fifo; touch -d @1600000000 fifo .", "differ: fifo: type A=fifo B=file", "" },
        { "hard link split", "cp -a hard hard.new; mv hard.new hard; touch -d @1600000000 .", "differ: hard: link-group A=hard (2 paths) B=-", "" },
        { "hard-linked symlink split", "cp -a sub/symlink-b sub/symlink-b.new; mv sub/symlink-b.new sub/symlink-b; touch -d @1600000000 sub", "differ: sub/symlink-a: link-group A=sub/symlink-a (2 paths) B=-", "" },
        { "hard link added", "ln -f big sub/deeper/b; touch -d @1600000000 sub/deeper", "link-group A=- B=big (2 paths)", "" },
        { "file only in B", "printf x > extra; touch -d @1600000000 extra .", "only in B: extra (file)", "" },
    };

    [SkippableTheory]
    [MemberData(nameof(Changes))]
    public void EachChangeFailsAndItsOptionIgnoresIt(string name, string change, string expected, string ignoredWith)
    {
        string a = Build("a"), b = Build("b");
        Change(b, change);
        var result = TreeComparer.Compare(a, b);
        Assert.False(result.Identical, $"{name}: not seen\n{result.Report}");
        Assert.Contains(result.Differences, d => d.Contains(expected));
        Assert.Contains(expected, result.Report);
        Assert.Contains("DIFFERENT", result.Report);
        if (ignoredWith.Length > 0)
        {
            var ignoring = TreeComparer.Compare(a, b, ignoredWith);
            Assert.True(ignoring.Identical, $"{name} with {ignoredWith}:\n{ignoring.Report}");
        }
    }

    /// <summary>
    /// A chain of 4000 directories (8 KB of path): the walk (a list of open directories, not a call per level)
    /// reaches the bottom, where the one difference is.
    /// </summary>
    [SkippableFact]
    public void ChainsThousandsOfDirectoriesDeepAreWalked()
    {
        TestEnv.RequireTool("python3");
        const string MakeChain = """
            import os, sys
            fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
            for _ in range(4000):
                os.mkdir("d", dir_fd=fd)
                child = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
                os.close(fd)
                fd = child
            leaf = os.open("leaf", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
            os.write(leaf, sys.argv[2].encode())
            os.close(leaf)
            """;
        string a = _tmp["deep-a"], b = _tmp["deep-b"];
        try
        {
            foreach (var (tree, text) in (ReadOnlySpan<(string, string)>)[(a, "a\n"), (b, "b\n")])
            {
                Directory.CreateDirectory(tree);
                TestEnv.Run("python3", "-c", MakeChain, tree, text).EnsureSuccess("make the chain");
            }
            var result = TreeComparer.Compare(a, b, "--no-times");
            string leaf = string.Concat(Enumerable.Repeat("d/", 4000)) + "leaf";
            Assert.StartsWith($"differ: {leaf}: sha256 A=", Assert.Single(result.Differences));
        }
        finally
        {
            // Beyond PATH_MAX: rm walks by descriptors, where .NET's recursive delete gives up.
            TestEnv.Run("rm", "-rf", a, b);
        }
    }

    [SkippableFact]
    public void OwnersAreComparedUnlessNoOwner()
    {
        TestEnv.RequireRoot();
        string a = Build("a"), b = Build("b");
        Change(b, "chown 1234:5679 sub/deeper/b");
        var result = TreeComparer.Compare(a, b);
        Assert.Equal(["differ: sub/deeper/b: gid A=5678 B=5679"], result.Differences);
        Change(b, "chown 1:5678 sub/deeper/b");
        Assert.Equal(["differ: sub/deeper/b: uid A=1234 B=1"], TreeComparer.Compare(a, b).Differences);
        Assert.True(TreeComparer.Compare(a, b, "--no-owner").Identical);
    }

    [SkippableFact]
    public void DevicesAreComparedByMajorAndMinor()
    {
        TestEnv.RequireRoot();
        string a = Build("a"), b = Build("b");
        Change(b, "rm blk; mknod blk b 259 65537; touch -d @1600000000 blk .");
        Assert.Equal(["differ: blk: rdev A=259,65536 B=259,65537"], TreeComparer.Compare(a, b).Differences);
    }

    [SkippableFact]
    public void OnlyTheTopOfATreeOnOneSideIsListed()
    {
        string a = Build("a"), b = Build("b");
        Change(a, "mkdir -p gone/x; printf 1 > gone/x/f; touch -d @1600000000 gone/x/f gone/x gone .");
        var result = TreeComparer.Compare(a, b);
        Assert.Equal(["only in A: gone (dir)"], result.Differences);
        Assert.Contains("DIFFERENT: 3 of", result.Report);
        Assert.Contains("2 below a path only on one side not listed", result.Report);
    }

    [SkippableFact]
    public void TheReportShowsTheFirst20Differences()
    {
        string a = Build("a"), b = Build("b");
        Change(a, "for i in $(seq 30); do printf a > f$i; done; touch -d @1600000000 f* .");
        Change(b, "for i in $(seq 30); do printf b > f$i; done; touch -d @1600000000 f* .");
        var result = TreeComparer.Compare(a, b);
        Assert.Equal(30, result.Differences.Count);
        Assert.Equal(20, result.Report.Split('\n').Count(l => l.StartsWith("differ: ")));
        Assert.Contains("DIFFERENT: 30 of", result.Report);
        Assert.Equal(30, TreeComparer.Compare(a, b, "--max", "0").Report.Split('\n').Count(l => l.StartsWith("differ: ")));
    }

    [SkippableFact]
    public void SparseComparesAllocatedBlocks()
    {
        string a = Build("a", deep: false), b = Build("b", deep: false);
        Change(b, "cp --sparse=never holey holey.new; mv holey.new holey; touch -d @1600000000 holey .");
        Assert.True(TreeComparer.Compare(a, b).Identical);
        var result = TreeComparer.Compare(a, b, "--sparse");
        Assert.Contains(result.Differences, d => d.StartsWith("differ: holey: blocks A="));
    }

    [SkippableFact]
    public void InodesCompareInodeNumbersAndLinkCounts()
    {
        string a = Build("a", deep: false), b = Build("b", deep: false);
        Assert.True(TreeComparer.Compare(a, b).Identical);
        var result = TreeComparer.Compare(a, b, "--inodes");
        Assert.Contains(result.Differences, d => d.StartsWith("differ: sub/file: ino A="));
        Assert.True(TreeComparer.Compare(a, a, "--inodes").Identical);
    }

    [SkippableFact]
    public void UnknownOptionsAndNonImagesAreRefused()
    {
        string a = Build("a", deep: false);
        Assert.Throws<ArgumentException>(() => TreeComparer.Compare(a, a, "--no-such-option"));
        Assert.Throws<ArgumentException>(() => TreeComparer.Compare(a, a, "--via"));
        File.WriteAllText(_tmp["script"], "#!/bin/sh\necho not a xar\n");
        Assert.Throws<InvalidDataException>(() => TreeComparer.Compare(a, _tmp["script"]));
        File.WriteAllText(_tmp["text"], "plain text");
        Assert.Throws<InvalidDataException>(() => TreeComparer.Compare(a, _tmp["text"]));
    }

    // ---- images, read by the real peers ----

    private (string Tree, string Image) BuildImage()
    {
        TestEnv.RequireRoot();
        TestEnv.RequireTool("mksquashfs");
        string tree = Build("tree", deep: false); // mksquashfs leaves out paths beyond PATH_MAX
        string image = _tmp["tree.sqfs"];
        TestEnv.Run(TestEnv.FindTool("mksquashfs")!, tree, image, "-noappend", "-no-progress", "-quiet").EnsureSuccess("mksquashfs");
        return (tree, image);
    }

    /// <summary>The comparer's own folder: empty again afterwards, and nothing left mounted under it.</summary>
    private string WorkDir()
    {
        string work = _tmp["work"];
        Directory.CreateDirectory(work);
        return work;
    }

    private static void AssertCleanedUp(string work)
    {
        Assert.Empty(Directory.EnumerateFileSystemEntries(work));
        Assert.DoesNotContain(File.ReadAllLines("/proc/self/mountinfo"), l => l.Contains(work));
    }

    [SkippableTheory]
    [InlineData("kernel")]
    [InlineData("squashfuse_ll")]
    [InlineData("squashfuse")]
    [InlineData("unsquashfs")]
    public void AnImageMatchesItsTreeThroughEachReader(string via)
    {
        TestEnv.RequireFuse();
        TestEnv.RequireTool(via == "kernel" ? "mount" : via);
        var (tree, image) = BuildImage();
        string work = WorkDir();
        var result = TreeComparer.Compare(tree, image, "--via", via, "--tmp", work);
        Assert.True(result.Identical, result.Report);
        Assert.Contains($"via {via}", result.Report);
        if (via.StartsWith("squashfuse"))
        {
            // squashfuse 0.1.x's quirks are undone (and said), not hidden by leaving xattrs out.
            Assert.Contains("listed xattr with unreadable (empty) value read as \"\"", result.Report);
            Assert.Contains("security.* read back as trusted.*", result.Report);
        }
        if (via == "squashfuse")
            Assert.Contains("hard links compared by nlink only", result.Report);
        AssertCleanedUp(work);

        // And a difference is still seen through the reader: one byte, and one hard link split.
        Change(tree, "printf J | dd of=sub/file bs=1 conv=notrunc status=none; touch -d @1600000000 sub/file; cp -a empty-hard e; mv e empty-hard; touch -d @1600000000 .");
        var changed = TreeComparer.Compare(tree, image, "--via", via, "--tmp", work);
        Assert.Contains(changed.Differences, d => d.StartsWith("differ: sub/file: sha256 A="));
        Assert.Contains(changed.Differences, d => d.StartsWith("differ: empty-hard: ") && (d.Contains("link-group") || d.Contains("nlink A=1 B=2")));
        AssertCleanedUp(work);
    }

    [SkippableFact]
    public void AXarIsReadAtItsHeadersOffset()
    {
        var (tree, image) = BuildImage();
        string xar = _tmp["tree.xar"];
        var header = Encoding.ASCII.GetBytes("#!/usr/bin/env xarexec_fuse\nOFFSET=\"4096\"\nUUID=\"0123abcd\"\n#xar_stop\n");
        using (var f = File.Create(xar))
        {
            f.Write(header);
            f.Write(new byte[4096 - header.Length]);
            f.Write(File.ReadAllBytes(image));
        }
        var result = TreeComparer.Compare(tree, xar);
        Assert.True(result.Identical, result.Report);
        Assert.Contains("offset 4096, via kernel", result.Report);
        Assert.True(TreeComparer.Compare(xar, image + "@0", "--via-a", "unsquashfs", "--via-b", "kernel").Identical);
    }

    [SkippableFact]
    public void TwoKernelMountsOfOneImageShowTheSameInodes()
    {
        var (tree, image) = BuildImage();
        var result = TreeComparer.Compare(image, image, "--via", "kernel", "--inodes");
        Assert.True(result.Identical, result.Report);
        Assert.False(TreeComparer.Compare(tree, image, "--via", "kernel", "--inodes").Identical);
    }

    /// <summary>Any mount command is a reader: one that returns once mounted, and a server that stays in the foreground.</summary>
    [SkippableFact]
    public void AMountCommandIsAReader()
    {
        TestEnv.RequireFuse();
        var (tree, image) = BuildImage();
        string work = WorkDir();
        var kernel = TreeComparer.Compare(tree, image, "--via", "mount:mount -t squashfs -o \"loop,ro,offset=$OFFSET\" \"$IMAGE\" \"$MOUNTPOINT\"", "--tmp", work);
        Assert.True(kernel.Identical, kernel.Report);
        AssertCleanedUp(work);
        // squashfuse_ll -f serves until unmounted; as an unknown reader it gets no quirk handling, so xattrs are left out.
        var foreground = TreeComparer.Compare(tree, image, "--via-b", "mount:exec squashfuse_ll -f -o \"offset=$OFFSET\" \"$IMAGE\" \"$MOUNTPOINT\"", "--no-xattrs", "--tmp", work);
        Assert.True(foreground.Identical, foreground.Report);
        AssertCleanedUp(work);
        Assert.Empty(TestEnv.Run("pgrep", "-f", "squashfuse_ll -f -o offset=0 " + image).StandardOutput);
    }

    [SkippableFact]
    public void AReaderThatFailsIsReportedAndCleanedUp()
    {
        var (tree, image) = BuildImage();
        string work = WorkDir();
        var e = Assert.Throws<InvalidOperationException>(() => TreeComparer.Compare(tree, image, "--via", "mount:echo cannot serve this >&2; exit 3", "--tmp", work));
        Assert.Contains("exit 3", e.Message);
        Assert.Contains("cannot serve this", e.Message);
        AssertCleanedUp(work);
        Assert.Throws<ArgumentException>(() => TreeComparer.Compare(tree, image, "--via", "no-such-reader", "--tmp", work));
        AssertCleanedUp(work);
    }
}
