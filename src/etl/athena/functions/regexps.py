"""Regular expression functions: regexp_like, regexp_extract, regexp_extract_all, regexp_replace,
regexp_count, regexp_position, regexp_split.

Trino matches with Java's pattern syntax (through the Joni library); DuckDB with RE2. The two agree on
a common core, and only that core is translated: a pattern must be a literal made of characters,
``.``, classes of characters and ranges, ``\\d \\w \\s`` (and their negations; ``\\s`` is spelled out,
as RE2's leaves out the vertical tab), escaped metacharacters, groups ``( )`` and ``(?: )``,
alternation, greedy and lazy quantifiers, ``^`` and ``$``. Anything else (look-around, back
references, ``\\b``, flags, possessive quantifiers, Unicode classes, ``\\Q…\\E``, a pattern from a
column) is refused when the query is translated.

Where the engines still differ the query is refused when it runs: text holding a line terminator
when the pattern has ``.`` or ``$`` (Java and Joni treat ``\\r``, U+0085, U+2028 and U+2029 as line
ends where RE2 sees only ``\\n``); a pattern that matches the empty string in the functions that
step from match to match (count, position, replace, extract_all, split), whose empty matches the
engines place differently; a group of ``regexp_extract`` that took no part in the match (Trino: NULL,
DuckDB: ''; in ``regexp_extract_all`` both give NULL). A pattern with unbalanced parentheses is an
error, as in Trino.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlglot import exp

from etl.athena.core import TranslatorCore
from etl.athena.results import BIGINT, BOOLEAN, INTEGER, VARCHAR, array_type
from etl.athena.translation import Handlers, Typed, _call, _Ctx, _string, invalid, refuse

_SPACE_CLASS = " \\t\\n\\x0B\\f\\r"  # Java's \s; RE2's has no \x0B
_SAME_IN_BOTH = set("dDwW")  # ASCII classes in both engines
_CONTROL_ESCAPES = set("tnrf")
_METACHARACTERS = set("\\.[](){}*+?|^$-/")


@dataclass(frozen=True)
class Pattern:
    """A Java pattern rewritten for RE2, with what the runtime guards need to know."""

    re2: str
    groups: int
    needs_single_line_text: bool  # has . or $: text with a line terminator other than a final \n is refused


def translate_pattern(java: str) -> Pattern:
    """The RE2 spelling of ``java``, or a refusal naming the construct RE2 would read differently."""
    out: list[str] = []
    groups, single_line, i = 0, False, 0
    after_atom, depth = False, 0
    while i < len(java):
        char = java[i]
        if char == "\\":
            escape, i = _escape(java, i, in_class=False)
            out.append(escape)
            after_atom = True
            continue
        if char == "[":
            text, i = _character_class(java, i)
            out.append(text)
            after_atom = True
            continue
        if char == "(":
            if java.startswith("(?:", i):
                out.append("(?:")
                i += 3
            elif java.startswith("(?", i):
                raise _refuse_pattern(java, "a (? construct (flags, look-around or a named group)")
            else:
                groups += 1
                out.append("(")
                i += 1
            after_atom, depth = False, depth + 1
            continue
        if char == ")":
            if depth == 0:
                raise invalid(f"regular expression {java!r} has an unmatched )")
            depth -= 1
        if char in "*+?{":
            if not after_atom:
                raise _refuse_pattern(java, f"a quantifier {char} with nothing to repeat")
            quantifier, i = _quantifier(java, i)
            out.append(quantifier)
            after_atom = False
            continue
        if char in ".$":
            single_line = True
        after_atom = char not in "|^$"  # a closing ) or a character can be repeated
        out.append(char)
        i += 1
    if depth:
        raise invalid(f"regular expression {java!r} has an unclosed group")
    return Pattern("".join(out), groups, single_line)


def _escape(java: str, i: int, *, in_class: bool) -> tuple[str, int]:
    if i + 1 >= len(java):
        raise invalid(f"regular expression {java!r} ends with a lone backslash")
    letter = java[i + 1]
    if letter in _SAME_IN_BOTH or letter in _CONTROL_ESCAPES or letter in _METACHARACTERS:
        return java[i:i + 2], i + 2
    if letter == "s":
        return (_SPACE_CLASS if in_class else f"[{_SPACE_CLASS}]"), i + 2
    if letter == "S" and not in_class:
        return f"[^{_SPACE_CLASS}]", i + 2
    raise _refuse_pattern(java, f"the escape \\{letter}")


def _character_class(java: str, start: int) -> tuple[str, int]:
    i = start + 1
    out = ["["]
    if java.startswith("^", i):
        out.append("^")
        i += 1
    if java.startswith("]", i):
        raise _refuse_pattern(java, "a ] first in a character class")
    while i < len(java):
        char = java[i]
        if char == "]":
            return "".join(out) + "]", i + 1
        if char == "[" or java.startswith("&&", i):
            raise _refuse_pattern(java, "a class inside a class, or an intersection &&")
        if char == "\\":
            escape, i = _escape(java, i, in_class=True)
            out.append(escape)
            continue
        out.append(char)
        i += 1
    raise invalid(f"regular expression {java!r} has an unclosed character class")


def _quantifier(java: str, i: int) -> tuple[str, int]:
    if java[i] == "{":
        end = java.find("}", i)
        body = java[i + 1:end] if end > 0 else ""
        low, _, high = body.partition(",")
        if end < 0 or not low.isdigit() or not (high == "" or high.isdigit()):
            raise _refuse_pattern(java, "a { that is not a repetition count {n}, {n,} or {n,m}")
        text, i = java[i:end + 1], end + 1
    else:
        text, i = java[i], i + 1
    if java.startswith("+", i):
        raise _refuse_pattern(java, "a possessive quantifier")
    if java.startswith("?", i):
        return text + "?", i + 1
    return text, i


def _refuse_pattern(java: str, what: str) -> Exception:
    return refuse(f"regular expression {java!r}", f"it uses {what}, which RE2 (DuckDB) does not read as Java does")


class RegexpFunctions(TranslatorCore):
    """regexp_like, regexp_extract, regexp_replace, regexp_count and regexp_position over literal patterns."""

    def _regexp_handlers(self) -> Handlers:
        return {
            exp.RegexpLike: self._regexp_like, exp.RegexpExtract: self._regexp_extract,
            exp.RegexpReplace: self._regexp_replace, exp.RegexpCount: self._regexp_count,
            "regexp_position": self._regexp_position,
            exp.RegexpExtractAll: self._regexp_extract_all, exp.RegexpSplit: self._regexp_split,
        }

    def _regexp_args(
        self, text_node: exp.Expr, pattern_node: exp.Expr, ctx: _Ctx, name: str, *, steps: bool = False
    ) -> tuple[Typed, Pattern, exp.Expr]:
        """The text (guarded where needed), the parsed pattern and its RE2 literal.

        ``steps``: the function goes from match to match, where the engines place empty matches
        differently, so a pattern that can match the empty string is refused. (For this subset of the
        syntax a pattern can match empty somewhere only if it matches the empty text; Python's re reads
        the subset as RE2 does.)
        """
        text = self._text_arg(text_node, ctx, name)
        if not (isinstance(pattern_node, exp.Literal) and pattern_node.is_string):
            raise refuse(f"{name}() with a pattern that is not a string literal",
                         "only a literal pattern can be checked for what RE2 reads differently")
        pattern = translate_pattern(pattern_node.this)
        if steps and re.search(pattern.re2, "") is not None:
            raise refuse(f"{name}() with a pattern that matches the empty string",
                         "Trino and DuckDB place its empty matches differently")
        subject = text.node
        if pattern.needs_single_line_text:
            subject = _call("trino_regexp_single_line", subject, _string(name))
        return Typed(subject, VARCHAR), pattern, _string(pattern.re2)

    def _regexp_like(self, node: exp.RegexpLike, ctx: _Ctx) -> Typed:
        self._check_args(node, {"this", "expression"})
        text, _, pattern = self._regexp_args(node.this, node.expression, ctx, "regexp_like")
        return Typed(_call("regexp_matches", text.node, pattern), BOOLEAN)

    def _regexp_extract(self, node: exp.RegexpExtract, ctx: _Ctx) -> Typed:
        self._check_args(node, {"this", "expression", "group", "null_if_pos_overflow"})
        text, parsed, pattern = self._regexp_args(node.this, node.expression, ctx, "regexp_extract")
        group = _group(node.args.get("group"), parsed, "regexp_extract")
        return Typed(_call("trino_regexp_extract", text.node, pattern, exp.Literal.number(group)), VARCHAR)

    def _regexp_extract_all(self, node: exp.RegexpExtractAll, ctx: _Ctx) -> Typed:
        """Every match (or its group); a group that took no part in a match is NULL in both engines."""
        self._check_args(node, {"this", "expression", "group"})
        text, parsed, pattern = self._regexp_args(node.this, node.expression, ctx, "regexp_extract_all", steps=True)
        group = _group(node.args.get("group"), parsed, "regexp_extract_all")
        call = _call("regexp_extract_all", text.node, pattern, exp.Literal.number(group))
        return Typed(call, array_type(VARCHAR))

    def _regexp_split(self, node: exp.RegexpSplit, ctx: _Ctx) -> Typed:
        """The pieces between matches; both engines keep leading and trailing empty pieces."""
        self._check_args(node, {"this", "expression"})
        text, _, pattern = self._regexp_args(node.this, node.expression, ctx, "regexp_split", steps=True)
        return Typed(_call("regexp_split_to_array", text.node, pattern), array_type(VARCHAR))

    def _regexp_replace(self, node: exp.RegexpReplace, ctx: _Ctx) -> Typed:
        self._check_args(node, {"this", "expression", "replacement"})
        text, parsed, pattern = self._regexp_args(node.this, node.expression, ctx, "regexp_replace", steps=True)
        replacement_node = node.args.get("replacement")
        replacement = ""
        if replacement_node is not None:
            if not (isinstance(replacement_node, exp.Literal) and replacement_node.is_string):
                raise refuse("regexp_replace() with a replacement that is not a string literal")
            replacement = _replacement(replacement_node.this, parsed.groups)
        return Typed(_call("trino_regexp_replace", text.node, pattern, _string(replacement)), VARCHAR)

    def _regexp_count(self, node: exp.RegexpCount, ctx: _Ctx) -> Typed:
        self._check_args(node, {"this", "expression"})
        text, _, pattern = self._regexp_args(node.this, node.expression, ctx, "regexp_count", steps=True)
        return Typed(_call("trino_regexp_count", text.node, pattern), BIGINT)

    def _regexp_position(self, node: exp.Anonymous, ctx: _Ctx) -> Typed:
        if len(node.expressions) != 2:
            raise refuse("regexp_position() with a start or an occurrence")
        text_node, pattern_node = node.expressions
        text, _, pattern = self._regexp_args(text_node, pattern_node, ctx, "regexp_position", steps=True)
        return Typed(_call("trino_regexp_position", text.node, pattern), INTEGER)


def _group(node: exp.Expr | None, pattern: Pattern, name: str) -> int:
    """The group a regexp_extract function returns: 0 (the whole match) unless an integer literal names one."""
    if node is None:
        return 0
    if not (isinstance(node, exp.Literal) and node.is_int):
        raise refuse(f"{name}() with a group that is not an integer literal")
    group = int(node.this)
    if group < 0 or group > pattern.groups:
        raise invalid(f"Pattern has {pattern.groups} groups. Cannot access group {group}")
    return group


def _replacement(java: str, groups: int) -> str:
    """Java's replacement text in RE2's spelling: ``$n`` names group n (``\\n``).

    As in Java, the first digit after ``$`` is the group, and each next digit joins it while the number
    still names a group. RE2 reads one digit after the backslash, so groups past 9 are refused.
    """
    out, i = [], 0
    while i < len(java):
        char = java[i]
        if char == "\\":
            raise refuse(f"regexp_replace() replacement {java!r} with a backslash")
        if char != "$":
            out.append(char)
            i += 1
            continue
        if i + 1 >= len(java) or not java[i + 1].isdigit():
            raise refuse(f"regexp_replace() replacement {java!r} with a $ not followed by a group number")
        number, i = int(java[i + 1]), i + 2
        if number > groups:
            raise invalid(f"Illegal group reference: group {number} does not exist")
        while i < len(java) and java[i].isdigit() and number * 10 + int(java[i]) <= groups:
            number, i = number * 10 + int(java[i]), i + 1
        if number > 9:
            raise refuse(f"regexp_replace() replacement {java!r} naming group {number}")
        out.append(f"\\{number}")
    return "".join(out)
