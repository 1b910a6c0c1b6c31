"""Regular expressions run by Python where DuckDB's functions cannot give Trino's answer.

Two cases. A pattern that comes from a column (or a parameter) is translated from Java's syntax to RE2's
when the query runs, row by row, with the same refusals and errors as a literal one (each distinct
pattern once: cached). And the functions that step from match to match (count, extract_all, split,
replace, position with a start or an occurrence) follow Trino's loop (JoniRegexpFunctions) where
DuckDB's would differ: after an empty match the next search starts one character further on, after
any other at its end; so a pattern that matches the empty string, Java's replacement syntax (``\\x``,
``$12``), and ``regexp_position``'s start and occurrence all give Trino's answer. Python's ``re``
(with ASCII classes) reads the translated subset of the syntax as RE2 and Joni do, and its
``search(text, pos)`` is Joni's search from a position (``^`` still means the start of the text).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator

import duckdb

from etl.athena.functions.regexps import Pattern, translate_pattern
from etl.errors import QueryError

# Line ends the engines may read differently: Java's terminators other than \n (Joni's and RE2's ``.``
# exclude only \n), and a final \n (Java's and Joni's ``$`` match before it, RE2's does not). A \n inside
# the text is read alike: ``.`` does not match it and, without the multiline flag, ``^`` and ``$`` ignore it.
_LINE_TERMINATORS = re.compile("[\r\u0085\u2028\u2029]|\n\\Z")
_RUN_ON_ATHENA = "run this query on Athena"


@functools.lru_cache(maxsize=512)
def _pattern(java: str) -> Pattern:
    try:
        return translate_pattern(java)
    except QueryError as error:  # a refusal or Athena's own error, with its message
        raise ValueError(str(error)) from None


@functools.lru_cache(maxsize=512)
def _compiled(java: str) -> re.Pattern[str]:
    return re.compile(_pattern(java).re2, re.ASCII)


def pattern_for_re2(java: str, group: int) -> str:
    """The RE2 text of ``java`` for DuckDB's regexp functions; the pattern must have ``group``."""
    pattern = _pattern(java)
    if group < 0:
        raise ValueError("Group cannot be negative")
    if group > pattern.groups:
        raise ValueError(f"Pattern has {pattern.groups} groups. Cannot access group {group}")
    return pattern.re2


def guarded_text(text: str, java: str, function: str) -> str:
    """``text`` itself, unless the engines would read it differently with this pattern (refused).

    A pattern with ``.`` or ``$`` and text with a line terminator: Java ends lines at more characters.
    A pattern with ``\\b`` or ``\\B`` and text that is not ASCII: Joni's word characters are Unicode.
    """
    pattern = _pattern(java)
    if pattern.needs_single_line_text and _LINE_TERMINATORS.search(text):
        raise ValueError(f"refused locally: {function} of text with a line break, by a pattern with . or $: "
                         f"Java and RE2 end lines differently; {_RUN_ON_ATHENA}")
    if pattern.needs_ascii_text and not text.isascii():
        raise ValueError(f"refused locally: {function} of text that is not ASCII, by a pattern with \\b or \\B: "
                         f"the engines' word characters differ beyond ASCII; {_RUN_ON_ATHENA}")
    return text


def _matches(text: str, java: str, function: str, start: int = 0) -> Iterator[re.Match[str]]:
    """Trino's matches of ``java`` in ``text`` from character ``start`` on."""
    guarded_text(text, java, function)
    pattern, position = _compiled(java), start
    while position <= len(text):
        match = pattern.search(text, position)
        if match is None:
            return
        yield match
        position = match.end() + 1 if match.end() == match.start() else match.end()


def count(text: str, java: str) -> int:
    return sum(1 for _ in _matches(text, java, "regexp_count"))


def extract_all(text: str, java: str, group: int) -> list[str | None]:
    pattern = _pattern(java)
    if group < 0:
        raise ValueError("Group cannot be negative")
    if group > pattern.groups:
        raise ValueError(f"Pattern has {pattern.groups} groups. Cannot access group {group}")
    return [match.group(group) for match in _matches(text, java, "regexp_extract_all")]


def split(text: str, java: str) -> list[str]:
    pieces, last = [], 0
    for match in _matches(text, java, "regexp_split"):
        pieces.append(text[last:match.start()])
        last = match.end()
    return [*pieces, text[last:]]


def replace(text: str, java: str, replacement: str) -> str:
    out, last = [], 0
    for match in _matches(text, java, "regexp_replace"):
        out.append(text[last:match.start()])
        out.append(_replacement(match, replacement))
        last = match.end()
    return "".join(out) + text[last:]


def _replacement(match: re.Match[str], replacement: str) -> str:
    """Trino's appendReplacement: ``$n`` (the longest group number that exists), ``${name}``, ``\\x`` is x."""
    groups = match.re.groups
    out, i = [], 0
    while i < len(replacement):
        char = replacement[i]
        if char == "$":
            i += 1
            if i == len(replacement):
                raise ValueError(f"Illegal replacement sequence: {replacement}")
            if replacement[i] == "{":
                end = replacement.find("}", i)
                name = replacement[i + 1:] if end < 0 else replacement[i + 1:end]
                if name not in match.re.groupindex:
                    raise ValueError(f"Illegal replacement sequence: unknown group {{ {name} }}")
                out.append(match.group(name) or "")
                i = len(replacement) if end < 0 else end + 1
                continue
            if not "0" <= replacement[i] <= "9":
                raise ValueError(f"Illegal replacement sequence: {replacement}")
            number = int(replacement[i])
            if number > groups:
                raise ValueError(f"Illegal replacement sequence: unknown group {number}")
            i += 1
            while i < len(replacement) and "0" <= replacement[i] <= "9" and number * 10 + int(replacement[i]) <= groups:
                number, i = number * 10 + int(replacement[i]), i + 1
            out.append(match.group(number) or "")
            continue
        if char == "\\":
            i += 1
            if i == len(replacement):
                raise ValueError(f"Illegal replacement sequence: {replacement}")
            char = replacement[i]
        out.append(char)
        i += 1
    return "".join(out)


def position(text: str, java: str, start: int, occurrence: int) -> int:
    if start < 1:
        raise ValueError("start position cannot be smaller than 1")
    if occurrence < 1:
        raise ValueError("occurrence cannot be smaller than 1")
    if start > len(text):
        return -1
    for seen, match in enumerate(_matches(text, java, "regexp_position", start - 1), start=1):
        if seen == occurrence:
            return match.start() + 1
    return -1


def register_regexp_functions(con: duckdb.DuckDBPyConnection) -> None:
    """Make these functions available on ``con`` (NULL in, NULL out)."""
    text, integer, bigint = duckdb.sqltype("VARCHAR"), duckdb.sqltype("INTEGER"), duckdb.sqltype("BIGINT")
    texts = duckdb.list_type(text)
    for name, function, parameters, result in (
        ("trino_regexp_to_re2", pattern_for_re2, [text, integer], text),
        ("trino_regexp_text", guarded_text, [text, text, text], text),
        ("trino_regexp_count_java", count, [text, text], bigint),
        ("trino_regexp_extract_all_java", extract_all, [text, text, integer], texts),
        ("trino_regexp_split_java", split, [text, text], texts),
        ("trino_regexp_replace_java", replace, [text, text, text], text),
        ("trino_regexp_position_java", position, [text, text, bigint, bigint], integer),
    ):
        con.create_function(name, function, parameters, result)  # type: ignore[arg-type]
