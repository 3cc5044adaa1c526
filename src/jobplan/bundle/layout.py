"""The bundle layout: Ikasan's folders, plus ``jobs/http/`` for jobplan's HTTP jobs.

::

    manifest.json                      jobplan bundles only (written last)
    context/<plan>.json                one context template per plan (nested contexts inside)
    jobs/internal/<plan>/<job>.json    command jobs          (Ikasan internal event jobs)
    jobs/quartz/<plan>/<job>.json      time gates            (Ikasan quartz schedule jobs)
    jobs/file/<plan>/<job>.json        file watchers         (Ikasan file event jobs)
    jobs/global/<plan>/<job>.json      global events         (Ikasan global event jobs)
    jobs/http/<plan>/<job>.json        HTTP calls            (jobplan only)
    history/<name>.jsonl               run history, optional (jobplan only; not imported)
    calendars/<name>.json              calendars the plans' windows name (jobplan only)
    notification/  notification_details/  profiles/          Ikasan folders, written empty

``<plan>`` is the plan's *key*: its name when no other plan in the bundle has that name,
otherwise a longer unique form (see :func:`plan_keys`). Ikasan's own exports keep job files
directly in ``jobs/<kind>/``; readers accept both.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from jobplan.model import JobKind

__all__ = [
    "CALENDAR_DIR",
    "CONTEXT_DIR",
    "EMPTY_DIRS",
    "FOLDER_OF_KIND",
    "HISTORY_DIR",
    "IGNORED_DIRS",
    "IKASAN_DIRS",
    "JOBS_DIR",
    "KIND_OF_FOLDER",
    "RECORD",
    "TEMPLATE_DIR",
    "calendar_path",
    "context_path",
    "history_path",
    "job_path",
    "plan_keys",
]

CONTEXT_DIR = "context"
JOBS_DIR = "jobs"
KIND_OF_FOLDER: dict[str, JobKind] = {
    "internal": JobKind.COMMAND,
    "quartz": JobKind.TIME,
    "file": JobKind.FILE,
    "global": JobKind.EVENT,
    "http": JobKind.HTTP,
}
FOLDER_OF_KIND: dict[JobKind, str] = {kind: folder for folder, kind in KIND_OF_FOLDER.items()}
HISTORY_DIR = "history"
CALENDAR_DIR = "calendars"
TEMPLATE_DIR = "internal_templates"
"""Ikasan's folder of command-job templates: read, reported and skipped."""
IGNORED_DIRS = ("notification", "notification_details", "profiles")
"""Ikasan notification and profile records: jobplan keeps notifications in the plan itself."""
EMPTY_DIRS = (
    CONTEXT_DIR,
    JOBS_DIR,
    *(f"{JOBS_DIR}/{folder}" for folder in sorted(KIND_OF_FOLDER)),
    *IGNORED_DIRS,
)
"""Folders every jobplan bundle has (as folder entries), even when empty."""
IKASAN_DIRS = (
    CONTEXT_DIR,
    "notification",
    "profiles",
    JOBS_DIR,
    f"{JOBS_DIR}/file",
    f"{JOBS_DIR}/internal",
    f"{JOBS_DIR}/quartz",
    f"{JOBS_DIR}/global",
    f"{JOBS_DIR}/http",
    "notification_details",
)
"""The folders of Ikasan's own export, in its order (``jobs/http/``, jobplan's, is written only
for a plan with HTTP jobs); each folder's entries follow it."""
RECORD = "bundle"
"""Key, in the ``jobplan`` extension of an Ikasan-layout export's context, of what the
manifest would say about the plan (format, source, version, version id)."""


def calendar_path(name: str) -> str:
    """``calendars/<name>.json`` (calendar names are file-name safe)."""
    return f"{CALENDAR_DIR}/{name}.json"


def context_path(key: str) -> str:
    """``context/<key>.json``."""
    return f"{CONTEXT_DIR}/{key}.json"


def job_path(key: str, kind: JobKind, job: str) -> str:
    """``jobs/<folder>/<key>/<job>.json``."""
    return f"{JOBS_DIR}/{FOLDER_OF_KIND[kind]}/{key}/{job}.json"


def plan_keys(plans: Sequence[tuple[str, str, str | None]]) -> list[str]:
    """A unique, file-name-safe key for each ``(folder, name, version)``, in order.

    The plan's name if unique in the bundle; else ``folder~name`` (folder slashes as ``~``);
    else that plus ``@version``; else a ``~2``, ``~3``... suffix. ``~`` and ``@`` cannot occur
    in names, so keys never collide with plain names.
    """
    names = [name for _, name, _ in plans]
    qualified = [
        f"{folder.replace('/', '~')}~{name}" if folder else name for folder, name, _ in plans
    ]
    versioned = [
        f"{qualified[index]}@{version}" if version else qualified[index]
        for index, (_, _, version) in enumerate(plans)
    ]
    counts = [Counter(names), Counter(qualified), Counter(versioned)]
    keys: list[str] = []
    used: set[str] = set()
    for index in range(len(plans)):
        for candidates, count in zip((names, qualified, versioned), counts, strict=True):
            key = candidates[index]
            if count[key] == 1 and key not in used:
                break
        else:
            base, number = versioned[index], 2
            key = base
            while key in used:
                key = f"{base}~{number}"
                number += 1
        keys.append(key)
        used.add(key)
    return keys


def history_path(name: str) -> str:
    """Where a stream of run history (JSON lines) goes in a bundle."""
    return f"{HISTORY_DIR}/{name}.jsonl"
