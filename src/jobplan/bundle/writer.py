"""Writing bundles: plans in, a zip streamed to a binary file out."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from typing import IO, Any

import jobplan
from jobplan.bundle._ext import EXT
from jobplan.bundle._gc import paused_gc
from jobplan.bundle._json import dumps_stable
from jobplan.bundle._render import RenderedEntry, RenderOptions, agent_tokens, render_plan
from jobplan.bundle._shapes import JobShapes
from jobplan.bundle._zipout import ZipOut
from jobplan.bundle.contents import BundlePlan
from jobplan.bundle.errors import BundleError
from jobplan.bundle.layout import (
    EMPTY_DIRS,
    IKASAN_DIRS,
    JOBS_DIR,
    RECORD,
    calendar_path,
    context_path,
    history_path,
    plan_keys,
)
from jobplan.bundle.manifest import MANIFEST, Manifest, ManifestEntry, ManifestPlan
from jobplan.bundle.tokens import Encoder, TokenSpec
from jobplan.model import CalendarDocument, SemVer

__all__ = ["write_bundle"]

_COMPRESS_LEVEL = 1
"""zlib's fastest level. Entries are small JSON files, where deflate's set-up dominates:
level 6 (zipfile's default) takes a third longer and makes a 10,000-job bundle 3% smaller."""
_FILE_MODE = 0o100644 << 16
_DIR_MODE = (0o040755 << 16) | 0x10
_ZIP_EPOCH = datetime(1980, 1, 1, tzinfo=UTC)


def _sort_key(plan: BundlePlan) -> tuple[str, str, tuple[int, ...], str]:
    version = plan.effective_version
    parsed = SemVer.parse(version) if version and SemVer.is_valid(version) else None
    numbers = (parsed.major, parsed.minor, parsed.patch) if parsed else (-1,)
    return (plan.document.folder, plan.document.name, numbers, plan.version_id or "")


class _ZipWriter:
    """The bundle's entries (inside ``root``, if given) and the checksums of those listed."""

    def __init__(self, out: IO[bytes], stamp: datetime, root: str | None) -> None:
        local = max(stamp, _ZIP_EPOCH).astimezone(UTC)
        self.zip = ZipOut(
            out, (local.year, local.month, local.day, local.hour, local.minute, local.second)
        )
        self.prefix = f"{root}/" if root else ""
        self.hashes: dict[str, ManifestEntry] = {}
        if root:
            self.zip.directory(f"{root}/", _DIR_MODE)

    def directory(self, path: str) -> None:
        self.zip.directory(f"{self.prefix}{path}/", _DIR_MODE)

    def file(self, path: str, data: bytes, *, listed: bool = True) -> None:
        self.zip.file(f"{self.prefix}{path}", data, _FILE_MODE, _COMPRESS_LEVEL)
        if listed:
            self.hashes[path] = ManifestEntry(
                sha256=hashlib.sha256(data).hexdigest(), size=len(data)
            )

    def stream(self, path: str, chunks: Iterable[bytes]) -> None:
        """An entry written chunk by chunk: memory does not grow with its size."""
        digest = hashlib.sha256()

        def hashed() -> Iterator[bytes]:
            for chunk in chunks:
                digest.update(chunk)
                yield chunk

        size = self.zip.stream(f"{self.prefix}{path}", hashed(), _FILE_MODE, _COMPRESS_LEVEL)
        self.hashes[path] = ManifestEntry(sha256=digest.hexdigest(), size=size)

    def close(self) -> None:
        self.zip.close()


def _paused(pause: bool) -> AbstractContextManager[None]:
    return paused_gc() if pause else nullcontext()


def write_bundle(
    plans: Iterable[BundlePlan],
    out: IO[bytes],
    *,
    source_tenant: str,
    with_tokens: bool = False,
    tokens: TokenSpec | None = None,
    created_at: datetime | None = None,
    source_system: str | None = None,
    correlation_id: str | None = None,
    root_folder: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    layout_folders: bool = True,
    history: Iterable[tuple[str, Iterable[bytes]]] = (),
    pause_collector: bool = False,
    ikasan_layout: bool = False,
    calendars: Iterable[CalendarDocument] = (),
) -> Manifest:
    """Write ``plans`` as a bundle to ``out`` (any writable binary file; it need not be
    seekable) and return the manifest written last into it.

    Entries are deterministic apart from ``created_at`` (which also dates the zip entries):
    folders first, then plan by plan (sorted by folder, name, version) the context and its job
    entries in path order, then ``manifest.json``. With ``with_tokens``, the values ``tokens``
    selects (default: :class:`TokenSpec`) are written as ``[[name]]`` placeholders.
    ``root_folder`` puts everything inside one folder, as Ikasan's own exports are (Ikasan's
    importer needs that). ``progress(done, total)`` is called after each entry; raising from it
    aborts the export, leaving ``out`` incomplete. ``layout_folders=False`` leaves out the
    folder entries (a runtime-only bundle). ``history`` holds (name, chunks) pairs streamed
    into ``history/<name>.jsonl`` after the plans. ``pause_collector`` pauses the cyclic
    garbage collector while the plans are read and their entries built (see
    :func:`~jobplan.bundle.paused_gc`): the pause is process-wide, so only a worker thread
    asks for it, never a thread answering requests.

    ``ikasan_layout`` writes exactly the entries of an Ikasan export, for one plan inside
    ``root_folder``: Ikasan's folders, ``context/<plan>.json`` and ``jobs/<kind>/<job>.json``,
    in Ikasan's order, and no ``manifest.json`` — the manifest's facts about the plan go into
    the context's ``jobplan`` extension (``bundle``), where Ikasan does not look. The manifest
    is still returned (its ``entries`` empty: there are no checksums to verify).

    ``calendars`` (those the plans' windows name) are written as ``calendars/<name>.json``
    after the plans and named in the manifest's ``calendars``; an Ikasan layout has no place
    for them and leaves them out.

    Raises :class:`~jobplan.bundle.errors.BundleError` if two plans (versions) collide or a
    plan's Ikasan form is ambiguous (two job identifiers ``agent-job`` alike).
    """
    if tokens is not None and not with_tokens:
        raise ValueError("tokens given without with_tokens=True")
    if ikasan_layout and (not root_folder or history):
        raise ValueError("an Ikasan layout needs a root_folder and has no history")
    spec = (tokens or TokenSpec()) if with_tokens else None
    stamp = created_at or datetime.now(UTC)
    if stamp.tzinfo is None:
        raise ValueError("created_at must carry a time zone")
    with _paused(pause_collector):  # see _gc: validated plans may be read from `plans` here
        selected = sorted(plans, key=_sort_key)
        if ikasan_layout and len(selected) != 1:
            raise BundleError(f"an Ikasan export holds one plan, not {len(selected)}")
        seen: set[tuple[str, str, str | None]] = set()
        for plan in selected:
            identity = (plan.document.folder, plan.document.name, plan.effective_version)
            if identity in seen:
                version = f" version {identity[2]}" if identity[2] else ""
                raise BundleError(f"plan {plan.document.path!r}{version} is given twice")
            seen.add(identity)
        keys = plan_keys(
            [(p.document.folder, p.document.name, p.effective_version) for p in selected]
        )
        jobs = [list(p.document.all_jobs()) for p in selected]
        options = RenderOptions(
            agent_tokens=agent_tokens(
                [job.agent for plan_jobs in jobs for job in plan_jobs if job.agent]
                if spec and spec.agents
                else [],
                spec.agent_tokens if spec else {},
                bool(spec and spec.agents),
            ),
            parameters=bool(spec and spec.parameters),
            context_name=spec.context_name if spec else "keep",
        )
        encoder = Encoder(spec.values if spec else None)
        folders = EMPTY_DIRS if layout_folders else ()
        days = {} if ikasan_layout else {calendar.name: calendar for calendar in calendars}
        total = len(folders) + 1 + len(days) + sum(1 + len(plan_jobs) for plan_jobs in jobs)
    done = 0

    def advance() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    manifest = Manifest(
        jobplan_version=jobplan.__version__,
        source_tenant=source_tenant,
        source_system=source_system,
        correlation_id=correlation_id,
        created_at=stamp.astimezone(UTC),
        with_tokens=with_tokens,
    )
    if ikasan_layout:
        (plan,) = selected
        with _paused(pause_collector):
            rendered = render_plan(plan.document, keys[0], options, JobShapes())
        return _write_ikasan(plan, rendered, encoder, _ZipWriter(out, stamp, root_folder), manifest)
    writer = _ZipWriter(out, stamp, root_folder)
    try:
        for path in folders:
            writer.directory(path)
            advance()
        manifest_plans = []
        shapes = JobShapes()
        with _paused(pause_collector):
            for plan, key in zip(selected, keys, strict=True):
                for entry in render_plan(plan.document, key, options, shapes):
                    writer.file(
                        entry.path,
                        dumps_stable(entry.data, encoder.scalar, every_string=encoder.rewrites),
                    )
                    advance()
                manifest_plans.append(
                    ManifestPlan(
                        folder=plan.document.folder,
                        name=plan.document.name,
                        version=plan.effective_version,
                        version_id=plan.version_id,
                        entry=context_path(key),
                    )
                )
        for name in sorted(days):
            data = days[name].model_dump(mode="json")
            writer.file(calendar_path(name), dumps_stable(data))
            advance()
        for name, chunks in history:
            writer.stream(history_path(name), chunks)
        manifest = manifest.model_copy(
            update={
                "tokens": sorted(encoder.used),
                "plans": manifest_plans,
                "calendars": sorted(days) or None,
                "entries": dict(sorted(writer.hashes.items())),
            }
        )
        writer.file(MANIFEST, dumps_stable(manifest.to_json()), listed=False)
        advance()
    finally:
        writer.close()
    return manifest


def _write_ikasan(
    plan: BundlePlan,
    rendered: list[RenderedEntry],
    encoder: Encoder,
    writer: _ZipWriter,
    manifest: Manifest,
) -> Manifest:
    """One plan's ``rendered`` entries in exactly the entries of an Ikasan export (see
    :func:`write_bundle`)."""
    context, *jobs = rendered
    listed = ManifestPlan(
        folder=plan.document.folder,
        name=plan.document.name,
        version=plan.effective_version,
        version_id=plan.version_id,
        entry=context.path,
    )
    by_folder: dict[str, list[tuple[str, bytes]]] = {}
    for entry in jobs:
        _, folder, _, name = entry.path.split("/")  # jobs/<kind>/<key>/<job>.json
        data = dumps_stable(entry.data, encoder.scalar, every_string=encoder.rewrites)
        by_folder.setdefault(folder, []).append((f"{JOBS_DIR}/{folder}/{name}", data))
    context.data.setdefault(EXT, {})[RECORD] = _record(manifest, listed)
    context_data = dumps_stable(context.data, encoder.scalar, every_string=encoder.rewrites)
    try:
        for folder in IKASAN_DIRS:
            if (
                folder.startswith(f"{JOBS_DIR}/")
                and folder.split("/")[1] not in by_folder
                and (folder.split("/")[1] not in _IKASAN_KINDS)
            ):
                continue  # jobs/http/ only when the plan has HTTP jobs
            writer.directory(folder)
            if folder == "context":
                writer.file(context.path, context_data, listed=False)
            elif folder.startswith(f"{JOBS_DIR}/"):
                for path, data in by_folder.get(folder.split("/")[1], []):
                    writer.file(path, data, listed=False)
    finally:
        writer.close()
    return manifest.model_copy(update={"tokens": sorted(encoder.used), "plans": [listed]})


_IKASAN_KINDS = frozenset({"file", "internal", "quartz", "global"})
"""The job folders of Ikasan's own exports (written even when empty)."""


def _record(manifest: Manifest, plan: ManifestPlan) -> dict[str, Any]:
    """What ``manifest.json`` would say about the plan, kept in its context's extension."""
    return {
        **manifest.model_dump(
            mode="json", exclude_none=True, exclude={"plans", "entries", "tokens"}
        ),
        **plan.model_dump(mode="json", exclude_none=True, exclude={"folder", "name", "entry"}),
    }
