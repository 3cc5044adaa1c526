"""Masking secret values out of what a job produces.

A :class:`Masker` is built per job run attempt from the secret values it resolved
(``${secret:NAME}``). It replaces each value with ``***`` in text (:meth:`Masker.mask`) and in
a stream of chunks (:meth:`Masker.stream`), where a value may straddle two chunks: the
stream holds back the end of what it has seen for as long as it could be the start of a value,
so no chunk it lets out ends with part of a secret that the next chunk completes.

Besides each value as is, the forms a job's output commonly shows it in are masked too: JSON
string escaping (an HTTP service echoing a request body), percent-encoding (a URL echoed
back), and each line of a value of several lines.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

__all__ = ["MASK", "Masker", "StreamMasker"]

MASK = "***"
_URL_SAFE = ("!$'()*,;:@", "/?:@!$'()*,;")
_MIN_LINE = 4
"""Lines of a multi-line value shorter than this are not masked on their own (an empty or
one-character line would mask half of any output)."""


def _forms(value: str) -> set[str]:
    forms = {value, json.dumps(value, ensure_ascii=False)[1:-1], json.dumps(value)[1:-1]}
    forms.add(quote(value, safe=""))
    forms.add(quote_plus(value, safe=""))
    # as an HTTP job's URL holds it (engine/context.py: in a path segment, in the query)
    forms.update(quote(value, safe=safe) for safe in _URL_SAFE)
    lines = value.splitlines()
    if len(lines) > 1:
        forms.update(line for line in lines if len(line.strip()) >= _MIN_LINE)
    return {form for form in forms if form}


class Masker:
    """Replaces secret values (and their common encodings) with ``***``."""

    __slots__ = ("_firsts", "_pattern", "_values", "longest")

    def __init__(self, values: Iterable[str] = ()) -> None:
        forms: set[str] = set()
        for value in values:
            if value:
                forms |= _forms(value)
        # longest first: a value containing another is masked whole
        self._values = tuple(sorted(forms, key=lambda v: (-len(v), v)))
        self._pattern = (
            re.compile("|".join(re.escape(v) for v in self._values)) if self._values else None
        )
        self._firsts = frozenset(v[0] for v in self._values)
        self.longest = len(self._values[0]) if self._values else 0

    def __bool__(self) -> bool:
        return self._pattern is not None

    def mask(self, text: str) -> str:
        """``text`` with every secret value replaced by ``***``."""
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(MASK, text)

    def stream(self) -> StreamMasker:
        """A masker for text arriving in chunks."""
        return StreamMasker(self)

    def held(self, text: str) -> int:
        """How many characters at the end of ``text`` could begin a value (and so must wait
        for the next chunk)."""
        if self._pattern is None:
            return 0
        start = max(0, len(text) - self.longest + 1)
        for index in range(start, len(text)):
            if text[index] not in self._firsts:
                continue
            tail = text[index:]
            if any(v.startswith(tail) for v in self._values):
                return len(text) - index
        return 0


class StreamMasker:
    """Masks a stream of text chunks: :meth:`feed` each chunk, then :meth:`flush` the end."""

    __slots__ = ("_masker", "_pending")

    def __init__(self, masker: Masker) -> None:
        self._masker = masker
        self._pending = ""

    def feed(self, chunk: str) -> str:
        """The masked text that can be let out now (possibly empty)."""
        if not self._masker:
            return chunk
        text = self._masker.mask(self._pending + chunk)
        keep = self._masker.held(text)
        self._pending = text[len(text) - keep :] if keep else ""
        return text[: len(text) - keep]

    def flush(self) -> str:
        """What was held back, at the end of the stream."""
        rest, self._pending = self._pending, ""
        return rest
