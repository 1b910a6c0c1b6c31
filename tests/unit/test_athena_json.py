"""Trino's JSON text as the local Athena reads and writes it: the pieces the corpus format cannot pin
down (escapes, lazy reading, number formatting, paths, value-by-value casts)."""

from __future__ import annotations

import pytest

from etl.athena.functions.json_casts import JsonCastError, json_to_container, json_to_scalar
from etl.athena.functions.json_text import (
    JsonRefusal,
    JsonSyntaxError,
    JsonTokens,
    as_written,
    canonical,
    java_scientific,
    quote,
)
from etl.athena.functions.json_udfs import (
    is_json_scalar,
    json_array_contains_boolean,
    json_array_get,
    json_array_length,
    json_extract,
    json_parse,
    json_size,
    parse_path,
)


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ("plain", '"plain"'),
        ('say "hi"\\', '"say \\"hi\\"\\\\"'),
        ("tab\tnew\nline\r\b\f", '"tab\\tnew\\nline\\r\\b\\f"'),
        ("\x01\x1f", '"\\u0001\\u001F"'),  # Jackson writes other control characters with upper-case hex
        ("é/€\x7f", '"é/€\x7f"'),  # no escape for '/', DEL or anything past ASCII
    ],
)
def test_strings_are_escaped_as_jackson_escapes_them(text, quoted):
    assert quote(text) == quoted


def test_an_unpaired_surrogate_is_refused():
    with pytest.raises(JsonRefusal):
        quote("\ud800")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"b": 1, "a": {"d": [], "c": null}}', '{"a":{"c":null,"d":[]},"b":1}'),
        ("[1.0, 1e2, -0, 0.000123, 12345678.9]", "[1.0,100.0,0,1.23E-4,1.23456789E7]"),
        ('"\\u00e9\\/"', '"é/"'),
        ('{"\ue000": 1, "\U0001f600": 2}', '{"\U0001f600":2,"\ue000":1}'),  # Java sorts by UTF-16 unit
    ],
)
def test_json_parse_is_canonical(text, expected):
    assert canonical(text) == expected


@pytest.mark.parametrize(
    "text", ["", "01", "1.", ".5", "[1,]", "{'a': 1}", "[1] [2]", "1 x", "truex", "NaN", '"\t"', "[", '"\\x"']
)
def test_json_parse_fails_on_what_jackson_rejects(text):
    with pytest.raises(JsonSyntaxError):
        json_parse(text)


def test_tokens_are_read_lazily():
    tokens = JsonTokens("[true, oops")
    assert [tokens.next().kind, tokens.next().kind] == ["[", "true"]
    with pytest.raises(JsonSyntaxError):
        tokens.next()


def test_as_written_keeps_keys_and_numbers():
    assert as_written('{"b": 1e2, "a": 1}') == '{"b":1e2,"a":1}'


@pytest.mark.parametrize(
    ("value", "text"), [(128.9, "1.289E2"), (1.0, "1.0E0"), (-0.0, "-0.0E0"), (1e-5, "1.0E-5"), (1e21, "1.0E21")]
)
def test_double_as_varchar_is_scientific(value, text):
    assert java_scientific(value) == text


def test_array_functions_answer_before_broken_text_and_null_after():
    assert json_array_contains_boolean("[1, true, oops", True) is True
    assert json_array_contains_boolean("[1, oops, true]", True) is None
    assert json_array_length("[1, [2, 3]] trailing") == 2
    assert json_array_length("[1, 2") is None


def test_json_array_get():
    text = '[1e2, "s", null, {"b": 1, "a": 2}]'
    assert [json_array_get(text, i) for i in range(5)] == ["1e2", "s", None, '{"b":1,"a":2}', None]
    assert json_array_get(text, -1) == '{"b":1,"a":2}'
    assert json_array_get(text, -5) is None
    assert json_array_get(text, -(2**63)) is None


def test_is_json_scalar():
    assert is_json_scalar(" 12 ") is True
    assert is_json_scalar("[1, {}]") is False
    with pytest.raises(JsonSyntaxError):
        is_json_scalar("[1] 2")


@pytest.mark.parametrize(
    ("path", "keys"),
    [("$", []), ("$.a.b_2:c", ["a", "b_2:c"]), ('$["a b"][3]', ["a b", "3"]), ("$[0].x", ["0", "x"])],
)
def test_paths(path, keys):
    assert parse_path(path) == keys


@pytest.mark.parametrize("path", ["", "a", ".", "$.", "$["])
def test_invalid_paths_fail(path):
    with pytest.raises(JsonSyntaxError):
        parse_path(path)


@pytest.mark.parametrize("path", ["$.a[*]", "$..a", "$.é", '$["a\\"b"]', "$[-1]"])
def test_paths_beyond_the_local_subset_are_refused(path):
    with pytest.raises(JsonRefusal):
        parse_path(path)


def test_extraction():
    text = '{"a": {"z": 1, "y": [10, 1.5e1]}, "a": 2}'
    assert json_extract(text, "$.a") == '{"z":1,"y":[10,15.0]}'  # the first of a repeated key
    assert json_extract(text, "$.a.y[1]") == "15.0"
    assert json_extract(text, "$.a.y.1") == "15.0"  # a numeric key also indexes an array
    assert json_extract(text, "$.b") is None
    assert json_size(text, "$.a") == 2
    assert json_size("oops", "$") is None


@pytest.mark.parametrize(
    ("text", "target", "value"),
    [
        ("null", "bigint", None),
        ("-2.5", "integer", -3),
        ('"+12"', "smallint", 12),
        ("false", "double", 0.0),
        ('"Infinity"', "double", float("inf")),
        ("0.5", "boolean", True),
        ('"FALSE"', "boolean", False),
        ("1e2", "varchar", "1.0E2"),
        ('"12.345"', "decimal(5,2)", "12.35"),
        ("-0.005", "decimal(3,2)", "-0.01"),
    ],
)
def test_scalar_casts(text, target, value):
    assert json_to_scalar(text, target) == value


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("128", "tinyint"),
        ("9223372036854775808", "bigint"),
        ('"1.5"', "bigint"),
        ('"yes"', "boolean"),
        ("[1]", "varchar"),
        ("1 2", "bigint"),
        ("1000", "decimal(3,0)"),
        ('"x"', "decimal(3,0)"),
    ],
)
def test_scalar_casts_that_fail(text, target):
    with pytest.raises(JsonCastError):
        json_to_scalar(text, target)


@pytest.mark.parametrize(
    ("text", "target"), [('"１２"', "bigint"), ('" 1"', "bigint"), ('"0x10"', "double"), ('"t"', "boolean")]
)
def test_scalar_casts_java_might_read_are_refused(text, target):
    with pytest.raises(JsonRefusal):
        json_to_scalar(text, target)


def test_container_casts():
    assert json_to_container('[1, 2.5, "3", null, true]', "array(bigint)") == ["1", "3", "3", None, "1"]
    as_json = json_to_container('[1, "a", [2], {"b": null}, null]', "array(json)")
    assert as_json == ["1", '"a"', "[2]", '{"b":null}', "null"]
    assert json_to_container("null", "array(bigint)") is None
    assert json_to_container('{"1": 1.5, "2": null}', "map(integer, double)") == {
        "key": ["1", "2"], "value": ["1.5", None]
    }
    assert json_to_container('[[1], null, []]', "array(array(decimal(3,1)))") == [["1.0"], None, []]
    assert json_to_container('{"a": {"b": [1]}}', "map(varchar, map(varchar, array(bigint)))") == {
        "key": ["a"], "value": [{"key": ["b"], "value": [["1"]]}]
    }
    with pytest.raises(JsonCastError):
        json_to_container('{"a": 1}', "array(bigint)")
    with pytest.raises(JsonCastError):
        json_to_container("[1, 2]", "array(array(bigint))")
    with pytest.raises(JsonRefusal):
        json_to_container('{"1": 1, "01": 2}', "map(integer, integer)")


def test_a_number_is_complete_before_what_follows_it_is_read():
    assert json_array_get("[1.5.3]", 0) == "1.5"  # Jackson returns 1.5, then fails on '.'
    assert json_array_get("[1e5e]", 0) == "1e5"
    assert json_array_get("[01]", 0) is None  # a leading zero fails the number itself
    assert json_array_get("[1.]", 0) is None


def test_a_literal_run_into_another_character_is_refused_or_fails():
    assert json_array_contains_boolean("[truex]", True) is None
    with pytest.raises(JsonRefusal):
        json_array_contains_boolean("[true\x01]", True)


def test_an_escaped_surrogate_pair_is_one_character():
    assert canonical('"\\ud83d\\ude00"') == '"\U0001f600"'


def test_a_signed_number_as_a_path_key_is_refused():
    with pytest.raises(JsonRefusal):
        parse_path('$["+1"]')
    assert json_extract("[1, 2]", '$["1"]') == "2"  # a quoted number still indexes an array
