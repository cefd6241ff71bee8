namespace Xar.Tests;

/// <summary>
/// Key pairs made by the real minisign (Debian's package): <c>minisign -G</c>, unencrypted (-W) unless a password
/// is given (then fed on stdin, as minisign reads it there when it is no terminal).
/// </summary>
public sealed record MinisignKeys(string PublicKey, string SecretKey)
{
    public static MinisignKeys Create(string directory, string name, string? password = null)
    {
        TestEnv.RequireTool("minisign");
        Directory.CreateDirectory(directory);
        string pub = Path.Combine(directory, name + ".pub");
        string key = Path.Combine(directory, name + ".key");
        var r = TestEnv.Run(new RunOptions("minisign", password is null ? ["-G", "-W", "-p", pub, "-s", key] : ["-G", "-p", pub, "-s", key])
        {
            StandardInput = password is null ? null : System.Text.Encoding.UTF8.GetBytes(password + "\n" + password + "\n"),
            TimeoutMs = 120_000,
        });
        r.EnsureSuccess("minisign -G");
        return new MinisignKeys(pub, key);
    }

    /// <summary>
    /// An unencrypted pair (made by minisign) whose key id is changed to <paramref name="keyId"/> in both files, the
    /// secret key's checksum made again: a second key under an id another key has, as anyone may choose.
    /// </summary>
    public static MinisignKeys CreateWithKeyId(string directory, string name, ReadOnlySpan<byte> keyId)
    {
        var keys = Create(directory, name);
        static void Rewrite(string file, Action<byte[]> change)
        {
            string[] lines = File.ReadAllLines(file);
            byte[] raw = Convert.FromBase64String(lines[1]);
            change(raw);
            lines[1] = Convert.ToBase64String(raw);
            File.WriteAllText(file, string.Join('\n', lines) + "\n");
        }
        byte[] id = keyId.ToArray();
        // Public: "Ed", id (8), key (32). Secret: "Ed", kdf (2), "B2", salt (32), limits (16), id (8), secret (64), checksum (32).
        Rewrite(keys.PublicKey, raw => id.CopyTo(raw, 2));
        Rewrite(keys.SecretKey, raw =>
        {
            id.CopyTo(raw, 54);
            var digest = new Org.BouncyCastle.Crypto.Digests.Blake2bDigest(256);
            digest.BlockUpdate(raw, 0, 2);
            digest.BlockUpdate(raw, 54, 8 + 64);
            digest.DoFinal(raw, 126);
        });
        return keys;
    }

    /// <summary>The key id a public key file names (its 8 bytes).</summary>
    public static byte[] KeyIdOf(string publicKey) => Convert.FromBase64String(File.ReadAllLines(publicKey)[1])[2..10];

    /// <summary>Checks a file and its signature with minisign itself: its exit status and output.</summary>
    public static ProcessResult Verify(string file, string signature, string publicKey) =>
        TestEnv.Run("minisign", "-V", "-m", file, "-x", signature, "-p", publicKey);
}
