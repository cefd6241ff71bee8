using System.Diagnostics;
using Xar.Runtime.Fuse;
using Xar.SquashFs;
using Xar.Tests;

namespace Xar.Interop.Tests;

/// <summary>Trees, images, mounts and processes for the built-in FUSE server's tests.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal static class FuseServerSupport
{
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
