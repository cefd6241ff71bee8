using System.Text;
using Xar.Runtime;
using Xar.Tests;

namespace Xar.Packer.Tests;

/// <summary>
/// `xar sign` and `xar verify --key`, with keys made by Debian's minisign, checked against minisign itself:
/// what is signed, what a change to any covered byte does, and bad keys, signatures and files.
/// </summary>
public class SignCommandTests
{
    private sealed class Signed : IDisposable
    {
        public readonly TempDir Tmp = new("sign");
        public readonly MinisignKeys Keys;
        public readonly string Xar;

        public Signed(bool selfContained = false)
        {
            Keys = MinisignKeys.Create(Tmp["keys"], "release");
            string tree = Tmp["tree"];
            Directory.CreateDirectory(Path.Combine(tree, "bin"));
            File.WriteAllText(Path.Combine(tree, "bin", "app"), "#!/bin/sh\necho signed app \"$@\"\n");
            File.SetUnixFileMode(Path.Combine(tree, "bin", "app"), (UnixFileMode)0x1ED);
            var data = new byte[200_000];
            new Random(3).NextBytes(data);
            File.WriteAllBytes(Path.Combine(tree, "data.bin"), data);
            Xar = Tmp[selfContained ? "app" : "app.xar"];
            string[] pack = ["pack", tree, "-o", Xar, "--exec", "bin/app", "--quiet"];
            XarCli.Run(selfContained ? [.. pack, "--self-contained"] : pack).EnsureSuccess("pack");
        }

        public ProcessResult Sign(params string[] extra) => XarCli.Run(["sign", Xar, "--key", Keys.SecretKey, .. extra]);

        public ProcessResult Verify(string? file = null, string? key = null) => XarCli.Run("verify", "-q", file ?? Xar, "--key", key ?? Keys.PublicKey);

        public void Dispose() => Tmp.Dispose();
    }

    private static string Header(string path) => Encoding.ASCII.GetString(File.ReadAllBytes(path).AsSpan(0, 4096)).Split("#xar_stop")[0];

    [SkippableFact]
    public void SignedFileVerifiesKeepsItsImageAndUuidAndResigningReplaces()
    {
        using var s = new Signed();
        byte[] before = File.ReadAllBytes(s.Xar);
        string uuid = XarHeader.ReadFromFile(s.Xar).Uuid;
        var r = s.Sign("--trusted-comment", "release 1.0");
        r.EnsureSuccess("sign");
        // The key id as minisign prints it in the public key's comment.
        string id = File.ReadAllLines(s.Keys.PublicKey)[0].Split(' ')[^1];
        Assert.Equal($"{s.Xar}: signed with key {id}\n", r.StandardOutput);
        Assert.Equal(0, s.Verify().ExitCode);
        byte[] after = File.ReadAllBytes(s.Xar);
        Assert.Equal(before.Length, after.Length);
        Assert.True(before.AsSpan(4096).SequenceEqual(after.AsSpan(4096)), "the image changed");
        Assert.Equal(uuid, XarHeader.ReadFromFile(s.Xar).Uuid);
        var full = XarCli.Run("verify", s.Xar, "--key", s.Keys.PublicKey).EnsureSuccess("verify");
        Assert.Contains("UUID matches the image hash", full.StandardOutput);
        Assert.Contains("trusted comment: release 1.0", full.StandardOutput);

        s.Sign("--trusted-comment", "release 1.1").EnsureSuccess("sign again");
        string header = Header(s.Xar);
        Assert.Equal(1, header.Split("XAR_SIGNATURE=").Length - 1);
        Assert.Contains("trusted comment: release 1.1", XarCli.Run("verify", s.Xar, "--key", s.Keys.PublicKey).EnsureSuccess("verify").StandardOutput);
        // Every line Facebook's parser reads is still NAME="value", and ours reads the header as before.
        Assert.Equal(uuid, XarHeader.ReadFromFile(s.Xar).Uuid);
        Assert.Equal("xar_bootstrap.sh", XarHeader.ReadFromFile(s.Xar).ExecTarget);
    }

    [SkippableFact]
    public void MinisignItselfAcceptsTheExportedStatementAndRefusesAChangedOne()
    {
        using var s = new Signed();
        s.Sign().EnsureSuccess("sign");
        string statement = s.Tmp["statement"];
        XarCli.Run("verify", "-q", s.Xar, "--key", s.Keys.PublicKey, "--export-statement", statement).EnsureSuccess("export");
        var ok = MinisignKeys.Verify(statement, statement + ".minisig", s.Keys.PublicKey);
        Assert.True(ok.ExitCode == 0, ok.StandardError + ok.StandardOutput);
        Assert.Contains("Signature and comment signature verified", ok.StandardOutput + ok.StandardError);
        // The statement holds the header values and the whole image.
        byte[] bytes = File.ReadAllBytes(statement);
        Assert.StartsWith("xar signed statement 1\narchive-offset 0\n#!/usr/bin/env xarexec_fuse\nOFFSET=\"4096\"\n", Encoding.ASCII.GetString(bytes, 0, 200));
        byte[] xar = File.ReadAllBytes(s.Xar);
        Assert.True(bytes.AsSpan(bytes.Length - (xar.Length - 4096)).SequenceEqual(xar.AsSpan(4096)));
        bytes[^10] ^= 1;
        File.WriteAllBytes(statement, bytes);
        Assert.NotEqual(0, MinisignKeys.Verify(statement, statement + ".minisig", s.Keys.PublicKey).ExitCode);
        // Export needs a signature.
        string unsigned = s.Tmp["unsigned.xar"];
        XarCli.Run("pack", s.Tmp["tree"], "-o", unsigned, "--exec", "bin/app", "--quiet").EnsureSuccess("pack");
        XarCli.AssertBadInput(XarCli.Run("verify", "-q", unsigned, "--export-statement", s.Tmp["x"]), "not signed");
        Assert.False(File.Exists(s.Tmp["x"]));
    }

    [SkippableFact]
    public void WrongKeyMissingSignatureAndEveryTamperedByteAreExitTwoWithOneLine()
    {
        using var s = new Signed();
        string unsigned = s.Tmp["unsigned.xar"];
        File.Copy(s.Xar, unsigned);
        s.Sign().EnsureSuccess("sign");
        var other = MinisignKeys.Create(s.Tmp["keys"], "other");
        XarCli.AssertBadInput(s.Verify(key: other.PublicKey), "not with the key given");
        XarCli.AssertBadInput(s.Verify(file: unsigned), "not signed");

        byte[] good = File.ReadAllBytes(s.Xar);
        string header = Encoding.ASCII.GetString(good, 0, 4096);
        int signature = header.IndexOf("XAR_SIGNATURE=\"minisign ", StringComparison.Ordinal) + 40;
        int target = header.IndexOf("XAREXEC_TARGET=\"", StringComparison.Ordinal) + 16;
        int version = header.IndexOf("VERSION=\"", StringComparison.Ordinal) + 9;
        // A byte of the image (start, middle, last), of a covered header value, of the signature itself.
        foreach (var (at, what) in new[] { (4096 + 100, "image"), (good.Length / 2, "image"), (good.Length - 1, "image"), (target, "header"), (version, "header"), (signature, "signature") })
        {
            byte[] b = (byte[])good.Clone();
            b[at] = what == "image" ? (byte)(b[at] ^ 0x01) : b[at] == (byte)'1' ? (byte)'2' : b[at] == (byte)'A' ? (byte)'B' : (byte)'A';
            string path = s.Tmp[$"tampered-{at}.xar"];
            File.WriteAllBytes(path, b);
            var r = s.Verify(file: path);
            XarCli.AssertBadInput(r);
            Assert.Matches("bad signature|malformed|not with the key given|UUID|header", r.StandardError);
        }
        // Adding a header value (DEPENDENCIES, MOUNT_ROOT) is a change too.
        foreach (string line in (string[])["DEPENDENCIES=\"evil\"\n", "MOUNT_ROOT=\"/tmp\"\n"])
        {
            string text = Encoding.ASCII.GetString(good, 0, 4096);
            int stop = text.IndexOf("#xar_stop", StringComparison.Ordinal);
            string changed = text[..stop] + line + text[stop..];
            int pad = changed.Length - 4096;
            changed = changed[..^pad]; // the padding newlines absorb the new line
            string path = s.Tmp["added.xar"];
            File.WriteAllBytes(path, [.. Encoding.ASCII.GetBytes(changed), .. good.AsSpan(4096).ToArray()]);
            XarCli.AssertBadInput(s.Verify(file: path), "bad signature");
        }
    }

    [SkippableFact]
    public void SelfContainedFilesSignTheirRuntimeToo()
    {
        using var s = new Signed(selfContained: true);
        s.Sign().EnsureSuccess("sign");
        Assert.Equal(0, s.Verify().ExitCode);
        byte[] b = File.ReadAllBytes(s.Xar);
        b[5000] ^= 1; // inside the ELF runtime
        string path = s.Tmp["tampered-runtime"];
        File.WriteAllBytes(path, b);
        XarCli.AssertBadInput(s.Verify(file: path), "bad signature");
        // The XAR cut out of it (tail -c) has no runtime and so another statement.
        string statement = s.Tmp["statement"];
        XarCli.Run("verify", "-q", s.Xar, "--key", s.Keys.PublicKey, "--export-statement", statement).EnsureSuccess("export");
        Assert.Equal(0, MinisignKeys.Verify(statement, statement + ".minisig", s.Keys.PublicKey).ExitCode);
    }

    [SkippableFact]
    public void EncryptedKeysTakeTheirPasswordFromAFileOrAVariable()
    {
        using var s = new Signed();
        var keys = MinisignKeys.Create(s.Tmp["keys"], "encrypted", password: "correct horse");
        File.WriteAllText(s.Tmp["pw"], "correct horse\n");
        File.WriteAllText(s.Tmp["bad-pw"], "wrong\n");
        byte[] before = File.ReadAllBytes(s.Xar);
        XarCli.AssertBadInput(XarCli.Run("sign", s.Xar, "--key", keys.SecretKey, "--password-file", s.Tmp["bad-pw"]), "wrong password");
        Assert.Equal(before, File.ReadAllBytes(s.Xar));
        XarCli.AssertBadInput(TestEnv.Run(new RunOptions(XarBinary.Path, ["sign", s.Xar, "--key", keys.SecretKey]) { StandardInput = [] }), "no terminal");
        XarCli.Run("sign", s.Xar, "--key", keys.SecretKey, "--password-file", s.Tmp["pw"]).EnsureSuccess("sign with a password file");
        Assert.Equal(0, s.Verify(key: keys.PublicKey).ExitCode);
        var r = TestEnv.Run(new RunOptions(XarBinary.Path, ["sign", s.Xar, "--key", keys.SecretKey, "--password-env", "XAR_TEST_PW"])
        {
            Environment = new Dictionary<string, string?> { ["XAR_TEST_PW"] = "correct horse" },
        });
        r.EnsureSuccess("sign with a password variable");
        Assert.Equal(0, s.Verify(key: keys.PublicKey).ExitCode);
    }

    [SkippableFact]
    public void BadKeysSignaturesAndFilesAreExitTwoAndWriteNothing()
    {
        using var s = new Signed();
        byte[] original = File.ReadAllBytes(s.Xar);
        void Unchanged() => Assert.Equal(original, File.ReadAllBytes(s.Xar));

        // Malformed keys.
        string bad = s.Tmp["bad.key"];
        File.WriteAllText(bad, "untrusted comment: nothing\nnot base64 at all\n");
        File.SetUnixFileMode(bad, (UnixFileMode)0x180);
        XarCli.AssertBadInput(XarCli.Run("sign", s.Xar, "--key", bad), "not a minisign secret key");
        string publicAsSecret = s.Tmp["public-as-secret.key"];
        File.Copy(s.Keys.PublicKey, publicAsSecret);
        File.SetUnixFileMode(publicAsSecret, (UnixFileMode)0x180);
        XarCli.AssertBadInput(XarCli.Run("sign", s.Xar, "--key", publicAsSecret), "not a minisign secret key");
        XarCli.AssertBadInput(XarCli.Run("verify", s.Xar, "--key", bad), "not a minisign public key");
        Unchanged();
        // Key files others may change (or, for a secret key, read).
        string loose = s.Tmp["loose.key"];
        File.Copy(s.Keys.SecretKey, loose);
        File.SetUnixFileMode(loose, (UnixFileMode)0x1A4); // 0644
        XarCli.AssertBadInput(XarCli.Run("sign", s.Xar, "--key", loose), "read by others");
        string writable = s.Tmp["writable.pub"];
        File.Copy(s.Keys.PublicKey, writable);
        File.SetUnixFileMode(writable, (UnixFileMode)0x1B6); // 0666
        XarCli.AssertBadInput(XarCli.Run("verify", s.Xar, "--key", writable), "writable by others");
        Unchanged();
        // A signature line that cannot fit the header's 4096 bytes (a header already holding a long value), a comment too long.
        XarCli.AssertBadInput(s.Sign("--trusted-comment", new string('x', 1025)), "more than 1024");
        Unchanged();
        string full = TestXar.Build(s.Tmp["tree"], s.Tmp["full.xar"], extra: [new("NOTES", new string('n', 3000))]);
        byte[] fullBytes = File.ReadAllBytes(full);
        XarCli.AssertBadInput(XarCli.Run("sign", full, "--key", s.Keys.SecretKey, "--trusted-comment", new string('x', 600)), "does not fit");
        Assert.Equal(fullBytes, File.ReadAllBytes(full));
        // A bare image has no header to sign.
        var (_, image) = XarCli.Make(s.Tmp);
        byte[] imageBytes = File.ReadAllBytes(image);
        XarCli.AssertBadInput(XarCli.Run("sign", image, "--key", s.Keys.SecretKey), "bare SquashFS image");
        Assert.Equal(imageBytes, File.ReadAllBytes(image));
        // A malformed signature in the header.
        s.Sign().EnsureSuccess("sign");
        byte[] signed = File.ReadAllBytes(s.Xar);
        string text = Encoding.ASCII.GetString(signed, 0, 4096);
        int at = text.IndexOf("XAR_SIGNATURE=\"minisign ", StringComparison.Ordinal) + 24;
        signed[at] = (byte)'!';
        File.WriteAllBytes(s.Tmp["malformed.xar"], signed);
        XarCli.AssertBadInput(s.Verify(file: s.Tmp["malformed.xar"]), "malformed");
        Assert.Empty(Directory.GetFiles(s.Tmp.Path, ".*.tmp"));
    }
}
