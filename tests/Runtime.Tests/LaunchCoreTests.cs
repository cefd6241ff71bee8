using System.Runtime.InteropServices;
using System.Text;
using Xar.Posix;
using Xar.Runtime.Launching;
using Xar.SquashFs;
using Xar.Tests;

namespace Xar.Runtime.Tests;

/// <summary>
/// The launch core without root, FUSE or a launcher binary: every step that does not exec, called in the
/// test process with an environment of the test's own (Locate and Mount modes; the Run mode's failures).
/// </summary>
public sealed unsafe class LaunchCoreTests : IDisposable
{
    private readonly TempDir _tmp = new("launch-core");

    public void Dispose() => _tmp.Dispose();

    private string BuildXar(string? target = "run.sh", string? mountRoot = null)
    {
        string source = _tmp["src"];
        Directory.CreateDirectory(source);
        File.WriteAllText(Path.Combine(source, "run.sh"), "#!/bin/sh\necho hi\n");
        string image = _tmp["image.sqfs"];
        if (!File.Exists(image))
            SquashFsFile.CreateFromDirectory(source, image);
        var extra = mountRoot is null ? null : new[] { new KeyValuePair<string, string>("MOUNT_ROOT", mountRoot) };
        var header = new XarHeader("0123456789abcdef", "1", target, extra);
        string xar = _tmp[$"app-{Guid.NewGuid():N}.xar"];
        File.WriteAllBytes(xar, [.. header.ToBytes(), .. File.ReadAllBytes(image)]);
        return xar;
    }

    /// <summary>Runs the core on <paramref name="file"/> with exactly <paramref name="env"/> as its environment.</summary>
    private static LaunchOutcome Launch(string file, LaunchMode mode, IReadOnlyDictionary<string, string> env, FuseUnavailability skip = FuseUnavailability.None)
    {
        var entries = env.Select(e => Encoding.UTF8.GetBytes($"{e.Key}={e.Value}\0")).ToList();
        var envp = (byte**)NativeMemory.Alloc((nuint)(entries.Count + 1), (nuint)sizeof(byte*));
        var handles = entries.Select(e => GCHandle.Alloc(e, GCHandleType.Pinned)).ToList();
        try
        {
            for (int i = 0; i < entries.Count; i++)
                envp[i] = (byte*)handles[i].AddrOfPinnedObject();
            envp[entries.Count] = null;
            byte[] path = Encoding.UTF8.GetBytes(file + "\0");
            byte** args = stackalloc byte*[1];
            args[0] = null;
            LaunchOutcome outcome = default;
            fixed (byte* p = path)
                LaunchCore.Run(p, args, 0, envp, mode, skip, ref outcome);
            if (outcome.XarFd >= 0)
                LibC.Close(outcome.XarFd);
            return outcome;
        }
        finally
        {
            handles.ForEach(h => h.Free());
            NativeMemory.Free(envp);
        }
    }

    private static string Text(byte* buffer) => Marshal.PtrToStringUTF8((nint)buffer) ?? "";

    private static void CloseRoot(in LaunchOutcome o)
    {
        if (o.CacheRootFd >= 0)
            LibC.Close(o.CacheRootFd);
    }

    private Dictionary<string, string> Env(params (string Name, string Value)[] values)
    {
        var env = new Dictionary<string, string> { ["HOME"] = _tmp["home"], ["PATH"] = "/usr/bin:/bin" };
        foreach (var (name, value) in values)
            env[name] = value;
        return env;
    }

    [Fact]
    public void AFileThatCannotBeOpenedOrReadFailsAtTheFirstStepWithItsErrno()
    {
        var missing = Launch(_tmp["nope.xar"], LaunchMode.Run, Env());
        Assert.Equal((LaunchStatus.Failed, LaunchSubject.XarFile, LaunchProblem.CannotOpen, LibC.ENOENT), (missing.Status, missing.Subject, missing.Problem, missing.Errno));
        var directory = Launch(_tmp.Path, LaunchMode.Run, Env());
        Assert.Equal((LaunchSubject.XarFile, LaunchProblem.CannotRead, LibC.EISDIR), (directory.Subject, directory.Problem, directory.Errno));
    }

    [Fact]
    public void AHeaderThatBreaksARuleFailsWithTheRuleBroken()
    {
        File.WriteAllText(_tmp["script"], "#!/bin/sh\necho not a xar\n");
        var o = Launch(_tmp["script"], LaunchMode.Run, Env());
        Assert.Equal((LaunchSubject.Header, LaunchProblem.InvalidHeader, XarHeaderFault.NoShebang), (o.Subject, o.Problem, o.HeaderFault));
    }

    [Theory]
    [InlineData(null, LaunchProblem.NoTarget)]
    [InlineData("/bin/sh", LaunchProblem.TargetNotRelative)]
    [InlineData("a/../../b", LaunchProblem.TargetNotRelative)]
    [InlineData("..", LaunchProblem.TargetNotRelative)]
    public void TheTargetMustBeARelativePathInsideTheImageToRun(string? target, LaunchProblem problem)
    {
        string xar = BuildXar(target);
        var o = Launch(xar, LaunchMode.Run, Env(("XAR_EXTRACT", "1"), ("XAR_CACHE_DIR", _tmp["cache"])));
        Assert.Equal((LaunchStatus.Failed, LaunchSubject.Target, problem), (o.Status, o.Subject, o.Problem));
        // Locating runs nothing: the target is not checked.
        Assert.Equal(LaunchStatus.Located, Launch(xar, LaunchMode.Locate, Env(("XAR_EXTRACT", "1"), ("XAR_CACHE_DIR", _tmp["cache"]))).Status);
    }

    [Fact]
    public void AMountTimeoutThatIsNotANumberFailsBeforeAnythingIsCreated()
    {
        string xar = BuildXar();
        var o = Launch(xar, LaunchMode.Mount, Env(("XAR_MOUNT_TIMEOUT", "soon"), ("XAR_EXTRACT", "1"), ("XAR_CACHE_DIR", _tmp["cache"])));
        Assert.Equal((LaunchSubject.MountTimeout, LaunchProblem.NotANumber, "soon"), (o.Subject, o.Problem, Text(o.DetailPointer())));
        Assert.False(Directory.Exists(_tmp["cache"]));
        Assert.Equal(LaunchStatus.Located, Launch(xar, LaunchMode.Locate, Env(("XAR_MOUNT_TIMEOUT", " 5 "), ("XAR_EXTRACT", "1"), ("XAR_CACHE_DIR", _tmp["cache"]))).Status);
    }

    [Fact]
    public void LocateNamesTheMountDirectoryAsFacebooksLauncherDoesAndCreatesNothing()
    {
        string root = _tmp["mnt"];
        Directory.CreateDirectory(root);
        File.SetUnixFileMode(root, (UnixFileMode)0x3FF); // 1777
        string xar = BuildXar();
        var o = Launch(xar, LaunchMode.Locate, Env(("XAR_MOUNT_ROOT", root + "//"), ("XAR_MOUNT_SEED", "build-42")));
        Assert.Equal(LaunchStatus.Located, o.Status);
        Assert.Equal($"{root}/uid-{LibC.GetEuid()}/0123456789abcdef-seed-build-42-ns-{Inode("/proc/self/ns/mnt")}", Text(o.DirectoryPointer()));
        Assert.False(Directory.Exists(Path.Combine(root, $"uid-{LibC.GetEuid()}")));

        var fromHeader = Launch(BuildXar(mountRoot: root), LaunchMode.Locate, Env(("XAR_MOUNT_SEED", "s")));
        Assert.Equal($"{root}/uid-{LibC.GetEuid()}/0123456789abcdef-seed-s-ns-{Inode("/proc/self/ns/mnt")}", Text(fromHeader.DirectoryPointer()));
    }

    private static ulong Inode(string path)
    {
        Assert.Equal(0, LibC.StatxAt(LibC.AT_FDCWD, path, 0, LibC.STATX_BASIC_STATS, out var st));
        return st.Ino;
    }

    private static ulong FdInode(int fd)
    {
        Assert.Equal(0, LibC.FStatx(fd, out var st));
        return st.Ino;
    }

    [Fact]
    public void ANamedMountRootThatIsNotStickyAndWorldWritableIsRefused()
    {
        string root = _tmp["mnt"];
        Directory.CreateDirectory(root);
        File.SetUnixFileMode(root, (UnixFileMode)0x1FF); // 0777
        var o = Launch(BuildXar(), LaunchMode.Locate, Env(("XAR_MOUNT_ROOT", root)));
        Assert.Equal((LaunchStatus.Failed, LaunchSubject.MountRoot, LaunchProblem.WrongMode, 0x1FFu), (o.Status, o.Subject, o.Problem, o.ObservedMode & 0xFFF));
    }

    [Fact]
    public void WithoutAnEntryTheCoreAsksForAnExtractionIntoTheOpenCacheDirectory()
    {
        string cache = _tmp["deep/cache"];
        var o = Launch(BuildXar(), LaunchMode.Mount, Env(("XAR_EXTRACT", "1"), ("XAR_CACHE_DIR", cache)));
        try
        {
            Assert.Equal((LaunchStatus.NeedsExtraction, FuseUnavailability.Forced), (o.Status, o.FuseReason));
            Assert.Equal(cache, Text(o.DirectoryPointer()));
            Assert.Equal(Inode(cache), FdInode(o.CacheRootFd));
            Assert.Equal((UnixFileMode)0x1C0, File.GetUnixFileMode(cache)); // created 0700, with its parents
        }
        finally
        {
            CloseRoot(o);
        }
    }

    [Fact]
    public void TheCacheNamedByTheEnvironmentIsTheCacheEvenWhenTheDefaultOneHoldsTheEntry()
    {
        string xar = BuildXar();
        string defaultCache = Path.Combine(_tmp["xdg"], "xar");
        Directory.CreateDirectory(Path.Combine(defaultCache, "0123456789abcdef"));
        File.SetUnixFileMode(defaultCache, (UnixFileMode)0x1C0);
        var inDefault = Launch(xar, LaunchMode.Mount, Env(("XAR_EXTRACT", "1"), ("XDG_CACHE_HOME", _tmp["xdg"])));
        Assert.Equal(LaunchStatus.Cached, inDefault.Status);
        Assert.Equal(Path.Combine(defaultCache, "0123456789abcdef"), Text(inDefault.DirectoryPointer()));

        var named = Launch(xar, LaunchMode.Mount, Env(("XAR_EXTRACT", "1"), ("XDG_CACHE_HOME", _tmp["xdg"]), ("XAR_CACHE_DIR", _tmp["chosen"])));
        CloseRoot(named);
        Assert.Equal(LaunchStatus.NeedsExtraction, named.Status);
        Assert.Equal(_tmp["chosen"], Text(named.DirectoryPointer()));
    }

    [Fact]
    public void ANamedCacheThatOthersCanWriteOrThatSitsInADirectoryOthersCanChangeIsRefused()
    {
        string xar = BuildXar();
        string open = _tmp["open"];
        Directory.CreateDirectory(open);
        File.SetUnixFileMode(open, (UnixFileMode)0x1FF); // 0777: anyone may rename what is inside
        var writable = Launch(xar, LaunchMode.Mount, Env(("XAR_EXTRACT", "1"), ("XAR_CACHE_DIR", open)));
        Assert.Equal((LaunchStatus.Failed, LaunchSubject.CacheRoot, LaunchProblem.WritableByOthers), (writable.Status, writable.Subject, writable.Problem));

        string inside = Path.Combine(open, "cache");
        Directory.CreateDirectory(inside);
        File.SetUnixFileMode(inside, (UnixFileMode)0x1C0);
        var untrusted = Launch(xar, LaunchMode.Mount, Env(("XAR_EXTRACT", "1"), ("XAR_CACHE_DIR", inside)));
        Assert.Equal((LaunchStatus.Failed, LaunchSubject.CacheRoot, LaunchProblem.UntrustedParent), (untrusted.Status, untrusted.Subject, untrusted.Problem));
        Assert.Equal(open, Text(untrusted.DetailPointer()));

        File.SetUnixFileMode(open, (UnixFileMode)0x3FF); // 1777: sticky, so others cannot rename our entries
        var sticky = Launch(xar, LaunchMode.Mount, Env(("XAR_EXTRACT", "1"), ("XAR_CACHE_DIR", inside)));
        CloseRoot(sticky);
        Assert.Equal(LaunchStatus.NeedsExtraction, sticky.Status);
    }

    [Fact]
    public void AnEarlierFuseFailureInThisProcessGoesStraightToTheCacheWithItsReason()
    {
        var o = Launch(BuildXar(), LaunchMode.Mount, Env(("XAR_CACHE_DIR", _tmp["cache"])), FuseUnavailability.MountDidNotAppear);
        CloseRoot(o);
        Assert.Equal((LaunchStatus.NeedsExtraction, FuseUnavailability.MountDidNotAppear), (o.Status, o.FuseReason));
    }
}
