"""File jobs: look for matching files older than a minimum age, optionally move them."""

from __future__ import annotations

import fnmatch
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from jobplan.model import FileJob

__all__ = ["FilePoll", "poll_files"]


@dataclass(frozen=True, slots=True)
class FilePoll:
    found: bool
    reason: str


def _candidates(base: Path, depth: int) -> list[Path]:
    found: list[Path] = []
    pending = [(base, 1)]
    while pending:
        folder, level = pending.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if entry.is_file(follow_symlinks=False):
                found.append(Path(entry.path))
            elif entry.is_dir(follow_symlinks=False) and level < depth:
                pending.append((Path(entry.path), level + 1))
    return sorted(found)


def poll_files(job: FileJob, now: float | None = None) -> FilePoll:
    """Check ``job.path`` (down to ``job.depth`` levels) for files matching any pattern that
    are at least ``job.min_age_seconds`` old. Found files are moved to ``job.move_to`` when
    set. Blocking: call it from a thread."""
    base = Path(job.path)
    if not base.is_dir():
        return FilePoll(False, f"directory '{base}' does not exist (yet)")
    current = time.time() if now is None else now
    matched = []
    for path in _candidates(base, job.depth):
        if not any(fnmatch.fnmatchcase(path.name, pattern) for pattern in job.patterns):
            continue
        try:
            age = current - path.stat().st_mtime
        except OSError:
            continue
        if age >= job.min_age_seconds:
            matched.append(path)
    if not matched:
        return FilePoll(False, f"no file matching {list(job.patterns)} in '{base}' yet")
    names = [str(p.relative_to(base)) for p in matched]
    if job.move_to:
        target = Path(job.move_to)
        target.mkdir(parents=True, exist_ok=True)
        for path in matched:
            shutil.move(str(path), target / path.name)
        return FilePoll(True, f"found {names}; moved to '{target}'")
    return FilePoll(True, f"found {names}")
