using System.Runtime.InteropServices;
using System.Text;
using Xar.Runtime.Launching;

namespace Xar.Runtime;

/// <summary>
/// The names of mount directories as gc and unmount read them: <c>ROOT/uid-EUID/UUID[-seed-SEED]-ns-MNTNS</c>
/// with the lock <c>lockfile.NAME</c> beside it (Facebook's names). The launch core makes them
/// (<see cref="LaunchCore.DirectoryName"/>); this reads them back.
/// </summary>
public static class XarMountLayout
{
    public const string LockFilePrefix = "lockfile.";

    /// <summary>The directory name the launch core gives <paramref name="uuid"/> in this process, with <paramref name="seed"/> as XAR_MOUNT_SEED.</summary>
    public static unsafe string DirectoryName(string uuid, string? seed)
    {
        byte[] uuidBytes = Encoding.UTF8.GetBytes(uuid);
        byte[]? seedEntry = seed is null ? null : Encoding.UTF8.GetBytes("XAR_MOUNT_SEED=" + seed + "\0");
        byte* buffer = stackalloc byte[PathBuilder.Capacity];
        var name = new PathBuilder(buffer);
        fixed (byte* u = uuidBytes)
        fixed (byte* s = seedEntry)
        {
            byte** envp = stackalloc byte*[2];
            envp[0] = s;
            envp[1] = null;
            LaunchCore.DirectoryName(new ProcessEnvironment(envp), new NativeText(u, uuidBytes.Length), ref name);
        }
        return Marshal.PtrToStringUTF8((nint)buffer)!;
    }

    /// <summary>
    /// Splits a mount directory name into its UUID (for gc and unmount): null when the name is not
    /// one of ours (<c>HEX[-seed-...]-ns-DIGITS</c>, or Facebook's older <c>HEX-ns-DIGITS</c>).
    /// </summary>
    public static string? TryParseDirectoryName(string name)
    {
        int dash = name.IndexOf('-');
        if (dash <= 0 || name.AsSpan(0, dash).ContainsAnyExcept("0123456789abcdefABCDEF"))
            return null;
        int ns = name.LastIndexOf("-ns-", StringComparison.Ordinal);
        if (ns < dash || ns + 4 >= name.Length || name.AsSpan(ns + 4).ContainsAnyExceptInRange('0', '9'))
            return null;
        string middle = name[dash..ns];
        if (middle.Length > 0 && !middle.StartsWith("-seed-", StringComparison.Ordinal))
            return null;
        return name[..dash];
    }
}
