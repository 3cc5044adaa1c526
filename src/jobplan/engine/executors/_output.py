"""Bounded output capture shared by the executors.

Output arrives as bytes in chunks of any size. :class:`OutputCapture` forwards each chunk,
decoded, to the live sink and keeps at most ``limit`` bytes for the result:

* ``keep_tail=False`` (HTTP bodies): the first ``limit`` bytes.
* ``keep_tail=True`` (command output): everything if it fits; otherwise the head and the tail
  of the output around a ``[... N bytes omitted ...]`` line, all within ``limit`` bytes, so
  both how a job started and how it ended (usually the error) survive.

Memory stays below ``3 * limit`` plus one chunk however much output there is.

Given a :class:`~jobplan.engine.masking.Masker` (the secret values of the attempt), the
stream is masked before anything is kept or forwarded, so the head and tail are cut from
masked text and no cut leaves part of a secret behind.
"""

from __future__ import annotations

import codecs

from jobplan.engine.executors.base import OutputSink
from jobplan.engine.masking import Masker
from jobplan.logging import get_logger

__all__ = ["OutputCapture"]

_log = get_logger(__name__)
_MARKER = "\n[... {} bytes omitted ...]\n"
_MIN_LIMIT_FOR_TAIL = 256
"""Below this cap, a head and a tail would be too short to help: keep the head only."""


class OutputCapture:
    """Collects a bounded copy of a byte stream and streams it, decoded, to a sink."""

    def __init__(
        self, limit: int, sink: OutputSink, *, keep_tail: bool, masker: Masker | None = None
    ) -> None:
        self._limit = max(limit, 0)
        self._mask = masker.stream() if masker else None
        self._mask_decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._sink: OutputSink | None = sink
        self._keep_tail = keep_tail and self._limit >= _MIN_LIMIT_FOR_TAIL
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._head = bytearray()
        self._tail = bytearray()
        self._total = 0

    @property
    def total_bytes(self) -> int:
        """Bytes received so far."""
        return self._total

    @property
    def truncated(self) -> bool:
        """True if the kept output leaves something out."""
        return self._total > self._limit

    def feed(self, chunk: bytes) -> None:
        """Take the next chunk of output."""
        if self._mask is not None and chunk:
            chunk = self._mask.feed(self._mask_decoder.decode(chunk)).encode()
        self._keep(chunk)

    def _keep(self, chunk: bytes) -> None:
        if not chunk:
            return
        self._total += len(chunk)
        room = self._limit - len(self._head)
        if room > 0:
            self._head += chunk[:room]
            rest = chunk[room:]
            self._emit(chunk if self._keep_tail else chunk[:room])
        else:
            rest = chunk
            if self._keep_tail:
                self._emit(chunk)
        if self._keep_tail and rest:
            self._tail += rest
            if len(self._tail) > 2 * self._limit:
                del self._tail[: len(self._tail) - self._limit]

    def finish(self) -> None:
        """Flush a partly received character to the sink (as U+FFFD) at the end of input."""
        if self._mask is not None:
            rest = self._mask.feed(self._mask_decoder.decode(b"", final=True))
            self._keep((rest + self._mask.flush()).encode())
        self._emit(b"", final=True)

    def text(self) -> str:
        """The kept output, decoded; cut points never split a UTF-8 character."""
        if not self.truncated:
            return bytes(self._head).decode("utf-8", errors="replace")
        if not self._keep_tail:
            return _decode_head(bytes(self._head))
        budget = len(_MARKER.format("9" * len(str(self._total))).encode())
        head_size = (self._limit - budget) // 2
        tail_size = self._limit - budget - head_size
        if len(self._tail) >= tail_size:
            tail = bytes(self._tail[len(self._tail) - tail_size :])
        else:
            tail = bytes(self._head[len(self._head) - (tail_size - len(self._tail)) :] + self._tail)
        omitted = self._total - head_size - tail_size
        return (
            _decode_head(bytes(self._head[:head_size]))
            + _MARKER.format(omitted)
            + _decode_tail(tail)
        )

    def _emit(self, data: bytes, *, final: bool = False) -> None:
        if self._sink is None:
            return
        text = self._decoder.decode(data, final)
        if not text:
            return
        try:
            self._sink.write(text)
        except Exception:
            _log.exception("output sink failed; live output disabled for this attempt")
            self._sink = None


def _decode_head(data: bytes) -> str:
    """Decode a prefix, dropping a character cut in half at its end."""
    return codecs.getincrementaldecoder("utf-8")(errors="replace").decode(data, final=False)


def _decode_tail(data: bytes) -> str:
    """Decode a suffix, dropping the continuation bytes of a character cut at its start."""
    start = 0
    while start < min(3, len(data)) and 0x80 <= data[start] < 0xC0:
        start += 1
    return data[start:].decode("utf-8", errors="replace")
