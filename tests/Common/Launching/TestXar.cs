using System.Text;
using Xar.Runtime;

namespace Xar.Tests;

/// <summary>
/// Builds XAR files for the tests with mksquashfs (the peer) and XarHeader.ToBytes(), so the launcher
/// is tested independently of our own image writer.
/// </summary>
public static class TestXar
{
    /// <summary>The bootstrap `xar pack --exec` writes, in spirit: drop $1, export XAR_PATH/XAR_MOUNT, exec the program.</summary>
    public const string BootstrapName = "xar_bootstrap.sh";

    public static string Bootstrap(string program) =>
        "XAR_PATH=\"$1\"; shift\n" +
        "XAR_MOUNT=$(cd \"$(dirname \"$0\")\" && pwd)\n" +
        "export XAR_PATH XAR_MOUNT\n" +
        $"exec \"$XAR_MOUNT/{program}\" \"$@\"\n";

    /// <summary>A test program: prints its arguments one per line as [arg], the interesting environment, and stdin; exits with $XAR_TEST_EXIT.</summary>
    public const string EchoApp =
        "#!/bin/sh\n" +
        "for a in \"$@\"; do printf '[%s]\\n' \"$a\"; done\n" +
        "echo \"XAR_PATH=$XAR_PATH\"\n" +
        "echo \"XAR_MOUNT=$XAR_MOUNT\"\n" +
        "echo \"NEW_MOUNT=${XARFUSE_NEW_MOUNT:-}\"\n" +
        "echo \"UMASK=$(umask)\"\n" +
        "if [ -n \"$XAR_TEST_STDIN\" ]; then echo \"STDIN=$(cat)\"; fi\n" +
        "if [ -n \"$XAR_TEST_SLEEP\" ]; then sleep \"$XAR_TEST_SLEEP\"; fi\n" +
        "cat \"$XAR_MOUNT/data/payload.txt\"\n" +
        "exit ${XAR_TEST_EXIT:-0}\n";

    public const string Payload = "payload from inside the image\n";

    /// <summary>Writes the echo app tree into <paramref name="dir"/>.</summary>
    public static void WriteEchoAppTree(string dir)
    {
        Directory.CreateDirectory(Path.Combine(dir, "bin"));
        Directory.CreateDirectory(Path.Combine(dir, "data"));
        WriteExecutable(Path.Combine(dir, "bin", "app"), EchoApp);
        WriteExecutable(Path.Combine(dir, BootstrapName), Bootstrap("bin/app"));
        File.WriteAllText(Path.Combine(dir, "data", "payload.txt"), Payload);
        // A little bulk so extraction has something to do.
        for (int i = 0; i < 20; i++)
            File.WriteAllText(Path.Combine(dir, "data", $"file{i:D2}.txt"), new string((char)('a' + i), 5000 + i * 997));
    }

    public static void WriteExecutable(string path, string text)
    {
        File.WriteAllText(path, text);
        File.SetUnixFileMode(path, (UnixFileMode)0x1ED);
    }

    public static string NewUuid() => Convert.ToHexString(Guid.NewGuid().ToByteArray())[..16].ToLowerInvariant();

    /// <summary>mksquashfs of <paramref name="tree"/> behind a header from XarHeader.ToBytes().</summary>
    public static string Build(string tree, string output, string? uuid = null, string? execTarget = BootstrapName,
        IEnumerable<KeyValuePair<string, string>>? extra = null, params string[] mksquashfsOptions)
    {
        var header = new XarHeader(uuid ?? NewUuid(), "1700000000", execTarget, extra);
        return Assemble(header.ToBytes(), tree, output, mksquashfsOptions);
    }

    /// <summary>The header text Facebook's make_xar writes, byte for byte in layout, with mksquashfs -noI -noX -b 262144 -comp zstd.</summary>
    public static string BuildLikeMakeXar(string tree, string output, string uuid)
    {
        var text = new StringBuilder();
        text.Append("#!/usr/bin/env xarexec_fuse\n");
        text.Append("OFFSET=\"4096\"\n");
        text.Append($"UUID=\"{uuid}\"\n");
        text.Append("VERSION=\"1624969851\"\n");
        text.Append("DEPENDENCIES=\"\"\n");
        text.Append($"XAREXEC_TARGET=\"{BootstrapName}\"\n");
        text.Append("#xar_stop\n");
        text.Append("echo This XAR file should not be executed by sh\n");
        text.Append("exit 1\n");
        text.Append("# Actual squashfs file begins at 4096\n");
        var header = new byte[4096];
        Array.Fill(header, (byte)'\n');
        Encoding.ASCII.GetBytes(text.ToString()).CopyTo(header, 0);
        return Assemble(header, tree, output, "-noI", "-noX", "-b", "262144", "-comp", "zstd");
    }

    public static string Assemble(byte[] header, string tree, string output, params string[] mksquashfsOptions)
    {
        string image = output + ".sqfs";
        TestEnv.Run(new RunOptions("mksquashfs", [tree, image, "-noappend", "-quiet", "-no-progress", "-all-root", .. mksquashfsOptions]))
            .EnsureSuccess("mksquashfs");
        using (var outStream = File.Create(output))
        {
            outStream.Write(header);
            using var img = File.OpenRead(image);
            img.CopyTo(outStream);
        }
        File.Delete(image);
        File.SetUnixFileMode(output, (UnixFileMode)0x1ED);
        return output;
    }
}
