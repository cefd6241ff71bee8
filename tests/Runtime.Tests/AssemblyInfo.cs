// The runtime and its tests are Linux-only (FUSE, flock, /proc).
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
