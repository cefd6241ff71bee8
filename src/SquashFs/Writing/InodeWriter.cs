using System.Buffers.Binary;
using Xar.SquashFs.Format;

namespace Xar.SquashFs.Writing;

/// <summary>
/// Encodes inodes into the inode table. The basic form is used unless a field needs the extended
/// one, as mksquashfs decides: xattrs; for files also more than one link, a size or start beyond
/// 32 bits, or sparse blocks; for directories a listing over 64 KiB or a directory index.
/// </summary>
internal sealed class InodeWriter(MetadataWriter table)
{
    private byte[] _buffer = new byte[256];

    public void Write(SourceInode inode)
    {
        var b = new SpanWriter(_buffer);
        bool hasXattrs = inode.XattrIndex != SquashFsConstants.InvalidIndex;
        InodeType type = inode.Type;
        switch (inode.Type)
        {
            case InodeType.Directory:
            {
                var listing = inode.Directory!.Listing!;
                uint fileSize = listing.Size + 3;
                bool extended = hasXattrs || fileSize > ushort.MaxValue || listing.Index.Count > 0;
                uint links = 2 + inode.SubdirectoryCount;
                if (!extended)
                {
                    Header(ref b, inode, InodeType.Directory);
                    b.U32(listing.BlockStart);
                    b.U32(links);
                    b.U16((ushort)fileSize);
                    b.U16(listing.BlockOffset);
                    b.U32(inode.ParentNumber);
                }
                else
                {
                    int need = 64;
                    foreach (var e in listing.Index)
                        need += 12 + e.Name.Length;
                    EnsureCapacity(ref b, need);
                    Header(ref b, inode, InodeType.ExtendedDirectory);
                    b.U32(links);
                    b.U32(fileSize);
                    b.U32(listing.BlockStart);
                    b.U32(inode.ParentNumber);
                    b.U16((ushort)listing.Index.Count);
                    b.U16(listing.BlockOffset);
                    b.U32(inode.XattrIndex);
                    foreach (var e in listing.Index)
                    {
                        b.U32(e.ListingOffset);
                        b.U32(e.BlockStart);
                        b.U32((uint)(e.Name.Length - 1));
                        b.Bytes(e.Name);
                    }
                }
                break;
            }
            case InodeType.File:
            {
                var data = inode.Data!;
                EnsureCapacity(ref b, 64 + data.BlockSizes.Length * 4);
                bool extended = hasXattrs || inode.Nlink > 1 || data.Size > uint.MaxValue
                    || data.BlocksStart > uint.MaxValue || data.SparseBytes > 0;
                if (!extended)
                {
                    Header(ref b, inode, InodeType.File);
                    b.U32((uint)data.BlocksStart);
                    b.U32(data.FragmentIndex);
                    b.U32(data.FragmentOffset);
                    b.U32((uint)data.Size);
                }
                else
                {
                    Header(ref b, inode, InodeType.ExtendedFile);
                    b.U64(data.BlocksStart);
                    b.U64(data.Size);
                    b.U64(data.SparseBytes);
                    b.U32(inode.Nlink);
                    b.U32(data.FragmentIndex);
                    b.U32(data.FragmentOffset);
                    b.U32(inode.XattrIndex);
                }
                foreach (uint size in data.BlockSizes)
                    b.U32(size);
                break;
            }
            case InodeType.Symlink:
            {
                var target = inode.SymlinkTarget!;
                EnsureCapacity(ref b, 64 + target.Length);
                Header(ref b, inode, hasXattrs ? InodeType.ExtendedSymlink : InodeType.Symlink);
                b.U32(inode.Nlink);
                b.U32((uint)target.Length);
                b.Bytes(target);
                if (hasXattrs)
                    b.U32(inode.XattrIndex);
                break;
            }
            case InodeType.BlockDevice:
            case InodeType.CharDevice:
                Header(ref b, inode, hasXattrs ? type.ToExtended() : type);
                b.U32(inode.Nlink);
                b.U32(inode.DeviceNumber);
                if (hasXattrs)
                    b.U32(inode.XattrIndex);
                break;
            case InodeType.Fifo:
            case InodeType.Socket:
                Header(ref b, inode, hasXattrs ? type.ToExtended() : type);
                b.U32(inode.Nlink);
                if (hasXattrs)
                    b.U32(inode.XattrIndex);
                break;
            default:
                throw new InvalidOperationException($"inode type {inode.Type}");
        }
        inode.Reference = table.Position;
        table.Write(b.Written);
        inode.Written = true;
    }

    private void EnsureCapacity(ref SpanWriter b, int need)
    {
        if (_buffer.Length < need)
            _buffer = new byte[Math.Max(need, _buffer.Length * 2)];
        b = new SpanWriter(_buffer);
    }

    private static void Header(ref SpanWriter b, SourceInode inode, InodeType type)
    {
        b.U16((ushort)type);
        b.U16(inode.Permissions);
        b.U16(inode.UidIndex);
        b.U16(inode.GidIndex);
        b.U32(inode.Mtime);
        b.U32(inode.Number);
    }
}

/// <summary>Little-endian writes into a buffer.</summary>
internal ref struct SpanWriter(Span<byte> buffer)
{
    private readonly Span<byte> _buffer = buffer;
    private int _length;

    public readonly ReadOnlySpan<byte> Written => _buffer[.._length];

    public void U16(ushort v) { BinaryPrimitives.WriteUInt16LittleEndian(_buffer[_length..], v); _length += 2; }

    public void U32(uint v) { BinaryPrimitives.WriteUInt32LittleEndian(_buffer[_length..], v); _length += 4; }

    public void I32(int v) { BinaryPrimitives.WriteInt32LittleEndian(_buffer[_length..], v); _length += 4; }

    public void I16(short v) { BinaryPrimitives.WriteInt16LittleEndian(_buffer[_length..], v); _length += 2; }

    public void U64(ulong v) { BinaryPrimitives.WriteUInt64LittleEndian(_buffer[_length..], v); _length += 8; }

    public void Bytes(ReadOnlySpan<byte> v) { v.CopyTo(_buffer[_length..]); _length += v.Length; }
}
