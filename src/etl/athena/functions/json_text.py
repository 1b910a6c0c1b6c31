"""Trino's JSON text, read and written as Trino's Jackson-based functions do.

Trino keeps a JSON value as text. Its functions read that text token by token and stop as soon as they
have their answer (``json_array_contains('[true, oops', true)`` is true), so ``JsonTokens`` yields
tokens lazily and raises ``JsonSyntaxError`` only when the bad text is reached. What Trino writes back
is compact, with Jackson's string escapes; a floating-point number is rewritten by Java's
``Double.toString``, so a number whose text would change that way (``1e2`` becomes ``100.0``) is
refused rather than guessed, as is an object with a repeated key.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from etl.athena.results import java_double_to_string

RUN_ON_ATHENA = "run this query on Athena"
_WHITESPACE = " \t\n\r"
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_SHORT_OUTPUT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\f": "\\f", "\n": "\\n", "\r": "\\r"}
_MAX_DEPTH = 200  # Jackson's own limit is 1000; deeper text is refused rather than risked
_MAX_NUMBER_LENGTH = 300  # Jackson rejects numbers of more than 1000 characters

START_ARRAY, END_ARRAY, START_OBJECT, END_OBJECT = "[", "]", "{", "}"
FIELD_NAME, STRING, INT, FLOAT, TRUE, FALSE, NULL = "field", "string", "int", "float", "true", "false", "null"
SCALARS = (STRING, INT, FLOAT, TRUE, FALSE, NULL)


class JsonSyntaxError(ValueError):
    """The text is not JSON where Trino's parser would notice it."""


class JsonRefusal(ValueError):
    """Trino's answer for this text cannot be reproduced exactly; the message says so in the form
    the local engine turns into a refusal."""

    def __init__(self, construct: str, why: str) -> None:
        super().__init__(f"refused locally: {construct}: {why}; {RUN_ON_ATHENA}")
        self.construct, self.why = construct, why


@dataclass(frozen=True)
class Token:
    kind: str
    value: Any = None  # a string's or field name's text; a number's text as written


class JsonTokens:
    """The tokens of ``text`` as Jackson's streaming parser returns them, read on demand.

    After a complete value at the top level, reading on starts the next top-level value (Jackson
    reads several); ``next`` returns None at the end of the text.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.stack: list[str] = []
        self.first = False  # just after '[' or '{'
        self.value_due = False  # just after a field name and its ':'
        self.current: Token | None = None

    def next(self) -> Token | None:
        self.current = self._next()
        return self.current

    def _next(self) -> Token | None:
        self._skip_whitespace()
        if self.value_due:
            self.value_due = False
            return self._value()
        if not self.stack:
            if self.pos >= len(self.text):
                return None
            return self._value()
        char = self._peek()
        closing = "]" if self.stack[-1] == "[" else "}"
        if char == closing:
            self.pos += 1
            self.stack.pop()
            self.first = False
            return Token(END_ARRAY if closing == "]" else END_OBJECT)
        if self.first:
            self.first = False
        elif char == ",":
            self.pos += 1
            self._skip_whitespace()
        else:
            raise JsonSyntaxError(f"expected ',' or '{closing}' at {self.pos}")
        return self._value() if self.stack[-1] == "[" else self._field()

    def _peek(self) -> str:
        if self.pos >= len(self.text):
            raise JsonSyntaxError("unexpected end of input")
        return self.text[self.pos]

    def _skip_whitespace(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in _WHITESPACE:
            self.pos += 1

    def _field(self) -> Token:
        if self._peek() != '"':
            raise JsonSyntaxError(f"expected a field name at {self.pos}")
        name = self._string()
        self._skip_whitespace()
        if self._peek() != ":":
            raise JsonSyntaxError(f"expected ':' at {self.pos}")
        self.pos += 1
        self.value_due = True
        return Token(FIELD_NAME, name)

    def _value(self) -> Token:
        char = self._peek()
        if char in "[{":
            if len(self.stack) >= _MAX_DEPTH:
                raise JsonRefusal("JSON nested more than 200 levels deep", "the local engine limits nesting")
            self.pos += 1
            self.stack.append(char)
            self.first = True
            return Token(START_ARRAY if char == "[" else START_OBJECT)
        if char == '"':
            return Token(STRING, self._string())
        if char == "-" or char.isdigit():
            return self._number()
        for word, kind in (("true", TRUE), ("false", FALSE), ("null", NULL)):
            if self.text.startswith(word, self.pos):
                end = self.pos + len(word)
                following = self.text[end] if end < len(self.text) else ""
                if following and (following.isalnum() or following in "_$"):  # Jackson reads on to the word's end
                    raise JsonSyntaxError(f"unrecognized token at {self.pos}")
                if following and following not in _WHITESPACE + ",]}":
                    # Java counts more characters as part of a word (some control characters, currency signs)
                    raise JsonRefusal("JSON text with a literal directly followed by another character",
                                      "where Trino's parser fails is not certain")
                self.pos = end
                return Token(kind)
        raise JsonSyntaxError(f"unexpected character at {self.pos}")

    def _number(self) -> Token:
        match = _NUMBER.match(self.text, self.pos)
        if match is None:
            raise JsonSyntaxError(f"malformed number at {self.pos}")
        end = match.end()
        following = self.text[end] if end < len(self.text) else ""
        fraction, exponent = match.group(1), match.group(2)
        # Jackson fails on the number itself for a leading zero, a '.' without digits or an exponent
        # without digits; any other character after it fails only when the next token is read.
        if (
            following.isdigit()
            or (following == "." and not fraction and not exponent)
            or (following and following in "eE" and not exponent)
        ):
            raise JsonSyntaxError(f"malformed number at {self.pos}")
        if not self.stack and following and following not in _WHITESPACE:
            raise JsonSyntaxError(f"unexpected character after a number at {end}")
        text = match.group(0)
        if len(text) > _MAX_NUMBER_LENGTH:
            raise JsonRefusal("a JSON number of more than 300 characters", "the local engine limits numbers")
        self.pos = end
        return Token(FLOAT if fraction or exponent else INT, text)

    def _string(self) -> str:
        self.pos += 1
        parts: list[str] = []
        text = self.text
        while True:
            if self.pos >= len(text):
                raise JsonSyntaxError("unterminated string")
            char = text[self.pos]
            if char == '"':
                self.pos += 1
                return "".join(parts)
            if char == "\\":
                escape = text[self.pos + 1 : self.pos + 2]
                if escape == "u":
                    digits = text[self.pos + 2 : self.pos + 6]
                    if not re.fullmatch(r"[0-9a-fA-F]{4}", digits):
                        raise JsonSyntaxError(f"bad \\u escape at {self.pos}")
                    unit = int(digits, 16)
                    low = re.match(r"\\u(d[c-f][0-9a-f]{2})", text[self.pos + 6 : self.pos + 12], re.IGNORECASE)
                    if 0xD800 <= unit <= 0xDBFF and low:  # a surrogate pair is one character, as in Java
                        parts.append(chr(0x10000 + ((unit - 0xD800) << 10) + (int(low.group(1), 16) - 0xDC00)))
                        self.pos += 12
                        continue
                    parts.append(chr(unit))
                    self.pos += 6
                    continue
                if escape not in _ESCAPES:
                    raise JsonSyntaxError(f"bad escape at {self.pos}")
                parts.append(_ESCAPES[escape])
                self.pos += 2
                continue
            if ord(char) < 0x20:
                raise JsonSyntaxError(f"unescaped control character at {self.pos}")
            parts.append(char)
            self.pos += 1

    def skip_children(self) -> None:
        """After a START token, read up to its matching END (Jackson's ``skipChildren``)."""
        if self.current is None or self.current.kind not in (START_ARRAY, START_OBJECT):
            return
        depth = 1
        while depth:
            token = self.next()
            if token is None:
                raise JsonSyntaxError("unexpected end of input")
            if token.kind in (START_ARRAY, START_OBJECT):
                depth += 1
            elif token.kind in (END_ARRAY, END_OBJECT):
                depth -= 1


# --- writing --------------------------------------------------------------------------------------------
def quote(text: str) -> str:
    """``text`` as a JSON string, escaped as Jackson escapes it."""
    out = ['"']
    for char in text:
        if char in _SHORT_OUTPUT_ESCAPES:
            out.append(_SHORT_OUTPUT_ESCAPES[char])
        elif ord(char) < 0x20:
            out.append(f"\\u{ord(char):04X}")
        elif 0xD800 <= ord(char) <= 0xDFFF:
            raise JsonRefusal("JSON text with an unpaired surrogate", "Java and Python encode it differently")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def number_text(token: Token) -> str:
    """How Jackson writes back a number it read: an integer in plain digits, a float as a Java double
    (``Double.toString``; out of range it is the string "Infinity")."""
    if token.kind == INT:
        return str(int(token.value))
    value = float(token.value)
    if math.isinf(value):
        return quote("Infinity" if value > 0 else "-Infinity")
    return java_double_to_string(value)


def write_value(tokens: JsonTokens, sort_keys: bool, keep_duplicates: bool, raw_numbers: bool = False) -> str:
    """The compact text of the value starting at the current token, reading to its end (``raw_numbers``:
    numbers as written, not as Jackson writes them back)."""
    token = tokens.current
    if token is None:
        raise JsonSyntaxError("unexpected end of input")
    if token.kind == START_ARRAY:
        items = []
        while (item := tokens.next()) is not None and item.kind != END_ARRAY:
            items.append(write_value(tokens, sort_keys, keep_duplicates, raw_numbers))
        if item is None:
            raise JsonSyntaxError("unexpected end of input")
        return "[" + ",".join(items) + "]"
    if token.kind == START_OBJECT:
        fields: list[tuple[str, str]] = []
        while (field := tokens.next()) is not None and field.kind == FIELD_NAME:
            tokens.next()
            fields.append((field.value, write_value(tokens, sort_keys, keep_duplicates, raw_numbers)))
        if field is None:
            raise JsonSyntaxError("unexpected end of input")
        names = [name for name, _ in fields]
        if not keep_duplicates and len(set(names)) != len(names):
            raise JsonRefusal("a JSON object with a repeated key", "which value Trino keeps is not guaranteed")
        if sort_keys:  # Java orders strings by UTF-16 code units
            fields.sort(key=lambda f: f[0].encode("utf-16-be", "surrogatepass"))
        return "{" + ",".join(f"{quote(name)}:{value}" for name, value in fields) + "}"
    if raw_numbers and token.kind in (INT, FLOAT):
        return str(token.value)
    return scalar_text(token)


def scalar_text(token: Token) -> str:
    if token.kind == STRING:
        return quote(token.value)
    if token.kind in (INT, FLOAT):
        return number_text(token)
    if token.kind in (TRUE, FALSE, NULL):
        return token.kind
    raise JsonSyntaxError(f"unexpected {token.kind}")


def canonical(text: str) -> str:
    """json_parse: the one JSON value of ``text``, compact, object keys sorted."""
    tokens = JsonTokens(text)
    if tokens.next() is None:
        raise JsonSyntaxError("no JSON value")
    value = write_value(tokens, sort_keys=True, keep_duplicates=False)
    if tokens.next() is not None:
        raise JsonSyntaxError("characters after the JSON value")
    return value


def as_written(text: str) -> str:
    """The one JSON value of ``text``, compact, with its keys and numbers as written."""
    tokens = JsonTokens(text)
    tokens.next()
    return write_value(tokens, sort_keys=False, keep_duplicates=False, raw_numbers=True)


def java_scientific(value: float) -> str:
    """Trino's CAST(double AS varchar): one digit, a point, the rest of the shortest digits, E, exponent."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    if value == 0:
        return f"{sign}0.0E0"
    digits_tuple = Decimal(repr(abs(value))).as_tuple()
    digits = "".join(str(d) for d in digits_tuple.digits).rstrip("0") or "0"
    if len(digits) > 15:
        # Java's DecimalFormat digits can differ from the shortest ones when that many are needed
        raise JsonRefusal("a double of more than 15 significant digits as varchar", "Java may print other digits")
    exponent = len(digits_tuple.digits) + int(digits_tuple.exponent) - 1
    return f"{sign}{digits[0]}.{digits[1:] or '0'}E{exponent}"


def iterate_array(tokens: JsonTokens) -> Iterator[Token]:
    """The first token of each element of the array starting at the current token (None: not an array)."""
    while True:
        token = tokens.next()
        if token is None:
            raise JsonSyntaxError("unexpected end of input")
        if token.kind == END_ARRAY:
            return
        yield token
