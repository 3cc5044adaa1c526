"""What bounds an import's memory (issue #11, item 4): sizes and ratios from the headers before
anything is inflated, entries whose data does not match their headers, per-document caps
checked before parsing, ignored folders never parsed, and the memory budget."""

from __future__ import annotations

import io
import json
import struct
import zipfile
import zlib
from typing import Any

import pytest

from jobplan.bundle import BundleLimits, BundleTooLarge, CorruptBundle, _archive, read_bundle

CONTEXT = {
    "name": "p",
    "scheduledJobs": [{"agentName": "h", "jobName": "a", "identifier": "h-a"}],
}
JOB = {"agentName": "h", "jobName": "a", "identifier": "h-a", "commandLine": "true"}


def _ikasan(**extra: Any) -> dict[str, Any]:
    return {"context/p.json": CONTEXT, "jobs/internal/a.json": JOB, **extra}


def _read(kit, data: bytes, **options: Any) -> Any:
    return read_bundle(io.BytesIO(data), **options)


def _headers(data: bytes, name: str) -> list[tuple[int, int]]:
    """(offset of the header, offset of its CRC field) of ``name``'s local and central headers."""
    found = []
    encoded = name.encode()
    for signature, name_offset, crc_offset in ((b"PK\x03\x04", 30, 14), (b"PK\x01\x02", 46, 16)):
        start = 0
        while (start := data.find(signature, start)) >= 0:
            if data[start + name_offset : start + name_offset + len(encoded)] == encoded:
                found.append((start, start + crc_offset))
            start += 4
    return found


def _declare(data: bytes, name: str, size: int, crc: int, *, local: bool = True) -> bytes:
    """``data`` with ``name``'s headers declaring ``size`` bytes with CRC ``crc`` (the
    compressed size is left alone); ``local=False`` changes the central directory only."""
    raw = bytearray(data)
    for start, crc_at in _headers(data, name):
        if raw[start : start + 4] == b"PK\x03\x04" and not local:
            continue
        struct.pack_into("<L", raw, crc_at, crc)
        struct.pack_into("<L", raw, crc_at + 8, size)  # uncompressed size follows CRC, csize
    return bytes(raw)


def test_an_entry_longer_than_its_headers_say_is_refused(kit) -> None:
    # The headers declare the JSON document and carry its CRC; the compressed stream goes on
    # with more bytes. zipfile stops at the declared size, so the extra data was accepted.
    document = json.dumps(JOB).encode()
    data = kit.make_zip(_ikasan(**{"jobs/internal/a.json": document + b" " * 5000}))
    lying = _declare(data, "jobs/internal/a.json", len(document), zlib.crc32(document))
    with zipfile.ZipFile(io.BytesIO(lying)) as archive:  # what zipfile alone makes of it
        assert archive.read("jobs/internal/a.json") == document
    with pytest.raises(CorruptBundle) as caught:
        _read(kit, lying)
    assert caught.value.entry == "jobs/internal/a.json"
    assert "longer than its header says" in caught.value.detail


def test_a_local_header_that_disagrees_with_the_central_directory_is_refused(kit) -> None:
    data = kit.make_zip(_ikasan())
    document = json.dumps(JOB).encode()
    changed = _declare(data, "jobs/internal/a.json", len(document) - 1, 0, local=False)
    with pytest.raises(CorruptBundle) as caught:
        _read(kit, changed)
    assert "central directory" in caught.value.detail


def test_data_after_the_end_of_the_compressed_stream_is_refused(kit) -> None:
    document = json.dumps(JOB).encode()
    compressor = zlib.compressobj(1, zlib.DEFLATED, -15)
    stream = compressor.compress(document) + compressor.flush() + b"trailing junk"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("context/p.json", json.dumps(CONTEXT))
        info = zipfile.ZipInfo("jobs/internal/a.json", (2024, 1, 1, 0, 0, 0))
        archive.writestr(info, stream)  # stored: patched to deflated below
    raw = bytearray(out.getvalue())
    for start, crc_at in _headers(bytes(raw), "jobs/internal/a.json"):
        method_at = start + (8 if raw[start : start + 4] == b"PK\x03\x04" else 10)
        struct.pack_into("<H", raw, method_at, zipfile.ZIP_DEFLATED)
        struct.pack_into("<L", raw, crc_at, zlib.crc32(document))
        struct.pack_into("<L", raw, crc_at + 8, len(document))
    with pytest.raises(CorruptBundle) as caught:
        _read(kit, bytes(raw))
    assert "follows the end of the entry's compressed stream" in caught.value.detail


def test_ratios_are_checked_from_the_headers_before_inflating(kit, monkeypatch) -> None:
    def never(*args: Any) -> Any:
        raise AssertionError("nothing may be inflated")

    monkeypatch.setattr(_archive, "_inflate", never)
    bomb = kit.make_zip(_ikasan(**{"profiles/bomb.json": b"[" + b" " * 20_000_000 + b"]"}))
    with pytest.raises(BundleTooLarge) as caught:
        _read(kit, bomb)
    assert "100-fold" in caught.value.detail and "declare" in caught.value.detail
    small = {f"profiles/{i}.json": b"[" + b" " * 900_000 + b"]" for i in range(4)}
    with pytest.raises(BundleTooLarge) as caught:
        _read(kit, kit.make_zip(_ikasan(**small)))
    assert "the archive expands" in caught.value.detail


def test_ignored_folders_are_counted_but_never_parsed(kit) -> None:
    data = kit.make_zip(
        _ikasan(
            **{
                "profiles/p.json": b"{not json at all",
                "notification/n.json": b"\xff\xfe",
                "jobs/internal_templates/t.json": b"[[[[",
            }
        )
    )
    contents = _read(kit, data)
    assert [plan.document.name for plan in contents.plans] == ["p"]
    assert any("not imported" in str(warning) for warning in contents.warnings)


@pytest.mark.parametrize(
    ("limits", "document", "error", "words"),
    [
        (BundleLimits(max_document_bytes=1000), {**JOB, "x": "y" * 2000}, BundleTooLarge, "1000"),
        (BundleLimits(max_document_nodes=100), {**JOB, "x": list(range(200))}, BundleTooLarge,
         "values"),
        (BundleLimits(max_depth=10), {**JOB, "x": json.loads("[" * 12 + "]" * 12)},
         CorruptBundle, "nested too deeply"),
    ],
    ids=["size", "values", "depth"],
)  # fmt: skip
def test_documents_are_capped_before_they_are_parsed(
    kit, monkeypatch, limits: BundleLimits, document: Any, error: type[Exception], words: str
) -> None:
    from jobplan.bundle import reader

    parse = reader.loads_strict

    def guarded(data: bytes, entry: str) -> Any:
        assert entry != "jobs/internal/a.json", "the document must not be parsed"
        return parse(data, entry)

    monkeypatch.setattr(reader, "loads_strict", guarded)
    data = kit.make_zip({"jobs/internal/a.json": document, "context/p.json": CONTEXT})
    with pytest.raises(error) as caught:
        _read(kit, data, limits=limits)
    assert words in str(caught.value)
    assert "jobs/internal/a.json" in str(caught.value)


def test_brackets_inside_strings_do_not_count_as_nesting(kit) -> None:
    job = {**JOB, "commandLine": "if [[ -f x ]]; then " + "[" * 500 + "; fi"}
    contents = _read(kit, kit.make_zip(_ikasan(**{"jobs/internal/a.json": job})))
    assert contents.plans[0].document.jobs[0].command.startswith("if [[")  # type: ignore[union-attr]


def test_the_memory_budget_refuses_what_would_not_fit(kit) -> None:
    jobs = {
        f"jobs/internal/j{i}.json": {**JOB, "jobName": f"j{i}", "x": list(range(20_000))}
        for i in range(40)
    }
    data = kit.make_zip({"context/p.json": CONTEXT, **jobs})
    with pytest.raises(BundleTooLarge) as caught:
        _read(kit, data, limits=BundleLimits(max_memory_bytes=16 * 1024 * 1024))
    assert "import memory budget (16 MiB)" in caught.value.detail
