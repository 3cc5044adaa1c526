"""Reading a zip without trusting it.

Every check that needs no decompression runs first, over the whole central directory: entry
count and directory size (taken from the end-of-central-directory record before
:mod:`zipfile` parses anything, and charged to the memory budget), names, file types,
encryption, compression methods, duplicates, declared sizes and compression ratios (of each
entry and of the whole archive). Entries are then inflated one at a time by this module
(zipfile only lists them) while counting the bytes actually produced: an entry whose data is
longer or shorter than its headers say, whose local header disagrees with the central
directory, or whose compressed stream does not end where its header says, is refused. Entries
the caller does not keep (Ikasan's notification and profile records, run history) are
inflated, counted and hashed, never held.
"""

from __future__ import annotations

import hashlib
import re
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO

from jobplan.bundle._budget import ZIPINFO_BYTES, MemoryBudget
from jobplan.bundle.errors import BundleTooLarge, CorruptBundle, UnsafeEntry
from jobplan.bundle.limits import BundleLimits

__all__ = ["Archive", "RawEntry", "read_archive"]

_CHUNK = 64 * 1024
_EOCD = struct.Struct("<4s4H2LH")
_EOCD64_LOCATOR = struct.Struct("<4sLQL")
_EOCD64 = struct.Struct("<4sQ2H2L4Q")
_LOCAL = struct.Struct("<4s5H3L2H")
_LOCAL_SIGNATURE = b"PK\x03\x04"
_UTF8_NAME = 0x800
_DESCRIPTOR = 0x8
_DRIVE_RE = re.compile(r"^[A-Za-z]:")
_TYPE_MASK = 0o170000
_REGULAR, _DIRECTORY, _SYMLINK = 0o100000, 0o040000, 0o120000
_LAYOUT_TOP = frozenset(
    {"context", "jobs", "notification", "notification_details", "profiles", "manifest.json"}
)
_JUNK_TOP = "__MACOSX"


@dataclass(slots=True)
class RawEntry:
    """A file entry: its path relative to the bundle root, its size and SHA-256, and its bytes
    while they are kept (``None`` for entries not kept, and once the reader has parsed them)."""

    path: str
    name: str
    data: bytearray | None
    size: int
    sha256: str


@dataclass(slots=True)
class Archive:
    """What a zip holds, once every entry has passed the checks."""

    files: dict[str, RawEntry] = field(default_factory=dict)
    directories: set[str] = field(default_factory=set)
    root: str | None = None
    """The single folder every entry was inside (Ikasan exports have one), or None."""
    junk: list[str] = field(default_factory=list)
    """macOS ``__MACOSX/`` and ``.DS_Store`` entries, skipped unread."""


def read_archive(
    fp: IO[bytes],
    limits: BundleLimits,
    progress: Callable[[int, int], None] | None = None,
    *,
    keep: Callable[[str], bool] | None = None,
    budget: MemoryBudget | None = None,
) -> Archive:
    """Check and read every entry of the zip in ``fp`` (a seekable binary file).

    ``keep(path)`` says which entries' bytes to hold (default: all); the bytes held are
    charged to ``budget``, as is zipfile's copy of the central directory.
    """
    budget = budget or MemoryBudget(limits.max_memory_bytes)
    size = fp.seek(0, 2)
    if size == 0:
        raise CorruptBundle("the file is empty, not a zip archive")
    if size > limits.max_archive_bytes:
        raise BundleTooLarge(
            f"the archive is {size} bytes; at most {limits.max_archive_bytes} are allowed"
        )
    declared = _declared_directory(fp, size)
    if declared is not None:
        count, directory_bytes = declared
        if count > limits.max_entries:
            raise BundleTooLarge(
                f"the archive has {count} entries; at most {limits.max_entries} are allowed"
            )
        budget.charge(2 * directory_bytes + count * ZIPINFO_BYTES, "the archive's directory")
    fp.seek(0)
    try:
        archive = zipfile.ZipFile(fp)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, OSError) as exc:
        raise CorruptBundle(f"not a valid zip archive: {exc}") from None
    with archive:
        infos = archive.infolist()
        if len(infos) > limits.max_entries:
            raise BundleTooLarge(
                f"the archive has {len(infos)} entries; at most {limits.max_entries} are allowed"
            )
        _check_infos(infos, limits, size)
        result = Archive()
        kept = [info for info in infos if not _is_junk(info.orig_filename)]
        result.junk = [info.orig_filename for info in infos if _is_junk(info.orig_filename)]
        result.root = _root_folder([info.orig_filename for info in kept])
        prefix = f"{result.root}/" if result.root else ""
        files = [info for info in kept if not info.is_dir()]
        total = 0
        for index, info in enumerate(files, start=1):
            path = info.orig_filename.removeprefix(prefix)
            held = keep is None or keep(path)
            if held:
                if info.file_size > limits.max_document_bytes:
                    raise BundleTooLarge(
                        f"the entry declares {info.file_size} bytes; JSON entries of at most "
                        f"{limits.max_document_bytes} bytes are read",
                        entry=info.orig_filename,
                    )
                budget.charge(info.file_size, "the bundle's entries", info.orig_filename)
            data, count, digest = _read_counted(fp, size, info, limits, total, held)
            total += count
            result.files[path] = RawEntry(path, info.orig_filename, data, count, digest)
            if progress is not None:
                progress(index, len(files))
        for info in kept:
            if info.is_dir():
                path = info.orig_filename.removeprefix(prefix).rstrip("/")
                if path:
                    result.directories.add(path)
        return result


def _declared_directory(fp: IO[bytes], size: int) -> tuple[int, int] | None:
    """The entry count and central directory size from the end-of-central-directory record
    (zip64 aware), or None if it cannot be found (zipfile then reports the archive as
    corrupt)."""
    tail_size = min(size, _EOCD.size + 0xFFFF)
    fp.seek(size - tail_size)
    tail = fp.read(tail_size)
    position = tail.rfind(b"PK\x05\x06")
    if position < 0 or position + _EOCD.size > len(tail):
        return None
    fields = _EOCD.unpack_from(tail, position)
    total, cd_size, cd_offset = fields[4], fields[5], fields[6]
    if total != 0xFFFF and cd_size != 0xFFFFFFFF and cd_offset != 0xFFFFFFFF:
        return int(total), int(cd_size)
    locator = position - _EOCD64_LOCATOR.size
    if locator < 0 or tail[locator : locator + 4] != b"PK\x06\x07":
        return int(total), int(cd_size)
    offset = _EOCD64_LOCATOR.unpack_from(tail, locator)[2]
    if offset + _EOCD64.size > size:
        return None
    fp.seek(offset)
    record = fp.read(_EOCD64.size)
    if len(record) != _EOCD64.size or record[:4] != b"PK\x06\x06":
        return None
    fields64 = _EOCD64.unpack(record)
    return int(fields64[7]), int(fields64[8])


def _check_name(name: str, limits: BundleLimits) -> None:
    if not name:
        raise UnsafeEntry("an entry has an empty name")
    shown = name if len(name) <= 200 else name[:200] + "..."
    if len(name) > limits.max_name_chars:
        raise UnsafeEntry(
            f"the name is longer than {limits.max_name_chars} characters", entry=shown
        )
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise UnsafeEntry("the name contains control characters", entry=repr(shown))
    if "\\" in name:
        raise UnsafeEntry("the name contains a backslash (a Windows path)", entry=shown)
    if name.startswith("/"):
        raise UnsafeEntry("absolute paths are not allowed", entry=shown)
    if _DRIVE_RE.match(name):
        raise UnsafeEntry("the name starts with a drive letter", entry=shown)
    for segment in name.removesuffix("/").split("/"):
        if segment == "..":
            raise UnsafeEntry("path traversal ('..') is not allowed", entry=shown)
        if segment in ("", "."):
            raise UnsafeEntry("the path has an empty or '.' segment", entry=shown)


def _check_infos(infos: list[zipfile.ZipInfo], limits: BundleLimits, archive_size: int) -> None:
    seen: set[str] = set()
    declared_total = 0
    for info in infos:
        name = info.orig_filename
        _check_name(name, limits)
        if name in seen:
            raise UnsafeEntry("the archive has two entries with this name", entry=name)
        seen.add(name)
        kind = (info.external_attr >> 16) & _TYPE_MASK
        if kind == _SYMLINK:
            raise UnsafeEntry("symbolic links are not allowed", entry=name)
        if kind not in (0, _REGULAR, _DIRECTORY):
            raise UnsafeEntry(f"special file (mode {kind:o}) is not allowed", entry=name)
        if info.flag_bits & 0x1:
            raise UnsafeEntry("encrypted entries are not supported", entry=name)
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise CorruptBundle(
                f"compression method {info.compress_type} is not supported (use deflate)",
                entry=name,
            )
        if info.is_dir():
            if info.file_size:
                raise CorruptBundle("a folder entry must not have content", entry=name)
            continue
        if info.file_size > limits.max_entry_bytes:
            raise BundleTooLarge(
                f"the entry declares {info.file_size} bytes; at most {limits.max_entry_bytes} "
                "are allowed",
                entry=name,
            )
        if info.file_size > max(
            limits.ratio_check_min_bytes, info.compress_size * limits.max_ratio
        ):
            raise BundleTooLarge(
                f"the entry expands more than {limits.max_ratio}-fold ({info.compress_size} "
                f"compressed bytes declare {info.file_size})",
                entry=name,
            )
        declared_total += info.file_size
        if declared_total > limits.max_total_bytes:
            raise BundleTooLarge(
                f"the entries declare more than {limits.max_total_bytes} bytes in total",
                entry=name,
            )
    if declared_total > max(limits.ratio_check_min_bytes, archive_size * limits.max_ratio):
        raise BundleTooLarge(
            f"the archive expands more than {limits.max_ratio}-fold ({archive_size} bytes declare "
            f"{declared_total})"
        )


def _is_junk(name: str) -> bool:
    return name.split("/", 1)[0] == _JUNK_TOP or name.rsplit("/", 1)[-1] == ".DS_Store"


def _root_folder(names: list[str]) -> str | None:
    """The one folder all entries are in, unless it is part of the layout itself."""
    tops = {name.split("/", 1)[0] for name in names}
    if len(tops) != 1:
        return None
    (top,) = tops
    if top in _LAYOUT_TOP or not any("/" in name.removesuffix("/") for name in names):
        return None
    return top


def _read_counted(
    fp: IO[bytes],
    archive_size: int,
    info: zipfile.ZipInfo,
    limits: BundleLimits,
    total_before: int,
    keep: bool,
) -> tuple[bytearray | None, int, str]:
    """Inflate one entry, counting and hashing what comes out; its bytes if ``keep``."""
    name = info.orig_filename
    digest = hashlib.sha256()
    data = bytearray() if keep else None
    count = 0
    crc = 0
    ratio_cap = max(limits.ratio_check_min_bytes, info.compress_size * limits.max_ratio)
    for chunk in _inflate(fp, archive_size, info):
        count += len(chunk)
        if count > limits.max_entry_bytes:
            raise BundleTooLarge(
                f"the entry expands beyond {limits.max_entry_bytes} bytes", entry=name
            )
        if total_before + count > limits.max_total_bytes:
            raise BundleTooLarge(
                f"the entries expand beyond {limits.max_total_bytes} bytes in total",
                entry=name,
            )
        if count > ratio_cap:
            raise BundleTooLarge(
                f"the entry expands more than {limits.max_ratio}-fold "
                f"({info.compress_size} compressed bytes)",
                entry=name,
            )
        if count > info.file_size:
            raise CorruptBundle(
                f"the entry's data is longer than its header says ({info.file_size} bytes)",
                entry=name,
            )
        digest.update(chunk)
        crc = zlib.crc32(chunk, crc)
        if data is not None:
            data += chunk
    if count != info.file_size:
        raise CorruptBundle(
            f"the entry has {count} bytes, its header says {info.file_size}", entry=name
        )
    if crc != info.CRC:
        raise CorruptBundle("bad CRC-32: the entry's data is damaged", entry=name)
    return data, count, digest.hexdigest()


def _inflate(fp: IO[bytes], archive_size: int, info: zipfile.ZipInfo) -> Iterator[bytes]:
    """The entry's bytes, chunk by chunk, after checking its local header against the central
    directory; the compressed stream must end exactly where the header says."""
    name = info.orig_filename
    fp.seek(info.header_offset)
    header = fp.read(_LOCAL.size)
    if len(header) != _LOCAL.size or header[:4] != _LOCAL_SIGNATURE:
        raise CorruptBundle("the entry's local header is missing or damaged", entry=name)
    _, _, flags, method, _, _, crc, compressed, size, name_length, extra_length = _LOCAL.unpack(
        header
    )
    raw_name = fp.read(name_length)
    local_name = raw_name.decode("utf-8" if flags & _UTF8_NAME else "cp437", "replace")
    if local_name != name or method != info.compress_type:
        raise CorruptBundle("the local header does not match the central directory", entry=name)
    if (
        not flags & _DESCRIPTOR
        and 0xFFFFFFFF not in (compressed, size)
        and ((crc, compressed, size) != (info.CRC, info.compress_size, info.file_size))
    ):
        raise CorruptBundle(
            f"the local header says {size} bytes ({compressed} compressed), the central "
            f"directory {info.file_size} ({info.compress_size} compressed)",
            entry=name,
        )
    start = info.header_offset + _LOCAL.size + name_length + extra_length
    if start + info.compress_size > archive_size:
        raise CorruptBundle("the entry's data runs past the end of the archive", entry=name)
    fp.seek(start)
    left = info.compress_size
    inflater = zlib.decompressobj(-zlib.MAX_WBITS) if method == zipfile.ZIP_DEFLATED else None
    try:
        while left:
            chunk = fp.read(min(_CHUNK, left))
            if not chunk:
                raise CorruptBundle("the archive ends inside the entry's data", entry=name)
            left -= len(chunk)
            if inflater is None:
                yield chunk
                continue
            if inflater.eof:
                raise CorruptBundle(
                    "data follows the end of the entry's compressed stream", entry=name
                )
            pending = chunk
            while pending:  # at most _CHUNK bytes out per call, however dense the input
                out = inflater.decompress(pending, _CHUNK)
                if out:
                    yield out
                pending = inflater.unconsumed_tail
        if inflater is not None:
            if not inflater.eof:
                raise CorruptBundle("the entry's compressed stream is cut short", entry=name)
            if inflater.unused_data:
                raise CorruptBundle(
                    "data follows the end of the entry's compressed stream", entry=name
                )
    except zlib.error as exc:
        raise CorruptBundle(f"the entry cannot be inflated: {exc}", entry=name) from None
