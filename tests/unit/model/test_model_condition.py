"""Dependency conditions: input forms, canonical output, names, rendering, errors."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from jobplan.model import And, JobRef, Not, Or, StageRef, error_messages, parse_condition
from jobplan.model.limits import MAX_CONDITION_DEPTH


def _errors(value: Any) -> list[str]:
    with pytest.raises(ValidationError) as info:
        parse_condition(value)
    return error_messages(info.value)


@pytest.mark.parametrize(
    ("given_form", "canonical"),
    [
        ("a", {"job": "a"}),
        ({"job": "a"}, {"job": "a"}),
        ({"stage": "s"}, {"stage": "s"}),
        (["a", "b"], {"and": [{"job": "a"}, {"job": "b"}]}),
        ({"and": ["a", {"stage": "s"}]}, {"and": [{"job": "a"}, {"stage": "s"}]}),
        ({"or": ["a", ["b", "c"]]}, {"or": [{"job": "a"}, {"and": [{"job": "b"}, {"job": "c"}]}]}),
        ({"not": "a"}, {"not": {"job": "a"}}),
        ({"not": {"or": ["a", "b"]}}, {"not": {"or": [{"job": "a"}, {"job": "b"}]}}),
    ],
)
def test_forms_serialise_to_the_explicit_form(given_form: Any, canonical: Any) -> None:
    condition = parse_condition(given_form)
    assert condition.model_dump(mode="json") == canonical
    assert parse_condition(canonical) == condition


def test_python_construction_by_field_name() -> None:
    condition = And(conditions=[JobRef(job="a"), Not(condition=StageRef(stage="s"))])
    assert condition.model_dump(mode="json") == {"and": [{"job": "a"}, {"not": {"stage": "s"}}]}
    assert parse_condition(condition) is condition


def test_names() -> None:
    condition = parse_condition({"or": ["a", {"not": {"stage": "s"}}, ["b", "a"]]})
    assert condition.job_names() == {"a", "b"}
    assert condition.stage_names() == {"s"}
    assert condition.names() == {"a", "b", "s"}
    assert [ref.target for ref in condition.refs()] == ["a", "s", "b", "a"]


@pytest.mark.parametrize(
    ("given_form", "text"),
    [
        ("a", "a"),
        (["a"], "a"),
        (["a", "b"], "a and b"),
        ({"or": ["a", ["b", "c"]]}, "a or (b and c)"),
        ({"and": ["a", {"or": ["b", {"stage": "s"}]}]}, "a and (b or stage:s)"),
        ({"not": ["a", "b"]}, "not (a and b)"),
        ({"not": {"not": "a"}}, "not not a"),
    ],
)
def test_renders_as_an_expression(given_form: Any, text: str) -> None:
    assert str(parse_condition(given_form)) == text


def test_depth() -> None:
    assert parse_condition("a").depth() == 0
    assert parse_condition(["a", {"not": "b"}]).depth() == 2


def test_too_deep_is_rejected_with_the_limit() -> None:
    value: Any = "a"
    for _ in range(MAX_CONDITION_DEPTH + 1):
        value = {"not": value}
    messages = _errors(value)
    assert any(f"at most {MAX_CONDITION_DEPTH} levels deep" in line for line in messages)


def test_absurdly_deep_input_gets_the_same_message() -> None:
    value: Any = "a"
    for _ in range(5_000):
        value = {"not": value}
    assert _errors(value) == [f"conditions may be nested at most {MAX_CONDITION_DEPTH} levels deep"]


def test_deepest_allowed_is_accepted() -> None:
    value: Any = "a"
    for _ in range(MAX_CONDITION_DEPTH):
        value = {"not": value}
    assert parse_condition(value).depth() == MAX_CONDITION_DEPTH


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([], "an empty list is not a condition; omit depends_on (or use null) for none"),
        ({"and": []}, "'and' needs at least one condition"),
        ({"or": []}, "'or' needs at least one condition"),
        (
            {"and": ["a"], "or": ["b"]},
            "a condition object has exactly one key, found 'and' and 'or'; nest them instead",
        ),
        ({}, "a condition object has exactly one key, found no keys; nest them instead"),
    ],
)
def test_malformed_conditions(value: Any, message: str) -> None:
    assert _errors(value) == [message]


def test_unknown_key_lists_the_forms() -> None:
    (line,) = _errors({"jobs": "a"})
    assert line.startswith("unknown condition key 'jobs': a condition is a job name")
    assert "{stage: NAME}" in line


def test_error_locations_omit_union_tags() -> None:
    assert _errors({"and": ["a", {"not": {"job": "bad name"}}]}) == [
        "and[1].not.job: name 'bad name' contains ' '; use only letters, digits, '_', '.' and '-'"
    ]
    (line,) = _errors({"or": ["a", 7]})
    assert line.startswith("or[1]: a condition is a job name")


# -- property: any accepted form round-trips through the canonical form ----------------------

_names = st.sampled_from(["a", "b", "c", "load.1", "x-y", "Z_9"])


def _explicit_or_compact(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    lists = st.lists(children, min_size=1, max_size=4)
    return st.one_of(
        lists,
        lists.map(lambda items: {"and": items}),
        lists.map(lambda items: {"or": items}),
        children.map(lambda item: {"not": item}),
    )


_conditions = st.recursive(
    st.one_of(_names, _names.map(lambda n: {"job": n}), _names.map(lambda n: {"stage": n})),
    _explicit_or_compact,
    max_leaves=25,
)


def _raw_names(value: Any) -> set[str]:
    if isinstance(value, str):
        return {value}
    if isinstance(value, list):
        return set().union(*(_raw_names(item) for item in value))
    ((key, inner),) = value.items()
    if key in ("job", "stage"):
        return {inner}
    return _raw_names(inner)


@given(_conditions)
def test_round_trip_through_canonical_form(value: Any) -> None:
    condition = parse_condition(value)
    dumped = condition.model_dump(mode="json")
    again = parse_condition(dumped)
    assert again == condition
    assert again.model_dump(mode="json") == dumped
    assert condition.names() == _raw_names(value)


@given(_conditions)
def test_json_round_trip(value: Any) -> None:
    condition = parse_condition(value)
    assert type(condition).model_validate_json(condition.model_dump_json()) == condition


def test_or_and_are_distinct_types() -> None:
    assert isinstance(parse_condition({"or": ["a"]}), Or)
    assert isinstance(parse_condition(["a"]), And)
