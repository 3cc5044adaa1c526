"""``dumps_stable`` writes exactly what ``json.dumps(sort_keys=True, indent=2)`` writes, with
string values (never keys) mapped by its ``text`` function where it promises to."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from jobplan.bundle._json import dumps_stable

_KEYS = st.sampled_from(["a", "b", "name", "jobName", "[[k]]", "é", "x y", ""]) | st.text(
    max_size=6
)
_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(["", "[[", "a[[b]]", "plain", 'é\u2028\n\t"\\', "\x00\x1f\x7f"])
    | st.text(max_size=8)
)
_JSON = st.recursive(
    _LEAVES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=6),
    max_leaves=30,
)


def _reference(value: Any) -> bytes:
    text = json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False)
    return (text + "\n").encode("utf-8")


def _mapped(value: Any, text: Any) -> Any:
    if isinstance(value, str):
        return text(value)
    if isinstance(value, dict):
        return {key: _mapped(item, text) for key, item in value.items()}
    if isinstance(value, list):
        return [_mapped(item, text) for item in value]
    return value


def _upper(value: str) -> str:
    return value.upper() + "!"


@settings(max_examples=400, deadline=None)
@given(_JSON)
def test_same_bytes_as_json_dumps(value: Any) -> None:
    assert dumps_stable(value) == _reference(value)
    # twice: the second time the cached key layouts are used
    assert dumps_stable(value) == _reference(value)


@settings(max_examples=300, deadline=None)
@given(_JSON)
def test_every_string_value_is_mapped(value: Any) -> None:
    assert dumps_stable(value, _upper, every_string=True) == _reference(_mapped(value, _upper))


@settings(max_examples=300, deadline=None)
@given(_JSON)
def test_only_values_with_brackets_are_mapped_by_default(value: Any) -> None:
    def text(item: str) -> str:
        return _upper(item) if "[[" in item else item

    assert dumps_stable(value, _upper) == _reference(_mapped(value, text))


def test_objects_with_the_same_keys_in_another_order() -> None:
    first = {"b": 1, "a": {"d": [], "c": "x"}}
    second = {"a": {"c": "y", "d": [1]}, "b": 2}
    for value in (first, second, [first, second], {"n": [second, first]}):
        assert dumps_stable(value) == _reference(value)


def test_keys_must_be_text() -> None:
    for value in ({1: "a"}, {"a": {None: 1}}):
        try:
            dumps_stable(value)
        except TypeError:
            continue
        raise AssertionError(f"{value!r} was written")
