using System.Runtime.InteropServices;

namespace Xar.Posix;

/// <summary>Unix sockets: socket pairs and descriptor passing (SCM_RIGHTS), as fusermount3's hand-off uses them.</summary>
public static unsafe partial class LibC
{
    public const int AF_UNIX = 1, SOCK_STREAM = 1, SOCK_CLOEXEC = 0x80000;
    public const int SOL_SOCKET = 1, SCM_RIGHTS = 1;
    public const int MSG_CMSG_CLOEXEC = 0x40000000;

    /// <summary>struct msghdr (x86-64: 56 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct MsgHdr
    {
        public void* Name;
        public uint NameLength;
        public Iovec* Iov;
        public nuint IovLength;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    /// <summary>struct cmsghdr's header (16 bytes); the data follows, 8-byte aligned.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct CmsgHdr
    {
        public nuint Length;
        public int Level;
        public int Type;
    }

    /// <summary>CMSG_LEN(n): the header plus n bytes of data.</summary>
    public static int CmsgLength(int dataLength) => sizeof(CmsgHdr) + dataLength;

    /// <summary>CMSG_SPACE(n): CMSG_LEN rounded up to the 8-byte alignment of the next header.</summary>
    public static int CmsgSpace(int dataLength) => sizeof(CmsgHdr) + ((dataLength + 7) & ~7);

    [LibraryImport(Library, EntryPoint = "socketpair", SetLastError = true)]
    public static partial int SocketPair(int domain, int type, int protocol, int* fds);

    [LibraryImport(Library, EntryPoint = "sendmsg", SetLastError = true)]
    public static partial nint SendMsg(int fd, MsgHdr* message, int flags);

    [LibraryImport(Library, EntryPoint = "recvmsg", SetLastError = true)]
    public static partial nint RecvMsg(int fd, MsgHdr* message, int flags);
}
