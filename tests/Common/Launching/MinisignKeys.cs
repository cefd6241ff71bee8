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

    /// <summary>Checks a file and its signature with minisign itself: its exit status and output.</summary>
    public static ProcessResult Verify(string file, string signature, string publicKey) =>
        TestEnv.Run("minisign", "-V", "-m", file, "-x", signature, "-p", publicKey);
}
