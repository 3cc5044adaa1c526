"""Masking secret values: in text, in streams whose chunks cut a value anywhere, in the output
capture that keeps a head and a tail, and in the common encodings of a value."""

from __future__ import annotations

import json
from urllib.parse import quote

from hypothesis import given
from hypothesis import strategies as st

from jobplan.engine.executors._output import OutputCapture
from jobplan.engine.masking import Masker

SECRET = "hunter2-Ä-secret"


class _Sink:
    def __init__(self) -> None:
        self.chunks: list[str] = []

    def write(self, chunk: str) -> None:
        self.chunks.append(chunk)


def _streamed(masker: Masker, chunks: list[str]) -> str:
    stream = masker.stream()
    return "".join(stream.feed(c) for c in chunks) + stream.flush()


def test_values_and_their_encodings_are_masked() -> None:
    quoted = 'a"b\\c'
    masker = Masker([SECRET, quoted])
    escaped = json.dumps(quoted)
    text = f"x {SECRET} {json.dumps(SECRET)} {quote(SECRET, safe='')} {escaped}"
    masked = masker.mask(text)
    assert SECRET not in masked and quote(SECRET, safe="") not in masked
    assert masked == 'x *** "***" *** "***"'


def test_a_value_as_an_http_job_s_url_holds_it_is_masked() -> None:
    """In a reason naming the URL (connection refused: http://host/a%20b/c?t=...)."""
    value = "a b/c:d"
    masker = Masker([value])
    assert (
        masker.mask("refused: http://h/x/a%20b%2Fc:d?t=a%20b/c:d")
        == "refused: http://h/x/***?t=***"
    )


def test_the_lines_of_a_value_of_several_lines_are_masked_one_by_one() -> None:
    key = "-----BEGIN KEY-----\nMIIBOgIBAAJBAKj34GkxFhD9\n-----END KEY-----"
    masked = Masker([key]).mask("got: MIIBOgIBAAJBAKj34GkxFhD9\r\n")
    assert masked == "got: ***\r\n"


def test_no_masker_changes_nothing() -> None:
    masker = Masker([])
    assert not masker and masker.mask("abc") == "abc"
    assert _streamed(masker, ["a", "b"]) == "ab"


@given(st.lists(st.integers(min_value=0, max_value=60), max_size=8), st.text(max_size=20))
def test_a_value_cut_anywhere_by_chunks_never_shows(cuts: list[int], noise: str) -> None:
    text = f"{noise}start {SECRET} middle {SECRET}{SECRET} hunter end {noise}"
    points = sorted({min(c, len(text)) for c in cuts})
    chunks = [text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True)]
    out = _streamed(Masker([SECRET]), chunks)
    assert out == Masker([SECRET]).mask(text)
    assert SECRET not in out and "hunter end" in out


def test_the_stream_holds_back_only_what_could_begin_a_value() -> None:
    stream = Masker([SECRET]).stream()
    assert stream.feed("abc hun") == "abc "  # "hun" could begin the value
    assert stream.feed("gry") == "hungry"  # it did not
    assert stream.feed(" hunter2-") == " "
    assert stream.feed("Ä-secret!") == "***!"
    assert stream.flush() == ""


def test_the_capture_masks_before_it_cuts_head_and_tail() -> None:
    """A value straddling two chunks and the place where the head is cut stays masked, in
    the kept text and in what the live sink saw."""
    data = (f"{'x' * 300}{SECRET}{'y' * 2000}{SECRET}tail").encode()
    for size in (1, 7, 64):
        sink = _Sink()
        capture = OutputCapture(512, sink, keep_tail=True, masker=Masker([SECRET]))
        for index in range(0, len(data), size):
            capture.feed(data[index : index + size])
        capture.finish()
        kept = capture.text()
        live = "".join(sink.chunks)
        assert capture.truncated and "omitted" in kept and kept.endswith("***tail")
        for part in ("hunter2", "Ä-secret", SECRET[:5]):
            assert part not in kept and part not in live
        assert live == data.decode().replace(SECRET, "***")
