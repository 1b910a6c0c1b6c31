"""String functions: length, lower, upper, trim, substr, replace, strpos, concat, concat_ws, starts_with,
lpad, rpad, split_part, translate, reverse, chr, codepoint, levenshtein_distance and hamming_distance.

DuckDB's functions of the same names differ from Trino's at the edges, so most go through a macro
(``etl.athena.macros``) that gives Trino's answer or error there: ``split_part`` past the last part is
NULL (DuckDB: ''), ``lpad`` with an empty padding string is an error. Where DuckDB counts bytes or
graphemes and Trino code points (``reverse``, the two distances), text that is not ASCII is refused
when the query runs.
"""

from __future__ import annotations

from sqlglot import exp

from etl.athena.core import TranslatorCore
from etl.athena.functions.arrays import concat_arrays
from etl.athena.results import BIGINT, BOOLEAN, INTEGER, UNKNOWN, VARCHAR
from etl.athena.translation import Handlers, Typed, _call, _case, _cast, _Ctx, _is_null, _string, invalid, refuse


class StringFunctions(TranslatorCore):
    """String functions as Trino computes them."""

    def _string_handlers(self) -> Handlers:
        return {
            exp.Length: self._length, exp.Lower: self._lower_upper, exp.Upper: self._lower_upper,
            exp.Trim: self._trim, exp.Substring: self._substring, exp.Replace: self._replace,
            exp.StrPosition: self._strpos, exp.Concat: self._concat, exp.DPipe: self._concat,
            exp.StartsWith: self._starts_with, exp.ConcatWs: self._concat_ws, exp.Pad: self._pad,
            exp.SplitPart: self._split_part, exp.Translate: self._translate, exp.Reverse: self._reverse,
            exp.Chr: self._chr, exp.Levenshtein: self._levenshtein,
            "codepoint": self._codepoint, "hamming_distance": self._hamming_distance,
        }

    def _length(self, node: exp.Length, ctx: _Ctx) -> Typed:
        self._check_args(node, {"this"})
        return Typed(_call("length", self._text_arg(node.this, ctx, "length").node), BIGINT)

    def _lower_upper(self, node: exp.Lower | exp.Upper, ctx: _Ctx) -> Typed:
        name = "lower" if isinstance(node, exp.Lower) else "upper"
        return Typed(
            _call("lower" if name == "lower" else "trino_upper", self._text_arg(node.this, ctx, name).node),
            VARCHAR,
        )

    def _trim(self, node: exp.Trim, ctx: _Ctx) -> Typed:
        self._check_args(node, {"this", "position", "expression"})
        value = self._text_arg(node.this, ctx, "trim")
        position = (node.args.get("position") or "BOTH").upper()
        chars = node.args.get("expression")
        names = {"BOTH": "trim", "LEADING": "ltrim", "TRAILING": "rtrim"}
        if chars is None:
            return Typed(_call("trino_" + names[position], value.node), VARCHAR)
        characters = self._text_arg(chars, ctx, "trim")
        return Typed(_call(names[position], value.node, characters.node), VARCHAR)

    def _substring(self, node: exp.Substring, ctx: _Ctx) -> Typed:
        self._check_args(node, {"this", "start", "length"})
        value = self._text_arg(node.this, ctx, "substr")
        if node.args.get("start") is None:
            raise invalid("substr() needs a start position")
        start = self._integer_arg(node.args["start"], ctx, "substr")
        if node.args.get("length") is None:
            return Typed(_call("trino_substr_from", value.node, start.node), VARCHAR)
        length = self._integer_arg(node.args["length"], ctx, "substr")
        return Typed(_call("trino_substr", value.node, start.node, length.node), VARCHAR)

    def _replace(self, node: exp.Replace, ctx: _Ctx) -> Typed:
        value = self._text_arg(node.this, ctx, "replace")
        search = self._text_arg(node.expression, ctx, "replace")
        replacement_node = node.args.get("replacement")
        replacement = (
            self._text_arg(replacement_node, ctx, "replace")
            if replacement_node is not None
            else Typed(_string(""), VARCHAR)
        )
        return Typed(_call("trino_replace", value.node, search.node, replacement.node), VARCHAR)

    def _strpos(self, node: exp.StrPosition, ctx: _Ctx) -> Typed:
        self._check_args(node, {"this", "substr"})
        value = self._text_arg(node.this, ctx, "strpos")
        part = self._text_arg(node.args["substr"], ctx, "strpos")
        return Typed(_call("strpos", value.node, part.node), BIGINT)

    def _concat(self, node: exp.Concat | exp.DPipe, ctx: _Ctx) -> Typed:
        parts = [node.this, node.expression] if isinstance(node, exp.DPipe) else node.expressions
        if len(parts) < 2:
            raise invalid("concat() needs two or more arguments")
        typed = [self._expr(p, ctx) for p in parts]
        if any(t.type.is_array for t in typed):
            return concat_arrays(self, typed)
        for t in typed:
            if t.type not in (VARCHAR, UNKNOWN):
                raise invalid(f"concat() needs varchar, not {t.type}")
        typed = [self._coerce(t, VARCHAR) for t in typed]
        joined = typed[0].node
        for part in typed[1:]:
            joined = exp.DPipe(this=joined, expression=part.node, safe=False)
        return Typed(exp.Paren(this=joined), VARCHAR)

    def _concat_ws(self, node: exp.ConcatWs, ctx: _Ctx) -> Typed:
        # sqlglot marks Trino's concat_ws as skipping NULLs ("coalesce"), as DuckDB's does
        self._check_args(node, {"expressions", "coalesce"})
        if len(node.expressions) < 2:
            raise refuse("concat_ws() without a string to join")
        if len(node.expressions) == 2:
            items = self._expr(node.expressions[1], ctx)
            if items.type.is_array:
                return self._concat_ws_array(self._text_arg(node.expressions[0], ctx, "concat_ws"), items)
            parts = [self._text_arg(node.expressions[0], ctx, "concat_ws"), self._coerce_text(items, "concat_ws")]
        else:
            parts = [self._text_arg(part, ctx, "concat_ws") for part in node.expressions]
        return Typed(_call("concat_ws", *(t.node for t in parts)), VARCHAR)  # NULL strings are skipped in both

    def _coerce_text(self, typed: Typed, name: str) -> Typed:
        if typed.type not in (VARCHAR, UNKNOWN):
            raise invalid(f"{name}() needs varchar, not {typed.type}")
        return self._coerce(typed, VARCHAR)

    def _concat_ws_array(self, separator: Typed, items: Typed) -> Typed:
        """concat_ws(separator, array(varchar)): the elements joined, NULL elements skipped; NULL if either is NULL."""
        if items.type.element not in (VARCHAR, UNKNOWN):
            raise invalid(f"concat_ws() needs array(varchar), not {items.type}")
        kept = exp.Lambda(this=exp.Not(this=exp.Is(this=exp.column("_e"), expression=exp.Null())),
                          expressions=[exp.to_identifier("_e")])
        present = _call("list_filter", _cast(items.node, "VARCHAR[]"), kept)
        joined = _call("list_reduce", present, exp.Lambda(
            this=exp.DPipe(this=exp.DPipe(this=exp.column("_a"), expression=separator.node.copy()),
                           expression=exp.column("_b")),
            expressions=[exp.to_identifier("_a"), exp.to_identifier("_b")]))
        empty = exp.EQ(this=_call("len", present.copy()), expression=exp.Literal.number(0))
        case = _case((_is_null(separator.node, items.node), exp.Null()), (empty, _string("")), default=joined)
        return Typed(_cast(case, "VARCHAR"), VARCHAR)

    def _pad(self, node: exp.Pad, ctx: _Ctx) -> Typed:
        self._check_args(node, {"this", "expression", "fill_pattern", "is_left"})
        name = "lpad" if node.args.get("is_left") else "rpad"
        if node.args.get("fill_pattern") is None:
            raise invalid(f"{name}() needs a string, a length and a padding string")
        value = self._text_arg(node.this, ctx, name)
        size = self._integer_arg(node.expression, ctx, name)
        padding = self._text_arg(node.args["fill_pattern"], ctx, name)
        return Typed(_call(f"trino_{name}", value.node, size.node, padding.node), VARCHAR)

    def _split_part(self, node: exp.SplitPart, ctx: _Ctx) -> Typed:
        self._check_args(node, {"this", "delimiter", "part_index"})
        value = self._text_arg(node.this, ctx, "split_part")
        delimiter = self._text_arg(node.args["delimiter"], ctx, "split_part")
        index = self._integer_arg(node.args["part_index"], ctx, "split_part")
        return Typed(_call("trino_split_part", value.node, delimiter.node, index.node), VARCHAR)

    def _translate(self, node: exp.Translate, ctx: _Ctx) -> Typed:
        self._check_args(node, {"this", "from_", "to"})
        if node.args.get("from_") is None or node.args.get("to") is None:
            raise invalid("translate() needs a string, the characters to replace and their replacements")
        parts = [self._text_arg(node.args[key], ctx, "translate") for key in ("this", "from_", "to")]
        return Typed(_call("trino_translate", *(part.node for part in parts)), VARCHAR)

    def _reverse(self, node: exp.Reverse, ctx: _Ctx) -> Typed:
        """reverse() of a string (code points), or of an array (its elements in reverse order)."""
        self._check_args(node, {"this"})
        value = self._expr(node.this, ctx)
        if value.type.is_array:  # reverse(array) reverses the elements; NULL stays NULL in both engines
            return Typed(_cast(_call("list_reverse", value.node), value.type.duck), value.type)
        if value.type not in (VARCHAR, UNKNOWN):
            raise invalid(f"reverse() needs varchar or an array, not {value.type}")
        return Typed(_call("trino_reverse", self._coerce(value, VARCHAR).node), VARCHAR)

    def _chr(self, node: exp.Chr, ctx: _Ctx) -> Typed:
        self._check_args(node, {"expressions"})
        if len(node.expressions) != 1:
            raise invalid("chr() takes one code point")
        return Typed(_call("trino_chr", self._integer_arg(node.expressions[0], ctx, "chr").node), VARCHAR)

    def _codepoint(self, node: exp.Anonymous, ctx: _Ctx) -> Typed:
        if len(node.expressions) != 1:
            raise invalid("codepoint() takes one character")
        value = self._text_arg(node.expressions[0], ctx, "codepoint")
        return Typed(_call("trino_codepoint", value.node), INTEGER)

    def _levenshtein(self, node: exp.Levenshtein, ctx: _Ctx) -> Typed:
        self._check_args(node, {"this", "expression"})
        left = self._text_arg(node.this, ctx, "levenshtein_distance")
        right = self._text_arg(node.expression, ctx, "levenshtein_distance")
        return Typed(_call("trino_levenshtein", left.node, right.node), BIGINT)

    def _hamming_distance(self, node: exp.Anonymous, ctx: _Ctx) -> Typed:
        if len(node.expressions) != 2:
            raise invalid("hamming_distance() takes two strings")
        left, right = (self._text_arg(part, ctx, "hamming_distance") for part in node.expressions)
        return Typed(_call("trino_hamming", left.node, right.node), BIGINT)

    def _starts_with(self, node: exp.StartsWith, ctx: _Ctx) -> Typed:
        value = self._text_arg(node.this, ctx, "starts_with")
        prefix = self._text_arg(node.expression, ctx, "starts_with")
        return Typed(_call("starts_with", value.node, prefix.node), BOOLEAN)

