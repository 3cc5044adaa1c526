"""Stable JSON out, strict JSON in."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from json.encoder import encode_basestring as _string
from typing import Any

from jobplan.bundle.errors import CorruptBundle

__all__ = ["dumps_stable", "format_path", "loads_strict"]


def dumps_stable(
    value: Any, text: Callable[[str], str] | None = None, *, every_string: bool = False
) -> bytes:
    """UTF-8 JSON with sorted keys and a 2-space indent, ending in a newline: byte for byte
    what ``json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False)`` gives, but
    several times faster (the standard library has no C encoder for indented output).

    ``text`` maps string *values* (not keys) before they are encoded: those containing ``[[``
    and those of a ``str`` subclass, or every one with ``every_string``.
    """
    out: list[str] = []
    _Writer(out, text, every_string).value(value, "\n")
    out.append("\n")
    return "".join(out).encode("utf-8")


_SCALARS: dict[type, Callable[[Any], str]] = {
    int: int.__repr__,
    bool: lambda value: "true" if value else "false",
    type(None): lambda value: "null",
}
_LITERALS: dict[Any, str] = {True: "true", False: "false", None: "null"}
_KEYS: dict[str, str] = {}
"""Object key -> its encoding followed by ``": "`` (keys repeat from entry to entry)."""
_KEYS_MAX = 4096
_MEMBERS: dict[tuple[tuple[Any, ...], str], tuple[tuple[str, str], ...]] = {}
"""(an object's keys in insertion order, its members' indent) -> its keys in sorted order,
each with the text written before its value (separator, newline, indent, key, ``": "``).
Entries of one kind are dicts with the same keys, built in the same order."""
_MEMBERS_MAX = 1024


def _key(key: Any) -> str:
    if type(key) is not str:
        raise TypeError(f"JSON object keys must be text, not {type(key).__name__}")
    encoded = _string(key) + ": "
    if len(_KEYS) < _KEYS_MAX:
        _KEYS[key] = encoded
    return encoded


def _members(value: dict[Any, Any], inner: str) -> tuple[tuple[str, str], ...]:
    keys = _KEYS
    members = tuple(
        (key, ("," if index else "{") + inner + (keys.get(key) or _key(key)))
        for index, key in enumerate(sorted(value))
    )
    if len(_MEMBERS) >= _MEMBERS_MAX:  # odd keys (user maps) must not crowd out the rest
        _MEMBERS.clear()
    _MEMBERS[(tuple(value), inner)] = members
    return members


class _Writer:
    __slots__ = ("every", "out", "text")

    def __init__(self, out: list[str], text: Callable[[str], str] | None, every: bool) -> None:
        self.out = out
        self.text = text
        self.every = every

    def string(self, value: str) -> str:
        text = self.text
        if text is not None and (self.every or "[[" in value or type(value) is not str):
            value = text(value)
        return _string(value)

    def value(self, value: Any, newline: str) -> None:
        kind = type(value)
        out = self.out
        if kind is str:
            out.append(self.string(value))
        elif kind in _SCALARS:
            out.append(_SCALARS[kind](value))
        elif kind is dict:
            if not value:
                out.append("{}")
                return
            inner = newline + "  "
            append = out.append
            text = self.text
            every = self.every
            members = _MEMBERS.get((tuple(value), inner)) or _members(value, inner)
            # the common leaves inline: one append per member
            for key, prefix in members:
                item = value[key]
                kind = type(item)
                if kind is str:
                    if text is not None and (every or "[[" in item):
                        item = text(item)
                    append(prefix + _string(item))
                elif kind is bool or item is None:
                    append(prefix + _LITERALS[item])
                elif kind is int:
                    append(prefix + int.__repr__(item))
                elif (kind is dict or kind is list) and not item:
                    append(prefix + ("{}" if kind is dict else "[]"))
                elif kind is list and all(type(element) is str for element in item):
                    deeper = inner + "  "
                    separator = prefix + "[" + deeper
                    for element in item:
                        if text is not None and (every or "[[" in element):
                            element = text(element)
                        append(separator + _string(element))
                        separator = "," + deeper
                    append(inner + "]")
                else:
                    append(prefix)
                    self.value(item, inner)
            append(newline + "}")
        elif kind is list or kind is tuple:
            if not value:
                out.append("[]")
                return
            inner = newline + "  "
            separator = "[" + inner
            append = out.append
            text = self.text
            every = self.every
            for item in value:
                if type(item) is str:
                    if text is not None and (every or "[[" in item):
                        item = text(item)
                    append(separator + _string(item))
                else:
                    append(separator)
                    self.value(item, inner)
                separator = "," + inner
            append(newline + "]")
        elif isinstance(value, str):
            out.append(self.string(value))
        elif isinstance(value, bool | int) and not isinstance(value, float):
            out.append(
                "true" if value is True else "false" if value is False else int.__repr__(value)
            )
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise ValueError(f"{value!r} cannot be written as JSON")
            out.append(float.__repr__(value))
        elif isinstance(value, dict | list | tuple):
            self.value(dict(value) if isinstance(value, dict) else list(value), newline)
        else:
            raise TypeError(f"{type(value).__name__} cannot be written as JSON")


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return result


def _constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:40]} is out of range")
    return value


def loads_strict(data: bytes | bytearray, entry: str) -> Any:
    """Parse an entry: UTF-8 (a byte-order mark is tolerated), standard JSON, no duplicate keys,
    no NaN or infinities. Raises :class:`CorruptBundle` naming the entry and the position."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CorruptBundle(
            f"not valid UTF-8: byte 0x{data[exc.start]:02x} at offset {exc.start}", entry=entry
        ) from None
    text = text.removeprefix("\ufeff")
    try:
        value = json.loads(
            text, object_pairs_hook=_object, parse_constant=_constant, parse_float=_float
        )
    except json.JSONDecodeError as exc:
        raise CorruptBundle(
            f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", entry=entry
        ) from None
    except _DuplicateKey as exc:
        raise CorruptBundle(f"duplicate JSON key {exc.key!r}", entry=entry) from None
    except ValueError as exc:
        raise CorruptBundle(f"not valid JSON: {exc}", entry=entry) from None
    except RecursionError:
        raise CorruptBundle("JSON is nested too deeply", entry=entry) from None
    if _SURROGATE_RE.search(data):
        _check_unicode(value, entry)
    return value


_SURROGATE_RE = re.compile(rb"\\u[dD][89abcdefABCDEF]")


def _check_unicode(value: Any, entry: str) -> None:
    """Refuse strings with unpaired surrogates (``"\\ud800"``): valid JSON, invalid text."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, str):
            try:
                node.encode("utf-8")
            except UnicodeEncodeError:
                raise CorruptBundle(
                    "a string contains an unpaired surrogate (\\ud800-\\udfff): not valid text",
                    entry=entry,
                ) from None


def format_path(parts: tuple[str | int, ...]) -> str:
    """``("contexts", 0, "name")`` -> ``contexts[0].name``."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text
