using System.Buffers.Binary;
using System.Text;
using Xar.Posix;
using Xar.Runtime.Fuse;
using Xar.SquashFs;
using Xar.SquashFs.Format;
using Xar.Tests;

namespace Xar.Runtime.Tests;

/// <summary>
/// The FUSE request dispatcher on its own, fed requests as the kernel writes them and read back
/// through a socket pair: what the kernel never sends a read-only mount (writes, unknown node ids,
/// opcodes it may grow), the lookup counting, resumable directory reads, xattr size probes, and a
/// corrupted image that must never take the server down. No mount, no root.
/// </summary>
public sealed unsafe class FuseDispatcherTests : IDisposable
{
    private const int SOCK_SEQPACKET = 5; // one reply per read
    private readonly TempDir _tmp = new("fuse-dispatch");
    private readonly List<IDisposable> _disposables = [];

    public void Dispose()
    {
        foreach (var d in _disposables.AsEnumerable().Reverse())
            d.Dispose();
        _tmp.Dispose();
    }

    /// <summary>A dispatcher over an image of <paramref name="build"/>'s tree, and the socket its replies come out of.</summary>
    private sealed class Harness : IDisposable
    {
        private readonly int _ours, _theirs;
        private readonly Queue<byte[]> _notifications = new();
        private ulong _unique = 1;

        public Harness(string image, uint owner = 0, bool rootAndOwnerOnly = false)
        {
            Fs = new ImageFileSystem(SquashFsImage.Open(image), 1 << 20);
            Dispatcher = new FuseDispatcher(Fs, owner, rootAndOwnerOnly);
            int* fds = stackalloc int[2];
            Assert.Equal(0, LibC.SocketPair(LibC.AF_UNIX, SOCK_SEQPACKET | LibC.SOCK_CLOEXEC, 0, fds));
            _ours = fds[0];
            _theirs = fds[1];
            LibC.Fcntl(_theirs, LibC.F_SETFL, LibC.O_NONBLOCK); // "no reply" reads as EAGAIN
            Worker = new FuseWorker(_ours, Dispatcher, Fs.BlockSize);
        }

        public ImageFileSystem Fs { get; }
        public FuseDispatcher Dispatcher { get; }
        public FuseWorker Worker { get; }

        /// <summary>Sends one request; returns (error, payload), or null when no reply came.</summary>
        public (int Error, byte[] Payload)? Send(FuseOpcode opcode, ulong nodeId, ReadOnlySpan<byte> body, uint uid = 0)
        {
            var request = new byte[FuseProtocol.InHeaderSize + body.Length];
            BinaryPrimitives.WriteUInt32LittleEndian(request, (uint)request.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(request.AsSpan(4), (uint)opcode);
            ulong unique = _unique++;
            BinaryPrimitives.WriteUInt64LittleEndian(request.AsSpan(8), unique);
            BinaryPrimitives.WriteUInt64LittleEndian(request.AsSpan(16), nodeId);
            BinaryPrimitives.WriteUInt32LittleEndian(request.AsSpan(24), uid);
            body.CopyTo(request.AsSpan(FuseProtocol.InHeaderSize));
            Dispatcher.Dispatch(request, Worker);
            var buffer = new byte[2 << 20];
            nint n;
            while (true)
            {
                fixed (byte* b = buffer)
                    n = LibC.Read(_theirs, b, buffer.Length);
                if (n < 0)
                    return null;
                // Notifications (unique 0) written while the request was served: kept for Notification().
                if (n >= FuseProtocol.OutHeaderSize && BinaryPrimitives.ReadUInt64LittleEndian(buffer.AsSpan(8)) == 0)
                {
                    _notifications.Enqueue(buffer.AsSpan(0, (int)n).ToArray());
                    continue;
                }
                break;
            }
            Assert.True(n >= FuseProtocol.OutHeaderSize);
            Assert.Equal((uint)n, BinaryPrimitives.ReadUInt32LittleEndian(buffer));
            Assert.Equal(unique, BinaryPrimitives.ReadUInt64LittleEndian(buffer.AsSpan(8)));
            int error = -BinaryPrimitives.ReadInt32LittleEndian(buffer.AsSpan(4));
            return (error, buffer.AsSpan(FuseProtocol.OutHeaderSize, (int)n - FuseProtocol.OutHeaderSize).ToArray());
        }

        /// <summary>INIT as a 6.x kernel sends it: every flag offered (zero-message opens among them), unless told otherwise.</summary>
        public void Init(uint flags = 0xFFFFFFFF)
        {
            var body = new byte[64];
            BinaryPrimitives.WriteUInt32LittleEndian(body, 7);
            BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(4), 44);
            BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(8), 131072);
            BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(12), flags);
            Assert.Equal(0, Send(FuseOpcode.Init, 0, body)!.Value.Error);
        }

        /// <summary>Starts storing small files' neighbours, as the server does, into this socket.</summary>
        public FragmentPrefetcher StartPrefetcher()
        {
            var prefetcher = new FragmentPrefetcher(_ours, Fs, Dispatcher.Nodes, servingThreads: 2);
            Dispatcher.Prefetcher = prefetcher;
            return prefetcher;
        }

        /// <summary>The next message the server wrote without being asked (a notification), or null within the timeout.</summary>
        public byte[]? Notification(int timeoutMs)
        {
            if (_notifications.TryDequeue(out var queued))
                return queued;
            var poll = new LibC.PollFd { Fd = _theirs, Events = LibC.POLLIN };
            if (LibC.Poll(&poll, 1, timeoutMs) <= 0)
                return null;
            var buffer = new byte[1 << 20];
            nint n;
            fixed (byte* b = buffer)
                n = LibC.Read(_theirs, b, buffer.Length);
            return n > 0 ? buffer.AsSpan(0, (int)n).ToArray() : null;
        }

        public (int Error, byte[] Payload) Lookup(ulong parent, string name) =>
            Send(FuseOpcode.Lookup, parent, Encoding.UTF8.GetBytes(name + "\0"))!.Value;

        public ulong LookupId(ulong parent, string name)
        {
            var (error, payload) = Lookup(parent, name);
            Assert.Equal(0, error);
            return BinaryPrimitives.ReadUInt64LittleEndian(payload);
        }

        public static byte[] ReadIn(ulong fh, ulong offset, uint size)
        {
            var body = new byte[40];
            BinaryPrimitives.WriteUInt64LittleEndian(body, fh);
            BinaryPrimitives.WriteUInt64LittleEndian(body.AsSpan(8), offset);
            BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(16), size);
            return body;
        }

        public void Dispose()
        {
            Worker.Dispose();
            Fs.Dispose();
            LibC.Close(_ours);
            LibC.Close(_theirs);
        }
    }

    private Harness Open(Action<string> build, uint owner = 0, bool rootAndOwnerOnly = false, uint initFlags = 0xFFFFFFFF)
    {
        string source = _tmp["src-" + _disposables.Count];
        Directory.CreateDirectory(source);
        build(source);
        string image = _tmp[$"image-{_disposables.Count}.sqfs"];
        SquashFsFile.CreateFromDirectory(source, image, new SquashFsWriterOptions { BlockSize = 4096, Jobs = 1 });
        var h = new Harness(image, owner, rootAndOwnerOnly);
        _disposables.Add(h);
        h.Init(initFlags);
        return h;
    }

    private static void SmallTree(string root)
    {
        File.WriteAllText(Path.Combine(root, "hello"), "hello\n");
        Directory.CreateDirectory(Path.Combine(root, "dir"));
        File.WriteAllText(Path.Combine(root, "dir", "inner"), new string('i', 10000));
    }

    [Fact]
    public void InitNegotiatesOnlyWhatTheKernelOffers()
    {
        var h = new Harness(Image(SmallTree));
        _disposables.Add(h);
        var body = new byte[64];
        BinaryPrimitives.WriteUInt32LittleEndian(body, 7);
        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(4), 31);
        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(8), 65536);
        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(12), FuseProtocol.AsyncRead | FuseProtocol.MaxPages | (1u << 1) /* POSIX_LOCKS */);
        var (error, reply) = h.Send(FuseOpcode.Init, 0, body)!.Value;
        Assert.Equal(0, error);
        Assert.Equal(7u, BinaryPrimitives.ReadUInt32LittleEndian(reply));
        Assert.Equal(31u, BinaryPrimitives.ReadUInt32LittleEndian(reply.AsSpan(4))); // the older of the two minors
        Assert.Equal(65536u, BinaryPrimitives.ReadUInt32LittleEndian(reply.AsSpan(8)));
        Assert.Equal(FuseProtocol.AsyncRead | FuseProtocol.MaxPages, BinaryPrimitives.ReadUInt32LittleEndian(reply.AsSpan(12)));
        Assert.Equal(256, BinaryPrimitives.ReadUInt16LittleEndian(reply.AsSpan(28)));
        Assert.True(h.Dispatcher.IsInitialized);

        var old = new Harness(Image(SmallTree));
        _disposables.Add(old);
        BinaryPrimitives.WriteUInt32LittleEndian(body, 6);
        Assert.Equal(LibC.EPROTO, old.Send(FuseOpcode.Init, 0, body)!.Value.Error);
        Assert.False(old.Dispatcher.IsInitialized);
    }

    [Fact]
    public void UnknownNodesWritesAndUnknownOpcodes()
    {
        var h = Open(SmallTree);
        Assert.Equal(0, h.Send(FuseOpcode.Getattr, FuseProtocol.RootId, new byte[16])!.Value.Error);
        Assert.Equal(LibC.ENOENT, h.Send(FuseOpcode.Getattr, 12345, new byte[16])!.Value.Error);
        Assert.Equal(LibC.ENOENT, h.Send(FuseOpcode.Readlink, 999_999, [])!.Value.Error);
        foreach (var op in new[] { FuseOpcode.Setattr, FuseOpcode.Mkdir, FuseOpcode.Mknod, FuseOpcode.Symlink, FuseOpcode.Unlink,
                     FuseOpcode.Rmdir, FuseOpcode.Rename, FuseOpcode.Rename2, FuseOpcode.Link, FuseOpcode.Write, FuseOpcode.Create,
                     FuseOpcode.Setxattr, FuseOpcode.Removexattr, FuseOpcode.Fallocate, FuseOpcode.CopyFileRange, FuseOpcode.Tmpfile })
            Assert.Equal(LibC.EROFS, h.Send(op, FuseProtocol.RootId, new byte[64])!.Value.Error);
        foreach (var op in new[] { FuseOpcode.Flush, FuseOpcode.Fsync, FuseOpcode.Fsyncdir, FuseOpcode.Getlk, FuseOpcode.Setlk,
                     FuseOpcode.Ioctl, FuseOpcode.Poll, FuseOpcode.Lseek, FuseOpcode.Bmap, FuseOpcode.Syncfs, (FuseOpcode)9999 })
            Assert.Equal(LibC.ENOSYS, h.Send(op, FuseProtocol.RootId, new byte[64])!.Value.Error);
        // No reply to FORGET, BATCH_FORGET, INTERRUPT, NOTIFY_REPLY.
        Assert.Null(h.Send(FuseOpcode.Forget, 12345, new byte[8]));
        Assert.Null(h.Send(FuseOpcode.BatchForget, 0, new byte[8]));
        Assert.Null(h.Send(FuseOpcode.Interrupt, 0, new byte[8]));
        Assert.Null(h.Send(FuseOpcode.NotifyReply, 0, new byte[8]));
        // A truncated request is answered, not fatal.
        Assert.Equal(LibC.EINVAL, h.Send(FuseOpcode.Read, FuseProtocol.RootId, new byte[3])!.Value.Error);
        Assert.Equal(LibC.ENOTDIR, h.Lookup(h.LookupId(FuseProtocol.RootId, "hello"), "x").Error);
        var access = new byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(access, LibC.W_OK);
        Assert.Equal(LibC.EROFS, h.Send(FuseOpcode.Access, FuseProtocol.RootId, access)!.Value.Error);
        BinaryPrimitives.WriteUInt32LittleEndian(access, LibC.R_OK);
        Assert.Equal(0, h.Send(FuseOpcode.Access, FuseProtocol.RootId, access)!.Value.Error);
        Assert.Equal(0, h.Send(FuseOpcode.Destroy, 0, [])!.Value.Error);
    }

    [Fact]
    public void LookupsAreCountedUntilForgotten()
    {
        var h = Open(SmallTree);
        ulong dir = h.LookupId(FuseProtocol.RootId, "dir");
        Assert.Equal(dir, h.LookupId(FuseProtocol.RootId, "dir"));
        ulong inner = h.LookupId(dir, "inner");
        Assert.Equal(2, h.Dispatcher.Nodes.Count);
        // Missing names: node 0 with a timeout, so the kernel keeps the negative entry.
        var (error, entry) = h.Lookup(FuseProtocol.RootId, "missing");
        Assert.Equal(0, error);
        Assert.Equal(0ul, BinaryPrimitives.ReadUInt64LittleEndian(entry));
        Assert.NotEqual(0ul, BinaryPrimitives.ReadUInt64LittleEndian(entry.AsSpan(16)));

        var forget = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(forget, 1);
        h.Send(FuseOpcode.Forget, dir, forget);
        Assert.Equal(0, h.Send(FuseOpcode.Getattr, dir, new byte[16])!.Value.Error); // one lookup left
        var batch = new byte[8 + 32];
        BinaryPrimitives.WriteUInt32LittleEndian(batch, 2);
        BinaryPrimitives.WriteUInt64LittleEndian(batch.AsSpan(8), dir);
        BinaryPrimitives.WriteUInt64LittleEndian(batch.AsSpan(16), 1);
        BinaryPrimitives.WriteUInt64LittleEndian(batch.AsSpan(24), inner);
        BinaryPrimitives.WriteUInt64LittleEndian(batch.AsSpan(32), 5);
        h.Send(FuseOpcode.BatchForget, 0, batch);
        Assert.Equal(LibC.ENOENT, h.Send(FuseOpcode.Getattr, dir, new byte[16])!.Value.Error);
        Assert.Equal(LibC.ENOENT, h.Send(FuseOpcode.Getattr, inner, new byte[16])!.Value.Error);
        Assert.Equal(0, h.Dispatcher.Nodes.Count);
        // The root is never forgotten.
        BinaryPrimitives.WriteUInt64LittleEndian(forget, 100);
        h.Send(FuseOpcode.Forget, FuseProtocol.RootId, forget);
        Assert.Equal(0, h.Send(FuseOpcode.Getattr, FuseProtocol.RootId, new byte[16])!.Value.Error);
    }

    [Fact]
    public void OpenReadReleaseOnKernelsWithoutZeroMessageOpens()
    {
        var h = Open(SmallTree, initFlags: ~(FuseProtocol.NoOpenSupport | FuseProtocol.NoOpendirSupport));
        ulong inner = h.LookupId(h.LookupId(FuseProtocol.RootId, "dir"), "inner");
        var open = new byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(open, (uint)LibC.O_WRONLY);
        Assert.Equal(LibC.EROFS, h.Send(FuseOpcode.Open, inner, open)!.Value.Error);
        BinaryPrimitives.WriteUInt32LittleEndian(open, (uint)LibC.O_RDONLY);
        Assert.Equal(LibC.EISDIR, h.Send(FuseOpcode.Open, FuseProtocol.RootId, open)!.Value.Error);
        var (error, reply) = h.Send(FuseOpcode.Open, inner, open)!.Value;
        Assert.Equal(0, error);
        ulong fh = BinaryPrimitives.ReadUInt64LittleEndian(reply);
        Assert.Equal(FuseProtocol.FopenKeepCache, BinaryPrimitives.ReadUInt32LittleEndian(reply.AsSpan(8)));
        // Across blocks (4 KiB) and into the tail, past the end, and nothing at the end.
        Assert.Equal(new string('i', 5000), Encoding.ASCII.GetString(h.Send(FuseOpcode.Read, inner, Harness.ReadIn(fh, 3000, 5000))!.Value.Payload));
        Assert.Equal(1000, h.Send(FuseOpcode.Read, inner, Harness.ReadIn(fh, 9000, 65536))!.Value.Payload.Length);
        Assert.Empty(h.Send(FuseOpcode.Read, inner, Harness.ReadIn(fh, 10000, 10))!.Value.Payload);
        Assert.Equal(LibC.EBADF, h.Send(FuseOpcode.Read, inner, Harness.ReadIn(fh + 1, 0, 10))!.Value.Error);
        Assert.Equal(1, h.Dispatcher.Files.OpenCount);
        var release = new byte[24];
        BinaryPrimitives.WriteUInt64LittleEndian(release, fh);
        Assert.Equal(0, h.Send(FuseOpcode.Release, inner, release)!.Value.Error);
        Assert.Equal(0, h.Dispatcher.Files.OpenCount);
        Assert.Equal(LibC.EBADF, h.Send(FuseOpcode.Read, inner, Harness.ReadIn(fh, 0, 10))!.Value.Error);
    }

    [Fact]
    public void ZeroMessageOpens()
    {
        var h = Open(SmallTree);
        ulong dir = h.LookupId(FuseProtocol.RootId, "dir");
        ulong inner = h.LookupId(dir, "inner");
        // ENOSYS tells the kernel to open without asking (keep_cache, cache_dir), from now on.
        Assert.Equal(LibC.ENOSYS, h.Send(FuseOpcode.Open, inner, new byte[8])!.Value.Error);
        Assert.Equal(LibC.ENOSYS, h.Send(FuseOpcode.Opendir, dir, new byte[8])!.Value.Error);
        // READ then comes with file handle 0 and the node names the file.
        Assert.Equal(new string('i', 5000), Encoding.ASCII.GetString(h.Send(FuseOpcode.Read, inner, Harness.ReadIn(0, 3000, 5000))!.Value.Payload));
        Assert.Equal(new string('i', 100), Encoding.ASCII.GetString(h.Send(FuseOpcode.Read, inner, Harness.ReadIn(0, 9900, 4096))!.Value.Payload));
        Assert.Equal(LibC.EINVAL, h.Send(FuseOpcode.Read, dir, Harness.ReadIn(0, 0, 10))!.Value.Error);
        Assert.Equal(LibC.ENOENT, h.Send(FuseOpcode.Read, 4242, Harness.ReadIn(0, 0, 10))!.Value.Error);
        Assert.Equal(0, h.Dispatcher.Files.OpenCount);
    }

    [Fact]
    public void ReadingOneSmallFileStoresItsKnownNeighboursOnce()
    {
        var h = Open(root =>
        {
            for (int i = 0; i < 6; i++)
                File.WriteAllText(Path.Combine(root, $"small-{i}"), new string((char)('a' + i), 100 + i));
        });
        using var prefetcher = h.StartPrefetcher();
        var ids = Enumerable.Range(0, 6).Select(i => h.LookupId(FuseProtocol.RootId, $"small-{i}")).ToList();
        h.Lookup(FuseProtocol.RootId, "small-5"); // a second lookup counts, but stores nothing twice
        Assert.Equal(new string('c', 102), Encoding.ASCII.GetString(h.Send(FuseOpcode.Read, ids[2], Harness.ReadIn(0, 0, 4096))!.Value.Payload));
        var stored = new Dictionary<ulong, string>();
        while (h.Notification(stored.Count == 5 ? 300 : 5000) is { } message)
        {
            Assert.Equal(4, BinaryPrimitives.ReadInt32LittleEndian(message.AsSpan(4))); // FUSE_NOTIFY_STORE
            Assert.Equal(0ul, BinaryPrimitives.ReadUInt64LittleEndian(message.AsSpan(8)));
            ulong node = BinaryPrimitives.ReadUInt64LittleEndian(message.AsSpan(16));
            Assert.Equal(0ul, BinaryPrimitives.ReadUInt64LittleEndian(message.AsSpan(24)));
            int size = (int)BinaryPrimitives.ReadUInt32LittleEndian(message.AsSpan(32));
            Assert.Equal(40 + size, message.Length);
            Assert.True(stored.TryAdd(node, Encoding.ASCII.GetString(message, 40, size)), $"node {node} stored twice");
        }
        // The five others, with their bytes; not the one the kernel read itself.
        Assert.Equal(ids.Where((_, i) => i != 2).Order(), stored.Keys.Order());
        for (int i = 0; i < 6; i++)
            if (i != 2)
                Assert.Equal(new string((char)('a' + i), 100 + i), stored[ids[i]]);
        // Reading another one of them stores nothing again.
        h.Send(FuseOpcode.Read, ids[4], Harness.ReadIn(0, 0, 4096));
        Assert.Null(h.Notification(500));
        Assert.Equal(5, prefetcher.Stored);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void DirectoryReadsResumeAtAnyOffsetTheyHandedOut(bool plus)
    {
        // 3000 entries: a listing of many metadata blocks, with an index.
        var h = Open(root =>
        {
            for (int i = 0; i < 3000; i++)
                File.WriteAllText(Path.Combine(root, $"entry-{i:D5}-{new string('x', i % 50)}"), "");
        });
        var op = plus ? FuseOpcode.Readdirplus : FuseOpcode.Readdir;
        List<(string Name, ulong Next)> ReadAll(uint size)
        {
            var all = new List<(string, ulong)>();
            ulong offset = 0;
            while (true)
            {
                var (error, payload) = h.Send(op, FuseProtocol.RootId, Harness.ReadIn(0, offset, size))!.Value;
                Assert.Equal(0, error);
                if (payload.Length == 0)
                    return all;
                var entries = Parse(payload, plus);
                all.AddRange(entries);
                offset = entries[^1].Next;
            }
        }
        var big = ReadAll(65536); // a socket pair takes no bigger message; the kernel takes up to 1 MiB
        var small = ReadAll(plus ? 400u : 100u);
        Assert.Equal(3002, big.Count);
        Assert.Equal(big, small);
        Assert.Equal([".", ".."], big.Take(2).Select(e => e.Name));
        // Resuming from every fifth offset gives the rest of the listing.
        for (int i = 0; i < big.Count - 1; i += 97)
        {
            var (_, payload) = h.Send(op, FuseProtocol.RootId, Harness.ReadIn(0, big[i].Next, 4096))!.Value;
            Assert.Equal(big[i + 1], Parse(payload, plus)[0]);
        }
        if (plus)
            Assert.Equal(3000, h.Dispatcher.Nodes.Count); // the kernel holds every entry but . and .. now
    }

    private static List<(string Name, ulong Next)> Parse(byte[] payload, bool plus)
    {
        var list = new List<(string, ulong)>();
        int at = 0;
        while (at < payload.Length)
        {
            int dirent = at + (plus ? FuseProtocol.EntryOutSize : 0);
            ulong next = BinaryPrimitives.ReadUInt64LittleEndian(payload.AsSpan(dirent + 8));
            int length = (int)BinaryPrimitives.ReadUInt32LittleEndian(payload.AsSpan(dirent + 16));
            list.Add((Encoding.UTF8.GetString(payload, dirent + FuseProtocol.DirentHeaderSize, length), next));
            at += FuseProtocol.Align8((plus ? FuseProtocol.DirentPlusHeaderSize : FuseProtocol.DirentHeaderSize) + length);
        }
        return list;
    }

    [SkippableFact]
    public void XattrSizeProbesAndErrors()
    {
        TestEnv.RequireRoot(); // trusted.* needs root to set
        TestEnv.RequireTool("setfattr");
        var h = Open(root =>
        {
            string f = Path.Combine(root, "f");
            File.WriteAllText(f, "");
            TestEnv.Run("setfattr", "-n", "user.empty", "-v", "", f).EnsureSuccess("setfattr");
            TestEnv.Run("setfattr", "-n", "user.value", "-v", "0123456789", f).EnsureSuccess("setfattr");
            TestEnv.Run("setfattr", "-n", "trusted.t", "-v", "x", f).EnsureSuccess("setfattr");
        });
        ulong f = h.LookupId(FuseProtocol.RootId, "f");
        (int, byte[]) Get(string name, uint size, uint uid = 0)
        {
            var body = new byte[8 + name.Length + 1];
            BinaryPrimitives.WriteUInt32LittleEndian(body, size);
            Encoding.ASCII.GetBytes(name).CopyTo(body, 8);
            return h.Send(FuseOpcode.Getxattr, f, body, uid)!.Value;
        }
        var (e, p) = Get("user.value", 0);
        Assert.Equal((0, 10u), (e, BinaryPrimitives.ReadUInt32LittleEndian(p)));
        Assert.Equal(LibC.ERANGE, Get("user.value", 9).Item1);
        Assert.Equal("0123456789", Encoding.ASCII.GetString(Get("user.value", 100).Item2));
        (e, p) = Get("user.empty", 0);
        Assert.Equal((0, 0u), (e, BinaryPrimitives.ReadUInt32LittleEndian(p)));
        (e, p) = Get("user.empty", 10);
        Assert.Equal((0, 0), (e, p.Length));
        Assert.Equal(LibC.ENODATA, Get("user.missing", 100).Item1);
        Assert.Equal(LibC.EOPNOTSUPP, Get("system.posix_acl_access", 100).Item1);
        Assert.Equal(LibC.EINVAL, Get("user.", 100).Item1);

        (int, byte[]) List(uint size, uint uid)
        {
            var body = new byte[8];
            BinaryPrimitives.WriteUInt32LittleEndian(body, size);
            return h.Send(FuseOpcode.Listxattr, f, body, uid)!.Value;
        }
        const string all = "user.empty\0user.value\0trusted.t\0";
        (e, p) = List(0, 0);
        Assert.Equal((0, (uint)all.Length), (e, BinaryPrimitives.ReadUInt32LittleEndian(p)));
        Assert.Equal(LibC.ERANGE, List((uint)all.Length - 1, 0).Item1);
        Assert.Equal(all.Split('\0').Order(), Encoding.ASCII.GetString(List(1000, 0).Item2).Split('\0').Order());
        Assert.DoesNotContain("trusted", Encoding.ASCII.GetString(List(1000, 1000).Item2));
    }

    /// <summary>
    /// An xattr bomb (65536 pairs whose out-of-line values all name one 64 KiB value): GETXATTR
    /// walked the whole set into memory, 4 GiB per request, and LISTXATTR too. Now a request reads
    /// names and at most the one value asked for: each allocates next to nothing, and the answers
    /// are the kernel's (a size probe, ERANGE, ENODATA, an empty value, a list too long for any buffer).
    /// </summary>
    [SkippableFact]
    public void XattrBombIsAnsweredFromNamesAndOneValue()
    {
        const int Pairs = 65536;
        string image = _tmp["bomb.sqfs"];
        HostileImages.XattrBomb(_tmp.Path, image, Pairs);
        var h = new Harness(image);
        _disposables.Add(h);
        h.Init();
        ulong bomb = h.LookupId(FuseProtocol.RootId, "bomb");
        (int Error, byte[] Payload, long Allocated) Ask(FuseOpcode op, string? name, uint size)
        {
            var body = new byte[8 + (name is null ? 0 : name.Length + 1)];
            BinaryPrimitives.WriteUInt32LittleEndian(body, size);
            if (name is not null)
                Encoding.ASCII.GetBytes(name).CopyTo(body, 8);
            long before = GC.GetAllocatedBytesForCurrentThread();
            var (error, payload) = h.Send(op, bomb, body)!.Value;
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before - (2 << 20) - payload.Length; // less the harness's receive buffer
            return (error, payload, allocated);
        }
        string last = HostileImages.BombName(Pairs - 2, Pairs);
        Ask(FuseOpcode.Listxattr, null, 0); // the metadata cache (bounded, shared) fills once
        var answers = new[]
        {
            Ask(FuseOpcode.Getxattr, last, 0),
            Ask(FuseOpcode.Getxattr, last, 65536),
            Ask(FuseOpcode.Getxattr, last, 65535),
            Ask(FuseOpcode.Getxattr, "security.selinux", 255),
            Ask(FuseOpcode.Getxattr, "user.empty", 10),
            Ask(FuseOpcode.Listxattr, null, 0),
            Ask(FuseOpcode.Listxattr, null, 65536),
        };
        Assert.All(answers, a => Assert.True(a.Allocated < 1 << 20, $"a request allocated {a.Allocated} bytes"));
        Assert.Equal((0, 65536u), (answers[0].Error, BinaryPrimitives.ReadUInt32LittleEndian(answers[0].Payload)));
        Assert.Equal(0, answers[1].Error);
        Assert.Equal(HostileImages.BombValue(), answers[1].Payload);
        Assert.Equal(LibC.ERANGE, answers[2].Error);
        Assert.Equal(LibC.ENODATA, answers[3].Error);
        Assert.Equal((0, 0), (answers[4].Error, answers[4].Payload.Length));
        int listLength = Enumerable.Range(0, Pairs).Sum(i => HostileImages.BombName(i, Pairs).Length + 1);
        Assert.Equal((0, (uint)listLength), (answers[5].Error, BinaryPrimitives.ReadUInt32LittleEndian(answers[5].Payload)));
        Assert.Equal(LibC.ERANGE, answers[6].Error);
    }

    /// <summary>
    /// Listing a smaller bomb gives every name as stored, in order, without reading a value.
    /// </summary>
    [SkippableFact]
    public void XattrListOfManySharedValuesHoldsEveryName()
    {
        const int Pairs = 3000;
        string image = _tmp["bomb-list.sqfs"];
        HostileImages.XattrBomb(_tmp.Path, image, Pairs);
        var h = new Harness(image);
        _disposables.Add(h);
        h.Init();
        ulong bomb = h.LookupId(FuseProtocol.RootId, "bomb");
        var body = new byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(body, 65536);
        var (error, payload) = h.Send(FuseOpcode.Listxattr, bomb, body)!.Value;
        Assert.Equal(0, error);
        Assert.Equal(string.Concat(Enumerable.Range(0, Pairs).Select(i => HostileImages.BombName(i, Pairs) + "\0")), Encoding.ASCII.GetString(payload));
        ulong plain = h.LookupId(FuseProtocol.RootId, "plain");
        Assert.Equal((0, 0), (h.Send(FuseOpcode.Listxattr, plain, body)!.Value.Error, h.Send(FuseOpcode.Listxattr, plain, body)!.Value.Payload.Length));
    }

    /// <summary>
    /// A directory with one entry whose inode cannot be read (a uid index past the id table): the
    /// first READDIRPLUS reply ended at it and every later one failed there with EIO, so the entries
    /// after it were never listed. Now every entry is listed, the bad one without attributes (node id
    /// 0), as the kernel's squashfs lists it; a LOOKUP of it is EIO, of the others fine.
    /// </summary>
    [Theory]
    [InlineData(false, 65536u)]
    [InlineData(true, 65536u)]
    [InlineData(true, 200u)]
    public void AnEntryWhoseInodeIsCorruptIsListedAndOnlyItFails(bool plus, uint size)
    {
        string image = _tmp["bad-owner.sqfs"];
        HostileImages.BadOwnerEntry(_tmp.Path, image, 20, "f07");
        var h = new Harness(image);
        _disposables.Add(h);
        h.Init();
        ulong dir = h.LookupId(FuseProtocol.RootId, "dir");
        var op = plus ? FuseOpcode.Readdirplus : FuseOpcode.Readdir;
        var all = new List<(string Name, ulong Node)>();
        ulong offset = 0;
        while (true)
        {
            var (error, payload) = h.Send(op, dir, Harness.ReadIn(0, offset, size))!.Value;
            Assert.Equal(0, error);
            if (payload.Length == 0)
                break;
            var entries = Parse(payload, plus);
            for (int at = 0, i = 0; at < payload.Length; i++)
            {
                ulong node = plus ? BinaryPrimitives.ReadUInt64LittleEndian(payload.AsSpan(at)) : 1;
                all.Add((entries[i].Name, node));
                int dirent = at + (plus ? FuseProtocol.EntryOutSize : 0);
                int length = (int)BinaryPrimitives.ReadUInt32LittleEndian(payload.AsSpan(dirent + 16));
                at += FuseProtocol.Align8((plus ? FuseProtocol.DirentPlusHeaderSize : FuseProtocol.DirentHeaderSize) + length);
            }
            offset = entries[^1].Next;
        }
        var names = Enumerable.Range(0, 20).Select(i => $"f{i:D2}").Append("sub").ToList();
        Assert.Equal([".", "..", .. names], all.Select(e => e.Name));
        if (plus)
            Assert.Equal(["f07"], all.Skip(2).Where(e => e.Node == 0).Select(e => e.Name));
        Assert.Equal(LibC.EIO, h.Lookup(dir, "f07").Error);
        foreach (string name in names.Where(n => n != "f07"))
            Assert.Equal(0, h.Lookup(dir, name).Error);
    }

    [Fact]
    public void AllowRootRefusesOthersButOnOpenHandles()
    {
        var h = Open(SmallTree, owner: 1000, rootAndOwnerOnly: true);
        Assert.Equal(0, h.Send(FuseOpcode.Getattr, FuseProtocol.RootId, new byte[16], uid: 1000)!.Value.Error);
        Assert.Equal(0, h.Send(FuseOpcode.Getattr, FuseProtocol.RootId, new byte[16], uid: 0)!.Value.Error);
        Assert.Equal(LibC.EACCES, h.Send(FuseOpcode.Getattr, FuseProtocol.RootId, new byte[16], uid: 1001)!.Value.Error);
        Assert.Equal(LibC.EACCES, h.Send(FuseOpcode.Lookup, FuseProtocol.RootId, "hello\0"u8, uid: 1001)!.Value.Error);
        Assert.Equal(0, h.Send(FuseOpcode.Readdir, FuseProtocol.RootId, Harness.ReadIn(0, 0, 4096), uid: 1001)!.Value.Error);
        // Every open is asked for (no zero-message opens), so that every open is checked.
        ulong hello = h.LookupId(FuseProtocol.RootId, "hello");
        Assert.Equal(LibC.EACCES, h.Send(FuseOpcode.Open, hello, new byte[8], uid: 1001)!.Value.Error);
        Assert.Equal(LibC.EACCES, h.Send(FuseOpcode.Opendir, FuseProtocol.RootId, new byte[8], uid: 1001)!.Value.Error);
        var (error, open) = h.Send(FuseOpcode.Open, hello, new byte[8], uid: 1000)!.Value;
        Assert.Equal(0, error);
        ulong fh = BinaryPrimitives.ReadUInt64LittleEndian(open);
        Assert.Equal("hello\n", Encoding.ASCII.GetString(h.Send(FuseOpcode.Read, hello, Harness.ReadIn(fh, 0, 100), uid: 1001)!.Value.Payload));
        Assert.Equal(0, h.Send(FuseOpcode.Opendir, FuseProtocol.RootId, new byte[8], uid: 0)!.Value.Error);
    }

    /// <summary>
    /// Corrupted copies of an image (bytes flipped anywhere after the superblock) served request by
    /// request: every request gets a well-formed reply (data or an error), none escapes as an
    /// exception, and the server state stays usable.
    /// </summary>
    [Fact]
    public void HostileImagesNeverTakeTheServerDown()
    {
        string source = _tmp["hostile-src"];
        Directory.CreateDirectory(source);
        var random = new Random(5);
        for (int d = 0; d < 4; d++)
        {
            string dir = Path.Combine(source, $"d{d}");
            Directory.CreateDirectory(dir);
            for (int i = 0; i < 40; i++)
            {
                var data = new byte[random.Next(0, 20000)];
                for (int j = 0; j < data.Length; j++)
                    data[j] = (byte)(j % 13 == 0 ? random.Next() : 'a' + j % 7);
                File.WriteAllBytes(Path.Combine(dir, $"f{i}"), data);
            }
            File.CreateSymbolicLink(Path.Combine(dir, "link"), "f1");
        }
        string clean = _tmp["hostile.sqfs"];
        SquashFsFile.CreateFromDirectory(source, clean, new SquashFsWriterOptions { BlockSize = 4096, Jobs = 1 });
        byte[] original = File.ReadAllBytes(clean);
        int served = 0;
        for (int seed = 0; seed < 80; seed++)
        {
            var rng = new Random(seed);
            var bytes = (byte[])original.Clone();
            int flips = rng.Next(1, 12);
            // Mostly the metadata (the last part of the image), sometimes anywhere.
            int metadataStart = (int)BinaryPrimitives.ReadUInt64LittleEndian(original.AsSpan(64));
            for (int i = 0; i < flips; i++)
            {
                int at = rng.Next(3) == 0 ? rng.Next(96, bytes.Length) : rng.Next(metadataStart, bytes.Length);
                bytes[at] = (byte)rng.Next(256);
            }
            string image = _tmp[$"hostile-{seed}.sqfs"];
            File.WriteAllBytes(image, bytes);
            Harness h;
            try
            {
                h = new Harness(image);
            }
            catch (Exception e) when (e is InvalidArchiveException or IOException)
            {
                continue; // refused at open: the daemon reports it and never mounts
            }
            using (h)
            {
                h.Init();
                served++;
                Walk(h, FuseProtocol.RootId, 0);
                Assert.Equal(0, h.Send(FuseOpcode.Statfs, FuseProtocol.RootId, [])!.Value.Error);
            }
            File.Delete(image);
        }
        Assert.True(served > 25, $"only {served} corrupted images opened at all");
    }

    // Everything a client could do: list (both ways), look up each name, stat, read links and xattrs, open and read files.
    private static void Walk(Harness h, ulong dir, int depth)
    {
        foreach (var op in new[] { FuseOpcode.Readdir, FuseOpcode.Readdirplus })
        {
            ulong offset = 0;
            for (int round = 0; round < 100; round++)
            {
                var (error, payload) = h.Send(op, dir, Harness.ReadIn(0, offset, 4096))!.Value;
                if (error != 0 || payload.Length == 0)
                    break;
                var entries = Parse(payload, op == FuseOpcode.Readdirplus);
                if (op == FuseOpcode.Readdir && depth < 3)
                    foreach (var (name, _) in entries)
                        if (name is not "." and not "..")
                            Visit(h, dir, name, depth);
                if (entries[^1].Next <= offset)
                    break;
                offset = entries[^1].Next;
            }
        }
    }

    private static void Visit(Harness h, ulong dir, string name, int depth)
    {
        var (error, entry) = h.Lookup(dir, name);
        if (error != 0)
            return;
        ulong node = BinaryPrimitives.ReadUInt64LittleEndian(entry);
        if (node == 0)
            return;
        uint mode = BinaryPrimitives.ReadUInt32LittleEndian(entry.AsSpan(40 + 60));
        h.Send(FuseOpcode.Getattr, node, new byte[16]);
        h.Send(FuseOpcode.Listxattr, node, new byte[8]);
        var getxattr = new byte[8 + 11];
        BinaryPrimitives.WriteUInt32LittleEndian(getxattr, 100);
        "user.x\0"u8.CopyTo(getxattr.AsSpan(8));
        h.Send(FuseOpcode.Getxattr, node, getxattr);
        switch (mode & LibC.S_IFMT)
        {
            case LibC.S_IFDIR:
                Walk(h, node, depth + 1);
                break;
            case LibC.S_IFLNK:
                h.Send(FuseOpcode.Readlink, node, []);
                break;
            case LibC.S_IFREG:
                var (openError, open) = h.Send(FuseOpcode.Open, node, new byte[8])!.Value;
                if (openError != 0)
                    break;
                ulong fh = BinaryPrimitives.ReadUInt64LittleEndian(open);
                for (ulong offset = 0; offset < 24000; offset += 3000)
                    h.Send(FuseOpcode.Read, node, Harness.ReadIn(fh, offset, 5000));
                var release = new byte[24];
                BinaryPrimitives.WriteUInt64LittleEndian(release, fh);
                h.Send(FuseOpcode.Release, node, release);
                break;
        }
    }

    private string Image(Action<string> build)
    {
        string source = _tmp["img-src-" + Guid.NewGuid().ToString("N")];
        Directory.CreateDirectory(source);
        build(source);
        string image = source + ".sqfs";
        SquashFsFile.CreateFromDirectory(source, image, new SquashFsWriterOptions { BlockSize = 4096, Jobs = 1 });
        return image;
    }
}
