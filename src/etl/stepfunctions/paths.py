"""JSONPath, reference paths and payload templates for the local ASL executor (JSONPath query language).

Step Functions evaluates paths with Jayway JsonPath. This module implements the subset the local
executor accepts, with Jayway's result shape:

* ``$`` (the state's data) and ``$$`` (the context object) roots;
* ``.name`` and ``['name']`` children (inside the quotes a backslash escapes the quote and itself;
  before any other character it is kept, so ``$['a\\"b']`` names the key ``a\\"b``, as recorded on
  AWS), ``[0]`` and ``[-1]`` indexes (negative counts from the end, as in Jayway), ``[0,2]`` index
  unions, ``.*`` / ``[*]`` wildcards, ``[1:]``, ``[:2]``, ``[1:3]`` slices and the ``..`` deep scan.
* A *definite* path (only names and single indexes) yields one value and fails when nothing is
  found; any other path yields a list of every match, empty when nothing matches: Step Functions
  answers ``[]`` for ``$.missing[*]`` or ``$.missing[1:]`` (recorded on AWS), where Jayway alone
  would fail on the missing definite prefix.

Refused at validation (``PathSyntaxError``): filters ``[?(...)]``, scripts ``[(...)]``, functions
such as ``length()``, slice steps ``[::2]`` and multi-name brackets ``['a','b']`` (Jayway returns a
merged object for those, which nobody relies on in a state machine).

A *reference path* (``ResultPath``, ``SecondsPath``...) is a definite ``$`` path: names and single
indexes only. ``ReferencePath``-style insertion (``insert``) builds missing intermediate objects.

Payload templates (``Parameters``, ``ResultSelector``) are compiled once: keys ending in ``.$`` take a
path, a context path or an intrinsic function (see ``etl.stepfunctions.intrinsics``); nested objects and arrays
are processed recursively.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final

from etl.errors import AslError
from etl.stepfunctions.intrinsics import IntrinsicCall, IntrinsicFailure, json_kind, parse_intrinsic

RUNTIME: Final = "States.Runtime"
INTRINSIC_FAILURE: Final = "States.IntrinsicFailure"
RESULT_PATH_MATCH_FAILURE: Final = "States.ResultPathMatchFailure"


class StatesError(AslError):
    """A Step Functions error raised while a state runs: ``error`` is the name Retry/Catch match.

    ``located`` is true once the cause says which state failed (AWS's prefix of a States.Runtime
    cause), so an enclosing Parallel does not prefix it again.
    """

    def __init__(self, error: str | None, cause: str = "", *, located: bool = False) -> None:
        super().__init__(f"{error}: {cause}" if cause else str(error))
        self.error = error
        self.cause = cause
        self.located = located


class PathSyntaxError(AslError):
    """A path or payload template in the definition is invalid or uses refused syntax."""


class PathNotFoundError(AslError):
    """A path matched nothing where a value is required."""


class ResultPathError(AslError):
    """A reference path cannot place a value into a document."""


# --- tokens ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Name:
    name: str


@dataclass(frozen=True)
class _Index:
    index: int


@dataclass(frozen=True)
class _Indexes:
    indexes: tuple[int, ...]


@dataclass(frozen=True)
class _Slice:
    start: int | None
    stop: int | None


@dataclass(frozen=True)
class _Wildcard:
    pass


@dataclass(frozen=True)
class _Scan:
    pass


_Token = _Name | _Index | _Indexes | _Slice | _Wildcard | _Scan
_INTEGER: Final = re.compile(r"-?[0-9]+")
_NAME_STOP: Final = frozenset(".[](),'\"*@?") | frozenset(" \t\r\n")


def _definite(token: _Token) -> bool:
    return isinstance(token, _Name | _Index)


def _render(tokens: tuple[_Token, ...], context: bool) -> str:
    parts = ["$$" if context else "$"]
    for token in tokens:
        if isinstance(token, _Name):
            parts.append("['" + token.name.replace("\\", "\\\\").replace("'", "\\'") + "']")
        elif isinstance(token, _Index):
            parts.append(f"[{token.index}]")
        elif isinstance(token, _Indexes):
            parts.append("[" + ",".join(str(i) for i in token.indexes) + "]")
        elif isinstance(token, _Slice):
            start = "" if token.start is None else str(token.start)
            stop = "" if token.stop is None else str(token.stop)
            parts.append(f"[{start}:{stop}]")
        elif isinstance(token, _Wildcard):
            parts.append("[*]")
        else:
            parts.append("..")
    return "".join(parts)


class JsonPath:
    """A parsed path; ``evaluate`` applies it to the data (``$``) or the context object (``$$``)."""

    def __init__(self, text: str, tokens: tuple[_Token, ...], context: bool) -> None:
        self.text = text
        self.tokens = tokens
        self.context = context
        self.definite = all(_definite(token) for token in tokens)

    def __repr__(self) -> str:
        return f"JsonPath({self.text!r})"

    @property
    def is_reference(self) -> bool:
        return self.definite and not self.context

    def evaluate(self, data: Any, context: Any = None) -> Any:
        """The value (definite path) or the list of matches (indefinite path).

        Raises ``PathNotFoundError`` when a definite path matches nothing.
        """
        nodes = [context if self.context else data]
        upstream_definite = self.definite  # an indefinite path never fails: a miss anywhere is no match
        last = len(self.tokens) - 1
        for position, token in enumerate(self.tokens):
            if isinstance(token, _Scan):
                nodes = [node for root in nodes for node in _descendants(root)]
                upstream_definite = False
                continue
            done = _render(self.tokens[: position + 1], self.context)
            following: list[Any] = []
            for node in nodes:
                following.extend(_step(token, node, upstream_definite, position == last, done))
            nodes = following
            upstream_definite = upstream_definite and _definite(token)
        if not self.definite:
            return nodes
        if not nodes:
            raise PathNotFoundError(f"No results for path: {_render(self.tokens, self.context)}")
        return nodes[0]

    def exists(self, data: Any, context: Any = None) -> bool:
        try:
            self.evaluate(data, context)
        except PathNotFoundError:
            return False
        return True

    def insert(self, document: Any, value: Any) -> Any:
        """A copy of ``document`` with ``value`` placed at this reference path (the document is unchanged).

        Missing intermediate objects are created; raises ``ResultPathError`` when a node on the way
        is not an object (or an array, for an index) or an index is out of range.
        """
        if not self.is_reference:
            raise ResultPathError(f"{self.text!r} is not a reference path")
        return _put(document, self.tokens, value, self)


def _descendants(node: Any) -> Iterator[Any]:
    """``node`` and everything below it, depth first and in document order (Jayway's deep scan)."""
    yield node
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
    for child in children:
        yield from _descendants(child)


def _step(token: _Token, node: Any, upstream_definite: bool, leaf: bool, done: str) -> list[Any]:
    if isinstance(token, _Name):
        if not isinstance(node, dict):
            if upstream_definite:
                raise PathNotFoundError(
                    f"Expected to find an object with property {done} but found {json_kind(node)}"
                )
            return []
        if token.name in node:
            return [node[token.name]]
        if not leaf and upstream_definite:
            raise PathNotFoundError(f"Missing property in path {done}")
        return []
    if isinstance(token, _Wildcard):
        if isinstance(node, dict):
            return list(node.values())
        return list(node) if isinstance(node, list) else []
    if not isinstance(node, list):
        if upstream_definite:
            raise PathNotFoundError(f"Expected to find an array at {done} but found {json_kind(node)}")
        return []
    if isinstance(token, _Slice):
        return node[token.start : token.stop]
    indexes = (
        (token.index,) if isinstance(token, _Index) else token.indexes if isinstance(token, _Indexes) else ()
    )
    found = []
    for index in indexes:
        effective = index + len(node) if index < 0 else index
        if 0 <= effective < len(node):
            found.append(node[effective])
    return found


def _put(node: Any, tokens: tuple[_Token, ...], value: Any, path: JsonPath) -> Any:
    if not tokens:
        return value
    token, rest = tokens[0], tokens[1:]
    if isinstance(token, _Name):
        if not isinstance(node, dict):
            raise ResultPathError(f"cannot set {path.text!r}: expected an object but found {json_kind(node)}")
        copy = dict(node)
        if token.name in node:
            child = node[token.name]
        elif not rest or isinstance(rest[0], _Name):
            child = {}
        else:
            raise ResultPathError(
                f"cannot set {path.text!r}: {token.name!r} does not exist and cannot be an array"
            )
        copy[token.name] = _put(child, rest, value, path)
        return copy
    assert isinstance(token, _Index)
    if not isinstance(node, list):
        raise ResultPathError(f"cannot set {path.text!r}: expected an array but found {json_kind(node)}")
    effective = token.index + len(node) if token.index < 0 else token.index
    if not 0 <= effective < len(node):
        raise ResultPathError(f"cannot set {path.text!r}: index {token.index} is out of range")
    items = list(node)
    items[effective] = _put(node[effective], rest, value, path)
    return items


# --- parser ---------------------------------------------------------------------------------------


class _PathParser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, message: str) -> PathSyntaxError:
        return PathSyntaxError(f"invalid path {self.text!r}: {message}")

    def parse(self) -> JsonPath:
        text = self.text
        if not text.startswith("$"):
            raise self.fail("a path must start with '$'")
        context = text.startswith("$$")
        self.pos = 2 if context else 1
        tokens: list[_Token] = []
        while self.pos < len(text):
            if text.startswith("..", self.pos):
                self.pos += 2
                tokens.append(_Scan())
                if self.pos >= len(text):
                    raise self.fail("'..' must be followed by a name, '*' or '['")
                if text[self.pos] != "[":
                    tokens.append(self.member())
            elif text[self.pos] == ".":
                self.pos += 1
                tokens.append(self.member())
            elif text[self.pos] == "[":
                tokens.append(self.bracket())
            else:
                raise self.fail(f"unexpected {text[self.pos]!r} at position {self.pos}")
        return JsonPath(text, tuple(tokens), context)

    def member(self) -> _Token:
        text = self.text
        if self.pos < len(text) and text[self.pos] == "*":
            self.pos += 1
            return _Wildcard()
        start = self.pos
        while self.pos < len(text) and text[self.pos] not in _NAME_STOP:
            self.pos += 1
        if self.pos == start:
            raise self.fail(f"expected a name at position {start}")
        if self.pos < len(text) and text[self.pos] == "(":
            raise self.fail("functions such as length() are not supported")
        return _Name(text[start : self.pos])

    def bracket(self) -> _Token:
        text = self.text
        self.pos += 1
        self.skip_spaces()
        if self.pos >= len(text):
            raise self.fail("unclosed '['")
        first = text[self.pos]
        if first in "'\"":
            names = [self.quoted()]
            self.skip_spaces()
            while self.pos < len(text) and text[self.pos] == ",":
                self.pos += 1
                self.skip_spaces()
                names.append(self.quoted())
                self.skip_spaces()
            self.expect("]")
            if len(names) > 1:
                raise self.fail("several names in one bracket are not supported")
            return _Name(names[0])
        if first == "*":
            self.pos += 1
            self.skip_spaces()
            self.expect("]")
            return _Wildcard()
        if first in "?(":
            raise self.fail("filter and script expressions are not supported by the local executor")
        end = text.find("]", self.pos)
        if end < 0:
            raise self.fail("unclosed '['")
        content = text[self.pos : end].replace(" ", "")
        self.pos = end + 1
        if ":" in content:
            bounds = content.split(":")
            if len(bounds) > 2:
                raise self.fail("slice steps are not supported")
            start, stop = (None if bound == "" else self.integer(bound) for bound in bounds)
            return _Slice(start, stop)
        indexes = tuple(self.integer(part) for part in content.split(","))
        return _Index(indexes[0]) if len(indexes) == 1 else _Indexes(indexes)

    def integer(self, text: str) -> int:
        if not _INTEGER.fullmatch(text):
            raise self.fail(f"{text!r} is not an array index")
        return int(text)

    def quoted(self) -> str:
        text = self.text
        if self.pos >= len(text) or text[self.pos] not in "'\"":
            raise self.fail(f"expected a quoted name at position {self.pos}")
        quote = text[self.pos]
        self.pos += 1
        chars: list[str] = []
        while self.pos < len(text):
            char = text[self.pos]
            if char == "\\" and self.pos + 1 < len(text) and text[self.pos + 1] in (quote, "\\"):
                chars.append(text[self.pos + 1])
                self.pos += 2
            elif char == quote:
                self.pos += 1
                return "".join(chars)
            else:
                chars.append(char)
                self.pos += 1
        raise self.fail("unterminated quoted name")

    def expect(self, char: str) -> None:
        if self.pos >= len(self.text) or self.text[self.pos] != char:
            raise self.fail(f"expected {char!r} at position {self.pos}")
        self.pos += 1

    def skip_spaces(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] == " ":
            self.pos += 1


def parse_path(text: Any) -> JsonPath:
    """Parse a path (``$...`` or ``$$...``); raises ``PathSyntaxError``."""
    if not isinstance(text, str):
        raise PathSyntaxError(f"a path must be a string, not {json_kind(text)}")
    return _PathParser(text).parse()


def parse_reference_path(text: Any, *, context: bool = False) -> JsonPath:
    """Parse a reference path: names and single indexes only (``$$`` only when ``context``)."""
    path = parse_path(text)
    if not path.definite:
        raise PathSyntaxError(f"{text!r} is not a reference path: use only '.name', ['name'] and [index]")
    if path.context and not context:
        raise PathSyntaxError(f"{text!r} is not a reference path: '$$' cannot be used here")
    return path


# --- expressions (path or intrinsic) and payload templates ----------------------------------------


class Expression:
    """The value of a ``.$`` field: a path, a context path or an intrinsic function call."""

    def __init__(self, text: Any, field: str) -> None:
        if not isinstance(text, str):
            raise PathSyntaxError(
                f"the value of {field!r} must be a string holding a path or an intrinsic function"
            )
        self.text = text
        self.field = field
        self.path: JsonPath | None = None
        self.call: IntrinsicCall | None = None
        self._arg_paths: dict[str, JsonPath] = {}
        stripped = text.strip()
        if stripped.startswith("States."):
            self.call = parse_intrinsic(stripped)
            for arg in self.call.path_arguments():
                self._arg_paths[arg] = parse_path(arg)
        elif stripped.startswith("$"):
            self.path = parse_path(stripped)
        else:
            raise PathSyntaxError(
                f"the value of {field!r} must be a path ('$...') or an intrinsic function, not {text!r}"
            )

    def evaluate(self, data: Any, context: Any, rng: random.Random) -> Any:
        """The value, raising ``StatesError`` (States.Runtime for a missing path, States.IntrinsicFailure)."""
        if self.path is not None:
            try:
                return self.path.evaluate(data, context)
            except PathNotFoundError:
                raise StatesError(
                    RUNTIME,
                    f"The JSONPath '{self.text}' specified for the field '{self.field}' "
                    f"could not be found in the input '{_dump(data)}'",
                ) from None
        assert self.call is not None

        def resolve(path_text: str) -> Any:
            try:
                return self._arg_paths[path_text].evaluate(data, context)
            except PathNotFoundError as exc:
                raise StatesError(
                    RUNTIME,
                    f"The JSONPath argument '{path_text}' of '{self.text}' in the field "
                    f"'{self.field}' could not be found in the input '{_dump(data)}' "
                    f"({exc})",
                ) from None

        try:
            return self.call.evaluate(resolve, rng)
        except IntrinsicFailure as exc:
            raise StatesError(
                INTRINSIC_FAILURE, f"Invalid arguments in the field '{self.field}' ('{self.text}'): {exc}"
            ) from None


def _dump(value: Any, limit: int = 2000) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return text if len(text) <= limit else text[:limit] + "..."


_Node = Callable[[Any, Any, random.Random], Any]


class PayloadTemplate:
    """A compiled ``Parameters`` / ``ResultSelector`` value."""

    def __init__(self, template: Any, field: str) -> None:
        self.field = field
        self._root = self._compile(template, field)

    def evaluate(self, data: Any, context: Any, rng: random.Random) -> Any:
        return self._root(data, context, rng)

    def _compile(self, template: Any, where: str) -> _Node:
        if isinstance(template, dict):
            members: list[tuple[str, _Node]] = []
            seen: set[str] = set()
            for key, value in template.items():
                if not isinstance(key, str):
                    raise PathSyntaxError(f"{where}: keys must be strings")
                if key.endswith(".$"):
                    name = key[:-2]
                    expression = Expression(value, key)
                    node: _Node = expression.evaluate
                else:
                    name = key
                    node = self._compile(value, f"{where}.{key}")
                if name in seen:
                    raise PathSyntaxError(
                        f"{where}: the field {name!r} is given twice (with and without '.$')"
                    )
                seen.add(name)
                members.append((name, node))

            def build_object(data: Any, context: Any, rng: random.Random) -> Any:
                return {name: node(data, context, rng) for name, node in members}

            return build_object
        if isinstance(template, list):
            items = [self._compile(value, f"{where}[{i}]") for i, value in enumerate(template)]

            def build_array(data: Any, context: Any, rng: random.Random) -> Any:
                return [item(data, context, rng) for item in items]

            return build_array
        if template is not None and not isinstance(template, str | int | float | bool):
            raise PathSyntaxError(f"{where}: {type(template).__name__} is not a JSON value")
        return lambda data, context, rng: template


def select(path: JsonPath | None, data: Any, context: Any) -> Any:
    """``InputPath`` / ``OutputPath``: ``None`` (the JSON ``null``) gives ``{}``; a miss is States.Runtime."""
    if path is None:
        return {}
    return reference_value(path, data, context)


def reference_value(path: JsonPath, data: Any, context: Any) -> Any:
    """The value at ``path``; a miss is States.Runtime worded as AWS words it (Jayway's reason after the path)."""
    try:
        return path.evaluate(data, context)
    except PathNotFoundError as exc:
        raise StatesError(RUNTIME, f"Invalid path '{path.text}' : {exc}") from None


def place(path: JsonPath | None, raw_input: Any, result: Any, field: str = "ResultPath") -> Any:
    """``ResultPath``: ``None`` keeps the raw input; otherwise the result placed into a copy of it."""
    if path is None:
        return raw_input
    try:
        return path.insert(raw_input, result)
    except ResultPathError as exc:
        raise StatesError(
            RESULT_PATH_MATCH_FAILURE,
            f"Unable to apply {field} '{path.text}' to the input '{_dump(raw_input)}': {exc}",
        ) from None
