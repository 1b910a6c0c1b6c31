"""Property tests of path handling: lookups, slices, ResultPath insertion, static templates, literals, and the
executor's InputPath -> Parameters -> ResultSelector -> ResultPath -> OutputPath chain on random JSON."""

from __future__ import annotations

import copy
import random
from typing import Any

from hypothesis import assume, given
from hypothesis import strategies as st

from etl.errors import TaskFailedError
from etl.stepfunctions import ExecutionResult, StateMachine, TaskContext
from etl.stepfunctions.paths import Expression, PayloadTemplate, ResultPathError, parse_path, parse_reference_path

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


# --- the executor: InputPath -> Parameters -> task -> ResultSelector -> ResultPath -> OutputPath ---------

RESOURCE = "arn:aws:states:::lambda:invoke"
OBJECTS = objects(ANY_KEYS)


class Recorder:
    """A Task handler that records the payloads it receives and answers with a fixed result."""

    def __init__(self, result: Any = None) -> None:
        self.result = result
        self.payloads: list[Any] = []

    def __call__(self, payload: Any, context: TaskContext) -> Any:
        self.payloads.append(payload)
        return copy.deepcopy(self.result)


def execute(states: dict[str, Any], data: Any, handler: Any = None) -> ExecutionResult:
    definition = {"StartAt": next(iter(states)), "States": states}
    machine = StateMachine(definition, {RESOURCE: handler or Recorder()}, name="properties", sleep=lambda s: None)
    return machine.execute(data, name="property-run")


def entered(result: ExecutionResult) -> list[str | None]:
    return [event.state for event in result.events if event.type == "StateEntered"]


def path_of(chain: list[str]) -> str:
    return "$" + "".join(bracket(key) for key in chain)


CATCH_ALL = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.caught", "Next": "Caught"}]
CAUGHT = {"Type": "Pass", "End": True}


@given(json_values(ANY_KEYS), json_values(ANY_KEYS))
def test_result_path_null_leaves_the_input_unchanged(data: Any, result: Any) -> None:
    before = copy.deepcopy(data)
    handler = Recorder(result)
    states = {
        "Pass": {"Type": "Pass", "InputPath": "$", "Result": result, "ResultPath": None, "Next": "Task"},
        "Task": {"Type": "Task", "Resource": RESOURCE, "InputPath": "$", "ResultPath": None, "End": True},
    }
    outcome = execute(states, data, handler)
    assert outcome.status == "SUCCEEDED", outcome.cause
    assert outcome.output == before
    assert handler.payloads == [before]
    assert data == before


@given(existing_paths(ANY_KEYS), json_values(ANY_KEYS))
def test_input_path_hands_the_task_exactly_the_selected_value(case: tuple[Any, list[str], Any], result: Any) -> None:
    document, chain, value = case
    handler = Recorder(result)
    outcome = execute({"Task": {"Type": "Task", "Resource": RESOURCE, "InputPath": path_of(chain), "End": True}},
                      document, handler)
    assert outcome.status == "SUCCEEDED", outcome.cause
    assert handler.payloads == [value]
    assert outcome.output == result  # the default ResultPath "$" replaces the input with the result


@given(existing_paths(ANY_KEYS), objects(IDENTIFIERS).filter(_static))
def test_parameters_resolve_dollar_keys_and_copy_static_values(
    case: tuple[Any, list[str], Any], static: dict[str, Any]
) -> None:
    document, chain, value = case
    parameters = {**static, "picked.$": path_of(chain), "nested": {"again.$": path_of(chain), "fixed": static}}
    handler = Recorder({"ok": True})
    outcome = execute({"Task": {"Type": "Task", "Resource": RESOURCE, "Parameters": parameters,
                                "ResultPath": None, "End": True}}, document, handler)
    assert outcome.status == "SUCCEEDED", outcome.cause
    expected = {key: item for key, item in static.items() if key not in ("picked", "nested")}
    assert handler.payloads == [{**expected, "picked": value, "nested": {"again": value, "fixed": static}}]
    assert outcome.output == document


@given(OBJECTS, existing_paths(ANY_KEYS), IDENTIFIERS)
def test_result_selector_output_is_what_result_path_inserts(
    data: dict[str, Any], result_case: tuple[Any, list[str], Any], key: str
) -> None:
    result, chain, value = result_case
    state = {"Type": "Task", "Resource": RESOURCE, "ResultSelector": {"selected.$": path_of(chain), "const": 1},
             "ResultPath": f"$.{key}", "End": True}
    outcome = execute({"Task": state}, data, Recorder(result))
    assert outcome.status == "SUCCEEDED", outcome.cause
    assert outcome.output == {**data, key: {"selected": value, "const": 1}}


@given(json_values(ANY_KEYS), st.lists(ANY_KEYS, min_size=1, max_size=3), json_values(ANY_KEYS), st.booleans())
def test_result_path_inserts_the_result_without_touching_siblings(
    data: Any, chain: list[str], result: Any, pass_state: bool
) -> None:
    """The result lands at the path; everything else is as it was; a blocked path is ResultPathMatchFailure."""
    before = copy.deepcopy(data)
    if pass_state:
        state = {"Type": "Pass", "Result": result, "ResultPath": path_of(chain), "End": True}
    else:
        state = {"Type": "Task", "Resource": RESOURCE, "ResultPath": path_of(chain), "End": True}
    outcome = execute({"State": state}, data, Recorder(result))
    if not isinstance(data, dict) or _blocked(data, chain):
        assert (outcome.status, outcome.error) == ("FAILED", "States.ResultPathMatchFailure")
        return
    assert outcome.status == "SUCCEEDED", outcome.cause
    node = outcome.output
    for key in chain:
        node = node[key]
    assert node == result
    node, original = outcome.output, before
    for key in chain[:-1]:  # at every level, the members off the path are unchanged
        assert {k: v for k, v in node.items() if k != key} == {k: v for k, v in original.items() if k != key}
        node, original = node[key], original.get(key, {})
    assert {k: v for k, v in node.items() if k != chain[-1]} == {
        k: v for k, v in original.items() if k != chain[-1]
    }
    assert data == before


@given(OBJECTS, st.lists(ANY_KEYS, min_size=1, max_size=3), json_values(ANY_KEYS))
def test_output_path_selecting_what_result_path_inserted_returns_exactly_the_result(
    data: dict[str, Any], chain: list[str], result: Any
) -> None:
    state = {"Type": "Task", "Resource": RESOURCE, "ResultPath": path_of(chain), "OutputPath": path_of(chain),
             "End": True}
    outcome = execute({"Task": state}, data, Recorder(result))
    if _blocked(data, chain):
        assert outcome.error == "States.ResultPathMatchFailure"
        return
    assert outcome.status == "SUCCEEDED", outcome.cause
    assert outcome.output == result


@given(OBJECTS, ANY_KEYS, st.sampled_from(["InputPath", "Parameters", "OutputPath", "ResultSelector"]))
def test_a_path_to_a_missing_field_is_states_runtime_and_not_caught(
    data: dict[str, Any], missing: str, field: str
) -> None:
    """As AWS documents, States.ALL does not catch States.Runtime: the execution fails."""
    assume(missing not in data)
    state: dict[str, Any] = {"Type": "Task", "Resource": RESOURCE, "Catch": CATCH_ALL, "End": True}
    path = path_of([missing])
    if field in ("InputPath", "OutputPath"):
        state[field] = path
    else:
        state[field] = {"value.$": path}
    handler = Recorder(data)  # the result has the same members as the input, so ResultSelector misses too
    outcome = execute({"Task": state, "Caught": CAUGHT}, data, handler)
    assert (outcome.status, outcome.error) == ("FAILED", "States.Runtime")
    assert f"'{path}'" in (outcome.cause or "")  # the cause names the path that missed
    assert "Caught" not in entered(outcome)
    assert len(handler.payloads) == (1 if field in ("OutputPath", "ResultSelector") else 0)


@given(OBJECTS.filter(lambda d: "caught" not in d), IDENTIFIERS, SCALARS)
def test_a_result_path_match_failure_is_caught_with_the_state_input(
    data: dict[str, Any], key: str, scalar: Any
) -> None:
    data = {**data, key: scalar}  # not an object: "$.<key>.inner" cannot be set
    state = {"Type": "Task", "Resource": RESOURCE, "ResultPath": f"$.{key}.inner", "Catch": CATCH_ALL,
             "Next": "Caught"}
    outcome = execute({"Task": state, "Caught": CAUGHT}, data, Recorder({"r": 1}))
    assert outcome.status == "SUCCEEDED", outcome.cause
    caught = outcome.output.pop("caught")
    assert caught["Error"] == "States.ResultPathMatchFailure" and caught["Cause"]
    assert outcome.output == data


@given(OBJECTS.filter(lambda d: "caught" not in d), st.from_regex(r"[A-Z][A-Za-z.]{0,15}", fullmatch=True),
       st.text(max_size=40))
def test_a_task_error_is_caught_into_the_catch_result_path(data: dict[str, Any], error: str, cause: str) -> None:
    assume(not error.startswith("States."))

    def failing(payload: Any, context: TaskContext) -> Any:
        raise TaskFailedError(error, cause)

    state = {"Type": "Task", "Resource": RESOURCE, "Catch": CATCH_ALL, "Next": "Caught"}
    outcome = execute({"Task": state, "Caught": CAUGHT}, data, failing)
    assert outcome.status == "SUCCEEDED", outcome.cause
    assert outcome.output == {**data, "caught": {"Error": error, "Cause": cause}}


@given(json_values(ANY_KEYS), json_values(ANY_KEYS))
def test_null_input_path_gives_an_empty_object_and_null_output_path_an_empty_output(data: Any, result: Any) -> None:
    handler = Recorder(result)
    state = {"Type": "Task", "Resource": RESOURCE, "InputPath": None, "OutputPath": None, "End": True}
    outcome = execute({"Task": state}, data, handler)
    assert outcome.status == "SUCCEEDED", outcome.cause
    assert handler.payloads == [{}]
    assert outcome.output == {}
