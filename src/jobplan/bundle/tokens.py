"""Replacement tokens: ``[[name]]`` placeholders for values that differ between environments.

A placeholder is ``[[`` + a name + ``]]``; a name is a letter or ``_`` followed by up to 99
letters, digits, ``_``, ``.`` or ``-`` (``[[env.name]]``, ``[[agent.name]]``, ``[[REGION]]``).
Placeholders are only recognised inside JSON **string values** — never in keys — and are
replaced *after* the entry has been parsed, so a value can never change the document's
structure: ``"}, {"x": 1`` is inserted as those characters, not as JSON.

Text that merely looks like a placeholder is escaped when a bundle is written: the ``[[`` of
``[[x]]`` becomes the reserved placeholder ``[[jobplan.lbrackets]]``, which always reads back
as ``[[``. Replacement is a single left-to-right pass, so a value containing ``[[other]]`` is
inserted literally and never expanded again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from jobplan.bundle._json import format_path
from jobplan.bundle.errors import TokenLocation

__all__ = [
    "LBRACKETS",
    "TOKEN_NAME",
    "Encoder",
    "Placeholder",
    "Substituter",
    "TokenSpec",
    "is_token_name",
]

TOKEN_NAME = r"[A-Za-z_][A-Za-z0-9_.\-]{0,99}"  # noqa: S105 - a pattern, not a secret
"""The name inside ``[[...]]``."""
TOKEN_RE = re.compile(rf"\[\[({TOKEN_NAME})\]\]")
_NAME_RE = re.compile(TOKEN_NAME)
LBRACKETS = "jobplan.lbrackets"
"""Reserved placeholder standing for a literal ``[[`` (needs no value)."""
_RESERVED_PREFIX = "jobplan."
_ESCAPE = rf"\[\[(?={TOKEN_NAME}\]\])"


def is_token_name(name: str) -> bool:
    """Whether ``name`` can appear inside ``[[...]]``."""
    return _NAME_RE.fullmatch(name) is not None


@dataclass(frozen=True, slots=True)
class TokenSpec:
    """Which environment-specific values an export replaces by placeholders.

    The defaults follow Ikasan's token export, plus per-environment parameters:

    - ``agents``: each job's agent name becomes ``[[agent.name]]`` (also inside Ikasan job
      identifiers, ``[[agent.name]]-load``). When the bundle's jobs use several agents, each
      gets its own token, ``[[agent.<agent>.name]]``, so none is lost; ``agent_tokens`` names
      them explicitly (agent -> token name). Ikasan's reserved agent ``GLOBAL_EVENT`` is kept.
    - ``parameters``: the default of every parameter marked ``per_environment`` becomes
      ``[[NAME]]`` (its own name), wherever the parameter is declared.
    - ``context_name``: ``keep`` the plan name; ``token`` makes it ``[[context.name]]``
      (Ikasan before 2024); ``env_suffix`` makes ``eod_PROD`` / ``eod`` into
      ``eod_[[env.name]]`` (Ikasan's underscore convention).
    - ``values``: any other literal text (a host, a path prefix) -> token name, replaced
      wherever it occurs inside a string value, longest first.
    """

    agents: bool = True
    agent_tokens: Mapping[str, str] = field(default_factory=dict)
    parameters: bool = True
    context_name: Literal["keep", "token", "env_suffix"] = "keep"
    values: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        names = [*self.agent_tokens.values(), *self.values.values()]
        for name in names:
            if not is_token_name(name) or name.startswith(_RESERVED_PREFIX):
                raise ValueError(
                    f"{name!r} is not a usable token name: use letters, digits, '_', '.', '-' "
                    f"(starting with a letter or '_'), not starting with {_RESERVED_PREFIX!r}"
                )
        for literal in self.values:
            if not literal or "[[" in literal or "]]" in literal:
                raise ValueError(f"token value {literal!r} must be non-empty text without [[ ]]")
        if self.context_name not in ("keep", "token", "env_suffix"):
            raise ValueError("context_name must be 'keep', 'token' or 'env_suffix'")


class Placeholder(str):
    """A string value that is written as ``prefix + [[token]] + suffix``.

    It compares equal to the real value it stands for, so the writer can reason about the
    plain values and the placeholder is only spelled out when the entry is serialised.
    """

    token: str
    prefix: str
    suffix: str

    def __new__(cls, value: str, token: str, *, prefix: str = "", suffix: str = "") -> Placeholder:
        instance = super().__new__(cls, value)
        instance.token = token
        instance.prefix = prefix
        instance.suffix = suffix
        return instance


class Encoder:
    """Turns the string values of rendered entries into what is written: escapes placeholder
    look-alikes, spells out :class:`Placeholder` values, applies the spec's literal ``values``,
    and records the token names used."""

    def __init__(self, values: Mapping[str, str] | None = None) -> None:
        self._values = dict(values or {})
        literals = sorted(self._values, key=lambda text: (-len(text), text))
        pattern = _ESCAPE
        if literals:
            pattern += "|" + "|".join(re.escape(literal) for literal in literals)
        self._pattern = re.compile(pattern)
        self.used: set[str] = set()
        self.rewrites = bool(literals)
        """Whether any string may change (else only those with ``[[`` or placeholders do)."""

    def _replace(self, match: re.Match[str]) -> str:
        text = match.group(0)
        if text == "[[":
            return f"[[{LBRACKETS}]]"
        token = self._values[text]
        self.used.add(token)
        return f"[[{token}]]"

    def text(self, value: str) -> str:
        """A plain string as written."""
        if not self._values and "[[" not in value:
            return value
        return self._pattern.sub(self._replace, value)

    def scalar(self, value: str) -> str:
        """A string value as written (placeholders spelled out)."""
        if isinstance(value, Placeholder):
            self.used.add(value.token)
            return f"{self.text(value.prefix)}[[{value.token}]]{self.text(value.suffix)}"
        return self.text(value)


class Substituter:
    """Replaces placeholders inside parsed entries (in place), recording where a value is
    missing and which values were used."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = dict(values)
        self.used: set[str] = set()
        self.found: set[str] = set()
        self.unresolved: dict[str, list[TokenLocation]] = {}
        self._entry = ""
        self._path: tuple[str | int, ...] = ()

    def _replace(self, match: re.Match[str]) -> str:
        name = match.group(1)
        if name == LBRACKETS:
            return "[["
        self.found.add(name)
        value = self._values.get(name)
        if value is None:
            location = TokenLocation(self._entry, format_path(self._path) or "(value)")
            self.unresolved.setdefault(name, []).append(location)
            return match.group(0)
        self.used.add(name)
        return value

    def _text(self, value: str, path: tuple[str | int, ...]) -> str:
        if "[[" not in value:
            return value
        self._path = path
        return TOKEN_RE.sub(self._replace, value)

    def substitute(self, data: Any, entry: str) -> Any:
        """Substitute inside ``data`` (the parsed JSON of ``entry``) and return it."""
        self._entry = entry
        if isinstance(data, str):
            return self._text(data, ())
        if not isinstance(data, dict | list):
            return data
        stack: list[tuple[Any, tuple[str | int, ...]]] = [(data, ())]
        while stack:
            node, path = stack.pop()
            items: Iterable[tuple[Any, Any]] = (
                list(node.items()) if isinstance(node, dict) else enumerate(node)
            )
            children = []
            for key, value in items:
                if isinstance(value, str):
                    if "[[" in value:
                        node[key] = self._text(value, (*path, key))
                elif isinstance(value, dict | list):
                    children.append((value, (*path, key)))
            stack.extend(reversed(children))
        return data
