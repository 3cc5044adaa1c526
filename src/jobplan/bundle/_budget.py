"""The memory an import may use, charged before anything large is built.

An import's memory is dominated by what it builds from the bundle: zipfile's copy of the
central directory and its ``ZipInfo`` objects, the inflated bytes of the entries that are
parsed, and the Python objects JSON parsing makes of them (which validation and storing then
roughly double). Each is estimated from sizes known *before* it is built — the
end-of-central-directory record, the headers, a scan of an entry's bytes that counts its JSON
values — and charged here; a charge past the budget refuses the bundle with
:class:`~jobplan.bundle.errors.BundleTooLarge`. Nothing is inflated or parsed on credit.

The estimates are upper bounds measured with :mod:`tracemalloc` (see ``bench/import_memory.py``
and docs/performance.md): a JSON value costs at most about :data:`NODE_BYTES` as a Python object
(an empty dict is 64 bytes, plus its slot in its container), text its length.
"""

from __future__ import annotations

import re

from jobplan.bundle.errors import BundleTooLarge, CorruptBundle

__all__ = ["NODE_BYTES", "MemoryBudget", "json_cost"]

NODE_BYTES = 72
"""Upper bound of one parsed JSON value's memory, apart from its text."""
ZIPINFO_BYTES = 600
"""One ``ZipInfo`` (with its name) as :mod:`zipfile` builds it from the central directory."""
PARSE_SHARE = 2
"""The reader's charges stay within half the budget: a whole import job (reading, validating,
storing) peaks at about 1.6 times what the reader charged (measured on a 10,000-job plan:
50 MiB charged, 80 MiB peak)."""

_TOKEN_RE = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')
"""A string (skipped whole) or a bracket."""
_OPEN = (b"[", b"{")
_CLOSE = (b"]", b"}")


class MemoryBudget:
    """Bytes an import may still build. ``limit`` is the whole import's budget."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.available = limit // PARSE_SHARE
        self.peak = 0
        """The most charged at once (for tests and the benchmark)."""
        self._charged = 0

    def charge(self, amount: int, what: str, entry: str | None = None) -> None:
        """Reserve ``amount`` bytes for ``what``, or refuse the bundle."""
        if self._charged + amount > self.available:
            raise BundleTooLarge(
                f"importing {what} would take more than the import memory budget "
                f"({self.limit // (1024 * 1024)} MiB): split the bundle, or raise the budget",
                entry=entry,
            )
        self._charged += amount
        self.peak = max(self.peak, self._charged)

    def refund(self, amount: int) -> None:
        """Give back what was charged for something that has been released."""
        self._charged = max(0, self._charged - amount)


def json_cost(data: bytes | bytearray, entry: str, max_nodes: int, max_depth: int) -> int:
    """An upper bound of the memory ``json.loads(data)`` builds, found without parsing.

    Counts commas and opening brackets (inside strings too, so never too few values) and
    refuses a document with more than ``max_nodes`` of them; a document with more than
    ``max_depth`` opening brackets is scanned, string by string, for its nesting depth. The
    scans copy nothing. A malformed document is left to the parser to describe.
    """
    opening = data.count(b"[") + data.count(b"{")
    nodes = data.count(b",") + opening + 1
    if nodes > max_nodes:
        raise BundleTooLarge(
            f"the JSON document has about {nodes} values (commas and brackets); at most "
            f"{max_nodes} are read",
            entry=entry,
        )
    if opening > max_depth and _depth(data, max_depth) > max_depth:
        raise CorruptBundle(
            f"JSON is nested too deeply (more than {max_depth} levels)", entry=entry
        )
    return len(data) + nodes * NODE_BYTES


def _depth(data: bytes | bytearray, limit: int) -> int:
    """The nesting depth of ``data``, or ``limit + 1`` once it is deeper than ``limit``."""
    depth = deepest = 0
    for match in _TOKEN_RE.finditer(data):
        token = match.group()
        if token in _OPEN:
            depth += 1
            if depth > limit:
                return depth
            deepest = max(deepest, depth)
        elif token in _CLOSE:
            depth -= 1
    return deepest
