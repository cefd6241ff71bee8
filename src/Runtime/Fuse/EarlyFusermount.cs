using Xar.Posix;
using Xar.Runtime.Launching;

namespace Xar.Runtime.Fuse;

/// <summary>
/// The fusermount the server's pre-runtime step started (<see cref="Start"/>), so that it mounts while the .NET
/// runtime starts and the image is checked: side by side on two cores, where one after the other cost both
/// (fusermount3 alone is about 2 ms). The step tells Main through the environment: <c>XAREXEC_FUSERMOUNT_STARTED</c>
/// = "SOCKET ERRORPIPE PID VERSION3 SERVERPID", the server's pid proving it was set in this very process.
/// The mount then exists before the image is checked; when the check fails, <see cref="Abandon"/> unmounts it
/// before the server answers its error, so what the launcher sees is what it saw before.
/// </summary>
public sealed unsafe class EarlyFusermount
{
    private static ReadOnlySpan<byte> VariableName => "XAREXEC_FUSERMOUNT_STARTED\0"u8;
    private StartedFusermount _started;
    private bool _claimed;

    private EarlyFusermount(StartedFusermount started) => _started = started;

    /// <summary>
    /// Before the runtime, in the detached server (its command line read by <see cref="FuseServeCommandLine"/>) of a
    /// user who is not root: starts fusermount for the mount Main will make, and tells Main. Whatever does not fit
    /// this (a relative mount point, no fusermount) is left to Main, which mounts the usual way and says what went wrong.
    /// </summary>
    internal static void Start(in FuseServeCommandLine line, byte** envp)
    {
        fixed (byte* name = VariableName)
            RawLibC.UnsetEnv(name); // only this step sets it
        if (RawLibC.GetEuid() == 0)
            return; // mount(2) in Main: nothing to overlap
        if (line.MountPoint[0] != '/' || (line.FsName != null && line.FsName[0] == 0))
            return; // (an empty --fsname: Main names the mount "xar")
        byte* mountPoint = line.MountPoint;
        byte* fsName = line.FsName;
        var access = line.Access;
        int imageFd = line.ImageFd;

        byte* sourceBuffer = stackalloc byte[PathBuilder.Capacity];
        var source = new PathBuilder(sourceBuffer);
        FuseDaemon.WriteSource(fsName == null ? default : NativeText.FromCString(fsName), imageFd, ref source);
        byte* optionsBuffer = stackalloc byte[Fusermount.OptionsCapacity];
        var options = new PathBuilder(optionsBuffer, Fusermount.OptionsCapacity);
        byte* programBuffer = stackalloc byte[PathBuilder.Capacity];
        var program = new PathBuilder(programBuffer);
        if (!source.Fits || !Fusermount.TryWriteOptions(ref options, new ReadOnlySpan<byte>(source.CString, source.Length), access)
            || !Fusermount.TryFind(new ProcessEnvironment(envp).Get("PATH"u8), ref program, out bool isVersion3))
            return;
        if (Fusermount.Start(program.CString, isVersion3, options.CString, mountPoint, envp, out var started) != 0)
            return;

        byte* value = stackalloc byte[128];
        var text = new PathBuilder(value, 128);
        text.AppendDecimal((ulong)started.Socket);
        text.Append((byte)' ');
        text.AppendDecimal((ulong)started.ErrorPipe);
        text.Append((byte)' ');
        text.AppendDecimal((ulong)started.Pid);
        text.Append(started.IsVersion3 ? " 1 "u8 : " 0 "u8);
        text.AppendDecimal((ulong)RawLibC.GetPid());
        fixed (byte* name = VariableName)
            RawLibC.SetEnv(name, text.CString, 1);
    }

    /// <summary>In Main: the fusermount the pre-runtime step started in this process, if it did; the variable is gone after.</summary>
    public static EarlyFusermount? Take()
    {
        var value = new ProcessEnvironment(LibC.Environ).Get(VariableName[..^1]);
        if (value.IsNull)
            return null;
        // Read before it goes: the value's bytes live in the environment entry unsetenv drops.
        Span<long> numbers = stackalloc long[5];
        int count = 0;
        bool wellFormed = true;
        for (int i = 0; i < value.Length && wellFormed; i++)
        {
            if (value[i] == ' ' && count < 4 && i > 0 && value[i - 1] != ' ')
                count++;
            else if (value[i] is >= (byte)'0' and <= (byte)'9' && numbers[count] < int.MaxValue / 10)
                numbers[count] = numbers[count] * 10 + (value[i] - '0');
            else
                wellFormed = false;
        }
        fixed (byte* name = VariableName)
            RawLibC.UnsetEnv(name); // not for fusermount -u and the like
        if (!wellFormed || count != 4 || numbers[4] != Environment.ProcessId)
            return null;
        return new EarlyFusermount(new StartedFusermount { Socket = (int)numbers[0], ErrorPipe = (int)numbers[1], Pid = (int)numbers[2], IsVersion3 = numbers[3] == 1 });
    }

    /// <summary>The started fusermount, to finish the mount with; false when it was claimed (or abandoned) already.</summary>
    public bool TryClaim(out StartedFusermount started)
    {
        started = _started;
        if (_claimed)
            return false;
        _claimed = true;
        return true;
    }

    /// <summary>
    /// When the mount is not wanted after all (the image failed its check): lets fusermount finish and unmounts
    /// what it mounted. Nothing when it was claimed already.
    /// </summary>
    public void Abandon(byte[] mountPoint)
    {
        if (!TryClaim(out var started))
            return;
        int device = Fusermount.Finish(started, out _);
        if (device < 0)
            return;
        new OwnMount(mountPoint).Unmount(lazy: true, out _);
        LibC.Close(device);
    }
}
