"""Zip builders for bundle tests: any entries, with any zip metadata."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["ZipSpec", "make_zip", "zip_entries"]

ZipSpec = Mapping[str, bytes | str | Any]


def make_zip(
    entries: ZipSpec,
    *,
    infos: Mapping[str, Callable[[zipfile.ZipInfo], None]] | None = None,
    compression: int = zipfile.ZIP_DEFLATED,
) -> bytes:
    """A zip of ``entries`` (path -> bytes, text or JSON data); ``infos`` adjusts entries."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=compression) as archive:
        for name, content in entries.items():
            if isinstance(content, bytes):
                data = content
            elif isinstance(content, str):
                data = content.encode()
            else:
                data = json.dumps(content).encode()
            info = zipfile.ZipInfo(name, (2024, 1, 1, 0, 0, 0))
            info.compress_type = compression
            info.external_attr = 0o100644 << 16
            if infos and name in infos:
                infos[name](info)
            archive.writestr(info, data)
    return out.getvalue()


def zip_entries(data: bytes) -> dict[str, bytes]:
    """Every entry of a zip, by name."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}
