"""References in parameter values and HTTP requests: the ``${...}`` grammar.

A value is literal text with references in it::

    value      := ( text | escape | reference )*
    escape     := "$${"                               -> a literal "${"
    reference  := "${" name "}"                       -> the value of name
                | "${" name ":" format "}"            -> a time value, formatted
                | "${" namespace ":" key "}"          -> e.g. ${secret:DB_PASSWORD}
    name       := [A-Za-z_][A-Za-z0-9_]*

A ``$`` not followed by ``{`` is plain text (``$HOME`` stays ``$HOME``); only ``$${`` is an
escape. A ``format`` is ``strftime`` text restricted to the directives in
:data:`FORMAT_DIRECTIVES` (``%Y-%m-%d``, ``%H%M``, ``%%``...); it may not contain ``}``.

Names are the run's context (:data:`CONTEXT_NAMES`: the fire time and friends) and, where the
caller allows it (HTTP requests), the job's parameters. A ``namespace`` (:data:`NAMESPACES`,
today ``secret``) is looked up by a resolver the caller passes when rendering, so stored plans
and exports keep the reference, never the value.

Everything here is pure: :func:`parse` and :func:`problem` check text (plan validation, at
apply time); :func:`render` evaluates it (the engine, when a job starts). Nothing is ever
evaluated as code.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

__all__ = [
    "CONTEXT_NAMES",
    "FORMAT_DIRECTIVES",
    "NAMESPACES",
    "TEXT_NAMES",
    "TIME_NAMES",
    "Reference",
    "Resolve",
    "Template",
    "TemplateError",
    "format_time",
    "has_references",
    "parse",
    "problem",
    "render",
    "resolver",
]

#: Context names whose value is a moment in time: formattable with ``${name:FORMAT}``.
TIME_NAMES = ("scheduled_for", "scheduled_for_utc", "previous_scheduled_for")
#: Context names whose value is text.
TEXT_NAMES = ("trigger", "tenant", "plan", "plan_run_id")
#: Every context name, in documentation order.
CONTEXT_NAMES = TIME_NAMES + TEXT_NAMES

#: ``strftime`` directives a format may use (locale-independent or English in the C locale,
#: and the same on every platform); ``%%`` is a literal ``%``.
FORMAT_DIRECTIVES = frozenset("aAbBdfGHIjmMpSuUVwWyYzZ%")

#: Namespaces of ``${namespace:key}`` references, with the pattern their keys must match.
NAMESPACES: dict[str, re.Pattern[str]] = {
    "secret": re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"),
}

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MAX_FORMAT = 100


class TemplateError(ValueError):
    """Text that is not a valid value (syntax, unknown name, bad format); or, when rendering,
    a reference that cannot be resolved. The message is for people and names the reference."""


@dataclass(frozen=True, slots=True)
class Reference:
    """One ``${...}`` in a value."""

    text: str
    """As written, ``${scheduled_for:%Y}``."""
    name: str
    """The context or parameter name, or the key in ``namespace`` (``DB_PASSWORD``)."""
    namespace: str | None = None
    """``secret`` for ``${secret:...}``; None for a name."""
    format: str | None = None
    """The ``strftime`` format of a time reference, or None."""


@dataclass(frozen=True, slots=True)
class Template:
    """A parsed value: literal text and references, in order."""

    pieces: tuple[str | Reference, ...]

    @property
    def references(self) -> tuple[Reference, ...]:
        return tuple(piece for piece in self.pieces if isinstance(piece, Reference))


Resolve = Callable[[Reference], str]
"""Gives the text of one reference; raises :class:`TemplateError` when it has none."""


def has_references(text: str) -> bool:
    """Whether ``text`` may hold a reference or an escape (a fast test before parsing)."""
    return "${" in text


@lru_cache(maxsize=4096)
def parse(text: str) -> Template:
    """Parse ``text``; raises :class:`TemplateError` for a syntax error, an unknown namespace,
    a bad key, or a format using a directive outside :data:`FORMAT_DIRECTIVES`. Names are not
    checked here (see :func:`problem`). Templates are immutable, so parses are remembered
    (every job start renders the same few values)."""
    pieces: list[str | Reference] = []
    literal: list[str] = []
    index = 0
    while True:
        dollar = text.find("$", index)
        if dollar < 0:
            literal.append(text[index:])
            break
        literal.append(text[index:dollar])
        if text.startswith("$${", dollar):
            literal.append("${")
            index = dollar + 3
        elif text.startswith("${", dollar):
            end = text.find("}", dollar + 2)
            if end < 0:
                raise TemplateError(
                    f"unterminated reference {_clip(text[dollar:])!r}: close it with '}}' "
                    "(a literal '${' is written '$${')"
                )
            reference = _reference(text[dollar : end + 1])
            if literal:
                pieces.append("".join(literal))
                literal = []
            pieces.append(reference)
            index = end + 1
        else:
            literal.append("$")
            index = dollar + 1
    tail = "".join(literal)
    if tail:
        pieces.append(tail)
    return Template(tuple(pieces))


def problem(text: str, *, parameters: Collection[str] = (), namespaces: bool = True) -> str | None:
    """Why ``text`` is not a valid value where ``parameters`` (besides the context names) may
    be referred to, or None if it is valid. ``namespaces=False`` refuses ``${secret:...}``."""
    if not has_references(text):
        return None
    try:
        template = parse(text)
    except TemplateError as exc:
        return str(exc)
    for reference in template.references:
        if reference.namespace is not None:
            if not namespaces:
                return f"{reference.text}: {reference.namespace} references are not allowed here"
            continue
        if reference.name in CONTEXT_NAMES:
            if reference.format is not None and reference.name not in TIME_NAMES:
                return (
                    f"{reference.text}: only times take a format "
                    f"({', '.join(TIME_NAMES)}); {reference.name} is text"
                )
            continue
        if reference.name in parameters:
            if reference.format is not None:
                return f"{reference.text}: a parameter is text and takes no format"
            continue
        known = [*CONTEXT_NAMES, *sorted(parameters)]
        return f"{reference.text}: unknown name {reference.name!r} (known: {', '.join(known)})"
    return None


def render(
    value: str | Template, resolve: Resolve, *, encode: Callable[[str], str] | None = None
) -> str:
    """The text of ``value`` with each reference replaced by ``resolve(reference)`` (passed
    through ``encode`` if given, e.g. percent-encoding) and each ``$${`` by ``${``. Raises
    :class:`TemplateError` for invalid text, or whatever ``resolve`` raises."""
    if isinstance(value, str):
        if not has_references(value):
            return value
        value = parse(value)
    out: list[str] = []
    for piece in value.pieces:
        if isinstance(piece, str):
            out.append(piece)
        else:
            text = resolve(piece)
            out.append(encode(text) if encode is not None else text)
    return "".join(out)


def format_time(moment: datetime | None, fmt: str | None) -> str:
    """``moment`` as ISO 8601 to the second (``fmt`` None; a moment whose tzinfo is
    :data:`datetime.UTC` itself ends in ``Z``, one in a zone with its offset), or formatted
    with a checked ``strftime`` format; ``""`` for no moment."""
    if moment is None:
        return ""
    if fmt is None:
        if moment.tzinfo is UTC:
            return moment.replace(tzinfo=None).isoformat(timespec="seconds") + "Z"
        return moment.isoformat(timespec="seconds")
    return moment.strftime(fmt)


def _reference(text: str) -> Reference:
    """One ``${...}`` (braces included)."""
    inner = text[2:-1]
    name, colon, rest = inner.partition(":")
    if not inner:
        raise TemplateError("empty reference '${}' (a literal '${' is written '$${')")
    if not _NAME.fullmatch(name):
        raise TemplateError(
            f"{_clip(text)!r} is not a reference: a reference is ${{name}} or "
            "${name:format}, with a name of letters, digits and '_' (a literal '${' is "
            "written '$${')"
        )
    if name in NAMESPACES:
        if not colon or not NAMESPACES[name].fullmatch(rest):
            raise TemplateError(
                f"{_clip(text)!r}: a {name} reference is ${{{name}:NAME}}, NAME being 1-128 "
                "letters, digits, '_', '.' or '-'"
            )
        return Reference(text, rest, namespace=name)
    if not colon:
        return Reference(text, name)
    _check_format(text, rest)
    return Reference(text, name, format=rest)


def _check_format(text: str, fmt: str) -> None:
    if not fmt:
        raise TemplateError(f"{text!r}: empty format after ':'")
    if len(fmt) > _MAX_FORMAT:
        raise TemplateError(f"{_clip(text)!r}: a format has at most {_MAX_FORMAT} characters")
    index = 0
    while (percent := fmt.find("%", index)) >= 0:
        directive = fmt[percent + 1 : percent + 2]
        if directive not in FORMAT_DIRECTIVES or not directive:
            shown = f"%{directive}" if directive else "a lone '%' at the end"
            allowed = " ".join(f"%{d}" for d in sorted(FORMAT_DIRECTIVES))
            raise TemplateError(f"{_clip(text)!r}: {shown} is not allowed in a format ({allowed})")
        index = percent + 2
    if any(ord(ch) < 32 for ch in fmt):
        raise TemplateError(f"{_clip(text)!r}: a format must not contain control characters")


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def resolver(
    values: Mapping[str, str],
    times: Mapping[str, datetime | None],
    namespaces: Mapping[str, Callable[[str], str]] | None = None,
) -> Resolve:
    """A :data:`Resolve` over text ``values`` (context and parameters), ``times`` (formatted
    with :func:`format_time`) and ``namespaces`` (``{"secret": lookup}``; a lookup raises
    :class:`TemplateError`, or :class:`KeyError` for a missing key). Context names come before
    parameters of the same name, as :func:`problem` reads them."""
    namespaces = namespaces or {}

    def resolve(reference: Reference) -> str:
        if reference.namespace is not None:
            lookup = namespaces.get(reference.namespace)
            if lookup is None:
                raise TemplateError(
                    f"{reference.text}: {reference.namespace} values are not available here"
                )
            try:
                return lookup(reference.name)
            except KeyError:
                raise TemplateError(
                    f"{reference.text}: no {reference.namespace} named {reference.name!r}"
                ) from None
        if reference.name in times:
            return format_time(times[reference.name], reference.format)
        if reference.name in values:
            if reference.format is not None:
                raise TemplateError(
                    f"{reference.text}: {reference.name!r} is text and takes no format"
                )
            return values[reference.name]
        raise TemplateError(f"{reference.text}: unknown name {reference.name!r}")

    return resolve
