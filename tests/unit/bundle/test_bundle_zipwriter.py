"""The writer's own zip output: folders and files byte for byte as ``zipfile`` writes them into
a seekable file (ZIP64 records included), whether or not the output can seek; streamed
history entries as ``zipfile`` writes them to a stream (a data descriptor, ZIP64 sizes)."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest

from jobplan.bundle import BundlePlan, read_bundle, write_bundle
from jobplan.bundle import writer as writer_module

HISTORY = [b'{"a": 1}\n', b'{"b": 2}\n' * 300]


class _Stream:
    """A write-only, non-seekable binary stream (as the export job's capped file is)."""

    def __init__(self) -> None:
        self.buffer = io.BytesIO()

    def write(self, data: bytes) -> int:
        return self.buffer.write(data)

    def flush(self) -> None:
        pass


def _written(kit: Any, seekable: bool, history: bool = False) -> bytes:
    plans = [
        BundlePlan(kit.load_example(name)) for name in ("nightly.yaml", "my-first-job-plan.yaml")
    ]
    out: Any = io.BytesIO() if seekable else _Stream()
    write_bundle(
        plans,
        out,
        source_tenant="acme",
        created_at=kit.stamp,
        root_folder="export",
        history=[("runs", HISTORY)] if history else [],
    )
    return bytes(out.getvalue() if seekable else out.buffer.getvalue())


def _as_zipfile_writes_it(bundle: bytes) -> bytes:
    """The same entries (names, dates, modes, data) written by ``zipfile`` to a seekable
    file, deflated at the writer's level."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(bundle)) as source,
        zipfile.ZipFile(out, "w") as target,
    ):
        for info in source.infolist():
            copy = zipfile.ZipInfo(info.filename, info.date_time)
            copy.create_system = info.create_system
            copy.external_attr = info.external_attr
            copy.compress_type = info.compress_type
            target.writestr(copy, source.read(info), compresslevel=writer_module._COMPRESS_LEVEL)
    return out.getvalue()


@pytest.mark.parametrize("seekable", [True, False], ids=["seekable", "stream"])
def test_entries_are_written_as_zipfile_writes_them(kit, seekable) -> None:
    ours = _written(kit, seekable)
    assert ours == _as_zipfile_writes_it(ours)
    assert ours == _written(kit, not seekable), "the output's seekability changes nothing"
    with zipfile.ZipFile(io.BytesIO(ours)) as archive:
        assert archive.testzip() is None
        assert {info.flag_bits for info in archive.infolist()} == {0}
        assert archive.infolist()[0].filename == "export/"


def test_zip64_records_as_zipfile_writes_them(kit, monkeypatch) -> None:
    """With zipfile's ZIP64 thresholds lowered, entries, offsets and the entry count all
    need ZIP64 fields: the writer puts them where zipfile does."""
    monkeypatch.setattr(zipfile, "ZIP64_LIMIT", 3000)
    monkeypatch.setattr(zipfile, "ZIP_FILECOUNT_LIMIT", 10)
    ours = _written(kit, True)
    assert ours == _as_zipfile_writes_it(ours)
    assert b"PK\x06\x06" in ours and b"PK\x06\x07" in ours
    monkeypatch.undo()
    assert len(read_bundle(io.BytesIO(ours)).plans) == 2
    with zipfile.ZipFile(io.BytesIO(ours)) as archive:
        assert archive.testzip() is None
        assert max(info.file_size for info in archive.infolist()) > 3000


@pytest.mark.parametrize("seekable", [True, False], ids=["seekable", "stream"])
def test_streamed_entries_end_with_a_data_descriptor(kit, seekable) -> None:
    ours = _written(kit, seekable, history=True)
    assert ours == _written(kit, not seekable, history=True)
    with zipfile.ZipFile(io.BytesIO(ours)) as archive:
        assert archive.testzip() is None
        (info,) = [info for info in archive.infolist() if info.filename.endswith(".jsonl")]
        assert info.flag_bits & 0x08
        assert archive.read(info) == b"".join(HISTORY)
        offset = info.header_offset + 30 + len(info.filename) + 20 + info.compress_size
        assert ours[offset : offset + 4] == b"PK\x07\x08"
        before = info.header_offset
    assert ours[:before] == _written(kit, seekable)[:before]
