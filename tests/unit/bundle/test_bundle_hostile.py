"""Hostile or broken bundles are refused, with the entry and what is wrong, before anything
is returned."""

from __future__ import annotations

import hashlib
import io
import json
import struct
import zipfile
from pathlib import Path
from typing import Any

import pytest

from jobplan.bundle import (
    BundleError,
    BundleLimits,
    BundleSchemaError,
    BundleTooLarge,
    CorruptBundle,
    ManifestMismatch,
    UnknownEntry,
    UnsafeEntry,
    UnsupportedFormat,
)
from jobplan.errors import InvalidInput

CONTEXT = {
    "name": "p",
    "scheduledJobs": [{"agentName": "h", "jobName": "a", "identifier": "h-a"}],
}
JOB = {"agentName": "h", "jobName": "a", "identifier": "h-a", "commandLine": "true"}


def _ikasan(**extra: Any) -> dict[str, Any]:
    return {"context/p.json": CONTEXT, "jobs/internal/a.json": JOB, **extra}


def _refused(kit, data: bytes, error: type[BundleError], **options: Any) -> BundleError:
    with pytest.raises(error) as caught:
        kit.read(data, **options)
    assert isinstance(caught.value, InvalidInput)
    return caught.value


def test_a_valid_minimal_ikasan_bundle_is_accepted(kit) -> None:
    (plan,) = kit.read(kit.make_zip(_ikasan())).documents
    assert plan.jobs[0].name == "a"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../evil.json", "path traversal"),
        ("context/../../evil.json", "path traversal"),
        ("/etc/passwd", "absolute paths"),
        ("C:/evil.json", "drive letter"),
        ("context\\evil.json", "backslash"),
        ("context//evil.json", "empty or '.' segment"),
        ("./context/evil.json", "empty or '.' segment"),
        ("context/ev\x01il.json", "control characters"),
    ],
)
def test_unsafe_names(kit, name: str, reason: str) -> None:
    error = _refused(kit, kit.make_zip(_ikasan(**{name: {}})), UnsafeEntry)
    assert reason in error.detail
    assert error.entry is not None


def test_overlong_names(kit) -> None:
    name = "context/" + "x" * 2000 + ".json"
    error = _refused(kit, kit.make_zip(_ikasan(**{name: {}})), UnsafeEntry)
    assert "longer than 1024" in error.detail


def _mode(mode: int):
    def set_mode(info: zipfile.ZipInfo) -> None:
        info.create_system = 3
        info.external_attr = mode << 16

    return set_mode


def test_symlinks_are_refused(kit) -> None:
    data = kit.make_zip(
        _ikasan(**{"jobs/internal/link.json": b"/etc/passwd"}),
        infos={"jobs/internal/link.json": _mode(0o120777)},
    )
    error = _refused(kit, data, UnsafeEntry)
    assert (error.entry, error.detail) == (
        "jobs/internal/link.json",
        "symbolic links are not allowed",
    )


def test_special_files_are_refused(kit) -> None:
    data = kit.make_zip(
        _ikasan(**{"context/fifo.json": b""}), infos={"context/fifo.json": _mode(0o010644)}
    )
    assert "special file" in _refused(kit, data, UnsafeEntry).detail


def test_duplicate_entries_are_refused(kit) -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("context/p.json", json.dumps(CONTEXT))
        archive.writestr("jobs/internal/a.json", json.dumps(JOB))
        with pytest.warns(UserWarning, match="Duplicate name"):
            archive.writestr("context/p.json", json.dumps({"name": "other"}))
    error = _refused(kit, out.getvalue(), UnsafeEntry)
    assert error.entry == "context/p.json" and "two entries" in error.detail


def test_encrypted_entries_are_refused(kit) -> None:
    data = bytearray(kit.make_zip(_ikasan()))
    central = data.find(b"PK\x01\x02")
    data[central + 8] |= 0x1  # general purpose flag: encrypted
    error = _refused(kit, bytes(data), UnsafeEntry)
    assert (error.entry, error.detail) == ("context/p.json", "encrypted entries are not supported")


def test_other_compression_methods_are_refused(kit) -> None:
    data = kit.make_zip(_ikasan(), compression=zipfile.ZIP_BZIP2)
    assert "compression method 12" in _refused(kit, data, CorruptBundle).detail


# --- zip bombs --------------------------------------------------------------------------------


def test_entry_size_limit(kit) -> None:
    data = kit.make_zip(_ikasan(**{"profiles/big.json": b" " * 5000}))
    limits = BundleLimits(max_entry_bytes=4096)
    error = _refused(kit, data, BundleTooLarge, limits=limits)
    assert error.entry == "profiles/big.json"


def test_total_size_limit(kit) -> None:
    extra = {f"profiles/{i}.json": b"{}" + b" " * 3000 for i in range(5)}
    data = kit.make_zip(_ikasan(**extra))
    error = _refused(kit, data, BundleTooLarge, limits=BundleLimits(max_total_bytes=10_000))
    assert "in total" in error.detail


def test_compression_ratio_limit(kit) -> None:
    bomb = b"[" + b" " * 20_000_000 + b"]"
    data = kit.make_zip(_ikasan(**{"profiles/bomb.json": bomb}))
    assert len(data) < 100_000
    error = _refused(kit, data, BundleTooLarge)
    assert error.entry == "profiles/bomb.json"
    assert "100-fold" in error.detail


def test_many_small_bombs_are_caught_by_the_archive_ratio(kit) -> None:
    extra = {f"profiles/{i}.json": b"[" + b" " * 900_000 + b"]" for i in range(4)}
    data = kit.make_zip(_ikasan(**extra))
    error = _refused(kit, data, BundleTooLarge)
    assert "the archive expands" in error.detail


def _patch_sizes(data: bytes, name: str, size: int) -> bytes:
    """Make the headers of ``name`` claim ``size`` uncompressed bytes."""
    raw = bytearray(data)
    encoded = name.encode()
    for signature, offset in ((b"PK\x01\x02", 24), (b"PK\x03\x04", 22)):
        start = 0
        while (start := raw.find(signature, start)) >= 0:
            name_at = start + (46 if signature == b"PK\x01\x02" else 30)
            if raw[name_at : name_at + len(encoded)] == encoded:
                struct.pack_into("<L", raw, start + offset, size)
            start += 4
    return bytes(raw)


def test_headers_that_lie_about_sizes(kit) -> None:
    data = kit.make_zip(_ikasan(**{"profiles/x.json": b"[" + b"1," * 5000 + b"1]"}))
    smaller = _patch_sizes(data, "profiles/x.json", 100)
    assert "longer than its header says" in _refused(kit, smaller, CorruptBundle).detail
    larger = _patch_sizes(data, "profiles/x.json", 50_000)
    assert _refused(kit, larger, CorruptBundle).entry == "profiles/x.json"


def test_too_many_entries(kit) -> None:
    extra = {f"profiles/{i}.json": b"{}" for i in range(60)}
    data = kit.make_zip(_ikasan(**extra))
    error = _refused(kit, data, BundleTooLarge, limits=BundleLimits(max_entries=50))
    assert "62 entries; at most 50" in error.detail


def test_too_many_entries_is_checked_before_the_directory_is_parsed(kit, monkeypatch) -> None:
    extra = {f"profiles/{i}.json": b"{}" for i in range(70_000)}
    data = kit.make_zip(_ikasan(**extra), compression=zipfile.ZIP_STORED)

    def fail(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("zipfile should not be asked to parse this archive")

    monkeypatch.setattr(zipfile.ZipFile, "_RealGetContents", fail)
    error = _refused(kit, data, BundleTooLarge, limits=BundleLimits(max_entries=65_000))
    assert "70002 entries" in error.detail  # read from the zip64 end record


def test_archive_size_limit(kit) -> None:
    data = kit.make_zip(_ikasan())
    error = _refused(kit, data, BundleTooLarge, limits=BundleLimits(max_archive_bytes=100))
    assert "the archive is" in error.detail


def test_limits_are_checked() -> None:
    with pytest.raises(ValueError, match="max_ratio"):
        BundleLimits(max_ratio=0)


# --- contents ---------------------------------------------------------------------------------


def test_not_a_zip(kit) -> None:
    assert "not a valid zip" in _refused(kit, b"PK\x03\x04 not really", CorruptBundle).detail
    assert "empty" in _refused(kit, b"", CorruptBundle).detail


def test_truncated_zip(kit) -> None:
    data = kit.make_zip(_ikasan())
    _refused(kit, data[: len(data) // 2], CorruptBundle)


def test_corrupted_entry_data(kit) -> None:
    data = bytearray(kit.make_zip(_ikasan(), compression=zipfile.ZIP_STORED))
    position = data.find(b'"commandLine"')
    data[position + 2] ^= 0x20
    error = _refused(kit, bytes(data), CorruptBundle)
    assert error.entry == "jobs/internal/a.json" and "CRC" in error.detail


@pytest.mark.parametrize(
    ("content", "detail"),
    [
        (b'{"name": "p"\xff}', "not valid UTF-8: byte 0xff at offset 12"),
        (b'{"name": ', "not valid JSON: Expecting value at line 1 column 10"),
        (b'{"name": "p", "name": "q"}', "duplicate JSON key 'name'"),
        (b'{"x": NaN}', "NaN is not allowed in JSON"),
        (b'{"x": 1e999}', "out of range"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"name": "p", "x": ["\\ud800"]}', "unpaired surrogate"),
        (b'{"name": "p", "\\uDFFF": 1}', "unpaired surrogate"),
    ],
)
def test_entries_must_be_strict_json(kit, content: bytes, detail: str) -> None:
    error = _refused(kit, kit.make_zip(_ikasan(**{"context/p.json": content})), CorruptBundle)
    assert error.entry == "context/p.json"
    assert detail in error.detail


def test_valid_escapes_and_a_byte_order_mark_are_fine(kit) -> None:
    context = (
        b'\xef\xbb\xbf{"name": "p", "description": "\\ud83d\\ude00 \\u00e9", '
        + json.dumps({"scheduledJobs": CONTEXT["scheduledJobs"]}).encode()[1:]
    )
    (plan,) = kit.read(kit.make_zip(_ikasan(**{"context/p.json": context}))).documents
    assert plan.description == "\U0001f600 \u00e9"


def test_non_json_files_are_refused(kit) -> None:
    error = _refused(kit, kit.make_zip(_ikasan(**{"context/readme.txt": "hi"})), UnknownEntry)
    assert (error.entry, error.detail) == (
        "context/readme.txt",
        "only .json files belong in a bundle",
    )


@pytest.mark.parametrize(
    ("name", "detail"),
    [
        ("jobs/batch/a.json", "unknown job folder 'batch' (job kind)"),
        ("evil.json", "not part of the bundle layout"),
        ("scripts/run.json", "not part of the bundle layout"),
        ("jobs/internal/a/b/c.json", "at most one folder deep"),
    ],
)
def test_unknown_entries_are_refused(kit, name: str, detail: str) -> None:
    error = _refused(kit, kit.make_zip(_ikasan(**{name: JOB})), UnknownEntry)
    assert error.entry == name and detail in error.detail


def test_unknown_folders_are_refused(kit) -> None:
    error = _refused(kit, kit.make_zip(_ikasan(**{"bin/": b""})), UnknownEntry)
    assert error.entry == "bin/"


def test_a_bundle_needs_a_plan(kit) -> None:
    error = _refused(kit, kit.make_zip({"jobs/internal/a.json": JOB}), UnknownEntry)
    assert "no context" in error.detail


def test_macos_metadata_is_skipped(kit) -> None:
    data = kit.make_zip(
        _ikasan(**{"__MACOSX/context/._p.json": b"\x00\x05", "context/.DS_Store": b"\x00"})
    )
    contents = kit.read(data)
    assert [str(w) for w in contents.warnings] == ["skipped 2 macOS metadata entries"]


# --- our bundles: manifest and schema ---------------------------------------------------------


def _ours(kit) -> bytes:
    return kit.export([kit.load_example("nightly.yaml")])


def test_changed_entry_is_detected(kit) -> None:
    def change(entries: dict[str, bytes]) -> None:
        path = "jobs/internal/nightly-settlement/compute.json"
        entries[path] = entries[path].replace(b"./settle", b"rm -rf /")

    error = _refused(kit, kit.rezip(_ours(kit), change), ManifestMismatch)
    assert error.entry == "jobs/internal/nightly-settlement/compute.json"
    assert "SHA-256" in error.detail and "was changed" in error.detail


def test_changed_entry_with_a_forged_size_is_detected(kit) -> None:
    def change(entries: dict[str, bytes]) -> None:
        path = "jobs/internal/nightly-settlement/compute.json"
        entries[path] = entries[path].replace(b"./settle", b"./evil!!")

    assert "SHA-256" in _refused(kit, kit.rezip(_ours(kit), change), ManifestMismatch).detail


def test_missing_and_unlisted_entries_are_detected(kit) -> None:
    def remove(entries: dict[str, bytes]) -> None:
        del entries["jobs/internal/nightly-settlement/compute.json"]

    error = _refused(kit, kit.rezip(_ours(kit), remove), ManifestMismatch)
    assert error.entry == "jobs/internal/nightly-settlement/compute.json"
    assert "missing" in error.detail

    def add(entries: dict[str, bytes]) -> None:
        entries["jobs/internal/nightly-settlement/extra.json"] = json.dumps(JOB).encode()

    error = _refused(kit, kit.rezip(_ours(kit), add), ManifestMismatch)
    assert error.detail == "the entry is not listed in manifest.json"


def _with_manifest(kit, change) -> bytes:
    def edit(entries: dict[str, bytes]) -> None:
        manifest = json.loads(entries["manifest.json"])
        change(manifest, entries)
        entries["manifest.json"] = json.dumps(manifest).encode()

    return kit.rezip(_ours(kit), edit)


def test_manifest_format_version(kit) -> None:
    data = _with_manifest(kit, lambda m, e: m.update(format_version=2))
    error = _refused(kit, data, UnsupportedFormat)
    assert (error.entry, error.field) == ("manifest.json", "format_version")
    assert "version 2 is not supported: this jobplan reads version 1" in error.detail
    data = _with_manifest(kit, lambda m, e: m.update(format="zip"))
    assert _refused(kit, data, UnsupportedFormat).field == "format"


def test_manifest_schema(kit) -> None:
    data = _with_manifest(
        kit, lambda m, e: m["entries"]["context/nightly-settlement.json"].update(sha256="xyz")
    )
    error = _refused(kit, data, BundleSchemaError)
    assert error.entry == "manifest.json"
    assert error.field == "entries.context/nightly-settlement.json.sha256"


def test_manifest_plans_must_match_the_contexts(kit) -> None:
    data = _with_manifest(kit, lambda m, e: m.update(plans=[]))
    error = _refused(kit, data, ManifestMismatch)
    assert (error.entry, error.detail) == (
        "context/nightly-settlement.json",
        "the context is not a plan of manifest.json",
    )


def _forge(kit, edit) -> bytes:
    """Change an entry of our bundle and update the manifest to match, as an attacker would."""

    def change(entries: dict[str, bytes]) -> None:
        manifest = json.loads(entries["manifest.json"])
        for path, data in list(entries.items()):
            if path.endswith(".json") and path != "manifest.json":
                document = json.loads(data)
                edit(path, document)
                raw = json.dumps(document).encode()
                entries[path] = raw
                manifest["entries"][path] = {
                    "sha256": hashlib.sha256(raw).hexdigest(),
                    "size": len(raw),
                }
        entries["manifest.json"] = json.dumps(manifest).encode()

    return kit.rezip(_ours(kit), change)


def test_schema_errors_name_entry_and_field(kit) -> None:
    def edit(path: str, document: dict[str, Any]) -> None:
        if path.endswith("/compute.json"):
            document["jobplan"] = {"timeout_seconds": -5}
        if path.endswith("/post-to-ledger.json"):
            document["jobplan"]["url"] = "ftp://nope"

    error = _refused(kit, _forge(kit, edit), BundleSchemaError)
    problems = {(p.entry, p.field) for p in error.problems}
    assert problems == {
        ("jobs/internal/nightly-settlement/compute.json", "stages[1].jobs[0].timeout_seconds"),
        ("jobs/http/nightly-settlement/post-to-ledger.json", "stages[1].jobs[1].url"),
    }
    assert "2 problems" in str(error)


def test_the_extension_cannot_rewrite_structure(kit) -> None:
    def edit(path: str, document: dict[str, Any]) -> None:
        if path.endswith("/compute.json"):
            document["jobplan"] = {"kind": "http", "name": "other"}
        if path.startswith("context/"):
            document["jobplan"]["jobs"] = []

    error = _refused(kit, _forge(kit, edit), BundleSchemaError)
    fields = {(p.entry, p.field) for p in error.problems}
    assert ("jobs/internal/nightly-settlement/compute.json", "jobplan.kind") in fields
    assert ("jobs/internal/nightly-settlement/compute.json", "jobplan.name") in fields
    assert ("context/nightly-settlement.json", "jobplan.jobs") in fields


def test_unknown_extension_fields_are_schema_errors(kit) -> None:
    def edit(path: str, document: dict[str, Any]) -> None:
        if path.endswith("/compute.json"):
            document["jobplan"] = {"shell": "/bin/zsh"}

    error = _refused(kit, _forge(kit, edit), BundleSchemaError)
    assert (error.entry, error.field) == (
        "jobs/internal/nightly-settlement/compute.json",
        "stages[1].jobs[0].shell",
    )


def test_jobs_in_a_plan_folder_need_that_plan(kit) -> None:
    def change(entries: dict[str, bytes]) -> None:
        entries.pop("manifest.json")
        entries["jobs/internal/ghost/a.json"] = json.dumps(JOB).encode()

    error = _refused(kit, kit.rezip(_ours(kit), change), UnknownEntry)
    assert error.detail == "there is no context/ghost.json for this job"


def test_read_from_a_path_and_non_seekable_files(kit, tmp_path: Path) -> None:
    path = tmp_path / "bundle.zip"
    path.write_bytes(_ours(kit))
    from jobplan.bundle import read_bundle

    assert read_bundle(path).documents == read_bundle(str(path)).documents

    class Stream(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def seekable(self) -> bool:
            return False

    with pytest.raises(ValueError, match="seekable"):
        read_bundle(Stream())  # type: ignore[arg-type]
