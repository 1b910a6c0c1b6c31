"""JSONPath, reference paths, payload templates and the InputPath -> ... -> OutputPath pipeline."""

from __future__ import annotations

import random
from typing import Any

import pytest

from etl.errors import AslDefinitionError
from etl.stepfunctions import StateMachine
from etl.stepfunctions.intrinsics import IntrinsicSyntaxError
from etl.stepfunctions.paths import (
    PathNotFoundError,
    PathSyntaxError,
    PayloadTemplate,
    ResultPathError,
    StatesError,
    parse_path,
    parse_reference_path,
    place,
    select,
)

STORE: dict[str, Any] = {
    "store": {
        "book": [
            {"title": "Sayings", "price": 8.95, "isbn": "0-553"},
            {"title": "Sword", "price": 12.99},
            {"title": "Moby Dick", "price": 8.99, "isbn": "0-395"},
        ],
        "bicycle": {"color": "red", "price": 19.95},
    },
    "with space": {"a b": 1},
    "nothing": None,
}


def evaluate(path: str, data: Any = STORE, context: Any = None) -> Any:
    return parse_path(path).evaluate(data, context)


# --- JSONPath evaluation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$", STORE),
        ("$.store.bicycle.color", "red"),
        ("$['store']['bicycle']['color']", "red"),
        ('$["store"].bicycle["price"]', 19.95),
        ("$['with space']['a b']", 1),
        ("$.store.book[0].title", "Sayings"),
        ("$.store.book[2].title", "Moby Dick"),
        ("$.store.book[-1].title", "Moby Dick"),
        ("$.store.book[-3].title", "Sayings"),
        ("$.nothing", None),
    ],
)
def test_definite_paths_return_the_value(path: str, expected: Any) -> None:
    assert evaluate(path) == expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$.store.book[*].title", ["Sayings", "Sword", "Moby Dick"]),
        ("$.store.book[*].isbn", ["0-553", "0-395"]),  # members missing under a wildcard are skipped
        ("$.store.book[1:].title", ["Sword", "Moby Dick"]),
        ("$.store.book[:2].title", ["Sayings", "Sword"]),
        ("$.store.book[0:1].title", ["Sayings"]),
        ("$.store.book[-2:].title", ["Sword", "Moby Dick"]),
        ("$.store.book[:-1].title", ["Sayings", "Sword"]),
        ("$.store.book[5:].title", []),
        # Nothing under a missing prefix is no match, not an error (Step Functions answers []):
        ("$.missing[*]", []),
        ("$.store.missing[1:]", []),
        ("$.store.missing[:1].title", []),
        ("$.store.book[0,2].title", ["Sayings", "Moby Dick"]),
        ("$.store.bicycle.*", ["red", 19.95]),
        ("$.store.bicycle[*]", ["red", 19.95]),
        ("$..price", [8.95, 12.99, 8.99, 19.95]),
        ("$.store..title", ["Sayings", "Sword", "Moby Dick"]),
        ("$..book[0].title", ["Sayings"]),
        ("$..['color']", ["red"]),
        ("$.store.book[*].missing", []),
    ],
)
def test_indefinite_paths_return_a_list(path: str, expected: Any) -> None:
    assert evaluate(path) == expected


def test_a_backslash_in_a_quoted_name_escapes_only_the_quote_and_itself() -> None:
    # AWS reads $['a\""b"'] as the key a\""b": a backslash before the other kind of quote stays.
    assert evaluate("""$['a\\""b"']""", {'a\\""b"': 1}) == 1
    assert evaluate(r"$['it\'s']", {"it's": 2}) == 2
    assert evaluate(r"$['back\\slash']", {"back\\slash": 3}) == 3
    assert evaluate(r'$["say \"hi\""]', {'say "hi"': 4}) == 4


def test_context_paths_read_the_context_object() -> None:
    context = {"Execution": {"Name": "run-1"}, "State": {"RetryCount": 2}}
    assert evaluate("$$.Execution.Name", {"Execution": "data"}, context) == "run-1"
    assert evaluate("$$", {}, context) == context
    assert evaluate("$$.State.RetryCount", {}, context) == 2


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("$.missing", "No results for path"),
        ("$.store.missing.color", "Missing property"),
        ("$.store.bicycle.color.shade", "Expected to find an object"),
        ("$.store.book[3]", "No results"),
        ("$.store.book[-4]", "No results"),
        ("$.store.bicycle[0]", "Expected to find an array"),
        ("$.nothing.x", "Expected to find an object"),
    ],
)
def test_a_definite_miss_raises(path: str, message: str) -> None:
    with pytest.raises(PathNotFoundError, match=message):
        evaluate(path)


def test_exists_tells_present_from_missing_even_when_null() -> None:
    assert parse_path("$.nothing").exists(STORE)
    assert not parse_path("$.absent").exists(STORE)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("store.book", "must start with"),
        ("$.store.book[?(@.price < 10)]", "filter"),
        ("$.store.book[(@.length-1)]", "filter and script"),
        ("$.store.book.length()", "functions"),
        ("$.store.book[0:3:2]", "slice steps"),
        ("$['a','b']", "several names"),
        ("$.store[", "unclosed"),
        ("$.store.book[x]", "not an array index"),
        ("$.store.book[1_0]", "not an array index"),
        ("$..", "must be followed"),
        ("$.", "expected a name"),
        ("$store", "unexpected"),
        ("$['unterminated]", "unterminated"),
    ],
)
def test_invalid_or_refused_paths_raise_syntax_errors(path: str, message: str) -> None:
    with pytest.raises(PathSyntaxError, match=message):
        parse_path(path)


def test_definiteness_is_reported() -> None:
    assert parse_path("$.a[0]['b']").definite
    assert not parse_path("$.a[*]").definite
    assert not parse_path("$..a").definite
    assert not parse_path("$.a[0:1]").definite
    assert not parse_path("$.a[0,1]").definite


# --- reference paths ------------------------------------------------------------------------------


def test_reference_paths_refuse_anything_but_names_and_indexes() -> None:
    assert parse_reference_path("$.a.b[0]").is_reference
    for path in ("$.a[*]", "$..a", "$.a[1:]", "$.a[0,1]"):
        with pytest.raises(PathSyntaxError, match="not a reference path"):
            parse_reference_path(path)
    with pytest.raises(PathSyntaxError, match="'\\$\\$' cannot"):
        parse_reference_path("$$.Execution.Name")
    assert parse_reference_path("$$.Execution.Name", context=True).context


def test_insert_creates_missing_intermediate_objects_and_leaves_the_input_alone() -> None:
    document = {"a": {"keep": 1}}
    updated = parse_reference_path("$.a.b.c").insert(document, 7)
    assert updated == {"a": {"keep": 1, "b": {"c": 7}}}
    assert document == {"a": {"keep": 1}}


def test_insert_replaces_existing_values_and_array_items() -> None:
    assert parse_reference_path("$.a").insert({"a": 1, "b": 2}, 3) == {"a": 3, "b": 2}
    assert parse_reference_path("$.a[1]").insert({"a": [0, 1, 2]}, "x") == {"a": [0, "x", 2]}
    assert parse_reference_path("$.a[-1].b").insert({"a": [{}, {"b": 1}]}, 2) == {"a": [{}, {"b": 2}]}
    assert parse_reference_path("$").insert({"a": 1}, [1]) == [1]


@pytest.mark.parametrize(
    ("path", "document", "message"),
    [
        ("$.a", "text", "expected an object"),
        ("$.a.b", {"a": 5}, "expected an object"),
        ("$.a.b", {"a": None}, "expected an object"),
        ("$.a[3]", {"a": [1]}, "out of range"),
        ("$.a[0]", {"a": {"0": 1}}, "expected an array"),
        ("$.a[0]", {}, "cannot be an array"),
    ],
)
def test_insert_failures(path: str, document: Any, message: str) -> None:
    with pytest.raises(ResultPathError, match=message):
        parse_reference_path(path).insert(document, 1)


def test_select_and_place_follow_the_null_rules() -> None:
    assert select(None, {"a": 1}, {}) == {}
    assert select(parse_path("$.a"), {"a": 1}, {}) == 1
    with pytest.raises(StatesError) as caught:
        select(parse_path("$.b"), {"a": 1}, {})
    assert caught.value.error == "States.Runtime"
    assert caught.value.cause == "Invalid path '$.b' : No results for path: $['b']"
    assert place(None, {"a": 1}, "result") == {"a": 1}
    with pytest.raises(StatesError) as failed:
        place(parse_reference_path("$.a.b"), {"a": 1}, "result")
    assert failed.value.error == "States.ResultPathMatchFailure"


# --- payload templates ----------------------------------------------------------------------------


def test_templates_resolve_paths_context_paths_and_intrinsics_recursively() -> None:
    template = PayloadTemplate(
        {
            "static": {"n": 1, "list": [1, "two", None, True]},
            "name.$": "$.user.name",
            "run.$": "$$.Execution.Name",
            "greeting.$": "States.Format('Hi {}', $.user.name)",
            "nested": [{"first.$": "$.items[0]"}, {"all.$": "$.items[*]"}, "$.not-a-path"],
        },
        "Parameters",
    )
    data = {"user": {"name": "Ana"}, "items": [3, 4]}
    result = template.evaluate(data, {"Execution": {"Name": "run-7"}}, random.Random(0))
    assert result == {
        "static": {"n": 1, "list": [1, "two", None, True]},
        "name": "Ana",
        "run": "run-7",
        "greeting": "Hi Ana",
        "nested": [{"first": 3}, {"all": [3, 4]}, "$.not-a-path"],
    }


def test_a_missing_path_in_a_template_is_states_runtime_naming_the_field() -> None:
    template = PayloadTemplate({"x.$": "$.missing"}, "Parameters")
    with pytest.raises(StatesError) as caught:
        template.evaluate({"a": 1}, {}, random.Random(0))
    assert caught.value.error == "States.Runtime"
    assert "'$.missing'" in caught.value.cause and "'x.$'" in caught.value.cause


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ({"x.$": 5}, "must be a string"),
        ({"x.$": "plain text"}, "must be a path"),
        ({"x.$": "$.a[?(@.b)]"}, "filter"),
        ({"x.$": "States.Nope(1)"}, "unknown function"),
        ({"x": 1, "x.$": "$.a"}, "given twice"),
    ],
)
def test_invalid_templates_are_refused(template: Any, message: str) -> None:
    with pytest.raises((PathSyntaxError, IntrinsicSyntaxError), match=message):
        PayloadTemplate(template, "Parameters")


# --- the input and output pipeline of a state -----------------------------------------------------


def run_task(state: dict[str, Any], data: Any, result: Any) -> tuple[Any, list[Any]]:
    seen: list[Any] = []

    def handler(payload: Any, context: Any) -> Any:
        seen.append(payload)
        return result

    definition = {
        "StartAt": "T",
        "States": {"T": {"Type": "Task", "Resource": "arn:t", "End": True, **state}},
    }
    outcome = StateMachine(definition, {"arn:t": handler}).execute(data, name="e")
    assert outcome.status == "SUCCEEDED", (outcome.error, outcome.cause)
    return outcome.output, seen


def test_aws_documentation_example_input_result_and_output_paths() -> None:
    data = {"title": "Numbers to add", "numbers": {"val1": 3, "val2": 4}}
    state = {"InputPath": "$.numbers", "ResultPath": "$.sum", "OutputPath": "$"}
    output, seen = run_task(state, data, 7)
    assert seen == [{"val1": 3, "val2": 4}]
    assert output == {"title": "Numbers to add", "numbers": {"val1": 3, "val2": 4}, "sum": 7}
    output, _ = run_task({**state, "OutputPath": "$.sum"}, data, 7)
    assert output == 7


def test_default_result_path_replaces_the_input() -> None:
    assert run_task({}, {"a": 1}, "Hello")[0] == "Hello"


def test_result_path_null_discards_the_result_and_keeps_the_raw_input() -> None:
    output, seen = run_task({"InputPath": "$.a", "ResultPath": None}, {"a": {"b": 1}, "c": 2}, {"r": 1})
    assert seen == [{"b": 1}]
    assert output == {"a": {"b": 1}, "c": 2}


def test_result_path_goes_into_the_raw_input_not_the_effective_input() -> None:
    output, _ = run_task({"InputPath": "$.a", "ResultPath": "$.x.y.z"}, {"a": 1}, "r")
    assert output == {"a": 1, "x": {"y": {"z": "r"}}}


def test_input_path_and_output_path_null_give_empty_objects() -> None:
    output, seen = run_task({"InputPath": None, "OutputPath": None}, {"a": 1}, {"b": 2})
    assert seen == [{}]
    assert output == {}


def test_parameters_then_result_selector_then_result_path_then_output_path() -> None:
    state = {
        "InputPath": "$.order",
        "Parameters": {"Id.$": "$.id", "Fixed": "yes", "Run.$": "$$.Execution.Name"},
        "ResultSelector": {"status.$": "$.Status", "first.$": "$.Items[0]", "source": "api"},
        "ResultPath": "$.outcome",
        "OutputPath": "$.outcome",
    }
    output, seen = run_task(state, {"order": {"id": 42}}, {"Status": "OK", "Items": [9, 8], "Noise": 1})
    assert seen == [{"Id": 42, "Fixed": "yes", "Run": "e"}]
    assert output == {"status": "OK", "first": 9, "source": "api"}


def test_a_result_selector_miss_fails_the_execution_with_states_runtime() -> None:
    definition = {
        "StartAt": "T",
        "States": {
            "T": {"Type": "Task", "Resource": "arn:t", "ResultSelector": {"x.$": "$.Nope"}, "End": True}
        },
    }
    outcome = StateMachine(definition, {"arn:t": lambda p, c: {"Yes": 1}}).execute({}, name="e")
    assert (outcome.status, outcome.error) == ("FAILED", "States.Runtime")


@pytest.mark.parametrize("field", ["InputPath", "OutputPath"])
def test_an_io_path_miss_fails_the_execution_with_states_runtime(field: str) -> None:
    definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", field: "$.missing", "End": True}}}
    outcome = StateMachine(definition, {}).execute({"a": 1}, name="e")
    assert (outcome.status, outcome.error) == ("FAILED", "States.Runtime")
    assert "$.missing" in (outcome.cause or "")


def test_a_result_path_that_cannot_apply_is_result_path_match_failure() -> None:
    definition = {
        "StartAt": "P",
        "States": {"P": {"Type": "Pass", "Result": 1, "ResultPath": "$.a.b", "End": True}},
    }
    outcome = StateMachine(definition, {}).execute({"a": "text"}, name="e")
    assert (outcome.status, outcome.error) == ("FAILED", "States.ResultPathMatchFailure")


def test_definition_paths_are_validated_up_front() -> None:
    bad = [
        {"Type": "Pass", "InputPath": "nope", "End": True},
        {"Type": "Pass", "ResultPath": "$.a[*]", "End": True},
        {"Type": "Pass", "OutputPath": "$.a[?(@.x)]", "End": True},
        {"Type": "Pass", "Parameters": {"a.$": "$.b.length()"}, "End": True},
    ]
    for state in bad:
        with pytest.raises(AslDefinitionError, match="state 'P'"):
            StateMachine({"StartAt": "P", "States": {"P": state}}, {})
