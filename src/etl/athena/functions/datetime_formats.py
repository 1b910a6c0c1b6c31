"""Trino's date_format (MySQL specifiers) and format_datetime (Joda patterns) as DuckDB strftime formats.

Only what prints the same in both engines is translated; a specifier or pattern letter with no exact
DuckDB twin is refused. Years outside 1000..9999 are refused at run time by the caller (Java pads and
signs them differently).
"""

from __future__ import annotations

import re

from etl.athena.translation import refuse

# sqlglot has already rewritten date_format's MySQL format into Python strftime tokens; this maps
# those tokens (each from one MySQL specifier) to DuckDB's.
_FROM_SQLGLOT_TOKENS = {
    "%a": "%a", "%b": "%b", "%-m": "%-m", "%d": "%d", "%-d": "%-d", "%H": "%H", "%I": "%I", "%M": "%M",
    "%j": "%j", "%-H": "%-H", "%-I": "%-I", "%B": "%B", "%m": "%m", "%p": "%p", "%S": "%S", "%v": "%V",
    "%A": "%A", "%G": "%G", "%Y": "%Y", "%y": "%y", "%%": "%%",
    # Trino prints six digits of which only the milliseconds are kept (000000..999000)
    "%f": "%g000",
}
# MySQL-looking text Trino prints as a plain letter, but sqlglot's rewrite of another specifier also
# produces: seen in the query as written, the format cannot be read back safely.
_AMBIGUOUS_SOURCE = re.compile(r"%[BAG-]")


def mysql_format_to_strftime(rewritten: str, source_sql: str) -> str:
    """date_format's format (as sqlglot rewrote it) as a DuckDB strftime format."""
    if _AMBIGUOUS_SOURCE.search(source_sql):
        raise refuse("date_format() with %B, %A, %G or %-", "Trino prints those as plain letters")
    parts: list[str] = []
    position = 0
    for match in re.finditer(r"%-?.|%$", rewritten):
        parts.append(rewritten[position : match.start()])
        token = match.group()
        if token not in _FROM_SQLGLOT_TOKENS:
            raise refuse(f"date_format() specifier {token}")
        parts.append(_FROM_SQLGLOT_TOKENS[token])
        position = match.end()
    parts.append(rewritten[position:])
    return "".join(parts)


_JODA_FIELDS = {
    "y": "%Y", "yyy": "%Y", "yyyy": "%Y", "yy": "%y", "M": "%-m", "MM": "%m", "MMM": "%b", "MMMM": "%B",
    "d": "%-d", "dd": "%d", "H": "%-H", "HH": "%H", "h": "%-I", "hh": "%I", "m": "%-M", "mm": "%M",
    "s": "%-S", "ss": "%S", "SSS": "%g", "a": "%p", "E": "%a", "EE": "%a", "EEE": "%a", "EEEE": "%A",
    "D": "%-j", "DDD": "%j",
}


def joda_pattern_to_strftime(pattern: str) -> str:
    """format_datetime's Joda pattern as a DuckDB strftime format."""
    parts: list[str] = []
    for match in re.finditer(r"'((?:[^']|'')*)'|([A-Za-z])\2*|[^A-Za-z']+|'", pattern):
        text = match.group()
        if match.group(1) is not None:
            literal = match.group(1).replace("''", "'") if text != "''" else "'"
            parts.append(literal.replace("%", "%%"))
        elif match.group(2) is not None:
            if text not in _JODA_FIELDS:
                raise refuse(f"format_datetime() pattern {text}")
            parts.append(_JODA_FIELDS[text])
        elif text == "'":
            raise refuse("format_datetime() with an unclosed quote")
        else:
            parts.append(text.replace("%", "%%"))
    return "".join(parts)
