using Xar.Posix;
using Xar.Runtime.Fuse;

namespace Xar.Runtime.Tests;

/// <summary>The _FUSE_COMMFD hand-off's receiving end, against a descriptor sent as fusermount3 sends it.</summary>
public sealed unsafe class FuseMounterTests
{
    [Fact]
    public void ReceivesTheDescriptorFusermountSends()
    {
        int* pair = stackalloc int[2];
        int* pipe = stackalloc int[2];
        Assert.Equal(0, LibC.SocketPair(LibC.AF_UNIX, LibC.SOCK_STREAM | LibC.SOCK_CLOEXEC, 0, pair));
        Assert.Equal(0, LibC.Pipe2(pipe, LibC.O_CLOEXEC));
        try
        {
            // One byte of data and one descriptor in an SCM_RIGHTS message.
            byte data = 0;
            int controlSize = LibC.CmsgSpace(sizeof(int));
            byte* control = stackalloc byte[controlSize];
            new Span<byte>(control, controlSize).Clear();
            var header = (LibC.CmsgHdr*)control;
            header->Length = (nuint)LibC.CmsgLength(sizeof(int));
            header->Level = LibC.SOL_SOCKET;
            header->Type = LibC.SCM_RIGHTS;
            *(int*)(control + sizeof(LibC.CmsgHdr)) = pipe[1];
            var iov = new LibC.Iovec { Base = &data, Length = 1 };
            var message = new LibC.MsgHdr { Iov = &iov, IovLength = 1, Control = control, ControlLength = (nuint)LibC.CmsgLength(sizeof(int)) };
            Assert.Equal(1, LibC.SendMsg(pair[1], &message, 0));

            int received = Fusermount.ReceiveDescriptor(pair[0]);
            Assert.True(received >= 0);
            Assert.NotEqual(pipe[1], received);
            Assert.Equal(LibC.FD_CLOEXEC, LibC.Fcntl(received, LibC.F_GETFD, 0) & LibC.FD_CLOEXEC);
            byte x = 42;
            Assert.Equal(1, LibC.Write(received, &x, 1)); // the pipe's write end, through the new descriptor
            byte y = 0;
            Assert.Equal(1, LibC.Read(pipe[0], &y, 1));
            Assert.Equal(42, y);
            LibC.Close(received);

            // The sender went away without sending one: -1, as when fusermount3 fails.
            LibC.Close(pair[1]);
            pair[1] = -1;
            Assert.Equal(-1, Fusermount.ReceiveDescriptor(pair[0]));
        }
        finally
        {
            LibC.Close(pair[0]);
            if (pair[1] >= 0)
                LibC.Close(pair[1]);
            LibC.Close(pipe[0]);
            LibC.Close(pipe[1]);
        }
    }
}
