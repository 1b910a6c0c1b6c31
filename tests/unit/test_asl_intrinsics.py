"""Intrinsic functions: every function with the AWS documentation's examples, escapes, nesting, errors."""

from __future__ import annotations

import random
import re
import uuid
from typing import Any

import pytest

from etl.errors import AslDefinitionError
from etl.stepfunctions import StateMachine
from etl.stepfunctions.intrinsics import FUNCTION_NAMES, IntrinsicSyntaxError, parse_intrinsic
from etl.stepfunctions.paths import Expression, PathSyntaxError, StatesError


def call(text: str, data: Any = None, *, seed: int = 0, context: Any = None) -> Any:
    return Expression(text, "value.$").evaluate(
        {} if data is None else data, context or {}, random.Random(seed)
    )


def failure(text: str, data: Any = None) -> str:
    with pytest.raises(StatesError) as caught:
        call(text, data)
    assert caught.value.error == "States.IntrinsicFailure", caught.value.cause
    return caught.value.cause


def test_every_documented_function_is_known() -> None:
    assert {
        "States.Format",
        "States.StringToJson",
        "States.JsonToString",
        "States.Array",
        "States.ArrayPartition",
        "States.ArrayContains",
        "States.ArrayRange",
        "States.ArrayGetItem",
        "States.ArrayLength",
        "States.ArrayUnique",
        "States.Base64Encode",
        "States.Base64Decode",
        "States.Hash",
        "States.JsonMerge",
        "States.MathRandom",
        "States.MathAdd",
        "States.StringSplit",
        "States.UUID",
    } == FUNCTION_NAMES


# --- the AWS documentation's examples -------------------------------------------------------------


def test_format_with_a_literal_or_a_path_template() -> None:
    data = {"name": "Arnav", "template": "Hello, my name is {}."}
    assert call("States.Format('Hello, my name is {}.', $.name)", data) == "Hello, my name is Arnav."
    assert call("States.Format($.template, $.name)", data) == "Hello, my name is Arnav."


def test_format_renders_numbers_booleans_and_null_naturally() -> None:
    data = {"name": "Foo"}
    text = "States.Format('Your name is {}, we are in the year {}', $.name, 2020)"
    assert call(text, data) == "Your name is Foo, we are in the year 2020"
    assert call("States.Format('{} {} {} {}', true, null, 1.5, -3)") == "true null 1.5 -3"


def test_format_prints_objects_and_arrays_like_java_maps_and_lists() -> None:
    data = {"o": {"id": 7, "tags": ["a", "b"], "none": None, "deep": {"ok": True}}, "a": [1, [], {}]}
    assert call("States.Format('o={} a={}', $.o, $.a)", data) == (
        "o={id=7, tags=[a, b], none=null, deep={ok=true}} a=[1, [], {}]"
    )


def test_string_to_json_and_json_to_string() -> None:
    assert call("States.StringToJson($.escapedJsonString)", {"escapedJsonString": '{"foo": "bar"}'}) == {
        "foo": "bar"
    }
    assert call("States.StringToJson($.s)", {"s": '{"number": 20}'}) == {"number": 20}
    assert call("States.StringToJson($.s)", {"s": ""}) is None  # empty or blank text is null on AWS
    assert call("States.StringToJson($.s)", {"s": "  "}) is None
    data = {"someJson": {"name": "Foo", "year": 2020}}
    assert call("States.JsonToString($.someJson)", data) == '{"name":"Foo","year":2020}'


def test_array_builds_from_literals_paths_and_null() -> None:
    data = {"someJson": {"random": "abcdefg"}, "Id": 123456}
    assert call("States.Array('Foo', 2020, $.someJson, null)", data) == [
        "Foo",
        2020,
        {"random": "abcdefg"},
        None,
    ]
    assert call("States.Array($.Id)", data) == [123456]
    assert call("States.Array()") == []


def test_array_functions() -> None:
    data = {"inputArray": [1, 2, 3, 4, 5, 6, 7, 8, 9], "lookingFor": 5, "index": 5}
    assert call("States.ArrayPartition($.inputArray,4)", data) == [[1, 2, 3, 4], [5, 6, 7, 8], [9]]
    assert call("States.ArrayContains($.inputArray, $.lookingFor)", data) is True
    assert call("States.ArrayContains($.inputArray, 10)", data) is False
    assert call("States.ArrayRange(1, 9, 2)") == [1, 3, 5, 7, 9]
    assert call("States.ArrayGetItem($.inputArray, $.index)", data) == 6
    assert call("States.ArrayLength($.inputArray)", data) == 9
    assert call("States.ArrayUnique($.a)", {"a": [1, 2, 3, 3, 3, 3, 3, 3, 4]}) == [1, 2, 3, 4]


def test_array_range_counts_down_and_stops_at_the_end() -> None:
    assert call("States.ArrayRange(5, 1, -2)") == [5, 3, 1]
    assert call("States.ArrayRange(0, 10, 4)") == [0, 4, 8]
    assert call("States.ArrayRange(3, 1, 1)") == []
    assert len(call("States.ArrayRange(1, 1000, 1)")) == 1000


def test_array_equality_is_json_equality() -> None:
    data = {"a": [1, True, {"k": [1, 2]}, "1", None, 1.0, {"k": [1, 2]}]}
    assert call("States.ArrayUnique($.a)", data) == [1, True, {"k": [1, 2]}, "1", None]
    assert call("States.ArrayContains($.a, $.b)", {**data, "b": {"k": [1, 2]}}) is True
    assert call("States.ArrayContains($.a, false)", data) is False


def test_base64_round_trip() -> None:
    assert call("States.Base64Encode($.input)", {"input": "Data to encode"}) == "RGF0YSB0byBlbmNvZGU="
    assert call("States.Base64Decode($.base64)", {"base64": "RGF0YSB0byBlbmNvZGU="}) == "Data to encode"
    assert call("States.Base64Decode(States.Base64Encode('ünïcødé'))") == "ünïcødé"


@pytest.mark.parametrize(
    ("algorithm", "digest"),
    [
        # The AWS page prints the SHA-1 with one "4" missing; this is the real digest of "input data".
        ("SHA-1", "aaff4a450a104cd177d28d18d74485e8cae074b7"),
        ("MD5", "812f45842bc6d66ee14572ce20db8e86"),
        ("SHA-256", "b4a697a057313163aee33cd8d40c66e9f0f177e00cac2de32475ffff6169c3e3"),
    ],
)
def test_hash(algorithm: str, digest: str) -> None:
    assert call("States.Hash($.Data, $.Algorithm)", {"Data": "input data", "Algorithm": algorithm}) == digest


def test_hash_knows_sha_384_and_sha_512() -> None:
    assert len(call("States.Hash('x', 'SHA-384')")) == 96
    assert len(call("States.Hash('x', 'SHA-512')")) == 128


def test_json_merge_is_shallow_and_the_second_object_wins() -> None:
    data = {"json1": {"a": {"a1": 1, "a2": 2}, "b": 2}, "json2": {"a": {"a3": 1, "a4": 2}, "c": 3}}
    assert call("States.JsonMerge($.json1, $.json2, false)", data) == {
        "a": {"a3": 1, "a4": 2},
        "b": 2,
        "c": 3,
    }


def test_math_random_is_in_range_and_repeatable_with_a_seed() -> None:
    values = {call("States.MathRandom($.start, $.end)", {"start": 1, "end": 999}, seed=s) for s in range(50)}
    assert all(isinstance(v, int) and 1 <= v < 999 for v in values)
    assert len(values) > 1
    seeded = {call("States.MathRandom(1, 999, 1234)", seed=s) for s in range(5)}
    assert len(seeded) == 1
    assert call("States.MathRandom(7, 8)") == 7


def test_math_add() -> None:
    assert call("States.MathAdd($.value1, $.step)", {"value1": 111, "step": -1}) == 110
    assert call("States.MathAdd(1, 999)") == 1000
    assert call("States.MathAdd(1.5, 1)") == 3  # non-integers are rounded to the nearest integer, half up
    assert call("States.MathAdd(-1.5, 0)") == -1


def test_string_split_on_every_delimiter_character() -> None:
    assert call(
        "States.StringSplit($.inputString, $.splitter)", {"inputString": "1,2,3,4,5", "splitter": ","}
    ) == [
        "1",
        "2",
        "3",
        "4",
        "5",
    ]
    data = {"inputString": "This.is+a,test=string", "splitter": ".+,="}
    assert call("States.StringSplit($.inputString, $.splitter)", data) == [
        "This",
        "is",
        "a",
        "test",
        "string",
    ]
    assert call("States.StringSplit('a,,b,', ',')") == ["a", "b"]


def test_uuid_is_a_version_4_uuid_drawn_from_the_injected_random() -> None:
    first = call("States.UUID()", seed=1)
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", first)
    assert uuid.UUID(first).version == 4
    assert call("States.UUID()", seed=1) == first
    assert call("States.UUID()", seed=2) != first


# --- syntax: escapes, nesting, context paths ------------------------------------------------------


def test_escaped_reserved_characters() -> None:
    text = r"States.Format('It\'s {}: \{literal\} and a \\ backslash', $.name)"
    assert call(text, {"name": "Ana"}) == "It's Ana: {literal} and a \\ backslash"


def test_escaped_braces_are_not_a_placeholder() -> None:
    assert call(r"States.Format('\{\}{}', $.n)", {"n": 1}) == "{}1"
    assert call(r"States.Format('\{}')") == "{}"
    with pytest.raises(StatesError, match="0 '\\{\\}' but 1 values"):
        call(r"States.Format('\{}', $.n)", {"n": 1})


def test_commas_and_parentheses_inside_strings_and_brackets_do_not_split_arguments() -> None:
    data = {"a, b": {"x)": "v"}}
    assert call("States.Format('({}, {})', $['a, b']['x)'], ')')", data) == "(v, ))"


def test_nested_calls_as_in_the_documentation() -> None:
    data = {
        "ImageRecipe": {"Arn": "arn:aws:imagebuilder:us-east-1:123456789012:image-recipe/my-recipe/1.0.3"}
    }
    text = (
        "States.Format('{}.{}', "
        "States.ArrayGetItem(States.StringSplit("
        "States.ArrayGetItem(States.StringSplit($.ImageRecipe.Arn, '/'), 2), "
        "'.'), 0), "
        "States.ArrayGetItem(States.StringSplit("
        "States.ArrayGetItem(States.StringSplit($.ImageRecipe.Arn, '/'), 2), "
        "'.'), 1))"
    )
    assert call(text, data) == "1.0"


def test_context_object_paths_as_arguments() -> None:
    context = {"Execution": {"Name": "run-9"}}
    assert call("States.Format('exec {}', $$.Execution.Name)", {}, context=context) == "exec run-9"


def test_whitespace_between_tokens_is_ignored() -> None:
    assert call("  States.Array( 1 ,  'a' ,$.x )  ", {"x": 2}) == [1, "a", 2]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("States.Nope(1)", "unknown function"),
        ("States.Array(1", "expected ')'"),
        ("States.Array(1))", "after the call"),
        ("States.Array(,)", "expected an argument"),
        ("States.Format('unterminated)", "unterminated string"),
        ("States.Format('bad \\n escape')", "backslash"),
        ("States.Array(01)", "expected ')'"),
        ("States.Array(#)", "unexpected '#'"),
        ("States.ArrayLength()", "takes 1 arguments, got 0"),
        ("States.MathRandom(1)", "takes 2 to 3 arguments"),
        ("States.Format()", "at least 1"),
        ("States.UUID(1)", "takes 0 arguments"),
        ("States.Array($.a[?(@.b)])", "filter"),
        ("States.Array(foo)", "unknown function 'foo'"),
    ],
)
def test_malformed_calls_are_refused_when_parsed(text: str, message: str) -> None:
    with pytest.raises((IntrinsicSyntaxError, PathSyntaxError), match=re.escape(message)):
        Expression(text, "value.$")


def test_parse_intrinsic_lists_path_arguments_of_nested_calls() -> None:
    parsed = parse_intrinsic("States.Format('{} {}', $.a, States.ArrayGetItem($$.b, 0))")
    assert list(parsed.path_arguments()) == ["$.a", "$$.b"]
    with pytest.raises(IntrinsicSyntaxError):
        parse_intrinsic("States.Format")


# --- runtime failures -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "data", "message"),
    [
        ("States.Format('{} and {}', 1)", None, "more '{}'"),
        ("States.Format($.n)", {"n": 5}, "must be a string"),
        ("States.StringToJson('{not json')", None, "cannot parse"),
        ("States.StringToJson($.n)", {"n": 1}, "must be a string"),
        ("States.ArrayPartition($.a, 0)", {"a": [1]}, "must be positive"),
        ("States.ArrayPartition($.a, 1)", {"a": "x"}, "must be an array"),
        ("States.ArrayRange(1, 10, 0)", None, "must not be 0"),
        ("States.ArrayRange(1, 1001, 1)", None, "1001 items"),
        ("States.ArrayRange(1, 'a', 1)", None, "must be an integer"),
        ("States.ArrayGetItem($.a, 3)", {"a": [1, 2, 3]}, "out of range"),
        ("States.ArrayGetItem($.a, -1)", {"a": [1, 2, 3]}, "out of range"),
        ("States.ArrayGetItem($.a, 1.5)", {"a": [1, 2, 3]}, "must be an integer"),
        ("States.ArrayLength($.a)", {"a": {}}, "must be an array"),
        ("States.Base64Encode($.t)", {"t": "x" * 10_001}, "at most 10000"),
        ("States.Base64Decode('***')", None, "cannot decode"),
        ("States.Hash('x', 'SHA-3')", None, "unknown hash algorithm"),
        ("States.Hash($.n, 'MD5')", {"n": 1}, "must be a string"),
        ("States.JsonMerge($.a, $.b, true)", {"a": {}, "b": {}}, "must be false"),
        ("States.JsonMerge($.a, $.b, false)", {"a": [], "b": {}}, "must be an object"),
        ("States.MathRandom(5, 5)", None, "must be less than"),
        ("States.MathAdd('1', 2)", None, "must be a number"),
        ("States.StringSplit(1, ',')", None, "must be a string"),
    ],
)
def test_bad_values_fail_with_intrinsic_failure(text: str, data: Any, message: str) -> None:
    assert message in failure(text, data)


def test_a_missing_path_argument_is_states_runtime() -> None:
    with pytest.raises(StatesError) as caught:
        call("States.Format('{}', $.missing)", {"a": 1})
    assert caught.value.error == "States.Runtime"
    assert "$.missing" in caught.value.cause


# --- in a state machine ---------------------------------------------------------------------------


def test_intrinsic_failure_in_task_parameters_can_be_caught() -> None:
    definition = {
        "StartAt": "T",
        "States": {
            "T": {
                "Type": "Task",
                "Resource": "arn:t",
                "Parameters": {"item.$": "States.ArrayGetItem($.items, 5)"},
                "Catch": [
                    {"ErrorEquals": ["States.IntrinsicFailure"], "ResultPath": "$.error", "Next": "Caught"}
                ],
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        },
    }
    called: list[Any] = []
    outcome = StateMachine(definition, {"arn:t": lambda p, c: called.append(p)}).execute(
        {"items": [1]}, name="e"
    )
    assert outcome.status == "SUCCEEDED"
    assert called == []
    assert outcome.output["error"]["Error"] == "States.IntrinsicFailure"
    assert "out of range" in outcome.output["error"]["Cause"]


def test_intrinsics_in_pass_parameters_and_result_selector() -> None:
    definition = {
        "StartAt": "P",
        "States": {
            "P": {
                "Type": "Pass",
                "Parameters": {
                    "count.$": "States.MathAdd($.polls.count, 1)",
                    "id.$": "States.Format('r-{}', $.id)",
                },
                "ResultPath": "$.polls",
                "Next": "T",
            },
            "T": {
                "Type": "Task",
                "Resource": "arn:t",
                "ResultSelector": {"counts.$": "States.StringToJson($.Body)"},
                "ResultPath": "$.manifest",
                "End": True,
            },
        },
    }
    outcome = StateMachine(definition, {"arn:t": lambda p, c: {"Body": '{"loaded": 3}'}}).execute(
        {"polls": {"count": 4}, "id": 7}, name="e"
    )
    assert outcome.output == {
        "polls": {"count": 5, "id": "r-7"},
        "id": 7,
        "manifest": {"counts": {"loaded": 3}},
    }


def test_malformed_intrinsics_are_refused_by_the_constructor_naming_the_state() -> None:
    definition = {
        "StartAt": "P",
        "States": {"P": {"Type": "Pass", "Parameters": {"x.$": "States.Format('{}', $.a"}, "End": True}},
    }
    with pytest.raises(AslDefinitionError, match="state 'P': Parameters: invalid intrinsic function"):
        StateMachine(definition, {})
