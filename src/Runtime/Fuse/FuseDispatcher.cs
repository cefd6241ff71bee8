using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using Xar.SquashFs;
using Xar.SquashFs.Format;
using Xar.SquashFs.Reading;
using static Xar.Posix.LibC;

namespace Xar.Runtime.Fuse;

/// <summary>
/// Answers one FUSE request at a time per calling thread, from any number of threads: the image is
/// read-only, so the only shared state is the node table, the open files and the block cache,
/// each with its own short lock. Everything that would write answers EROFS, what the protocol has
/// but an image does not need answers ENOSYS; a corrupt image answers EIO for the request that
/// met the corruption, and the server goes on. Names and attributes never expire, negative
/// lookups are cached too, opens take no request where the kernel allows it, and a read of a small
/// file hands its neighbours to the page cache (<see cref="FragmentPrefetcher"/>).
/// </summary>
internal sealed unsafe class FuseDispatcher
{
    /// <summary>max_pages we ask for: 1 MiB reads, the kernel's default ceiling.</summary>
    public const int MaxPages = 256;
    private const int MaxBackground = 64;
    private const int CongestionThreshold = 48;
    /// <summary>The image is never written; the kernel still wants a value of at least a page.</summary>
    private const int MaxWrite = 4096;

    private const uint WantedInitFlags = FuseProtocol.AsyncRead | FuseProtocol.DoReaddirplus | FuseProtocol.ParallelDirops
        | FuseProtocol.MaxPages | FuseProtocol.CacheSymlinks;

    private static readonly byte[][] XattrPrefixes = ["user."u8.ToArray(), "trusted."u8.ToArray(), "security."u8.ToArray()];

    private readonly ImageFileSystem _fs;
    private readonly FuseNodeTable _nodes;
    private readonly FileHandleTable _files = new();
    private readonly RecentFiles _recent = new(64);
    private readonly uint _owner;
    private readonly bool _rootAndOwnerOnly;
    private bool _zeroMessageOpen;
    private bool _zeroMessageOpendir;
    private long _lastActivity = Environment.TickCount64;
    private int _initialized;

    /// <param name="rootAndOwnerOnly">allow_root: the kernel lets everyone in (allow_other), we refuse all but root and the owner, as libfuse does.</param>
    public FuseDispatcher(ImageFileSystem fs, uint owner, bool rootAndOwnerOnly)
    {
        _fs = fs;
        _nodes = new FuseNodeTable(fs.RootReference);
        _owner = owner;
        _rootAndOwnerOnly = rootAndOwnerOnly;
    }

    /// <summary>Raised once, on the thread that answered INIT, when the kernel accepted our reply.</summary>
    public event Action? Initialized;

    /// <summary>Raised when INIT could not be answered: the kernel speaks a protocol we do not.</summary>
    public event Action<string>? InitFailed;

    public bool IsInitialized => Volatile.Read(ref _initialized) != 0;

    /// <summary>Environment.TickCount64 of the last request other than FORGET and INTERRUPT.</summary>
    public long LastActivity => Volatile.Read(ref _lastActivity);

    public FuseNodeTable Nodes => _nodes;

    /// <summary>Stores small files' neighbours into the kernel's page cache when one is read; none when null.</summary>
    public FragmentPrefetcher? Prefetcher { get; set; }

    public FileHandleTable Files => _files;

    /// <summary>Read-request bytes a worker needs to receive any request (the kernel refuses smaller buffers).</summary>
    public static int RequestBufferSize => 64 * 1024 + FuseProtocol.InHeaderSize;

    /// <summary>Payload bytes a worker's reply buffer needs for the largest READ we allow.</summary>
    public static int ReplyCapacity => MaxPages * Environment.SystemPageSize;

    /// <summary>Handles one request; returns false when it was DESTROY (the kernel is done with us).</summary>
    public bool Dispatch(ReadOnlySpan<byte> request, FuseWorker worker)
    {
        if (request.Length < FuseProtocol.InHeaderSize)
            return true;
        var h = new FuseInHeader(request);
        int bodyEnd = (int)Math.Min(h.Length, (uint)request.Length) - h.ExtensionLength;
        var body = bodyEnd > FuseProtocol.InHeaderSize ? request[FuseProtocol.InHeaderSize..bodyEnd] : [];
        var reply = worker.Reply;
        if (FuseProtocol.HasNoReply(h.Opcode))
        {
            if (h.Opcode == FuseOpcode.Forget && body.Length >= 8)
                _nodes.Forget(h.NodeId, BinaryPrimitives.ReadUInt64LittleEndian(body));
            else if (h.Opcode == FuseOpcode.BatchForget)
                BatchForget(body);
            // INTERRUPT: every request is answered promptly, so the interrupted one gets its normal
            // reply (the kernel accepts it); NOTIFY_REPLY: we never ask for one.
            return true;
        }
        Volatile.Write(ref _lastActivity, Environment.TickCount64);
        if (h.Opcode == FuseOpcode.Init)
        {
            Init(h, body, reply);
            return true;
        }
        if (_rootAndOwnerOnly && h.Uid != _owner && h.Uid != 0 && !OnOpenHandle(h.Opcode))
        {
            reply.Error(h.Unique, EACCES);
            return true;
        }
        try
        {
            switch (h.Opcode)
            {
                case FuseOpcode.Lookup:
                    Lookup(h, body, worker);
                    break;
                case FuseOpcode.Getattr:
                    Getattr(h, reply);
                    break;
                case FuseOpcode.Readlink:
                    Readlink(h, reply);
                    break;
                case FuseOpcode.Open:
                    Open(h, body, reply);
                    break;
                case FuseOpcode.Read:
                    Read(h, body, worker);
                    break;
                case FuseOpcode.Release:
                    if (body.Length >= 8)
                        _files.Remove(BinaryPrimitives.ReadUInt64LittleEndian(body));
                    reply.Send(h.Unique, 0);
                    break;
                case FuseOpcode.Opendir:
                    Opendir(h, reply);
                    break;
                case FuseOpcode.Readdir:
                    Readdir(h, body, worker, plus: false);
                    break;
                case FuseOpcode.Readdirplus:
                    Readdir(h, body, worker, plus: true);
                    break;
                case FuseOpcode.Releasedir:
                    reply.Send(h.Unique, 0);
                    break;
                case FuseOpcode.Statfs:
                    _fs.WriteStatfs(reply.Payload);
                    reply.Send(h.Unique, FuseProtocol.StatfsOutSize);
                    break;
                case FuseOpcode.Getxattr:
                    Getxattr(h, body, reply);
                    break;
                case FuseOpcode.Listxattr:
                    Listxattr(h, body, reply);
                    break;
                case FuseOpcode.Access:
                    Access(h, body, reply);
                    break;
                case FuseOpcode.Destroy:
                    reply.Send(h.Unique, 0);
                    return false;
                default:
                    reply.Error(h.Unique, FuseProtocol.Writes(h.Opcode) ? EROFS : ENOSYS);
                    break;
            }
        }
        catch (SquashFsCorruptException)
        {
            reply.Error(h.Unique, EIO);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A hostile image must not take the server down: whatever went wrong, this request fails.
            reply.Error(h.Unique, EIO);
        }
        return true;
    }

    // What libfuse lets through for allow_root: requests on a handle the owner's side opened.
    private static bool OnOpenHandle(FuseOpcode opcode) => opcode is FuseOpcode.Read or FuseOpcode.Release
        or FuseOpcode.Readdir or FuseOpcode.Readdirplus or FuseOpcode.Releasedir or FuseOpcode.Destroy;

    private void Init(in FuseInHeader h, ReadOnlySpan<byte> body, FuseReplyWriter reply)
    {
        if (body.Length < 16)
        {
            reply.Error(h.Unique, EPROTO);
            InitFailed?.Invoke("the kernel sent a short INIT request");
            return;
        }
        uint major = BinaryPrimitives.ReadUInt32LittleEndian(body);
        uint minor = BinaryPrimitives.ReadUInt32LittleEndian(body[4..]);
        uint maxReadahead = BinaryPrimitives.ReadUInt32LittleEndian(body[8..]);
        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(body[12..]);
        var d = reply.Payload[..FuseProtocol.InitOutSize];
        d.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(d, FuseProtocol.KernelVersion);
        BinaryPrimitives.WriteUInt32LittleEndian(d[4..], FuseProtocol.KernelMinorVersion);
        if (major > FuseProtocol.KernelVersion)
        {
            // A newer kernel major: answer with ours, the kernel asks again in our version.
            reply.Send(h.Unique, FuseProtocol.InitOutSize);
            return;
        }
        if (major < FuseProtocol.KernelVersion || minor < FuseProtocol.OldestKernelMinorVersion)
        {
            reply.Error(h.Unique, EPROTO);
            InitFailed?.Invoke($"the kernel speaks FUSE {major}.{minor}, older than 7.{FuseProtocol.OldestKernelMinorVersion}");
            return;
        }
        // Opens that cost no request: the image never changes, so there is nothing to check at open
        // time that READ cannot, and the kernel's defaults for such opens are keep_cache (files)
        // and cache_dir (directories), what OPEN and OPENDIR would answer. Not with allow_root,
        // whose check of who asks must see every open (reads on open files are let through).
        _zeroMessageOpen = !_rootAndOwnerOnly && (flags & FuseProtocol.NoOpenSupport) != 0;
        _zeroMessageOpendir = !_rootAndOwnerOnly && (flags & FuseProtocol.NoOpendirSupport) != 0;
        BinaryPrimitives.WriteUInt32LittleEndian(d[4..], Math.Min(minor, FuseProtocol.KernelMinorVersion));
        BinaryPrimitives.WriteUInt32LittleEndian(d[8..], maxReadahead);
        BinaryPrimitives.WriteUInt32LittleEndian(d[12..], flags & WantedInitFlags);
        BinaryPrimitives.WriteUInt16LittleEndian(d[16..], MaxBackground);
        BinaryPrimitives.WriteUInt16LittleEndian(d[18..], CongestionThreshold);
        BinaryPrimitives.WriteUInt32LittleEndian(d[20..], MaxWrite);
        BinaryPrimitives.WriteUInt32LittleEndian(d[24..], 1); // time_gran: nanoseconds
        BinaryPrimitives.WriteUInt16LittleEndian(d[28..], MaxPages);
        if (!reply.Send(h.Unique, FuseProtocol.InitOutSize))
        {
            InitFailed?.Invoke($"the kernel refused the INIT reply: {Describe(LastError)}");
            return;
        }
        if (Interlocked.Exchange(ref _initialized, 1) == 0)
            Initialized?.Invoke();
    }

    /// <summary>The inode of a node id the kernel holds; null (ENOENT) for one it does not.</summary>
    private Inode? Resolve(ulong nodeId)
    {
        var reference = _nodes.Resolve(nodeId);
        return reference is null ? null : _fs.ReadInode(reference.Value);
    }

    private void Lookup(in FuseInHeader h, ReadOnlySpan<byte> body, FuseWorker worker)
    {
        var reply = worker.Reply;
        var name = CString(body);
        var directory = Resolve(h.NodeId);
        if (directory is null)
        {
            reply.Error(h.Unique, ENOENT);
            return;
        }
        if (directory.BasicType != InodeType.Directory)
        {
            reply.Error(h.Unique, ENOTDIR);
            return;
        }
        if (name.Length > SquashFsConstants.MaxNameLength)
        {
            reply.Error(h.Unique, ENAMETOOLONG);
            return;
        }
        Span<byte> nameBuffer = stackalloc byte[SquashFsConstants.MaxNameLength];
        var cursor = DirectoryCursor.Near(_fs, directory, name, nameBuffer);
        while (cursor.MoveNext())
        {
            int order = cursor.Name.SequenceCompareTo(name);
            if (order > 0)
                break; // names are stored sorted
            if (order < 0)
                continue;
            var inode = _fs.ReadEntryInode(cursor.Inode, cursor.Type);
            _fs.GetAttributes(inode, out var attributes);
            ulong nodeId = _nodes.Remember(cursor.Inode, inode);
            FuseWire.WriteEntryOut(reply.Payload, nodeId, attributes);
            if (!reply.Send(h.Unique, FuseProtocol.EntryOutSize))
                _nodes.Unremember(nodeId);
            return;
        }
        // Node id 0 with a timeout: the kernel keeps the negative entry (an image never gains names).
        FuseAttributes none = default;
        FuseWire.WriteEntryOut(reply.Payload, 0, none);
        reply.Send(h.Unique, FuseProtocol.EntryOutSize);
    }

    private void Getattr(in FuseInHeader h, FuseReplyWriter reply)
    {
        var inode = Resolve(h.NodeId);
        if (inode is null)
        {
            reply.Error(h.Unique, ENOENT);
            return;
        }
        _fs.GetAttributes(inode, out var attributes);
        FuseWire.WriteAttrOut(reply.Payload, attributes);
        reply.Send(h.Unique, FuseProtocol.AttrOutSize);
    }

    private void Readlink(in FuseInHeader h, FuseReplyWriter reply)
    {
        var inode = Resolve(h.NodeId);
        if (inode is null)
        {
            reply.Error(h.Unique, ENOENT);
            return;
        }
        if (inode.BasicType != InodeType.Symlink)
        {
            reply.Error(h.Unique, EINVAL);
            return;
        }
        inode.SymlinkTarget.CopyTo(reply.Payload);
        reply.Send(h.Unique, inode.SymlinkTarget.Length);
    }

    private void Open(in FuseInHeader h, ReadOnlySpan<byte> body, FuseReplyWriter reply)
    {
        if (_zeroMessageOpen)
        {
            reply.Error(h.Unique, ENOSYS);
            return;
        }
        uint flags = body.Length >= 4 ? BinaryPrimitives.ReadUInt32LittleEndian(body) : 0;
        var inode = Resolve(h.NodeId);
        if (inode is null)
        {
            reply.Error(h.Unique, ENOENT);
            return;
        }
        if ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC) != 0)
        {
            reply.Error(h.Unique, EROFS);
            return;
        }
        if (inode.BasicType != InodeType.File)
        {
            reply.Error(h.Unique, inode.BasicType == InodeType.Directory ? EISDIR : EINVAL);
            return;
        }
        ulong handle = _files.Add(_fs.Open(inode));
        FuseWire.WriteOpenOut(reply.Payload, handle, FuseProtocol.FopenKeepCache);
        if (!reply.Send(h.Unique, FuseProtocol.OpenOutSize))
            _files.Remove(handle); // the open was interrupted: no RELEASE will come
    }

    private void Read(in FuseInHeader h, ReadOnlySpan<byte> body, FuseWorker worker)
    {
        var reply = worker.Reply;
        if (body.Length < 24)
        {
            reply.Error(h.Unique, EINVAL);
            return;
        }
        ulong handle = BinaryPrimitives.ReadUInt64LittleEndian(body);
        long offset = (long)Math.Min(BinaryPrimitives.ReadUInt64LittleEndian(body[8..]), long.MaxValue);
        int size = (int)Math.Min(BinaryPrimitives.ReadUInt32LittleEndian(body[16..]), (uint)reply.PayloadCapacity);
        OpenFile? file;
        if (handle != 0)
        {
            file = _files.Get(handle);
            if (file is null)
            {
                reply.Error(h.Unique, EBADF);
                return;
            }
        }
        else
        {
            file = _recent.Get(h.NodeId);
            if (file is null)
            {
                // A zero-message open: the node says which file.
                var inode = Resolve(h.NodeId);
                if (inode is null || inode.BasicType != InodeType.File)
                {
                    reply.Error(h.Unique, inode is null ? ENOENT : EINVAL);
                    return;
                }
                file = _fs.Open(inode);
                _recent.Add(h.NodeId, file);
            }
        }
        int n = _fs.Read(file, offset, size, reply.PayloadPointer, worker.Scratch);
        if (file.BlockCount == 0 && file.Inode.HasFragment && Prefetcher is { } prefetcher)
        {
            // Before the reply: the reader will find the files after this one in its page cache.
            _nodes.MarkStored(h.NodeId);
            prefetcher.StoreNeighbours(file.Inode.FragmentIndex, worker.Scratch);
        }
        reply.Send(h.Unique, n);
    }

    private void Opendir(in FuseInHeader h, FuseReplyWriter reply)
    {
        if (_zeroMessageOpendir)
        {
            reply.Error(h.Unique, ENOSYS);
            return;
        }
        var inode = Resolve(h.NodeId);
        if (inode is null)
        {
            reply.Error(h.Unique, ENOENT);
            return;
        }
        if (inode.BasicType != InodeType.Directory)
        {
            reply.Error(h.Unique, ENOTDIR);
            return;
        }
        // Listings never change: the kernel may keep them in its page cache across opens.
        FuseWire.WriteOpenOut(reply.Payload, 0, FuseProtocol.FopenKeepCache | FuseProtocol.FopenCacheDir);
        reply.Send(h.Unique, FuseProtocol.OpenOutSize);
    }

    /// <summary>
    /// One READDIR(PLUS) reply: ".", "..", then the stored entries from the requested offset, as many
    /// as fit. Offsets are the kernel squashfs driver's (see <see cref="DirectoryCursor"/>). An entry
    /// whose inode cannot be read is still listed (in READDIRPLUS without attributes); a corrupt
    /// listing ends the reply early, EIO only when not one entry could be given.
    /// </summary>
    private void Readdir(in FuseInHeader h, ReadOnlySpan<byte> body, FuseWorker worker, bool plus)
    {
        var reply = worker.Reply;
        if (body.Length < 24)
        {
            reply.Error(h.Unique, EINVAL);
            return;
        }
        long position = (long)Math.Min(BinaryPrimitives.ReadUInt64LittleEndian(body[8..]), long.MaxValue);
        int limit = (int)Math.Min(BinaryPrimitives.ReadUInt32LittleEndian(body[16..]), (uint)reply.PayloadCapacity);
        var directory = Resolve(h.NodeId);
        if (directory is null)
        {
            reply.Error(h.Unique, ENOENT);
            return;
        }
        if (directory.BasicType != InodeType.Directory)
        {
            reply.Error(h.Unique, ENOTDIR);
            return;
        }
        var output = reply.Payload[..limit];
        int used = 0;
        int remembered = 0;
        if (position == 0)
        {
            if (!AddDot(output, ref used, directory.InodeNumber, 1, "."u8, plus))
                goto send;
            position = 1;
        }
        if (position == 1 || position == 2)
        {
            if (!AddDot(output, ref used, directory.ParentInode, 3, ".."u8, plus))
                goto send;
            position = 3;
        }
        try
        {
            Span<byte> nameBuffer = stackalloc byte[SquashFsConstants.MaxNameLength];
            var cursor = DirectoryCursor.At(_fs, directory, position, nameBuffer);
            while (cursor.MoveNext())
            {
                int size = FuseProtocol.Align8((plus ? FuseProtocol.DirentPlusHeaderSize : FuseProtocol.DirentHeaderSize) + cursor.Name.Length);
                if (used + size > output.Length)
                    break;
                uint type = cursor.Type.ToFileTypeBits() >> 12;
                if (plus)
                {
                    if (TryReadEntry(cursor.Inode, cursor.Type, out var inode, out var attributes))
                    {
                        ulong nodeId = _nodes.Remember(cursor.Inode, inode);
                        worker.Remembered[remembered++] = nodeId;
                        FuseWire.WriteEntryOut(output[used..], nodeId, attributes);
                    }
                    else
                    {
                        // As the kernel's squashfs: the name is listed, using it gives the error (a
                        // LOOKUP reads the inode again). Node id 0: the kernel instantiates nothing.
                        output.Slice(used, FuseProtocol.EntryOutSize).Clear();
                    }
                    FuseWire.WriteDirent(output[(used + FuseProtocol.EntryOutSize)..], cursor.InodeNumber, (ulong)cursor.NextPosition, type, cursor.Name);
                }
                else
                {
                    FuseWire.WriteDirent(output[used..], cursor.InodeNumber, (ulong)cursor.NextPosition, type, cursor.Name);
                }
                used += size;
            }
        }
        catch (Exception e) when (used > 0 && e is not OutOfMemoryException)
        {
            // Give what was read; the next READDIR starts at the bad entry and gets EIO.
        }
        send:
        if (!reply.Send(h.Unique, used))
        {
            for (int i = 0; i < remembered; i++)
                _nodes.Unremember(worker.Remembered[i]);
        }
    }

    private bool TryReadEntry(MetadataReference reference, InodeType type, [NotNullWhen(true)] out Inode? inode, out FuseAttributes attributes)
    {
        try
        {
            inode = _fs.ReadEntryInode(reference, type);
            _fs.GetAttributes(inode, out attributes);
            return true;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            inode = null;
            attributes = default;
            return false;
        }
    }

    // "." and "..": not stored in the image; in a READDIRPLUS reply they carry no node (the kernel skips them).
    private static bool AddDot(Span<byte> output, ref int used, uint ino, ulong next, ReadOnlySpan<byte> name, bool plus)
    {
        int size = FuseProtocol.Align8((plus ? FuseProtocol.DirentPlusHeaderSize : FuseProtocol.DirentHeaderSize) + name.Length);
        if (used + size > output.Length)
            return false;
        var d = output[used..];
        if (plus)
        {
            d[..FuseProtocol.EntryOutSize].Clear();
            d = d[FuseProtocol.EntryOutSize..];
        }
        FuseWire.WriteDirent(d, ino, next, S_IFDIR >> 12, name);
        used += size;
        return true;
    }

    private void Getxattr(in FuseInHeader h, ReadOnlySpan<byte> body, FuseReplyWriter reply)
    {
        if (body.Length < 8)
        {
            reply.Error(h.Unique, EINVAL);
            return;
        }
        uint size = BinaryPrimitives.ReadUInt32LittleEndian(body);
        var name = CString(body[8..]);
        var inode = Resolve(h.NodeId);
        if (inode is null)
        {
            reply.Error(h.Unique, ENOENT);
            return;
        }
        if (!HasKnownPrefix(name, out int prefixLength))
        {
            reply.Error(h.Unique, EOPNOTSUPP); // as the kernel: squashfs has handlers for these three namespaces only
            return;
        }
        if (name.Length == prefixLength)
        {
            reply.Error(h.Unique, EINVAL); // "user." alone names nothing
            return;
        }
        // size 0 asks only the length; a value larger than size is ERANGE and is not read.
        var output = reply.Payload[..(int)Math.Min(size, (uint)reply.PayloadCapacity)];
        int length = _fs.GetXattr(inode, name, output);
        if (length < 0)
            reply.Error(h.Unique, ENODATA);
        else
            SendSized(h.Unique, size, length, output.Length, reply);
    }

    /// <summary>
    /// GETXATTR's and LISTXATTR's answer for <paramref name="length"/> bytes written at the payload's start: size 0
    /// asks only the length; more than <paramref name="room"/> (what the caller allowed) is ERANGE.
    /// </summary>
    private static void SendSized(ulong unique, uint size, int length, int room, FuseReplyWriter reply)
    {
        if (size == 0)
        {
            FuseWire.WriteGetxattrOut(reply.Payload, (uint)length);
            reply.Send(unique, FuseProtocol.GetxattrOutSize);
        }
        else if (length > room)
        {
            reply.Error(unique, ERANGE);
        }
        else
        {
            reply.Send(unique, length);
        }
    }

    private void Listxattr(in FuseInHeader h, ReadOnlySpan<byte> body, FuseReplyWriter reply)
    {
        if (body.Length < 4)
        {
            reply.Error(h.Unique, EINVAL);
            return;
        }
        uint size = BinaryPrimitives.ReadUInt32LittleEndian(body);
        var inode = Resolve(h.NodeId);
        if (inode is null)
        {
            reply.Error(h.Unique, ENOENT);
            return;
        }
        // The kernel's squashfs has a listxattr operation for directories, symlinks and every
        // extended inode, which answers EOPNOTSUPP when the image has no xattr table; basic files,
        // devices, fifos and sockets have none, and list nothing.
        if (!_fs.HasXattrTable && (inode.BasicType is InodeType.Directory or InodeType.Symlink || inode.Type.IsExtended()))
        {
            reply.Error(h.Unique, EOPNOTSUPP);
            return;
        }
        // It lists trusted.* only to a caller with CAP_SYS_ADMIN; root stands for that here.
        bool showTrusted = h.Uid == 0;
        // Names only, written straight into the reply: a request costs the reply's size at most.
        var output = reply.Payload[..(int)Math.Min(size, (uint)reply.PayloadCapacity)];
        SendSized(h.Unique, size, _fs.ListXattrs(inode, showTrusted, output), output.Length, reply);
    }

    private void Access(in FuseInHeader h, ReadOnlySpan<byte> body, FuseReplyWriter reply)
    {
        uint mask = body.Length >= 4 ? BinaryPrimitives.ReadUInt32LittleEndian(body) : 0;
        if (Resolve(h.NodeId) is null)
            reply.Error(h.Unique, ENOENT);
        else if ((mask & W_OK) != 0)
            reply.Error(h.Unique, EROFS);
        else
            reply.Send(h.Unique, 0); // mode bits are the kernel's to check (default_permissions)
    }

    private void BatchForget(ReadOnlySpan<byte> body)
    {
        if (body.Length < 8)
            return;
        uint count = BinaryPrimitives.ReadUInt32LittleEndian(body);
        var entries = body[8..];
        for (int i = 0; i < count && (i + 1) * FuseProtocol.ForgetOneSize <= entries.Length; i++)
        {
            var e = entries[(i * FuseProtocol.ForgetOneSize)..];
            _nodes.Forget(BinaryPrimitives.ReadUInt64LittleEndian(e), BinaryPrimitives.ReadUInt64LittleEndian(e[8..]));
        }
    }

    private static bool HasKnownPrefix(ReadOnlySpan<byte> name, out int length)
    {
        foreach (var prefix in XattrPrefixes)
            if (name.StartsWith(prefix))
            {
                length = prefix.Length;
                return true;
            }
        length = 0;
        return false;
    }

    /// <summary>A NUL-terminated name from a request (the whole span when there is no NUL).</summary>
    private static ReadOnlySpan<byte> CString(ReadOnlySpan<byte> bytes)
    {
        int end = bytes.IndexOf((byte)0);
        return end < 0 ? bytes : bytes[..end];
    }
}
