"""Reading bundles: jobplan's own and real Ikasan exports, checked before anything is returned.

The order of the checks is the order of trust: the archive (sizes, names, types), the layout,
the manifest (hashes), each entry's encoding (UTF-8, strict JSON), the replacement tokens
(every missing value at once), and finally the plans themselves (every schema problem at
once, each with its entry and field).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any

from pydantic import ValidationError

from jobplan.bundle._archive import Archive, RawEntry, read_archive
from jobplan.bundle._assemble import JobFile, assemble_plan
from jobplan.bundle._budget import MemoryBudget, json_cost
from jobplan.bundle._ext import EXT
from jobplan.bundle._json import loads_strict
from jobplan.bundle._mapping import Issues
from jobplan.bundle.contents import BundleContents, BundlePlan, BundleWarning
from jobplan.bundle.errors import (
    BundleError,
    BundleSchemaError,
    ManifestMismatch,
    Problem,
    UnknownEntry,
    UnresolvedTokens,
    quoted,
)
from jobplan.bundle.layout import (
    CALENDAR_DIR,
    CONTEXT_DIR,
    HISTORY_DIR,
    IGNORED_DIRS,
    JOBS_DIR,
    KIND_OF_FOLDER,
    RECORD,
    TEMPLATE_DIR,
    calendar_path,
)
from jobplan.bundle.limits import DEFAULT_LIMITS, BundleLimits
from jobplan.bundle.manifest import (
    MANIFEST,
    Manifest,
    PlanRecord,
    parse_manifest,
    parse_record,
    plan_record,
)
from jobplan.bundle.tokens import Substituter
from jobplan.model import CalendarDocument, JobKind, PlanDocument, format_location

__all__ = ["read_bundle"]

_TOP_DIRS = frozenset({CONTEXT_DIR, JOBS_DIR, HISTORY_DIR, CALENDAR_DIR, *IGNORED_DIRS})


class _Layout:
    """The entries of an archive sorted by role."""

    def __init__(self, archive: Archive, has_manifest: bool) -> None:
        self.contexts: dict[str, RawEntry] = {}
        self.subcontexts: dict[str, RawEntry] = {}
        self.jobs: list[tuple[RawEntry, JobKind, str | None]] = []
        self.ignored: list[RawEntry] = []
        self.history: list[RawEntry] = []
        self.templates: list[RawEntry] = []
        self.calendars: list[RawEntry] = []
        for path, entry in sorted(archive.files.items()):
            if path == MANIFEST:
                continue
            self._classify(entry, path.split("/"), has_manifest)
        for path in sorted(archive.directories):
            if path.split("/", 1)[0] not in _TOP_DIRS:
                raise UnknownEntry("this folder is not part of the bundle layout", entry=f"{path}/")

    def _classify(self, entry: RawEntry, parts: list[str], has_manifest: bool) -> None:
        path = entry.path
        top = parts[0]
        if top not in _TOP_DIRS or len(parts) == 1:
            raise UnknownEntry(
                "not part of the bundle layout (context/, jobs/<kind>/, notification/, "
                "notification_details/, profiles/, manifest.json)",
                entry=path,
            )
        if top == HISTORY_DIR and has_manifest and len(parts) == 2 and path.endswith(".jsonl"):
            self.history.append(entry)  # run history: kept in the bundle, not imported
            return
        if not path.endswith(".json"):
            raise UnknownEntry("only .json files belong in a bundle", entry=path)
        if top == CALENDAR_DIR:
            if not has_manifest or len(parts) != 2:
                raise UnknownEntry(
                    "calendars/<name>.json entries belong to jobplan bundles only", entry=path
                )
            self.calendars.append(entry)
        elif top in IGNORED_DIRS:
            self.ignored.append(entry)
        elif top == CONTEXT_DIR:
            if len(parts) == 2:
                self.contexts[path] = entry
            elif has_manifest:
                raise UnknownEntry("context entries are not nested in jobplan bundles", entry=path)
            else:
                self.subcontexts[path] = entry
        else:
            folder = parts[1]
            if folder == TEMPLATE_DIR and len(parts) == 3:
                self.templates.append(entry)
                return
            kind = KIND_OF_FOLDER.get(folder)
            if kind is None:
                known = ", ".join(f"jobs/{name}/" for name in KIND_OF_FOLDER)
                raise UnknownEntry(
                    f"unknown job folder {quoted(folder)} (job kind); expected one of {known}",
                    entry=path,
                )
            if len(parts) == 3:
                self.jobs.append((entry, kind, None))
            elif len(parts) == 4:
                self.jobs.append((entry, kind, parts[2]))
            else:
                raise UnknownEntry("job entries are at most one folder deep", entry=path)


def _verify(manifest: Manifest, archive: Archive, layout: _Layout) -> None:
    files = {path: entry for path, entry in archive.files.items() if path != MANIFEST}
    for path in sorted(files):
        if path not in manifest.entries:
            raise ManifestMismatch("the entry is not listed in manifest.json", entry=path)
    for path, listed in sorted(manifest.entries.items()):
        entry = files.get(path)
        if entry is None:
            raise ManifestMismatch("the entry listed in manifest.json is missing", entry=path)
        if entry.size != listed.size or entry.sha256 != listed.sha256:
            raise ManifestMismatch(
                f"SHA-256 {entry.sha256} ({entry.size} bytes) differs from manifest.json "
                f"({listed.sha256}, {listed.size} bytes): the entry was changed",
                entry=path,
            )
    named = Counter(plan.entry for plan in manifest.plans)
    for path, count in named.items():
        if path not in layout.contexts:
            raise ManifestMismatch(
                f"manifest.json names plan entry {quoted(path)}, which is missing"
            )
        if count > 1:
            raise ManifestMismatch(f"manifest.json names plan entry {quoted(path)} twice")
    for path in layout.contexts:
        if path not in named:
            raise ManifestMismatch("the context is not a plan of manifest.json", entry=path)


def _attach_subcontexts(parsed: dict[str, Any], subcontexts: dict[str, Any]) -> None:
    """Ikasan's split export: ``context/A/B.json`` is a child of ``context/A.json``."""
    children: dict[str, list[Any]] = {}
    for path in subcontexts:
        parent = path.rsplit("/", 1)[0] + ".json"
        if parent not in parsed and parent not in subcontexts:
            raise UnknownEntry(f"no parent context {parent} for this context", entry=path)
        children.setdefault(parent, []).append(subcontexts[path])
    for parent, items in children.items():
        target = parsed.get(parent, subcontexts.get(parent))
        if not isinstance(target, dict):
            continue
        ordered = sorted(
            items,
            key=lambda item: (
                item.get("ordinal", 0) if isinstance(item, dict) else 0,
                str(item.get("name", "")) if isinstance(item, dict) else "",
            ),
        )
        existing = target.get("contexts")
        target["contexts"] = (existing if isinstance(existing, list) else []) + ordered


def read_bundle(
    source: IO[bytes] | Path | str,
    *,
    tokens: Mapping[str, str] | None = None,
    limits: BundleLimits = DEFAULT_LIMITS,
    folder: str = "",
    progress: Callable[[int, int], None] | None = None,
) -> BundleContents:
    """Read and check a bundle: a jobplan bundle (with ``manifest.json``) or an Ikasan export.

    ``source`` is a path or a seekable binary file (spool uploads to a temporary file).
    ``tokens`` gives the values of ``[[name]]`` placeholders; ``folder`` is the folder of plans
    whose bundle does not say (Ikasan exports). ``progress(done, total)`` is called as entries
    are decompressed. Nothing is returned unless every plan is valid.

    Raises a :class:`~jobplan.bundle.errors.BundleError` subclass naming the entry (and field).
    """
    for name, value in (tokens or {}).items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise BundleError(
                f"token values are text; {quoted(name)} has {type(value).__name__}", field="tokens"
            )
    with ExitStack() as stack:
        if isinstance(source, str | os.PathLike):
            fp: IO[bytes] = stack.enter_context(open(source, "rb"))
        else:
            fp = source
            if not fp.seekable():
                raise ValueError("read_bundle needs a seekable file; spool the upload first")
        budget = MemoryBudget(limits.max_memory_bytes)
        archive = read_archive(fp, limits, progress, keep=_kept, budget=budget)
    return _read(archive, tokens or {}, folder, _Loader(limits, budget))


def _kept(path: str) -> bool:
    """Whether an entry's bytes are held to be parsed: the manifest, contexts and jobs, not
    what is skipped (notifications, profiles, job templates, history) or refused anyway."""
    parts = path.split("/")
    if parts[0] == JOBS_DIR:
        return len(parts) > 2 and parts[1] != TEMPLATE_DIR
    return parts[0] in (CONTEXT_DIR, CALENDAR_DIR) or path == MANIFEST


class _Loader:
    """Parses held entries within the memory budget, releasing their bytes as it goes."""

    def __init__(self, limits: BundleLimits, budget: MemoryBudget) -> None:
        self.limits = limits
        self.budget = budget

    def __call__(self, entry: RawEntry) -> tuple[Any, bool]:
        """The entry's JSON, and whether its text may hold placeholders."""
        data = entry.data
        assert data is not None, f"{entry.path} was not kept"
        cost = json_cost(data, entry.path, self.limits.max_document_nodes, self.limits.max_depth)
        self.budget.charge(cost, "the bundle's JSON", entry.path)
        value = loads_strict(data, entry.path)
        tokens = _may_hold_tokens(data)
        entry.data = None
        self.budget.refund(entry.size)
        return value, tokens


class _Parsed:
    """The parsed entries of a bundle, placeholders replaced."""

    def __init__(self, layout: _Layout, tokens: Mapping[str, str], load: _Loader) -> None:
        self.substituter = Substituter(tokens)
        self.load = load
        entries = [*layout.contexts.values(), *layout.subcontexts.values()]
        self.contexts: dict[str, Any] = {entry.path: self._load(entry) for entry in entries}
        self.jobs = [(entry, kind, key, self._load(entry)) for entry, kind, key in layout.jobs]
        self.calendars = [(entry.path, self.load(entry)[0]) for entry in layout.calendars]
        if self.substituter.unresolved:
            raise UnresolvedTokens(self.substituter.unresolved)
        subcontexts = {path: self.contexts.pop(path) for path in layout.subcontexts}
        _attach_subcontexts(self.contexts, subcontexts)

    def _load(self, entry: RawEntry) -> Any:
        data, tokens = self.load(entry)
        if tokens:
            data = self.substituter.substitute(data, entry.path)
        return data

    def job_files(self, issues: Issues) -> dict[str, list[JobFile]]:
        """The job entries of each context entry."""
        by_key = {
            path.removeprefix(f"{CONTEXT_DIR}/").removesuffix(".json"): path
            for path in self.contexts
        }
        files: dict[str, list[JobFile]] = {path: [] for path in self.contexts}
        for entry, kind, key, data in self.jobs:
            owner = _owner(entry.path, data, key, self.contexts, by_key, issues)
            if owner is None:
                continue
            if not isinstance(data, dict):
                issues.problem(entry.path, (), "a job entry must be a JSON object")
                data = {}
            files[owner].append(JobFile(entry.path, kind, data))
        return files


def _notes(
    layout: _Layout, archive: Archive, tokens: Mapping[str, str], parsed: _Parsed
) -> list[BundleWarning]:
    warnings: list[BundleWarning] = []
    if archive.junk:
        warnings.append(BundleWarning(f"skipped {len(archive.junk)} macOS metadata entries"))
    for name in sorted(set(tokens) - parsed.substituter.used):
        warnings.append(
            BundleWarning(f"token {quoted(name)} was given but the bundle does not use it")
        )
    if layout.ignored:
        warnings.append(
            BundleWarning(
                f"{len(layout.ignored)} Ikasan notification/profile entries were not imported: "
                "jobplan keeps notifications in the plan itself"
            )
        )
    for entry in layout.templates:
        warnings.append(BundleWarning("Ikasan job templates are not imported", entry.path))
    if layout.history:
        warnings.append(
            BundleWarning(f"run history ({len(layout.history)} entries) is not imported")
        )
    return warnings


def _read(
    archive: Archive, tokens: Mapping[str, str], folder: str, load: _Loader
) -> BundleContents:
    manifest_entry = archive.files.get(MANIFEST)
    layout = _Layout(archive, manifest_entry is not None)
    manifest = None
    if manifest_entry is not None:
        manifest = parse_manifest(load(manifest_entry)[0])
        _verify(manifest, archive, layout)
    if not layout.contexts:
        raise UnknownEntry("the bundle has no context/<plan>.json entry: there is no plan in it")
    parsed = _Parsed(layout, tokens, load)
    listed: dict[str, PlanRecord] = (
        {plan.entry: plan_record(plan) for plan in manifest.plans}
        if manifest
        else _records(parsed.contexts)
    )
    warnings = _notes(layout, archive, tokens, parsed)
    issues = Issues()
    files = parsed.job_files(issues)
    order = [plan.entry for plan in manifest.plans] if manifest else sorted(parsed.contexts)
    token_export = bool(parsed.substituter.found)
    assembled = [
        (
            path,
            assemble_plan(
                path,
                parsed.contexts[path],
                files[path],
                issues,
                folder=folder,
                token_export=token_export,
            ),
        )
        for path in order
    ]
    calendars = _calendars(parsed.calendars, manifest)
    if issues.problems:
        raise BundleSchemaError(issues.problems)
    warnings.extend(issues.warnings)
    return BundleContents(
        calendars=calendars,
        plans=_validate(assembled, listed),
        source="jobplan" if manifest else "ikasan",
        manifest=manifest,
        tokens=tuple(sorted(parsed.substituter.found)),
        warnings=warnings,
        root_folder=archive.root,
    )


def _calendars(entries: list[tuple[str, Any]], manifest: Manifest | None) -> list[CalendarDocument]:
    """The bundle's calendars, each valid and named as its entry and the manifest say."""
    found: list[CalendarDocument] = []
    problems: list[Problem] = []
    for path, data in entries:
        try:
            calendar = CalendarDocument.model_validate(data)
        except ValidationError as exc:
            problems.extend(
                Problem(path, format_location(error["loc"]) or None, error["msg"])
                for error in exc.errors(include_url=False)
            )
            continue
        if calendar_path(calendar.name) != path:
            problems.append(Problem(path, "name", f"names calendar {quoted(calendar.name)}"))
            continue
        found.append(calendar)
    if problems:
        raise BundleSchemaError(problems)
    listed = sorted(manifest.calendars or []) if manifest else []
    if listed != sorted(c.name for c in found):
        raise ManifestMismatch(
            f"manifest.json lists calendars {listed}, the bundle holds "
            f"{sorted(c.name for c in found)}"
        )
    return sorted(found, key=lambda c: c.name)


def _records(contexts: dict[str, Any]) -> dict[str, PlanRecord]:
    """What jobplan's Ikasan-layout exports keep in each context's extension instead of a
    manifest (taken out of the context, so it is not read as a plan field)."""
    records: dict[str, PlanRecord] = {}
    for path, data in contexts.items():
        ext = data.get(EXT) if isinstance(data, dict) else None
        if isinstance(ext, dict) and RECORD in ext:
            records[path] = parse_record(ext.pop(RECORD), path, f"{EXT}.{RECORD}")
            if not ext:
                del data[EXT]
    return records


def _may_hold_tokens(data: bytes | bytearray) -> bool:
    """Whether parsed strings could contain ``[[`` (possibly written as ``\\u005b``)."""
    return b"[[" in data or b"\\u005b" in data or b"\\u005B" in data


def _owner(
    path: str,
    data: Any,
    plan_dir: str | None,
    parsed: dict[str, Any],
    by_key: dict[str, str],
    issues: Issues,
) -> str | None:
    """The context entry a job entry belongs to."""
    if plan_dir is not None:
        owner = by_key.get(plan_dir)
        if owner is None:
            raise UnknownEntry(f"there is no context/{plan_dir}.json for this job", entry=path)
        return owner
    if len(parsed) == 1:
        return next(iter(parsed))
    context = data.get("contextName") if isinstance(data, dict) else None
    matches = [
        key
        for key, root in parsed.items()
        if isinstance(root, dict) and root.get("name") == context
    ]
    if len(matches) != 1:
        issues.problem(
            path,
            ("contextName",),
            f"cannot tell which of the {len(parsed)} contexts this job belongs to "
            f"(contextName {quoted(context)})",
        )
        return None
    return matches[0]


def _validate(
    assembled: list[tuple[str, Any]], listed: Mapping[str, PlanRecord]
) -> list[BundlePlan]:
    problems: list[Problem] = []
    plans: list[BundlePlan] = []
    seen: dict[tuple[str, str, str | None], str] = {}
    for path, plan in assembled:
        if plan is None:
            continue
        try:
            document = PlanDocument.model_validate(plan.data)
        except ValidationError as exc:
            for error in exc.errors(include_url=False):
                loc = error["loc"]
                problems.append(
                    Problem(plan.entry_for(loc), format_location(loc) or None, error["msg"])
                )
            continue
        version, version_id = listed.get(path, (None, None))
        bundle_plan = BundlePlan(
            document,
            version=version,
            version_id=version_id,
        )
        identity = (document.folder, document.name, bundle_plan.effective_version)
        if identity in seen:
            problems.append(
                Problem(
                    path,
                    "name",
                    f"plan {quoted(document.path)} is also defined by {seen[identity]}",
                )
            )
        seen[identity] = path
        plans.append(bundle_plan)
    if problems:
        raise BundleSchemaError(problems)
    return plans
