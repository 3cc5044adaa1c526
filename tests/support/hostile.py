"""Bundles that are inside every documented size limit yet cost a naive reader gigabytes:
written to a file chunk by chunk, so building them costs the test (or benchmark) little.

Each is Ikasan's own ``MyFirstJobPlan`` export plus large entries. The JSON arrays are built
from one random mebibyte repeated: deflate looks back only 32 KiB, so they compress about
5-fold (the sizes of the bundles in issue #11), while being cheap to produce.
"""

from __future__ import annotations

import random
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

from support.data import IKASAN_FIXTURES

__all__ = ["HOSTILE", "NUMBERS", "OBJECTS", "write_hostile"]

_MIB = 1024 * 1024


def _numbers_chunk(seed: int) -> bytes:
    rng = random.Random(seed)
    return ",".join(str(rng.randrange(10_000, 10_016)) for _ in range(_MIB // 6)).encode()


def _objects_chunk(seed: int) -> bytes:
    rng = random.Random(seed)
    return ",".join(f'{{"k":{rng.randrange(10_000, 11_500)}}}' for _ in range(_MIB // 12)).encode()


NUMBERS = _numbers_chunk
"""A mebibyte of ``10003,10011,…`` (one JSON number per 6 bytes; 5-fold deflate ratio)."""
OBJECTS = _objects_chunk
"""A mebibyte of ``{"k":10345},…`` (two JSON values per 12 bytes; 4.7-fold ratio)."""


def _array(chunk: bytes, size: int) -> Iterator[bytes]:
    """A JSON array of about ``size`` bytes, made of ``chunk`` repeated."""
    yield b"["
    written = 1
    while written + len(chunk) + 2 < size:
        yield chunk + b","
        written += len(chunk) + 1
    yield chunk + b"]"


def write_hostile(path: Path, large: dict[str, tuple[Callable[[int], bytes], int]]) -> Path:
    """The sample export with ``large`` entries added: path inside the export -> (chunk maker,
    size in bytes)."""
    with zipfile.ZipFile(IKASAN_FIXTURES / "MyFirstJobPlan.zip") as sample:
        root = sample.namelist()[0]
        entries = [(info, sample.read(info)) for info in sample.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as out:
        for info, data in entries:
            out.writestr(info, data, zipfile.ZIP_DEFLATED)
        for index, (name, (maker, size)) in enumerate(large.items()):
            info = zipfile.ZipInfo(root + name, (2024, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o100644 << 16
            chunk = maker(index)
            with out.open(info, "w") as stream:
                for part in _array(chunk, size):
                    stream.write(part)
    return path


HOSTILE: dict[str, dict[str, tuple[Callable[[int], bytes], int]]] = {
    # issue #11: "a 34 MB bundle of large JSON arrays under profiles/" (3 x 60 MiB, 180 MiB
    # inflated: inside the 64 MiB entry, 200 MiB total and 100-fold ratio limits)
    "profiles-arrays": {f"profiles/profile-{i}.json": (NUMBERS, 60 * _MIB) for i in range(3)},
    # "a valid 12.7 MiB bundle with one 60 MiB low-ratio entry"
    "one-60mib-profile": {"profiles/big.json": (OBJECTS, 60 * _MIB)},
    # the same entry where it would be parsed: a job file
    "one-60mib-job": {"jobs/internal/Big.json": (OBJECTS, 60 * _MIB)},
    # a job file under the document size cap, but with millions of values
    "30mib-of-values-job": {"jobs/internal/Values.json": (OBJECTS, 30 * _MIB)},
    # many job files, each small enough, together more than the budget
    "many-2mib-jobs": {f"jobs/internal/Many{i}.json": (NUMBERS, 2 * _MIB) for i in range(60)},
}
"""The hostile bundles by name: the large entries added to the sample export."""
