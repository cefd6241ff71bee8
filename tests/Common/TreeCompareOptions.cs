namespace Xar.Tests;

/// <summary>
/// How two trees are compared. Command-line form (<see cref="Parse"/>), as the tests pass it:
/// <code>
///   --via MODE            reader for images on both sides: auto (kernel as root, else squashfuse_ll),
///                         kernel, squashfuse_ll, squashfuse, unsquashfs, or mount:COMMAND (any mount
///                         command, run by /bin/sh with IMAGE, OFFSET and MOUNTPOINT set)
///   --via-a / --via-b MODE   one side only (wins over --via)
///   --offset-a / --offset-b N   where the image starts (default: "hsqs" at 0, or a XAR header's OFFSET="N")
///   --no-owner --no-times --no-xattrs --no-root   leave out uid/gid, mtimes, xattrs, the top directory's own attributes
///   --no-write-bits       compare modes without their write bits (a read-only copy of a tree, such as a cache entry)
///   --inodes              also compare inode numbers and link counts (two views of one image)
///   --sparse              also compare allocated blocks of regular files (st_blocks: where holes are kept)
///   --max N               differences shown in the report (default 20; 0 = all)
///   --tmp DIR             where mount points and extractions go (default: the temp folder)
/// </code>
/// </summary>
public sealed record TreeCompareOptions
{
    public string ViaA { get; init; } = "auto";
    public string ViaB { get; init; } = "auto";
    public long? OffsetA { get; init; }
    public long? OffsetB { get; init; }
    public bool Owner { get; init; } = true;
    public bool Times { get; init; } = true;
    public bool Xattrs { get; init; } = true;
    public bool Root { get; init; } = true;
    public bool WriteBits { get; init; } = true;
    public bool Inodes { get; init; }
    public bool Sparse { get; init; }
    public int MaxShown { get; init; } = 20;
    public string? WorkDirectory { get; init; }

    public static TreeCompareOptions Parse(IReadOnlyList<string> args)
    {
        var o = new TreeCompareOptions();
        string? via = null, viaA = null, viaB = null;
        for (int i = 0; i < args.Count; i++)
        {
            string Value() => i + 1 < args.Count ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            long Number() => long.TryParse(Value(), out long n) && n >= 0 ? n : throw new ArgumentException($"{args[i - 1]} wants a number, not '{args[i]}'");
            switch (args[i])
            {
                case "--via": via = Value(); break;
                case "--via-a": viaA = Value(); break;
                case "--via-b": viaB = Value(); break;
                case "--offset-a": o = o with { OffsetA = Number() }; break;
                case "--offset-b": o = o with { OffsetB = Number() }; break;
                case "--no-owner": o = o with { Owner = false }; break;
                case "--no-times": o = o with { Times = false }; break;
                case "--no-xattrs": o = o with { Xattrs = false }; break;
                case "--no-root": o = o with { Root = false }; break;
                case "--no-write-bits": o = o with { WriteBits = false }; break;
                case "--inodes": o = o with { Inodes = true }; break;
                case "--sparse": o = o with { Sparse = true }; break;
                case "--max": o = o with { MaxShown = checked((int)Number()) }; break;
                case "--tmp": o = o with { WorkDirectory = Value() }; break;
                default: throw new ArgumentException($"unknown tree comparison option '{args[i]}'");
            }
        }
        return o with { ViaA = viaA ?? via ?? "auto", ViaB = viaB ?? via ?? "auto" };
    }
}
