"""The writer's own zip entry path gives exactly the bytes ``zipfile.writestr`` gives, on
seekable files and on streams that cannot seek (where ``zipfile`` adds data descriptors)."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest

from jobplan.bundle import BundlePlan, write_bundle
from jobplan.bundle import writer as writer_module


class _Stream:
    """A write-only, non-seekable binary stream (as the export job's capped file is)."""

    def __init__(self) -> None:
        self.buffer = io.BytesIO()

    def write(self, data: bytes) -> int:
        return self.buffer.write(data)

    def flush(self) -> None:
        pass


def _written(kit: Any, seekable: bool) -> bytes:
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
        history=[("runs", [b'{"a": 1}\n', b'{"b": 2}\n'])],
    )
    return bytes(out.getvalue() if seekable else out.buffer.getvalue())


@pytest.mark.parametrize("seekable", [True, False], ids=["seekable", "stream"])
def test_entries_are_written_as_zipfile_writes_them(kit, monkeypatch, seekable) -> None:
    fast = _written(kit, seekable)

    def writestr(self: Any, info: zipfile.ZipInfo, data: bytes, seekable: bool) -> None:
        self.archive.writestr(info, data, compresslevel=writer_module._COMPRESS_LEVEL)

    monkeypatch.setattr(writer_module._ZipWriter, "_put", writestr)
    assert fast == _written(kit, seekable)
    with zipfile.ZipFile(io.BytesIO(fast)) as archive:
        assert archive.testzip() is None
        flags = {info.flag_bits & 0x08 for info in archive.infolist() if not info.is_dir()}
        assert flags == ({0} if seekable else {0x08})
