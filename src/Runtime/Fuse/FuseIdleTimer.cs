namespace Xar.Runtime.Fuse;

/// <summary>
/// Unmounts a server's file system after a while without requests, as squashfuse_ll's timeout
/// does. Only a plain unmount is tried: a mount still in use (an open file, a working directory)
/// is busy and stays, and the timer starts over. FORGET and INTERRUPT do not count as requests.
/// </summary>
internal sealed class FuseIdleTimer(FuseServer server, TimeSpan timeout)
{
    /// <summary>
    /// Watches until the server's threads stop (unmounted, by the timer or by anyone) or
    /// <paramref name="stop"/> is set. A zero timeout never unmounts.
    /// </summary>
    /// <returns>True when <paramref name="stop"/> was set.</returns>
    public bool Run(WaitHandle stop)
    {
        WaitHandle[] handles = [stop, server.Exited];
        long quietSince = server.LastActivity;
        while (true)
        {
            int wait = Timeout.Infinite;
            if (timeout > TimeSpan.Zero)
            {
                long since = Math.Max(server.LastActivity, quietSince);
                wait = (int)Math.Clamp(since + (long)timeout.TotalMilliseconds - Environment.TickCount64, 0, int.MaxValue);
            }
            int signalled = WaitHandle.WaitAny(handles, wait);
            if (signalled == 0)
                return true;
            if (signalled == 1)
                return false;
            long idle = Environment.TickCount64 - server.LastActivity;
            if (idle < (long)timeout.TotalMilliseconds)
                continue;
            // Unmounted: the threads stop as the kernel lets go of the connection. In use, or not
            // ours to unmount any more: look again one timeout from now.
            server.Unmount(lazy: false, out _);
            quietSince = Environment.TickCount64;
        }
    }
}
