using System.Text;
namespace Xar.Runtime.Tests;

/// <summary>
/// The allocation-free header scan the launch core runs and XarHeader.Parse (which turns the scan into values
/// and messages) agree on every input, and the scan never throws: checked on well-formed headers and on a
/// fixed-seed stream of mutated ones.
/// </summary>
public class XarHeaderScanTests
{
    private static byte[] Good(string extra = "") =>
        Pad("#!/usr/bin/env xarexec_fuse\nOFFSET=\"4096\"\nUUID=\"0123abcdEF\"\nVERSION=\"1700000000\"\n" +
            "XAREXEC_TARGET=\"bin/run.sh\"\n" + extra + "#xar_stop\necho This XAR file should not be executed by sh\nexit 1\n");

    private static byte[] Pad(string header)
    {
        var bytes = new byte[4096 + 64];
        Array.Fill(bytes, (byte)'\n', 0, 4096);
        Encoding.UTF8.GetBytes(header).CopyTo(bytes, 0);
        "hsqs"u8.CopyTo(bytes.AsSpan(4096));
        return bytes;
    }

    private static (bool Accepted, string? Uuid, string? Target, string? MountRoot, long Offset) Scan(byte[] data)
    {
        var h = XarHeaderScan.Scan(data);
        if (!h.IsValid)
            return (false, null, null, null, 0);
        static string? Text(ReadOnlySpan<byte> t) => Encoding.UTF8.GetString(t);
        return (true, Text(h.Uuid), Text(h.ExecTarget), Text(h.MountRoot), h.Offset);
    }

    private static XarHeader? Parse(byte[] data)
    {
        try
        {
            return XarHeader.Parse(data);
        }
        catch (XarHeaderException)
        {
            return null;
        }
    }

    private static void AssertAgrees(byte[] data)
    {
        var scan = Scan(data);
        var parsed = Parse(data);
        Assert.Equal(scan.Accepted, parsed is not null);
        if (!scan.Accepted)
            return;
        Assert.True(parsed is not null, "the scan accepted a header Parse rejects:\n" + Encoding.UTF8.GetString(data, 0, Math.Min(400, data.Length)));
        Assert.Equal(parsed!.Uuid, scan.Uuid);
        Assert.Equal(string.IsNullOrEmpty(parsed.ExecTarget) ? null : parsed.ExecTarget, string.IsNullOrEmpty(scan.Target) ? null : scan.Target);
        Assert.Equal(string.IsNullOrEmpty(parsed.MountRoot) ? null : parsed.MountRoot, string.IsNullOrEmpty(scan.MountRoot) ? null : scan.MountRoot);
        Assert.Equal(parsed.Offset, scan.Offset);
    }

    [Theory]
    [InlineData("")]
    [InlineData("MOUNT_ROOT=\"/mnt/xar\"\n")]
    [InlineData("DEPENDENCIES=\"\"\n")]
    [InlineData("XAREXEC_TRAMPOLINE_NAMES=\"'invoke_xar_via_trampoline' 'other'\"\n")]
    public void WellFormedHeadersAreTakenWithParsesValues(string extra)
    {
        var data = Good(extra);
        Assert.True(Scan(data).Accepted);
        AssertAgrees(data);
    }

    [Theory]
    [InlineData("XAREXEC_TRAMPOLINE_NAMES=\"'a' 'b'\"\n")]
    [InlineData("UUID=\"aa\"\n")]
    [InlineData("X=y\n")]
    [InlineData("=\"v\"\n")]
    public void HeadersParseRejectsAreNotTaken(string extra)
    {
        var data = Good(extra);
        Assert.Null(Parse(data));
        Assert.False(Scan(data).Accepted);
    }

    [Fact]
    public void MutatedHeadersAreNeverTakenWhereParseDisagrees()
    {
        var random = new Random(20261202);
        byte[] alphabet = "=\"\n'/ ._-0123456789abcdefXAREXEC_TARGETUUIDOFFSETVERSIONMOUNT_ROOT#xar_stop\u00e9"u8.ToArray();
        int accepted = 0, rejected = 0;
        for (int round = 0; round < 20_000; round++)
        {
            var data = Good(random.Next(4) switch
            {
                0 => "",
                1 => "MOUNT_ROOT=\"/mnt/x\"\n",
                2 => "XAREXEC_TRAMPOLINE_NAMES=\"'invoke_xar_via_trampoline'\"\n",
                _ => "A=\"b\"\n",
            });
            int edits = 1 + random.Next(3);
            for (int e = 0; e < edits; e++)
            {
                int at = random.Next(200);
                switch (random.Next(6))
                {
                    case 4: // the image magic
                        data[4096 + random.Next(4)] ^= (byte)(1 << random.Next(8));
                        break;
                    case 5: // a line twice
                    {
                        int start = Array.LastIndexOf(data, (byte)'\n', at) + 1;
                        int end = Array.IndexOf(data, (byte)'\n', at);
                        var line = data[start..(end + 1)];
                        Array.Copy(data, start, data, start + line.Length, 4096 - start - line.Length);
                        line.CopyTo(data, start);
                        break;
                    }
                    case 0:
                        data[at] = alphabet[random.Next(alphabet.Length)];
                        break;
                    case 1:
                        data[at] ^= (byte)(1 << random.Next(8));
                        break;
                    case 2: // delete a byte (shift left within the header)
                        Array.Copy(data, at + 1, data, at, 4095 - at);
                        data[4095] = (byte)'\n';
                        break;
                    default: // insert a byte
                        Array.Copy(data, at, data, at + 1, 4095 - at);
                        data[at] = alphabet[random.Next(alphabet.Length)];
                        break;
                }
            }
            if (random.Next(10) == 0)
                data = data[..random.Next(data.Length)];
            AssertAgrees(data);
            if (Scan(data).Accepted)
                accepted++;
            else
                rejected++;
        }
        // Both outcomes must be common, or the loop proves nothing.
        Assert.True(accepted > 1000, $"only {accepted} mutated headers accepted");
        Assert.True(rejected > 1000, $"only {rejected} mutated headers rejected");
    }
}
