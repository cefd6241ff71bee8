using System.Buffers.Binary;
using Xar.SquashFs.Compression;
using Xar.SquashFs.Format;

namespace Xar.SquashFs.Writing;

/// <summary>
/// Writes a metadata table: a stream of records cut into 8 KiB blocks, each compressed on its own
/// (or stored raw with bit 15 of its u16 header set when that is not smaller, or when asked to).
/// Records may span two blocks. The table is built in memory and copied into the image afterwards.
/// </summary>
internal sealed class MetadataWriter
{
    private readonly IBlockCompressor? _compressor;
    private readonly byte[] _block = new byte[SquashFsConstants.MetadataBlockSize];
    private readonly byte[] _compressed = new byte[SquashFsConstants.MetadataBlockSize];
    private readonly MemoryStream _output = new();
    private int _used;

    /// <param name="compressor">Null: every block is stored uncompressed.</param>
    public MetadataWriter(IBlockCompressor? compressor)
    {
        _compressor = compressor;
    }

    /// <summary>Where the next byte goes: table-relative offset of the current block and the offset inside it.</summary>
    public MetadataReference Position => new((ulong)_output.Length, (ushort)_used);

    /// <summary>Table-relative disk offset of the block being filled.</summary>
    public long CurrentBlockStart => _output.Length;

    /// <summary>Bytes written to blocks so far plus the current block's fill (uncompressed stream offset).</summary>
    public long UncompressedLength { get; private set; }

    /// <summary>Number of finished blocks.</summary>
    public int BlockCount { get; private set; }

    public void Write(ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            int n = Math.Min(data.Length, _block.Length - _used);
            data[..n].CopyTo(_block.AsSpan(_used));
            _used += n;
            data = data[n..];
            UncompressedLength += n;
            if (_used == _block.Length)
                FlushBlock();
        }
    }

    public void WriteUInt16(ushort value)
    {
        Span<byte> b = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(b, value);
        Write(b);
    }

    public void WriteUInt32(uint value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        Write(b);
    }

    public void WriteUInt64(ulong value)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, value);
        Write(b);
    }

    /// <summary>Writes out the last, partial block (if any). The writer can go on afterwards.</summary>
    public void Flush()
    {
        if (_used > 0)
            FlushBlock();
    }

    /// <summary>The finished table (call <see cref="Flush"/> first).</summary>
    public ReadOnlySpan<byte> Table => _output.GetBuffer().AsSpan(0, (int)_output.Length);

    public long Length => _output.Length;

    private void FlushBlock()
    {
        var source = _block.AsSpan(0, _used);
        int n = _compressor?.Compress(source, _compressed) ?? 0;
        Span<byte> header = stackalloc byte[2];
        if (n > 0 && n < _used)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(header, (ushort)n);
            _output.Write(header);
            _output.Write(_compressed, 0, n);
        }
        else
        {
            BinaryPrimitives.WriteUInt16LittleEndian(header, (ushort)(_used | SquashFsConstants.MetadataUncompressedBit));
            _output.Write(header);
            _output.Write(source);
        }
        _used = 0;
        BlockCount++;
    }
}
