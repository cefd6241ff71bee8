using Xar.Runtime;

namespace Xar.Runtime.Tests;

public class ElfExtentTests
{
    /// <summary>A system executable ends where its section header table ends: the whole file.</summary>
    [Theory]
    [InlineData("/bin/true")]
    [InlineData("/bin/sh")]
    public void AnExecutableEndsAtItsFileSize(string path)
    {
        byte[] file = File.ReadAllBytes(new FileInfo(path).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? path);
        Assert.Equal(file.Length, ElfExtent.End(file.AsSpan(0, Math.Min(file.Length, ElfExtent.HeadBytes))));
        Assert.Equal(file.Length, ElfExtent.End([.. file, .. "appended"u8]));
    }

    [Fact]
    public void WhatIsNotAReadableElfHeaderHasNoEnd()
    {
        byte[] file = File.ReadAllBytes("/bin/true");
        Assert.Equal(-1, ElfExtent.End("#!/bin/sh\n"u8));
        Assert.Equal(-1, ElfExtent.End(file.AsSpan(0, 40))); // cut inside the ELF header
        Assert.Equal(-1, ElfExtent.End(file.AsSpan(0, 100))); // program headers beyond what was read
        byte[] bigEndian = [.. file];
        bigEndian[5] = 2;
        Assert.Equal(-1, ElfExtent.End(bigEndian));
    }

    [Theory]
    [InlineData(1, 4096)]
    [InlineData(4096, 4096)]
    [InlineData(4097, 8192)]
    public void TheXarStartsAtTheEndRoundedUpTo4096(long end, long start) => Assert.Equal(start, ElfExtent.XarStart(end));
}
