"""Field-level mapping between Ikasan's JSON and jobplan's plan data, in both directions.

Reader functions take parsed Ikasan JSON and return plain plan data (dicts in the explicit
form :class:`~jobplan.model.PlanDocument` validates); they record problems and warnings in an
:class:`Issues` and omit what they cannot map. Writer functions take validated model objects.
The writer also runs the reader functions over what it renders to decide what goes into the
``jobplan`` extension (see :mod:`jobplan.bundle._ext`).

Units: Ikasan's ``minExecutionTime`` / ``maxExecutionTime`` are read as **seconds** (the
sample pairs ``minExecutionTime: 10`` with ``sleep 10``; 0 means unset);
``contextTtlMilliseconds`` and blackout date-time ranges are milliseconds (epoch ms).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from jobplan.bundle._json import format_path
from jobplan.bundle.contents import BundleWarning
from jobplan.bundle.errors import Problem, quoted
from jobplan.model import Blackout, JobKind, Parameter, StartupControl, Window

__all__ = [
    "GLOBAL_EVENT",
    "RESERVED_AGENTS",
    "Issues",
    "Path",
    "blackouts_to",
    "condition_from",
    "context_fields",
    "grouping_of",
    "job_fields",
    "parameter_details",
    "parameters_from",
    "parameters_to",
    "window_to",
]

Path = tuple[str | int, ...]
GLOBAL_EVENT = "GLOBAL_EVENT"
RESERVED_AGENTS = frozenset(
    {GLOBAL_EVENT, "CONTEXT_START_JOB", "CONTEXT_TERMINAL_JOB", "LOCAL_EVENT_JOB", "BRIDGING_JOB"}
)
"""Ikasan's built-in agent names: never replaced by a token."""
STARTUP_IN = {"AUTOMATIC": "automatic", "MANUAL": "manual", "DISABLED": "disabled"}
STARTUP_OUT = {StartupControl(value): key for key, value in STARTUP_IN.items()}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_EPOCH_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
_REGEX_HINT = re.compile(r"\.\*|\\[dwsDWS.]|^\^|\$$|\(.*\)|\[\^|\{\d")


class Issues:
    """Problems (the bundle is refused) and warnings (it is accepted) found while mapping."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.warnings: list[BundleWarning] = []

    def problem(self, entry: str | None, path: Path, message: str) -> None:
        self.problems.append(Problem(entry, format_path(path) or None, message))

    def warn(self, entry: str | None, message: str) -> None:
        self.warnings.append(BundleWarning(message, entry))


# --- typed access to Ikasan JSON --------------------------------------------------------------


def _type_name(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "text", bool: "true/false"}.get(
        type(value), "a number" if isinstance(value, int | float) else "null"
    )


def get_str(
    data: Mapping[str, Any],
    key: str,
    issues: Issues,
    entry: str,
    path: Path,
    *,
    required: bool = False,
) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            issues.problem(entry, (*path, key), f"{key} is required")
        return None
    if not isinstance(value, str):
        issues.problem(entry, (*path, key), f"expected text, found {_type_name(value)}")
        return None
    return value


def get_int(
    data: Mapping[str, Any], key: str, issues: Issues, entry: str, path: Path
) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        issues.problem(entry, (*path, key), f"expected a whole number, found {_type_name(value)}")
        return None
    return value


def get_bool(
    data: Mapping[str, Any], key: str, issues: Issues, entry: str, path: Path
) -> bool | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        issues.problem(entry, (*path, key), f"expected true or false, found {_type_name(value)}")
        return None
    return value


def get_list(
    data: Mapping[str, Any], key: str, issues: Issues, entry: str, path: Path
) -> list[Any]:
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        issues.problem(entry, (*path, key), f"expected a list, found {_type_name(value)}")
        return []
    return value


def get_dict(
    data: Mapping[str, Any], key: str, issues: Issues, entry: str, path: Path
) -> dict[str, Any]:
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        issues.problem(entry, (*path, key), f"expected an object, found {_type_name(value)}")
        return {}
    return value


def objects(
    data: Mapping[str, Any], key: str, issues: Issues, entry: str, path: Path
) -> list[tuple[Path, dict[str, Any]]]:
    """The objects of the list ``key``, each with its path; other items are problems."""
    found = []
    for index, item in enumerate(get_list(data, key, issues, entry, path)):
        if isinstance(item, dict):
            found.append(((*path, key, index), item))
        else:
            issues.problem(
                entry, (*path, key, index), f"expected an object, found {_type_name(item)}"
            )
    return found


# --- times ------------------------------------------------------------------------------------


def _iso(ms: int) -> str:
    return (_EPOCH + timedelta(milliseconds=ms)).isoformat().replace("+00:00", "Z")


def _epoch_ms(moment: datetime, timezone: str) -> int:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=ZoneInfo(timezone))
    return (aware - _EPOCH) // timedelta(milliseconds=1)


def blackouts_from(
    data: Mapping[str, Any], issues: Issues, entry: str, path: Path
) -> list[dict[str, Any]]:
    """``blackoutWindowCronExpressions`` and ``blackoutWindowDateTimeRanges`` (epoch ms)."""
    result: list[dict[str, Any]] = []
    key = "blackoutWindowCronExpressions"
    for index, cron in enumerate(get_list(data, key, issues, entry, path)):
        if isinstance(cron, str):
            result.append({"cron": cron})
        else:
            issues.problem(entry, (*path, key, index), "expected a cron expression (text)")
    key = "blackoutWindowDateTimeRanges"
    for start, end in get_dict(data, key, issues, entry, path).items():
        where = (*path, key, start)
        if not start.lstrip("-").isdigit() or isinstance(end, bool) or not isinstance(end, int):
            issues.problem(entry, where, "expected epoch milliseconds mapped to epoch milliseconds")
        elif not 0 <= int(start) <= _MAX_EPOCH_MS or not 0 <= end <= _MAX_EPOCH_MS:
            issues.problem(entry, where, "epoch milliseconds out of range")
        else:
            result.append({"start": _iso(int(start)), "end": _iso(end)})
    return result


def blackouts_to(blackouts: Sequence[Blackout], timezone: str) -> dict[str, Any]:
    """Ikasan's two blackout fields (naive date-times are read in ``timezone``)."""
    crons = [blackout.cron for blackout in blackouts if blackout.cron is not None]
    ranges = {
        str(_epoch_ms(blackout.start, timezone)): _epoch_ms(blackout.end, timezone)
        for blackout in blackouts
        if blackout.start is not None and blackout.end is not None
    }
    return {"blackoutWindowCronExpressions": crons, "blackoutWindowDateTimeRanges": ranges}


def window_from(
    data: Mapping[str, Any], issues: Issues, entry: str, path: Path
) -> dict[str, Any] | None:
    """``timeWindowStart`` (+ ``timezone``, ``contextTtlMilliseconds``, blackouts)."""
    cron = get_str(data, "timeWindowStart", issues, entry, path)
    ttl_ms = get_int(data, "contextTtlMilliseconds", issues, entry, path) or 0
    timezone = get_str(data, "timezone", issues, entry, path)
    blackouts = blackouts_from(data, issues, entry, path)
    if not cron:
        if ttl_ms > 0 or blackouts:
            issues.warn(
                entry,
                f"{format_path(path) or 'context'}: contextTtlMilliseconds and blackouts were "
                "ignored: without a timeWindowStart there is no window for them to apply to",
            )
        return None
    window: dict[str, Any] = {"cron": cron}
    if timezone:
        window["timezone"] = timezone
    if ttl_ms < 0:
        issues.problem(entry, (*path, "contextTtlMilliseconds"), "must not be negative")
    elif ttl_ms > 0:
        window["ttl_seconds"] = max(1, ttl_ms // 1000)
    if blackouts:
        window["blackouts"] = blackouts
    return window


def window_to(window: Window | None) -> dict[str, Any]:
    if window is None:
        return {"contextTtlMilliseconds": 0}
    return {
        "timeWindowStart": window.cron,
        "timezone": window.timezone,
        "contextTtlMilliseconds": (window.ttl_seconds or 0) * 1000,
        **blackouts_to(window.blackouts, window.timezone),
    }


# --- parameters -------------------------------------------------------------------------------


def parameters_from(
    value: Any,
    details: Mapping[str, Any],
    issues: Issues,
    entry: str,
    path: Path,
    details_path: Path,
) -> list[dict[str, Any]]:
    """Ikasan ``contextParameters`` (``name``, ``defaultValue``) + the extension's
    ``parameter_details`` (``description``, ``per_environment`` by name)."""
    result: list[dict[str, Any]] = []
    if value is None:
        value = []
    if not isinstance(value, list):
        issues.problem(entry, path, f"expected a list, found {_type_name(value)}")
        value = []
    names: set[str] = set()
    for index, item in enumerate(value):
        where = (*path, index)
        if not isinstance(item, dict):
            issues.problem(entry, where, f"expected an object, found {_type_name(item)}")
            continue
        name = get_str(item, "name", issues, entry, where, required=True)
        default = get_str(item, "defaultValue", issues, entry, where)
        if name is None:
            continue
        parameter: dict[str, Any] = {"name": name, "default": default or ""}
        extra = details.get(name)
        if extra is not None:
            if isinstance(extra, dict):
                parameter.update(extra)
            else:
                issues.problem(entry, (*details_path, name), "expected an object")
        result.append(parameter)
        names.add(name)
    for name in details:
        if name not in names:
            issues.problem(entry, (*details_path, name), f"there is no parameter {quoted(name)}")
    return result


def parameters_to(parameters: Sequence[Parameter], token: Callable[[Parameter], str]) -> list[Any]:
    return [{"name": p.name, "defaultValue": token(p)} for p in parameters]


def parameter_details(parameters: Sequence[Parameter]) -> dict[str, Any]:
    """What Ikasan's ``contextParameters`` cannot hold, by parameter name."""
    details: dict[str, Any] = {}
    for parameter in parameters:
        extra: dict[str, Any] = {}
        if parameter.description:
            extra["description"] = parameter.description
        if parameter.per_environment:
            extra["per_environment"] = True
        if extra:
            details[parameter.name] = extra
    return details


# --- conditions -------------------------------------------------------------------------------

Resolve = Callable[[str], dict[str, str] | None]
"""Identifier -> ``{"job": name}`` / ``{"stage": name}``, or None when unknown."""


def _key(condition: dict[str, Any]) -> str:
    return json.dumps(condition, sort_keys=True)


def _unique(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if len(items) < 2:
        return list(items)
    seen: set[str] = set()
    result = []
    for item in items:
        key = _key(item)
        if key not in seen:
            seen.add(key)
            result.append(item)
    return result


def _all(items: list[dict[str, Any]]) -> dict[str, Any]:
    return items[0] if len(items) == 1 else {"and": items}


def _any(items: list[dict[str, Any]]) -> dict[str, Any]:
    return items[0] if len(items) == 1 else {"or": items}


class _GroupingReader:
    def __init__(
        self, resolve: Resolve, issues: Issues, entry: str, owner: str | None, dropped: list[str]
    ) -> None:
        self.resolve = resolve
        self.issues = issues
        self.entry = entry
        self.owner = owner
        self.dropped = dropped

    def grouping(self, grouping: Any, path: Path, depth: int) -> dict[str, Any] | None:
        if not isinstance(grouping, dict):
            self.issues.problem(self.entry, path, "expected a logicalGrouping object")
            return None
        if depth > 32:
            self.issues.problem(self.entry, path, "logical groupings are nested too deeply")
            return None
        parts: dict[str, list[dict[str, Any]]] = {}
        for operator in ("and", "or", "not"):
            if grouping.get(operator) is None:  # as get_list has it, without its checks
                parts[operator] = []
                continue
            operands = []
            for index, item in enumerate(
                get_list(grouping, operator, self.issues, self.entry, path)
            ):
                operand = self.item(item, (*path, operator, index), depth)
                if operand is not None:
                    operands.append(operand)
            parts[operator] = _unique(operands)
        if grouping.get("logicalGrouping") is not None:
            self.issues.warn(
                self.entry,
                f"{format_path(path)}.logicalGrouping was ignored: Ikasan does not evaluate a "
                "grouping nested directly in a grouping (only inside and/or/not items)",
            )
        ands, ors, nots = parts["and"], parts["or"], parts["not"]
        base: dict[str, Any] | None
        if ands and ors:
            base = {"or": _unique([_all(ands), *ors])}
        elif ands:
            base = _all(ands)
        elif ors:
            base = _any(ors)
        else:
            base = None
        if not nots:
            return base
        negations = [{"not": operand} for operand in nots]
        if base is None:
            self.issues.warn(
                self.entry,
                f"{format_path(path)} has only 'not' items, which never hold in Ikasan; "
                "imported as 'none of them is done'",
            )
            return _all(negations)
        if "and" in base:
            return {"and": _unique([*base["and"], *negations])}
        return {"and": [base, *negations]}

    def item(self, item: Any, path: Path, depth: int) -> dict[str, Any] | None:
        if not isinstance(item, dict):
            self.issues.problem(self.entry, path, "expected an object with an identifier")
            return None
        if item.get("logicalGrouping") is not None:
            return self.grouping(item["logicalGrouping"], (*path, "logicalGrouping"), depth + 1)
        identifier = get_str(item, "identifier", self.issues, self.entry, path, required=True)
        if identifier is None:
            return None
        target = self.resolve(identifier)
        if target is None:
            self.issues.problem(
                self.entry, (*path, "identifier"), f"unknown job or context {quoted(identifier)}"
            )
            return None
        if self.owner is not None and target == {"job": self.owner}:
            self.dropped.append(format_path(path))
            return None
        return target


def condition_from(
    grouping: Any,
    resolve: Resolve,
    issues: Issues,
    entry: str,
    path: Path,
    *,
    owner: str | None = None,
    dropped: list[str] | None = None,
) -> dict[str, Any] | None:
    """An Ikasan ``logicalGrouping`` as a condition (explicit form), or None if it is empty.

    Ikasan's rule is ``(all of 'and' or any of 'or') and none of 'not'``; single operands are
    unwrapped, repeated operands dropped, and a reference of a job to itself (``owner``) is
    dropped and its path appended to ``dropped``.
    """
    reader = _GroupingReader(resolve, issues, entry, owner, dropped if dropped is not None else [])
    return reader.grouping(grouping, path, 0)


Leaf = Callable[[Mapping[str, Any]], str | None]
"""A leaf condition (``{"job": ...}`` / ``{"stage": ...}``) -> Ikasan identifier, or None."""


def _item_of(condition: Mapping[str, Any], leaf: Leaf) -> Any:
    if "and" not in condition and "or" not in condition and "not" not in condition:
        identifier = leaf(condition)
        return None if identifier is None else {"identifier": identifier}
    grouping = grouping_of(condition, leaf)
    return None if grouping is None else {"logicalGrouping": grouping}


def grouping_of(condition: Mapping[str, Any], leaf: Leaf) -> dict[str, Any] | None:
    """A condition (explicit form) as an Ikasan ``logicalGrouping``, or None when Ikasan
    cannot express it (a ``not`` without a positive part, a leaf ``leaf`` rejects)."""
    if "and" in condition:
        positive = [item for item in condition["and"] if "not" not in item]
        negative = [item["not"] for item in condition["and"] if "not" in item]
        if not positive:
            return None
        items = [_item_of(item, leaf) for item in positive]
        negations = [_item_of(item, leaf) for item in negative]
        if any(item is None for item in [*items, *negations]):
            return None
        grouping: dict[str, Any] = {"and": items}
        if negations:
            grouping["not"] = negations
        return grouping
    if "or" in condition:
        items = [_item_of(item, leaf) for item in condition["or"]]
        return None if any(item is None for item in items) else {"or": items}
    if "not" in condition:
        return None
    item = _item_of(condition, leaf)
    return None if item is None else {"and": [item]}


# --- jobs and contexts ------------------------------------------------------------------------


def startup_from(data: Mapping[str, Any], issues: Issues, entry: str, path: Path) -> str | None:
    value = get_str(data, "startupControlType", issues, entry, path)
    if value is None:
        return None
    startup = STARTUP_IN.get(value.upper())
    if startup is None:
        issues.problem(
            entry,
            (*path, "startupControlType"),
            f"unknown startupControlType {quoted(value)}: expected AUTOMATIC, MANUAL or DISABLED",
        )
    return startup


def _return_codes(value: Any, issues: Issues, entry: str, path: Path) -> list[int] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        issues.problem(entry, path, f"expected a list, found {_type_name(value)}")
        return None
    codes = []
    for index, code in enumerate(value):
        if isinstance(code, str) and code.strip().isdigit():
            codes.append(int(code.strip()))
        elif isinstance(code, int) and not isinstance(code, bool):
            codes.append(code)
        else:
            issues.problem(entry, (*path, index), f"{quoted(code)} is not an exit code")
    return codes or None


def _seconds(value: Any, issues: Issues, entry: str, path: Path) -> int | float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        issues.problem(entry, path, f"expected a number of seconds, found {_type_name(value)}")
        return None
    return value or None


def job_fields(
    kind: JobKind, data: Mapping[str, Any], issues: Issues, entry: str
) -> dict[str, Any]:
    """The plan fields an Ikasan job entry maps to (without ``depends_on`` and ``parameters``,
    which come from the context and the parameter lists)."""
    job: dict[str, Any] = {"kind": kind.value}
    name = get_str(data, "jobName", issues, entry, (), required=True)
    if name is not None:
        job["name"] = name
    description = get_str(data, "jobDescription", issues, entry, ())
    if description:
        job["description"] = description
    agent = get_str(data, "agentName", issues, entry, ())
    if agent:
        job["agent"] = agent
    startup = startup_from(data, issues, entry, ())
    if startup is not None:
        job["startup"] = startup
    if kind is JobKind.COMMAND:
        command = get_str(data, "commandLine", issues, entry, (), required=True)
        if command is not None:
            job["command"] = command
        directory = get_str(data, "workingDirectory", issues, entry, ())
        if directory:
            job["working_directory"] = directory
        codes = _return_codes(
            data.get("successfulReturnCodes"), issues, entry, ("successfulReturnCodes",)
        )
        if codes is not None:
            job["success_exit_codes"] = codes
        for source, target in (
            ("minExecutionTime", "min_execution_seconds"),
            ("maxExecutionTime", "max_execution_seconds"),
        ):
            seconds = _seconds(data.get(source), issues, entry, (source,))
            if seconds is not None:
                job[target] = seconds
    elif kind is JobKind.TIME:
        cron = get_str(data, "cronExpression", issues, entry, (), required=True)
        if cron is not None:
            job["cron"] = cron
        _timezone(job, data, issues, entry)
        blackouts = blackouts_from(data, issues, entry, ())
        if blackouts:
            job["blackouts"] = blackouts
    elif kind is JobKind.FILE:
        _file_fields(job, data, issues, entry)
    elif kind is JobKind.EVENT and name is not None:
        job["event"] = name
    return job


def _timezone(job: dict[str, Any], data: Mapping[str, Any], issues: Issues, entry: str) -> None:
    timezone = get_str(data, "timeZone", issues, entry, ()) or get_str(
        data, "timezone", issues, entry, ()
    )
    if timezone:
        job["timezone"] = timezone


def _file_fields(job: dict[str, Any], data: Mapping[str, Any], issues: Issues, entry: str) -> None:
    path = get_str(data, "filePath", issues, entry, (), required=True)
    if path is not None:
        job["path"] = path
    if data.get("filenames") is None:
        issues.problem(entry, ("filenames",), "filenames is required")
    patterns = []
    for index, pattern in enumerate(get_list(data, "filenames", issues, entry, ())):
        if isinstance(pattern, str):
            patterns.append(pattern)
            if _REGEX_HINT.search(pattern):
                issues.warn(
                    entry,
                    f"filenames[{index}] {quoted(pattern)} looks like a regular expression; "
                    "jobplan reads file name patterns as globs (*, ?, [abc])",
                )
        else:
            issues.problem(entry, ("filenames", index), "expected a file name (text)")
    job["patterns"] = patterns
    for source, target in (("minFileAgeSeconds", "min_age_seconds"), ("directoryDepth", "depth")):
        value = get_int(data, source, issues, entry, ())
        if value is not None:
            job[target] = value
    cron = get_str(data, "cronExpression", issues, entry, ())
    if cron:
        job["poll_cron"] = cron
    _timezone(job, data, issues, entry)
    move_to = get_str(data, "moveDirectory", issues, entry, ())
    if move_to:
        job["move_to"] = move_to
    if blackouts_from(data, issues, entry, ()):
        issues.warn(entry, "blackouts of a file job were ignored: jobplan file jobs have none")


def context_fields(
    data: Mapping[str, Any], issues: Issues, entry: str, path: Path, *, root: bool
) -> dict[str, Any]:
    """Plan (``root``) or stage fields of an Ikasan context template (without jobs, stages,
    parameters and dependencies)."""
    fields: dict[str, Any] = {}
    name = get_str(data, "name", issues, entry, path, required=True)
    if name is not None:
        fields["name"] = name
    description = get_str(data, "description", issues, entry, path)
    if description:
        fields["description"] = description
    if get_bool(data, "disabled", issues, entry, path):
        fields["enabled"] = False
    window = window_from(data, issues, entry, path)
    if window is not None:
        fields["window"] = window
    if root and get_bool(data, "ableToRunConcurrently", issues, entry, path):
        fields["policies"] = {"overlap": "allow"}
    return fields
