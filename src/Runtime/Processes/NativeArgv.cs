using System.Runtime.InteropServices;
using System.Text;

namespace Xar.Runtime;

/// <summary>
/// A program path and its NULL-terminated argv as NUL-terminated byte strings (UTF-8 when given as .NET strings) in native memory,
/// for execv and posix_spawn; freed on Dispose (which never runs after a successful exec).
/// </summary>
internal sealed unsafe class NativeArgv : IDisposable
{
    private byte* _path;
    private byte** _argv;
    private readonly int _count;

    /// <param name="path">The file to run.</param>
    /// <param name="argv">Its arguments, argv[0] first (the name the program sees).</param>
    public NativeArgv(string path, ReadOnlySpan<string> argv)
        : this(path, RawArguments.Utf8(argv))
    {
    }

    /// <param name="path">The file to run.</param>
    /// <param name="argv">Its arguments as bytes, argv[0] first.</param>
    public NativeArgv(string path, IReadOnlyList<byte[]> argv)
    {
        _count = argv.Count;
        _path = Copy(path);
        _argv = (byte**)NativeMemory.AllocZeroed((nuint)(_count + 1), (nuint)sizeof(byte*));
        for (int i = 0; i < argv.Count; i++)
        {
            _argv[i] = (byte*)NativeMemory.Alloc((nuint)argv[i].Length + 1);
            argv[i].CopyTo(new Span<byte>(_argv[i], argv[i].Length));
            _argv[i][argv[i].Length] = 0;
        }
    }

    public byte* Path => _path;

    public byte** Argv => _argv;

    private static byte* Copy(string s)
    {
        int n = Encoding.UTF8.GetByteCount(s);
        byte* p = (byte*)NativeMemory.Alloc((nuint)n + 1);
        fixed (char* c = s)
            Encoding.UTF8.GetBytes(c, s.Length, p, n);
        p[n] = 0;
        return p;
    }

    public void Dispose()
    {
        if (_argv is null)
            return;
        for (int i = 0; i < _count; i++)
            NativeMemory.Free(_argv[i]);
        NativeMemory.Free(_argv);
        NativeMemory.Free(_path);
        _argv = null;
        _path = null;
    }
}
