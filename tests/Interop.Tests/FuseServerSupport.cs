using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;
using Xar.Posix;
using Xar.Runtime;
using Xar.Runtime.Fuse;
using Xar.Runtime.Launching;
using Xar.SquashFs;
using Xar.Tests;

namespace Xar.Interop.Tests;

/// <summary>Trees, images, mounts and processes for the built-in FUSE server's tests.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal static class FuseServerSupport
{
    private static readonly TimeSpan ServerReadyWait = TimeSpan.FromSeconds(15);

    /// <summary>
    /// Mounts <paramref name="image"/> (the image at <paramref name="offset"/> in it) on <paramref name="mountPoint"/> with
    /// the launcher's server started as the launch core starts it (Launching/FuseServerLaunch): the image as descriptor 3,
    /// a pipe as descriptor 4, no --foreground, so the server detaches and answers one line there. Returns once the
    /// mount serves. A test's own: the launcher has the allocation-free start, the xar executable StartDaemon.
    /// </summary>
    /// <exception cref="FuseUnavailableException">The server did not start; the message says why.</exception>
    public static unsafe void StartServer(SafeFileHandle image, long offset, string mountPoint, int timeoutSeconds, FuseAccess access)
    {
        var arguments = new FuseDaemon.Arguments
        {
            ImageFd = 3, ReadyFd = 4, Offset = offset, TimeoutSeconds = timeoutSeconds, Access = access,
            MountPoint = Encoding.UTF8.GetBytes(Path.GetFullPath(mountPoint)),
        };
        byte[][] argv = [Encoding.UTF8.GetBytes(LauncherBinary.Path), .. arguments.ToArgv()];
        int* fds = stackalloc int[2];
        if (LibC.Pipe2(fds, LibC.O_CLOEXEC) != 0)
            throw new FuseUnavailableException($"cannot create a pipe: {LibC.Describe(LibC.LastError)}");
        int error, pid;
        byte** native = (byte**)NativeMemory.AllocZeroed((nuint)argv.Length + 1, (nuint)sizeof(byte*));
        try
        {
            for (int k = 0; k < argv.Length; k++)
            {
                native[k] = (byte*)NativeMemory.AllocZeroed((nuint)argv[k].Length + 1);
                argv[k].CopyTo(new Span<byte>(native[k], argv[k].Length));
            }
            error = HelperProcess.Spawn(native[0], native, LibC.Environ, -1, [(int)image.DangerousGetHandle(), fds[1]], newSession: false, out pid);
        }
        finally
        {
            for (int k = 0; k < argv.Length; k++)
                NativeMemory.Free(native[k]);
            NativeMemory.Free(native);
        }
        LibC.Close(fds[1]);
        if (error != 0)
        {
            LibC.Close(fds[0]);
            throw new FuseUnavailableException($"cannot run {LauncherBinary.Path}: {LibC.Describe(error)}");
        }
        string? line = ReadLine(fds[0], ServerReadyWait);
        LibC.Close(fds[0]);
        if (line is null)
            LibC.Kill(pid, LibC.SIGKILL);
        int status;
        while (LibC.WaitPid(pid, out status, 0) < 0)
            if (LibC.LastError != LibC.EINTR)
                throw new FuseUnavailableException($"cannot wait for the FUSE server: {LibC.Describe(LibC.LastError)}");
        if (line == "ok")
            return;
        if (line is null)
            throw new FuseUnavailableException($"the FUSE server was not ready within {ServerReadyWait.TotalSeconds:0} s");
        if (line.StartsWith("error: ", StringComparison.Ordinal))
            throw new FuseUnavailableException(line[7..]);
        int signal = status & 0x7f;
        throw new FuseUnavailableException(signal != 0 ? $"the FUSE server was killed by signal {signal}"
            : $"the FUSE server exited with status {(status >> 8) & 0xff} before it was ready");
    }

    /// <summary>One line (without the newline); what there was at end of file; null on timeout.</summary>
    private static unsafe string? ReadLine(int fd, TimeSpan timeout)
    {
        var line = new List<byte>();
        byte* buffer = stackalloc byte[256];
        long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        while (true)
        {
            var poll = new LibC.PollFd { Fd = fd, Events = LibC.POLLIN };
            int ready = LibC.Poll(&poll, 1, (int)Math.Max(0, deadline - Environment.TickCount64));
            if (ready < 0 && LibC.LastError == LibC.EINTR)
                continue;
            if (ready == 0)
                return null;
            nint n = LibC.Read(fd, buffer, 256);
            if (n < 0 && LibC.LastError == LibC.EINTR)
                continue;
            if (n <= 0)
                return Encoding.UTF8.GetString([.. line]).Trim();
            line.AddRange(new ReadOnlySpan<byte>(buffer, (int)n));
            int newline = line.IndexOf((byte)'\n');
            if (newline >= 0)
                return Encoding.UTF8.GetString([.. line], 0, newline);
        }
    }

    public static void RequireMounting()
    {
        TestEnv.RequireRoot();
        TestEnv.Require(File.Exists("/dev/fuse"), "needs /dev/fuse");
    }

    /// <summary>
    /// The edge cases a file system can hold: names of any bytes, hard links, symlinks, a fifo, a
    /// socket, devices (one with a large major and minor), setuid/setgid/sticky, xattrs (an empty
    /// value, trusted.*), a sparse file, empty files and directories, a path beyond PATH_MAX.
    /// </summary>
    public static void BuildEdgeTree(string root)
    {
        const string script = """
            set -euo pipefail
            cd "$1"
            mkdir -p dir/sub empty-dir
            printf 'hello\n' > dir/hello.txt
            : > empty-file
            head -c 300000 /dev/urandom > dir/random.bin
            seq 1 200000 > dir/sub/numbers.txt
            printf 'x' > $'name\nwith newline'
            printf 'y' > $'latin1-\xe9\xff-name'
            printf 'z' > "$(printf 'n%.0s' $(seq 1 255))"
            ln dir/hello.txt hard-link
            ln dir/hello.txt dir/sub/another-hard-link
            ln -s dir/hello.txt relative-link
            ln -s /etc/passwd absolute-link
            ln -s does-not-exist dangling-link
            ln -s "$(printf 't%.0s' $(seq 1 1000))" long-target-link
            mkfifo fifo
            python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' socket
            mknod char-dev c 1 3
            mknod block-dev b 7 0
            mknod big-dev c 4095 1048575
            printf 's' > setuid && chmod 4755 setuid
            printf 'g' > setgid && chmod 2711 setgid
            mkdir sticky && chmod 1777 sticky
            printf 'o' > odd-mode && chmod 0401 odd-mode
            printf 'u' > owned && chown 1234:5678 owned
            printf 'x' > xattrs
            setfattr -n user.empty -v "" xattrs
            setfattr -n user.comment -v "a value" xattrs
            setfattr -n trusted.secret -v 0x00ff00 xattrs
            setfattr -n user.on-dir -v d dir
            truncate -s 10M sparse
            printf 'middle' | dd of=sparse bs=1 seek=5000000 conv=notrunc status=none
            printf 'end' | dd of=sparse bs=1 seek=10485757 conv=notrunc status=none
            for i in $(seq 1 300); do printf '%s' "$i" > "dir/many-$i"; done
            touch -d @0 epoch-zero
            touch -d @4294967295 far-future
            deep=$(printf 'd%.0s' $(seq 1 200))
            mkdir deep && cd deep
            for i in $(seq 1 25); do mkdir "$deep" && cd "$deep"; done
            printf 'deep file\n' > leaf
            """;
        TestEnv.Run("bash", "-c", script, "edge", root).EnsureSuccess("building the edge tree");
    }

    public static void Pack(string source, string image, int blockSize = 128 * 1024) =>
        SquashFsFile.CreateFromDirectory(source, image, new SquashFsWriterOptions { BlockSize = blockSize, Jobs = 2 });

    /// <summary>A kernel loop mount of <paramref name="image"/>, unmounted on dispose.</summary>
    public sealed class KernelMount : IDisposable
    {
        public KernelMount(string image, string mountPoint)
        {
            Directory.CreateDirectory(mountPoint);
            TestEnv.Run("mount", "-t", "squashfs", "-o", "loop,ro", image, mountPoint).EnsureSuccess("mount -o loop");
            Path = mountPoint;
        }

        public string Path { get; }

        public void Dispose() => TestEnv.Run("umount", "-l", Path);
    }

    /// <summary>The built-in server mounted in this process.</summary>
    public static FuseServer MountInProcess(string image, string mountPoint, FuseServerOptions? options = null)
    {
        Directory.CreateDirectory(mountPoint);
        var server = FuseServer.Mount(SquashFsImage.Open(image), mountPoint, options ?? new FuseServerOptions { Source = image });
        server.Start();
        Assert.True(server.WaitUntilInitialized(TimeSpan.FromSeconds(10)), "INIT was not answered");
        return server;
    }

    public static string SmallImage(TempDir tmp)
    {
        string source = tmp["src"];
        Directory.CreateDirectory(source);
        File.WriteAllText(Path.Combine(source, "hello"), "hello\n");
        string image = tmp["small.sqfs"];
        Pack(source, image);
        return image;
    }

    public static bool IsMounted(string mountPoint) =>
        File.ReadAllText("/proc/mounts").Split('\n').Any(l => l.Split(' ').ElementAtOrDefault(1) == mountPoint);

    /// <summary>The pid of the xarexec-fuse process serving <paramref name="mountPoint"/>.</summary>
    public static int ServerPid(string mountPoint)
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid))
                continue;
            try
            {
                if (File.ReadAllText(Path.Combine(dir, "comm")).Trim() != "xarexec-fuse")
                    continue;
                var args = File.ReadAllText(Path.Combine(dir, "cmdline")).Split('\0');
                if (args.Contains(mountPoint))
                    return pid;
            }
            catch (IOException)
            {
            }
        }
        throw new Xunit.Sdk.XunitException($"no xarexec-fuse process serves {mountPoint}");
    }

    public static bool ProcessExists(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            return !stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z');
        }
        catch (IOException)
        {
            return false;
        }
    }

    public static bool WaitFor(Func<bool> condition, TimeSpan timeout)
    {
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < timeout)
        {
            if (condition())
                return true;
            Thread.Sleep(100);
        }
        return condition();
    }
}
