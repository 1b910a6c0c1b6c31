"""Intrinsic functions of the Amazon States Language (JSONPath states): parser and evaluator.

``parse_intrinsic`` tokenizes and parses a call such as
``States.Format('s3://{}/{}', $.bucket, States.ArrayGetItem($.keys, 0))`` once, when the definition
is validated; ``IntrinsicCall.evaluate`` computes it for one input.

Arguments are string literals in single quotes, numbers, ``true``, ``false``, ``null``, paths
(``$.x``, ``$$.x``; resolved by the caller's ``resolve`` callback) and nested calls. Inside a string
literal the reserved characters are escaped with a backslash: ``\\'``, ``\\{``, ``\\}`` and
``\\\\``; any other backslash is a syntax error (AWS: "an open escape backslash ... throws").

Refused when the definition is validated (``IntrinsicSyntaxError``): malformed syntax, an unknown
function name and a wrong number of arguments. Wrong argument values or types fail at run time with
``IntrinsicFailure`` (the executor reports ``States.IntrinsicFailure``).

``States.Format`` prints an object or array value the way AWS does (recorded), Java-style:
``{Arg1=1, Arg2=[]}``, strings inside it unquoted.

Choices where AWS documents no behaviour: ``States.MathRandom`` returns ``start <= n < end`` and, with a
seed, Python's generator (AWS's seeded sequence cannot be reproduced); ``States.MathAdd`` rounds a
non-integer half up like Java's ``Math.round``, as AWS documents rounding to the nearest integer;
array equality (``ArrayContains``, ``ArrayUnique``) treats ``1`` and ``1.0`` as equal and booleans as
distinct from numbers.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import random
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final

from etl.errors import AslError

MAX_TEXT: Final = 10_000
MAX_RANGE: Final = 1000
HASHES: Final[dict[str, Callable[[bytes], Any]]] = {
    "MD5": hashlib.md5,
    "SHA-1": hashlib.sha1,
    "SHA-256": hashlib.sha256,
    "SHA-384": hashlib.sha384,
    "SHA-512": hashlib.sha512,
}


class IntrinsicSyntaxError(AslError):
    """An intrinsic function call in the definition is malformed."""


class IntrinsicFailure(AslError):
    """An intrinsic function got arguments it cannot work with (States.IntrinsicFailure)."""


# --- syntax tree ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Literal:
    value: Any
    escaped: frozenset[int] = field(default_factory=frozenset)  # positions of \{ and \} in a string


@dataclass(frozen=True)
class _PathArg:
    text: str


Resolve = Callable[[str], Any]


@dataclass(frozen=True)
class IntrinsicCall:
    name: str
    args: tuple[_Literal | _PathArg | IntrinsicCall, ...]

    def path_arguments(self) -> Iterator[str]:
        """Every path used as an argument, nested calls included."""
        for arg in self.args:
            if isinstance(arg, _PathArg):
                yield arg.text
            elif isinstance(arg, IntrinsicCall):
                yield from arg.path_arguments()

    def evaluate(self, resolve: Resolve, rng: random.Random) -> Any:
        values = [_value(arg, resolve, rng) for arg in self.args]
        if self.name == "States.Format":
            first = self.args[0]
            escaped = first.escaped if isinstance(first, _Literal) else frozenset()
            return _format(values[0], escaped, values[1:])
        return _FUNCTIONS[self.name].run(values, rng)


def _value(arg: _Literal | _PathArg | IntrinsicCall, resolve: Resolve, rng: random.Random) -> Any:
    if isinstance(arg, _Literal):
        return arg.value
    if isinstance(arg, _PathArg):
        return resolve(arg.text)
    return arg.evaluate(resolve, rng)


# --- tokenizer and parser -------------------------------------------------------------------------

_NUMBER: Final = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_WORD: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_ESCAPABLE: Final = "'{}\\"


@dataclass(frozen=True)
class _Token:
    kind: str  # "(", ")", ",", "string", "number", "path", "word", "end"
    value: Any
    pos: int
    escaped: frozenset[int] = frozenset()


class _Lexer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, message: str, pos: int | None = None) -> IntrinsicSyntaxError:
        at = self.pos if pos is None else pos
        return IntrinsicSyntaxError(f"invalid intrinsic function {self.text!r}: {message} (at position {at})")

    def tokens(self) -> list[_Token]:
        found: list[_Token] = []
        text = self.text
        while True:
            while self.pos < len(text) and text[self.pos].isspace():
                self.pos += 1
            if self.pos >= len(text):
                found.append(_Token("end", None, self.pos))
                return found
            char = text[self.pos]
            start = self.pos
            if char in "(),":
                self.pos += 1
                found.append(_Token(char, char, start))
            elif char == "'":
                found.append(self.string())
            elif char == "$":
                found.append(_Token("path", self.path(), start))
            elif char == "-" or char.isdigit():
                match = _NUMBER.match(text, self.pos)
                if not match:
                    raise self.fail("malformed number")
                self.pos = match.end()
                literal = match.group()
                number: int | float = float(literal) if any(c in literal for c in ".eE") else int(literal)
                found.append(_Token("number", number, start))
            elif char.isalpha() or char == "_":
                match = _WORD.match(text, self.pos)
                assert match is not None
                self.pos = match.end()
                found.append(_Token("word", match.group(), start))
            else:
                raise self.fail(f"unexpected {char!r}")

    def string(self) -> _Token:
        text = self.text
        start = self.pos
        self.pos += 1
        chars: list[str] = []
        escaped: set[int] = set()
        while self.pos < len(text):
            char = text[self.pos]
            if char == "\\":
                following = text[self.pos + 1] if self.pos + 1 < len(text) else ""
                if following == "" or following not in _ESCAPABLE:
                    raise self.fail("a backslash may only escape ' { } or \\", self.pos)
                if following in "{}":
                    escaped.add(len(chars))
                chars.append(following)
                self.pos += 2
            elif char == "'":
                self.pos += 1
                return _Token("string", "".join(chars), start, frozenset(escaped))
            else:
                chars.append(char)
                self.pos += 1
        raise self.fail("unterminated string literal", start)

    def path(self) -> str:
        """A path runs to the next ',' or ')' outside brackets (quoted names may hold anything)."""
        text = self.text
        start = self.pos
        depth = 0
        quote = ""
        while self.pos < len(text):
            char = text[self.pos]
            if quote:
                if char == "\\":
                    self.pos += 1
                elif char == quote:
                    quote = ""
            elif char in "'\"" and depth:
                quote = char
            elif char == "[":
                depth += 1
            elif char == "]":
                depth -= 1
            elif depth == 0 and (char in ",)" or char.isspace()):
                break
            self.pos += 1
        if quote or depth:
            raise self.fail("unterminated path", start)
        return text[start : self.pos]


class _Parser:
    def __init__(self, text: str) -> None:
        self.lexer = _Lexer(text)
        self.tokens = self.lexer.tokens()
        self.index = 0

    @property
    def current(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def expect(self, kind: str) -> _Token:
        token = self.advance()
        if token.kind != kind:
            shown = "the end" if token.kind == "end" else repr(token.value)
            raise self.lexer.fail(f"expected {kind!r} but found {shown}", token.pos)
        return token

    def parse(self) -> IntrinsicCall:
        call = self.call()
        end = self.current
        if end.kind != "end":
            raise self.lexer.fail(f"unexpected {end.value!r} after the call", end.pos)
        return call

    def call(self) -> IntrinsicCall:
        word = self.expect("word")
        spec = _FUNCTIONS.get(word.value)
        if spec is None:
            known = ", ".join(sorted(_FUNCTIONS))
            raise self.lexer.fail(f"unknown function {word.value!r} (known: {known})", word.pos)
        self.expect("(")
        args: list[_Literal | _PathArg | IntrinsicCall] = []
        if self.current.kind != ")":
            args.append(self.argument())
            while self.current.kind == ",":
                self.advance()
                args.append(self.argument())
        self.expect(")")
        if not spec.min_args <= len(args) <= spec.max_args:
            wanted = (
                str(spec.min_args)
                if spec.min_args == spec.max_args
                else f"{spec.min_args} to {spec.max_args}"
            )
            if spec.max_args == _MANY:
                wanted = f"at least {spec.min_args}"
            raise self.lexer.fail(f"{word.value} takes {wanted} arguments, got {len(args)}", word.pos)
        return IntrinsicCall(word.value, tuple(args))

    def argument(self) -> _Literal | _PathArg | IntrinsicCall:
        token = self.current
        if token.kind == "string":
            self.advance()
            return _Literal(token.value, token.escaped)
        if token.kind == "number":
            self.advance()
            return _Literal(token.value)
        if token.kind == "path":
            self.advance()
            return _PathArg(token.value)
        if token.kind == "word":
            constants = {"true": True, "false": False, "null": None}
            if token.value in constants:
                self.advance()
                return _Literal(constants[token.value])
            return self.call()
        shown = "the end" if token.kind == "end" else repr(token.value)
        raise self.lexer.fail(f"expected an argument but found {shown}", token.pos)


def parse_intrinsic(text: str) -> IntrinsicCall:
    """Parse one intrinsic function call; raises ``IntrinsicSyntaxError``."""
    return _Parser(text).parse()


# --- argument checks ------------------------------------------------------------------------------


def json_kind(value: Any) -> str:
    """The JSON type name of a value, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _need(condition: bool, message: str) -> None:
    if not condition:
        raise IntrinsicFailure(message)


def _array(value: Any, what: str) -> list[Any]:
    _need(isinstance(value, list), f"{what} must be an array, not {json_kind(value)}")
    return value  # type: ignore[no-any-return]


def _string(value: Any, what: str) -> str:
    _need(isinstance(value, str), f"{what} must be a string, not {json_kind(value)}")
    return value  # type: ignore[no-any-return]


def _integer(value: Any, what: str) -> int:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    _need(isinstance(value, int) and not isinstance(value, bool), f"{what} must be an integer, not {value!r}")
    return value  # type: ignore[no-any-return]


def _text(value: Any, what: str) -> str:
    text = _string(value, what)
    _need(len(text) <= MAX_TEXT, f"{what} must be at most {MAX_TEXT} characters, not {len(text)}")
    return text


def _canonical(value: Any) -> Any:
    """A hashable key under which equal JSON values collide (1 == 1.0; true != 1)."""
    if isinstance(value, bool) or value is None:
        return ("b", value)
    if isinstance(value, int | float):
        return ("n", int(value) if isinstance(value, float) and value.is_integer() else value)
    if isinstance(value, str):
        return ("s", value)
    if isinstance(value, list):
        return ("a", tuple(_canonical(item) for item in value))
    return ("o", frozenset((key, _canonical(item)) for key, item in value.items()))


# --- functions ------------------------------------------------------------------------------------


def _format(template: Any, escaped: frozenset[int], values: list[Any]) -> str:
    text = _string(template, "the first argument of States.Format")
    pieces: list[str] = []
    used = 0
    position = 0
    while position < len(text):
        if text.startswith("{}", position) and position not in escaped and position + 1 not in escaped:
            _need(used < len(values), f"the template has more '{{}}' than the {len(values)} values given")
            pieces.append(_format_value(values[used], used + 2))
            used += 1
            position += 2
        else:
            pieces.append(text[position])
            position += 1
    _need(used == len(values), f"the template has {used} '{{}}' but {len(values)} values were given")
    return "".join(pieces)


def _format_value(value: Any, position: int) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        raise IntrinsicFailure(f"argument {position} of States.Format is not a finite number")
    return java_text(value)


def java_text(value: Any) -> str:
    """A JSON value as AWS's Java runtime prints it: strings bare, objects ``{a=1, b=[x, y]}`` (Map/List toString)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}={java_text(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(java_text(item) for item in value) + "]"
    return json.dumps(value)


def _array_partition(args: list[Any], rng: random.Random) -> Any:
    items = _array(args[0], "the first argument of States.ArrayPartition")
    size = _integer(args[1], "the chunk size of States.ArrayPartition")
    _need(size > 0, f"the chunk size of States.ArrayPartition must be positive, not {size}")
    return [items[start : start + size] for start in range(0, len(items), size)]


def _array_contains(args: list[Any], rng: random.Random) -> Any:
    wanted = _canonical(args[1])
    return any(
        _canonical(item) == wanted for item in _array(args[0], "the first argument of States.ArrayContains")
    )


def _array_range(args: list[Any], rng: random.Random) -> Any:
    start, end, step = (_integer(arg, f"argument {i + 1} of States.ArrayRange") for i, arg in enumerate(args))
    _need(step != 0, "the step of States.ArrayRange must not be 0")
    count = max(0, (end - start) // step + 1)
    _need(count <= MAX_RANGE, f"States.ArrayRange would make {count} items; the limit is {MAX_RANGE}")
    return [start + step * i for i in range(count)]


def _array_get_item(args: list[Any], rng: random.Random) -> Any:
    items = _array(args[0], "the first argument of States.ArrayGetItem")
    index = _integer(args[1], "the index of States.ArrayGetItem")
    _need(0 <= index < len(items), f"index {index} is out of range for an array of {len(items)} items")
    return items[index]


def _array_unique(args: list[Any], rng: random.Random) -> Any:
    seen: set[Any] = set()
    unique = []
    for item in _array(args[0], "the argument of States.ArrayUnique"):
        key = _canonical(item)
        if key not in seen:
            seen.add(key)
            unique.append(item)
    return unique


def _base64_decode(args: list[Any], rng: random.Random) -> Any:
    encoded = _text(args[0], "the argument of States.Base64Decode")
    try:
        return base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, ValueError) as exc:
        raise IntrinsicFailure(f"States.Base64Decode cannot decode {encoded[:50]!r}: {exc}") from None


def _hash(args: list[Any], rng: random.Random) -> Any:
    data = _text(args[0], "the data of States.Hash")
    algorithm = _string(args[1], "the algorithm of States.Hash")
    _need(algorithm in HASHES, f"unknown hash algorithm {algorithm!r}; use one of {', '.join(HASHES)}")
    return HASHES[algorithm](data.encode("utf-8")).hexdigest()


def _json_merge(args: list[Any], rng: random.Random) -> Any:
    first, second, deep = args
    _need(
        isinstance(first, dict),
        f"the first argument of States.JsonMerge must be an object, not {json_kind(first)}",
    )
    _need(
        isinstance(second, dict),
        f"the second argument of States.JsonMerge must be an object, not {json_kind(second)}",
    )
    _need(deep is False, "the third argument of States.JsonMerge must be false (only shallow merging exists)")
    return {**first, **second}


def _string_to_json(args: list[Any], rng: random.Random) -> Any:
    text = _string(args[0], "the argument of States.StringToJson")
    if not text.strip():  # AWS answers null for an empty or blank string (recorded)
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise IntrinsicFailure(f"States.StringToJson cannot parse {text[:50]!r}: {exc}") from None


def _math_random(args: list[Any], rng: random.Random) -> Any:
    start = _integer(args[0], "the start of States.MathRandom")
    end = _integer(args[1], "the end of States.MathRandom")
    _need(start < end, f"the start of States.MathRandom ({start}) must be less than its end ({end})")
    generator = random.Random(_integer(args[2], "the seed of States.MathRandom")) if len(args) == 3 else rng
    return generator.randrange(start, end)


def _math_add(args: list[Any], rng: random.Random) -> Any:
    total = 0
    for position, value in enumerate(args, start=1):
        _need(
            isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value),
            f"argument {position} of States.MathAdd must be a number, not {value!r}",
        )
        total += value if isinstance(value, int) else math.floor(value + 0.5)
    return total


def _string_split(args: list[Any], rng: random.Random) -> Any:
    text = _string(args[0], "the first argument of States.StringSplit")
    delimiters = set(_string(args[1], "the delimiter of States.StringSplit"))
    parts: list[str] = []
    current: list[str] = []
    for char in text:
        if char in delimiters:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [part for part in parts if part]


def _uuid(args: list[Any], rng: random.Random) -> Any:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


_MANY: Final = 1_000_000


@dataclass(frozen=True)
class _Spec:
    min_args: int
    max_args: int
    run: Callable[[list[Any], random.Random], Any]


def _not_called(args: list[Any], rng: random.Random) -> Any:  # States.Format is evaluated by IntrinsicCall
    raise AssertionError("States.Format is formatted by IntrinsicCall.evaluate")


_FUNCTIONS: Final[dict[str, _Spec]] = {
    "States.Format": _Spec(1, _MANY, _not_called),
    "States.StringToJson": _Spec(1, 1, _string_to_json),
    "States.JsonToString": _Spec(
        1, 1, lambda a, r: json.dumps(a[0], ensure_ascii=False, separators=(",", ":"))
    ),
    "States.Array": _Spec(0, _MANY, lambda a, r: list(a)),
    "States.ArrayPartition": _Spec(2, 2, _array_partition),
    "States.ArrayContains": _Spec(2, 2, _array_contains),
    "States.ArrayRange": _Spec(3, 3, _array_range),
    "States.ArrayGetItem": _Spec(2, 2, _array_get_item),
    "States.ArrayLength": _Spec(1, 1, lambda a, r: len(_array(a[0], "the argument of States.ArrayLength"))),
    "States.ArrayUnique": _Spec(1, 1, _array_unique),
    "States.Base64Encode": _Spec(
        1,
        1,
        lambda a, r: base64.b64encode(
            _text(a[0], "the argument of States.Base64Encode").encode("utf-8")
        ).decode("ascii"),
    ),
    "States.Base64Decode": _Spec(1, 1, _base64_decode),
    "States.Hash": _Spec(2, 2, _hash),
    "States.JsonMerge": _Spec(3, 3, _json_merge),
    "States.MathRandom": _Spec(2, 3, _math_random),
    "States.MathAdd": _Spec(2, 2, _math_add),
    "States.StringSplit": _Spec(2, 2, _string_split),
    "States.UUID": _Spec(0, 0, _uuid),
}

FUNCTION_NAMES: Final = frozenset(_FUNCTIONS)
