"""Property tests of path handling: lookups, slices, ResultPath insertion, static templates, literals."""

from __future__ import annotations

import copy
import random
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from etl.asl_paths import Expression, PayloadTemplate, ResultPathError, parse_path, parse_reference_path

IDENTIFIERS = st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,7}", fullmatch=True)
ANY_KEYS = st.text(max_size=8)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(10**9), 10**9)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10)
)


def json_values(keys: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    return st.recursive(
        SCALARS,
        lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=4),
        max_leaves=25,
    )


def objects(keys: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(keys, json_values(keys), max_size=5)


def bracket(key: str) -> str:
    return "['" + key.replace("\\", "\\\\").replace("'", "\\'") + "']"


@st.composite
def existing_paths(draw: st.DrawFn, keys: st.SearchStrategy[str]) -> tuple[Any, list[str], Any]:
    """A document, a chain of keys that exists in it, and the value at the end of the chain."""
    document = draw(objects(keys).filter(bool))
    node: Any = document
    chain: list[str] = []
    while isinstance(node, dict) and node and (not chain or draw(st.booleans())):
        key = draw(st.sampled_from(sorted(node)))
        chain.append(key)
        node = node[key]
    return document, chain, node


@given(existing_paths(IDENTIFIERS))
def test_dot_paths_to_existing_keys_return_the_value(case: tuple[Any, list[str], Any]) -> None:
    document, chain, value = case
    assert parse_path("$." + ".".join(chain)).evaluate(document) == value


@given(existing_paths(ANY_KEYS))
def test_bracket_paths_handle_any_key(case: tuple[Any, list[str], Any]) -> None:
    document, chain, value = case
    assert parse_path("$" + "".join(bracket(key) for key in chain)).evaluate(document) == value


@given(st.lists(SCALARS, min_size=1, max_size=8), st.data())
def test_indexes_match_python_indexing_including_negative_ones(items: list[Any], data: st.DataObject) -> None:
    index = data.draw(st.integers(-len(items), len(items) - 1))
    assert parse_path(f"$.items[{index}]").evaluate({"items": items}) == items[index]


@given(
    st.lists(st.integers(), max_size=8), st.none() | st.integers(-10, 10), st.none() | st.integers(-10, 10)
)
def test_slices_match_python_slicing(items: list[int], start: int | None, stop: int | None) -> None:
    text = f"$.items[{'' if start is None else start}:{'' if stop is None else stop}]"
    assert parse_path(text).evaluate({"items": items}) == items[start:stop]


@given(st.lists(st.dictionaries(st.sampled_from(["k", "other"]), SCALARS, max_size=2), max_size=6))
def test_wildcards_collect_present_members_in_order(items: list[dict[str, Any]]) -> None:
    data = {"items": items}
    assert parse_path("$.items[*]").evaluate(data) == items
    assert parse_path("$.items[*].k").evaluate(data) == [item["k"] for item in items if "k" in item]


@given(objects(IDENTIFIERS), st.lists(IDENTIFIERS, min_size=1, max_size=4), json_values(IDENTIFIERS))
def test_result_path_insertion_then_extraction_round_trips(
    document: dict[str, Any], chain: list[str], value: Any
) -> None:
    before = copy.deepcopy(document)
    path = parse_reference_path("$." + ".".join(chain))
    blocked = _blocked(document, chain)
    try:
        updated = path.insert(document, value)
    except ResultPathError:
        assert blocked
        return
    assert not blocked
    assert document == before  # the input is never changed in place
    assert path.evaluate(updated) == value
    for key in document:
        if key != chain[0]:
            assert updated[key] == document[key]


def _blocked(document: Any, chain: list[str]) -> bool:
    """True when a node on the way to the last key exists and is not an object."""
    node = document
    for key in chain[:-1]:
        if key not in node:
            return False
        node = node[key]
        if not isinstance(node, dict):
            return True
    return False


def _static(value: Any) -> bool:
    if isinstance(value, dict):
        return all(not key.endswith(".$") and _static(item) for key, item in value.items())
    if isinstance(value, list):
        return all(_static(item) for item in value)
    return True


@given(json_values(ANY_KEYS).filter(_static), json_values(ANY_KEYS))
def test_a_template_of_static_values_is_the_identity(template: Any, data: Any) -> None:
    assert PayloadTemplate(template, "Parameters").evaluate(data, {}, random.Random(0)) == template


@given(objects(IDENTIFIERS).filter(_static), json_values(IDENTIFIERS))
def test_dynamic_fields_leave_the_static_part_unchanged(static: dict[str, Any], value: Any) -> None:
    template = {**static, "dynamic.$": "$.value"}
    result = PayloadTemplate(template, "Parameters").evaluate({"value": value}, {}, random.Random(0))
    assert result.pop("dynamic") == value
    assert result == {key: item for key, item in static.items() if key != "dynamic"}


@given(st.text(max_size=30))
def test_any_string_survives_an_escaped_intrinsic_literal(text: str) -> None:
    escaped = "".join("\\" + char if char in "'{}\\" else char for char in text)
    assert Expression(f"States.Format('{escaped}')", "v.$").evaluate({}, {}, random.Random(0)) == text


@given(json_values(ANY_KEYS))
def test_json_to_string_and_back_round_trips(value: Any) -> None:
    text = Expression("States.JsonToString($.v)", "v.$").evaluate({"v": value}, {}, random.Random(0))
    assert Expression("States.StringToJson($.t)", "v.$").evaluate({"t": text}, {}, random.Random(0)) == value


@given(st.text(max_size=200))
def test_base64_round_trips(text: str) -> None:
    expression = Expression("States.Base64Decode(States.Base64Encode($.t))", "v.$")
    assert expression.evaluate({"t": text}, {}, random.Random(0)) == text


@given(st.lists(SCALARS, max_size=20), st.integers(1, 6))
def test_array_partition_keeps_every_item_in_order(items: list[Any], size: int) -> None:
    chunks = Expression(f"States.ArrayPartition($.a, {size})", "v.$").evaluate(
        {"a": items}, {}, random.Random(0)
    )
    assert [item for chunk in chunks for item in chunk] == items
    assert all(len(chunk) == size for chunk in chunks[:-1])
