"""Writing a bundle's zip archive, front to back.

For folders and files it writes what :mod:`zipfile` writes into a seekable file, byte for
byte (``tests/unit/bundle/test_bundle_zipwriter.py`` compares them, ZIP64 records
included), without zipfile's cost per entry: a :class:`zipfile.ZipInfo`, a header written
twice with a seek back and forth, a write handle, and Python calls per central directory
field. A file's bytes are compressed before its header is written, so the header is right
the first time and the output need not be seekable (it is never sought or told).

A streamed entry (its size is not known before it ends) is written as zipfile writes one to
a stream that cannot seek: a data descriptor with ZIP64 sizes follows its data.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from collections.abc import Iterable
from typing import IO

__all__ = ["ZipOut"]

_LOCAL = struct.Struct("<4s2B4HL2L2H")  # zipfile.structFileHeader
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")  # zipfile.structCentralDir
_END = struct.Struct("<4s4H2LH")  # zipfile.structEndArchive
_END64 = struct.Struct("<4sQ2H2L4Q")  # zipfile.structEndArchive64
_END64_LOCATOR = struct.Struct("<4sLQL")  # zipfile.structEndArchive64Locator
_ZIP64_EXTRA = struct.Struct("<HHQQ")
_DESCRIPTOR64 = struct.Struct("<LLQQ")
_DESCRIPTOR_SIGNATURE = 0x08074B50
_VERSION = 20  # zipfile.DEFAULT_VERSION
_ZIP64_VERSION = 45
_UNIX = 3
_STORED, _DEFLATED = zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED
_DATA_DESCRIPTOR = 0x08
_UTF8_NAME = 0x800
_MAX32 = 0xFFFFFFFF


class ZipOut:
    """Entries of one zip archive, written to ``out`` as they come; :meth:`close` writes the
    central directory. Every entry is dated ``date_time`` and made by Unix (mode bits in the
    external attributes)."""

    def __init__(self, out: IO[bytes], date_time: tuple[int, int, int, int, int, int]) -> None:
        self._out = out
        try:
            self._offset = out.tell()
        except (AttributeError, OSError):
            self._offset = 0
        self._central: list[bytes] = []
        year, month, day, hour, minute, second = date_time
        self._date = (year - 1980) << 9 | month << 5 | day
        self._time = hour << 11 | minute << 5 | (second // 2)

    @staticmethod
    def _name(name: str) -> tuple[bytes, int]:
        try:
            return name.encode("ascii"), 0
        except UnicodeEncodeError:
            return name.encode("utf-8"), _UTF8_NAME

    def _record(
        self,
        name: bytes,
        flags: int,
        method: int,
        crc: int,
        compressed: int,
        size: int,
        mode: int,
        offset: int,
        version: int,
    ) -> None:
        """The entry's central directory record, with ZIP64 fields where zipfile puts them."""
        wide = []
        if size > zipfile.ZIP64_LIMIT or compressed > zipfile.ZIP64_LIMIT:
            wide += [size, compressed]
            size = compressed = _MAX32
        if offset > zipfile.ZIP64_LIMIT:
            wide.append(offset)
            offset = _MAX32
        extra = struct.pack(f"<HH{len(wide)}Q", 1, 8 * len(wide), *wide) if wide else b""
        if wide:
            version = _ZIP64_VERSION
        self._central.append(
            _CENTRAL.pack(
                b"PK\x01\x02",
                version,
                _UNIX,
                version,
                0,
                flags,
                method,
                self._time,
                self._date,
                crc,
                compressed,
                size,
                len(name),
                len(extra),
                0,
                0,
                0,
                mode,
                offset,
            )
            + name
            + extra
        )

    def directory(self, name: str, mode: int) -> None:
        """A folder entry (``name`` ends in ``/``)."""
        encoded, flags = self._name(name)
        header = _LOCAL.pack(
            b"PK\x03\x04",
            _VERSION,
            0,
            flags,
            _STORED,
            self._time,
            self._date,
            0,
            0,
            0,
            len(encoded),
            0,
        )
        self._record(encoded, flags, _STORED, 0, 0, 0, mode, self._offset, _VERSION)
        self._out.write(header + encoded)
        self._offset += len(header) + len(encoded)

    def file(self, name: str, data: bytes, mode: int, level: int) -> None:
        """A file entry: ``data`` deflated at ``level``."""
        encoded, flags = self._name(name)
        packed = zlib.compress(data, level, -15)
        crc = zlib.crc32(data)
        size, compressed = len(data), len(packed)
        version = _VERSION
        extra = b""
        if size * 1.05 > zipfile.ZIP64_LIMIT:  # zipfile reserves ZIP64 sizes from here on
            extra = _ZIP64_EXTRA.pack(1, 16, size, compressed)
        local_size, local_compressed = size, compressed
        if size > zipfile.ZIP64_LIMIT or compressed > zipfile.ZIP64_LIMIT:
            local_size = local_compressed = _MAX32
            version = _ZIP64_VERSION
        header = _LOCAL.pack(
            b"PK\x03\x04",
            version,
            0,
            flags,
            _DEFLATED,
            self._time,
            self._date,
            crc,
            local_compressed,
            local_size,
            len(encoded),
            len(extra),
        )
        self._record(encoded, flags, _DEFLATED, crc, compressed, size, mode, self._offset, version)
        record = b"".join((header, encoded, extra, packed))
        self._out.write(record)
        self._offset += len(record)

    def stream(self, name: str, chunks: Iterable[bytes], mode: int, level: int) -> int:
        """A file entry written chunk by chunk (memory does not grow with it), followed by
        a data descriptor; returns its size."""
        encoded, flags = self._name(name)
        flags |= _DATA_DESCRIPTOR
        extra = _ZIP64_EXTRA.pack(1, 16, 0, 0)
        header = _LOCAL.pack(
            b"PK\x03\x04",
            _VERSION,
            0,
            flags,
            _DEFLATED,
            self._time,
            self._date,
            0,
            0,
            0,
            len(encoded),
            len(extra),
        )
        offset = self._offset
        out = self._out
        out.write(header + encoded + extra)
        written = len(header) + len(encoded) + len(extra)
        compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
        crc = size = compressed = 0
        for chunk in chunks:
            crc = zlib.crc32(chunk, crc)
            size += len(chunk)
            packed = compressor.compress(chunk)
            if packed:
                out.write(packed)
                compressed += len(packed)
        packed = compressor.flush()
        out.write(packed)
        compressed += len(packed)
        descriptor = _DESCRIPTOR64.pack(_DESCRIPTOR_SIGNATURE, crc, compressed, size)
        out.write(descriptor)
        self._offset += written + compressed + len(descriptor)
        self._record(encoded, flags, _DEFLATED, crc, compressed, size, mode, offset, _VERSION)
        return size

    def close(self) -> None:
        """Write the central directory and the end records (ZIP64 ones where needed)."""
        start = self._offset
        directory = b"".join(self._central)
        end = start + len(directory)
        count, size, offset = len(self._central), len(directory), start
        records = [directory]
        if (
            count > zipfile.ZIP_FILECOUNT_LIMIT
            or offset > zipfile.ZIP64_LIMIT
            or (size > zipfile.ZIP64_LIMIT)
        ):
            records.append(_END64.pack(b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, size, offset))
            records.append(_END64_LOCATOR.pack(b"PK\x06\x07", 0, end, 1))
            count, size, offset = min(count, 0xFFFF), min(size, _MAX32), min(offset, _MAX32)
        records.append(_END.pack(b"PK\x05\x06", 0, 0, count, count, size, offset, 0))
        self._out.write(b"".join(records))
        self._out.flush()
