// `xar run`, `mount`, `unmount`, `gc` and their tests are Linux-only (FUSE, flock, /proc), as in Launcher.Tests.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
