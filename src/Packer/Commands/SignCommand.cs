using System.CommandLine;
using System.Text;
using Xar.Packer.Cli;
using Xar.Runtime;
using Xar.Runtime.Signing;

namespace Xar.Packer.Commands;

/// <summary>
/// `xar sign FILE --key SECRET_KEY [--trusted-comment TEXT]`: signs a XAR (or self-contained file) with a minisign
/// secret key, in its header (<see cref="XarSigner"/>). An encrypted key's password comes from the terminal, or from
/// --password-file / --password-env.
/// </summary>
public static class SignCommand
{
    public static Command Create()
    {
        var file = new Argument<string>("FILE") { Description = "the XAR or self-contained file to sign (rewritten in place; the image and UUID stay)" };
        var key = new Option<string>("--key", "-k") { Description = "minisign secret key (minisign -G writes ~/.minisign/minisign.key)", Required = true };
        var comment = new Option<string?>("--trusted-comment", "-t") { Description = "signed comment (default: timestamp:SECONDS<TAB>file:NAME<TAB>hashed, as minisign)" };
        var passwordFile = new Option<string?>("--password-file") { Description = "read the key's password from this file (its first line)" };
        var passwordEnv = new Option<string?>("--password-env") { Description = "read the key's password from this environment variable" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "print nothing" };
        var command = new Command("sign", "Sign a XAR with a minisign key: the signature goes into its header and covers every header value, the image and a self-contained file's runtime.")
        {
            file, key, comment, passwordFile, passwordEnv, quiet,
        };
        command.SetAction(parse =>
        {
            string path = parse.GetValue(file)!;
            return CliRunner.Run(path, () =>
            {
                if (parse.GetValue(passwordFile) is not null && parse.GetValue(passwordEnv) is not null)
                    throw new UsageException("give --password-file or --password-env, not both");
                string keyPath = parse.GetValue(key)!;
                byte[] keyText = KeyFile.Read(keyPath, secret: true);
                if (!File.Exists(path))
                    throw new FileNotFoundException(null, path);
                if (PosixPath.TryStat(path) is not { IsRegularFile: true })
                    throw new UsageException("is not a regular file (a XAR is signed in place)", path); // a FIFO would block the open
                MinisignSecretKey secret;
                try
                {
                    secret = MinisignSecretKey.Parse(keyText, () => Password(parse.GetValue(passwordFile), parse.GetValue(passwordEnv), keyPath));
                }
                catch (SignatureFormatException e)
                {
                    throw new UsageException(e.Message, keyPath);
                }
                using (secret)
                {
                    string trusted = parse.GetValue(comment) ?? XarSigner.DefaultTrustedComment(path);
                    MinisignSignature signature;
                    try
                    {
                        signature = XarSigner.Sign(path, secret, trusted);
                    }
                    catch (SignatureFormatException e)
                    {
                        throw new UsageException(e.Message);
                    }
                    catch (Xar.Runtime.XarHeaderException e)
                    {
                        throw new UsageException(e.Message);
                    }
                    if (!parse.GetValue(quiet))
                        StandardOutput.Writer.Write($"{path}: signed with key {MinisignPublicKey.FormatKeyId(signature.KeyId)}\n");
                }
                return ExitCodes.Success;
            });
        });
        return command;
    }

    /// <summary>The password of an encrypted key: from the file or variable named, else asked on the terminal (not echoed).</summary>
    private static byte[] Password(string? file, string? variable, string keyPath)
    {
        if (file is not null)
        {
            byte[] content;
            try
            {
                content = File.ReadAllBytes(file);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new UsageException($"cannot read the password: {e.Message}", file);
            }
            int end = Array.IndexOf(content, (byte)'\n');
            var line = end < 0 ? content.AsSpan() : content.AsSpan(0, end);
            return line.TrimEnd((byte)'\r').ToArray();
        }
        if (variable is not null)
        {
            string? value = Environment.GetEnvironmentVariable(variable);
            return value is null ? throw new UsageException($"--password-env {variable}: the variable is not set") : Encoding.UTF8.GetBytes(value);
        }
        if (Console.IsInputRedirected)
            throw new UsageException("the secret key is encrypted and there is no terminal to ask for its password: give --password-file or --password-env", keyPath);
        Console.Error.Write($"Password for {keyPath}: ");
        var typed = new List<byte>();
        while (true)
        {
            var k = Console.ReadKey(intercept: true);
            if (k.Key == ConsoleKey.Enter)
                break;
            if (k.Key == ConsoleKey.Backspace)
            {
                if (typed.Count > 0)
                    typed.RemoveAt(typed.Count - 1);
                continue;
            }
            typed.AddRange(Encoding.UTF8.GetBytes(k.KeyChar.ToString()));
        }
        Console.Error.WriteLine();
        return [.. typed];
    }
}
