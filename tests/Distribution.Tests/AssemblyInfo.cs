// The registry tests run xar and docker-registry, Linux programs.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
