"""Where a plan may hold ``${...}`` references, and their checks (see
:mod:`jobplan.model.substitution` for the grammar).

Parameter values and command ``environment`` values may refer to the run's context and to
namespaces (``${secret:...}``); an HTTP job's URL, header values and body may also refer to
the parameters its job sees, which only the plan knows, so those names are checked by the plan.

Stored plan versions are read with :data:`STORED` as validation context: their references
are not checked again (a value written before references existed must not make its plan
unreadable); an invalid one fails its job when it starts, with a reason.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from typing import Any

from pydantic import JsonValue, ValidationInfo

from jobplan.model import substitution
from jobplan.model._errors import ErrorCollector, Loc

__all__ = [
    "STORED",
    "check_text",
    "checking",
    "json_strings",
    "url_problem",
]

#: Validation context for documents read back from the store (see the module docstring).
STORED: Mapping[str, Any] = {"stored_document": True}


def checking(info: ValidationInfo) -> bool:
    """Whether references are to be checked in this validation (not for stored documents)."""
    context = info.context
    return not (isinstance(context, Mapping) and context.get("stored_document"))


def check_text(
    text: str,
    loc: Loc,
    errors: ErrorCollector,
    *,
    parameters: Collection[str] = (),
    names: bool = True,
) -> None:
    """Record the problem of ``text`` at ``loc``, if any. ``names=False`` checks the syntax
    only (the names are checked where they are known)."""
    if not substitution.has_references(text):
        return
    if names:
        problem = substitution.problem(text, parameters=parameters)
    else:
        try:
            substitution.parse(text)
            problem = None
        except substitution.TemplateError as exc:
            problem = str(exc)
    if problem is not None:
        errors.add(loc, problem, text, error_type="reference")


def json_strings(value: JsonValue, loc: Loc) -> Iterator[tuple[Loc, str]]:
    """Every string value inside a JSON document (not object keys), with its location."""
    if isinstance(value, str):
        yield loc, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from json_strings(item, (*loc, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from json_strings(item, (*loc, index))


def url_problem(url: str) -> str | None:
    """Why the references of a URL template are misplaced: they may stand in its path, query
    or fragment, not in its scheme or host (percent-encoding does not apply there, and a
    value must not choose where a request goes)."""
    if not substitution.has_references(url):
        return None
    try:
        template = substitution.parse(url)
    except substitution.TemplateError as exc:
        return str(exc)
    first = template.pieces[0]
    prefix = first if isinstance(first, str) else ""
    _, sep, rest = prefix.partition("://")
    if template.references and not (sep and any(ch in rest for ch in "/?#")):
        return (
            f"{template.references[0].text}: references may stand in the URL's path, query or "
            "fragment, not in its scheme or host"
        )
    return None
