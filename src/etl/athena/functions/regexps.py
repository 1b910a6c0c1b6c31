"""Regular expression functions: regexp_like, regexp_extract, regexp_extract_all, regexp_replace,
regexp_count, regexp_position, regexp_split.

Trino matches with Java's pattern syntax (through the Joni library); DuckDB with RE2. The two agree on
a common core, and only that core is translated: characters, ``.``, classes of characters and ranges,
``\\d \\w \\s`` (and their negations; ``\\s`` is spelled out, as RE2's leaves out the vertical tab),
escaped metacharacters, groups ``( )``, ``(?: )`` and named ``(?<name> )``, alternation, greedy and lazy
quantifiers, ``^``, ``$``, ``\\b`` and ``\\B``. Anything else (look-around, back references, flags,
possessive quantifiers, Unicode classes, ``\\Q…\\E``) is refused when the query is translated. A pattern
from a column or a parameter is translated the same way when the query runs (``regexp_udfs``).

The functions that step from match to match (count, extract_all, split, replace, position) run on
DuckDB where its loop finds Trino's matches: a literal pattern that cannot match the empty string.
Otherwise (a pattern that can, one from a column, a replacement in Java's syntax that RE2 cannot
spell, a start or an occurrence) they run as Trino's loop in Python (``regexp_udfs``).

Where the engines still differ the query is refused when it runs: text holding a line terminator
when the pattern has ``.`` or ``$`` (Java and Joni treat ``\\r``, U+0085, U+2028 and U+2029 as line
ends where RE2 sees only ``\\n``); text that is not ASCII when the pattern has ``\\b`` or ``\\B`` (Joni's
word characters are Unicode, RE2's ASCII); a group of ``regexp_extract`` that took no part in the match
(Trino: NULL, DuckDB: ''; in ``regexp_extract_all`` both give NULL). A pattern with unbalanced
parentheses is an error, as in Trino.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlglot import exp

from etl.athena.core import TranslatorCore
from etl.athena.results import BIGINT, BOOLEAN, INTEGER, UNKNOWN, VARCHAR, array_type
from etl.athena.translation import Handlers, Typed, _call, _Ctx, _string, invalid, refuse

_SPACE_CLASS = " \\t\\n\\x0B\\f\\r"  # Java's \s; RE2's has no \x0B
_SAME_IN_BOTH = set("dDwW")  # ASCII classes in both engines
_CONTROL_ESCAPES = set("tnrf")
_METACHARACTERS = set("\\.[](){}*+?|^$-/")
_GROUP_NAME = re.compile(r"\(\?<([a-zA-Z][a-zA-Z0-9]*)>")  # Java's group names: a letter, then letters and digits


@dataclass(frozen=True)
class Pattern:
    """A Java pattern rewritten for RE2, with what the runtime guards need to know."""

    re2: str
    groups: int
    needs_single_line_text: bool  # has . or $: text with a line terminator other than a final \n is refused
    needs_ascii_text: bool = False  # has \b or \B: RE2's word characters are ASCII, Joni's Unicode

    @property
    def guarded(self) -> bool:
        return self.needs_single_line_text or self.needs_ascii_text


@dataclass(frozen=True)
class _Match:
    """A regexp function's text and pattern as the translated SQL uses them."""

    text: Typed  # the text, guarded against line terminators where the pattern needs it
    pattern: Pattern | None  # the parsed pattern; None for one that comes from a column or parameter
    re2: exp.Expr  # the pattern in RE2's spelling (a literal, or its translation when the query runs)
    java: exp.Expr  # the pattern as written (Java's syntax)
    raw: Typed  # the text unguarded, for the Python functions (they guard it themselves)

    @property
    def raw_text(self) -> exp.Expr:
        return self.raw.node.copy()

    @property
    def steps_in_duckdb(self) -> bool:
        """Whether DuckDB's functions that go from match to match give Trino's matches: for a literal
        pattern that cannot match the empty string (then both step to the end of each match). For this
        subset of the syntax a pattern can match empty somewhere only if it matches the empty text."""
        return self.pattern is not None and re.search(self.pattern.re2, "") is None


def translate_pattern(java: str) -> Pattern:
    """The RE2 spelling of ``java``, or a refusal naming the construct RE2 would read differently."""
    out: list[str] = []
    groups, single_line, ascii_text, i = 0, False, False, 0
    after_atom, depth = False, 0
    while i < len(java):
        char = java[i]
        if java.startswith(("\\b", "\\B"), i):
            # A word boundary: the engines agree on ASCII text, so other text is refused when the query runs
            out.append(java[i:i + 2])
            ascii_text, after_atom, i = True, False, i + 2
            continue
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
            named = _GROUP_NAME.match(java, i)
            if java.startswith("(?:", i):
                out.append("(?:")
                i += 3
            elif named:  # Java's (?<name>...), spelled (?P<name>...) for RE2 and Python
                groups += 1
                out.append(f"(?P<{named.group(1)}>")
                i = named.end()
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
    return Pattern("".join(out), groups, single_line, ascii_text)


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
    """regexp_like, regexp_extract(_all), regexp_replace, regexp_count, regexp_position and regexp_split."""

    def _regexp_handlers(self) -> Handlers:
        return {
            exp.RegexpLike: self._regexp_like, exp.RegexpExtract: self._regexp_extract,
            exp.RegexpReplace: self._regexp_replace, exp.RegexpCount: self._regexp_count,
            "regexp_position": self._regexp_position,
            exp.RegexpExtractAll: self._regexp_extract_all, exp.RegexpSplit: self._regexp_split,
        }

    def _regexp_args(
        self, text_node: exp.Expr, pattern_node: exp.Expr, ctx: _Ctx, name: str, *, group: int = 0
    ) -> _Match:
        """The text (guarded where needed), the pattern parsed (literals only) and in RE2's spelling.

        ``group``: the group the function returns, which the pattern must have. A pattern from a column
        or parameter is translated when the query runs, for the rows whose text is not NULL (Trino never
        looks at the pattern of such a row).
        """
        text = self._text_arg(text_node, ctx, name)
        if isinstance(pattern_node, exp.Literal) and pattern_node.is_string:
            pattern = translate_pattern(pattern_node.this)
            if group < 0:
                raise invalid("Group cannot be negative")
            if group > pattern.groups:
                raise invalid(f"Pattern has {pattern.groups} groups. Cannot access group {group}")
            subject = text.node
            if pattern.guarded:
                subject = _call("trino_regexp_text", subject, _string(pattern_node.this), _string(name))
            return _Match(Typed(subject, VARCHAR), pattern, _string(pattern.re2), _string(pattern_node.this), text)
        java = self._expr(pattern_node, ctx)
        if java.type not in (VARCHAR, UNKNOWN):
            raise invalid(f"{name}() needs a varchar pattern, not {java.type}")
        java = self._coerce(java, VARCHAR)
        translated = _call("trino_regexp_to_re2", java.node, exp.Literal.number(group))
        re2 = exp.Case(ifs=[exp.If(this=exp.Is(this=text.node.copy(), expression=exp.Null()), true=exp.Null())],
                       default=translated)
        subject = _call("trino_regexp_text", text.node, java.node.copy(), _string(name))
        return _Match(Typed(subject, VARCHAR), None, re2, java.node.copy(), text)

    def _regexp_like(self, node: exp.RegexpLike, ctx: _Ctx) -> Typed:
        self._check_args(node, {"this", "expression"})
        match = self._regexp_args(node.this, node.expression, ctx, "regexp_like")
        return Typed(_call("regexp_matches", match.text.node, match.re2), BOOLEAN)

    def _regexp_extract(self, node: exp.RegexpExtract, ctx: _Ctx) -> Typed:
        self._check_args(node, {"this", "expression", "group", "null_if_pos_overflow"})
        group = _group(node.args.get("group"), "regexp_extract")
        match = self._regexp_args(node.this, node.expression, ctx, "regexp_extract", group=group)
        return Typed(_call("trino_regexp_extract", match.text.node, match.re2, exp.Literal.number(group)), VARCHAR)

    def _regexp_extract_all(self, node: exp.RegexpExtractAll, ctx: _Ctx) -> Typed:
        """Every match (or its group); a group that took no part in a match is NULL in both engines."""
        self._check_args(node, {"this", "expression", "group"})
        group = _group(node.args.get("group"), "regexp_extract_all")
        match = self._regexp_args(node.this, node.expression, ctx, "regexp_extract_all", group=group)
        number = exp.Literal.number(group)
        if match.steps_in_duckdb:
            return Typed(_call("regexp_extract_all", match.text.node, match.re2, number), array_type(VARCHAR))
        return Typed(_call("trino_regexp_extract_all_java", match.raw_text, match.java, number), array_type(VARCHAR))

    def _regexp_split(self, node: exp.RegexpSplit, ctx: _Ctx) -> Typed:
        """The pieces between matches; both engines keep leading and trailing empty pieces."""
        self._check_args(node, {"this", "expression"})
        match = self._regexp_args(node.this, node.expression, ctx, "regexp_split")
        if match.steps_in_duckdb:
            return Typed(_call("regexp_split_to_array", match.text.node, match.re2), array_type(VARCHAR))
        return Typed(_call("trino_regexp_split_java", match.raw_text, match.java), array_type(VARCHAR))

    def _regexp_replace(self, node: exp.RegexpReplace, ctx: _Ctx) -> Typed:
        self._check_args(node, {"this", "expression", "replacement"})
        match = self._regexp_args(node.this, node.expression, ctx, "regexp_replace")
        replacement_node = node.args.get("replacement")
        if isinstance(replacement_node, exp.Lambda):
            raise refuse("regexp_replace() with a function as the replacement")
        if replacement_node is None:
            replacement_node = exp.Literal.string("")
        if match.steps_in_duckdb and isinstance(replacement_node, exp.Literal) and replacement_node.is_string:
            assert match.pattern is not None  # steps_in_duckdb holds for literal patterns only
            re2_replacement = replacement_for_re2(replacement_node.this, match.pattern.groups)
            if re2_replacement is not None:
                return Typed(_call("trino_regexp_replace", match.text.node, match.re2, _string(re2_replacement)),
                             VARCHAR)
        replacement = self._text_arg(replacement_node, ctx, "regexp_replace")
        return Typed(_call("trino_regexp_replace_java", match.raw_text, match.java, replacement.node), VARCHAR)

    def _regexp_count(self, node: exp.RegexpCount, ctx: _Ctx) -> Typed:
        self._check_args(node, {"this", "expression"})
        match = self._regexp_args(node.this, node.expression, ctx, "regexp_count")
        if match.steps_in_duckdb:
            return Typed(_call("trino_regexp_count", match.text.node, match.re2), BIGINT)
        return Typed(_call("trino_regexp_count_java", match.raw_text, match.java), BIGINT)

    def _regexp_position(self, node: exp.Anonymous, ctx: _Ctx) -> Typed:
        """regexp_position(text, pattern [, start [, occurrence]]): the 1-based character position, or -1."""
        if not 2 <= len(node.expressions) <= 4:
            raise invalid("regexp_position() takes a text, a pattern, and optionally a start and an occurrence")
        text_node, pattern_node, *rest = node.expressions
        match = self._regexp_args(text_node, pattern_node, ctx, "regexp_position")
        if match.steps_in_duckdb and not rest:
            return Typed(_call("trino_regexp_position", match.text.node, match.re2), INTEGER)
        defaults = [exp.Literal.number(1)] * (2 - len(rest))  # start 1, the first occurrence
        start, occurrence = (self._integer_arg(arg, ctx, "regexp_position").node for arg in [*rest, *defaults])
        return Typed(_call("trino_regexp_position_java", match.raw_text, match.java, start, occurrence), INTEGER)


def _group(node: exp.Expr | None, name: str) -> int:
    """The group a regexp_extract function returns: 0 (the whole match) unless an integer literal names one."""
    if node is None:
        return 0
    negative = isinstance(node, exp.Neg)
    literal = node.this if negative else node
    if not (isinstance(literal, exp.Literal) and literal.is_int):
        raise refuse(f"{name}() with a group that is not an integer literal")
    return -int(literal.this) if negative else int(literal.this)


def replacement_for_re2(java: str, groups: int) -> str | None:
    """Java's replacement text in RE2's spelling (``$n`` -> ``\\n``), or None where RE2 cannot say it.

    As in Trino, the first digit after ``$`` is the group, and each next digit joins it while the number
    still names a group. RE2 reads one digit after the backslash, so groups past 9, a backslash, a
    ``$`` without a group and a group the pattern does not have (an error only where a match is
    replaced) are left to the Python function that follows Trino (regexp_udfs).
    """
    out, i = [], 0
    while i < len(java):
        char = java[i]
        if char == "\\":
            return None
        if char != "$":
            out.append(char)
            i += 1
            continue
        if i + 1 >= len(java) or not java[i + 1].isdigit():
            return None
        number, i = int(java[i + 1]), i + 2
        if number > groups:  # Trino fails on it only when a match is replaced
            return None
        while i < len(java) and java[i].isdigit() and number * 10 + int(java[i]) <= groups:
            number, i = number * 10 + int(java[i]), i + 1
        if number > 9:
            return None
        out.append(f"\\{number}")
    return "".join(out)
