"""String functions: length, lower, upper, trim, substr, replace, strpos, concat, starts_with."""

from __future__ import annotations

from sqlglot import exp

from etl.athena.core import TranslatorCore
from etl.athena.results import BIGINT, BOOLEAN, VARCHAR
from etl.athena.translation import Typed, _call, _Ctx, _string, invalid, refuse


class StringFunctions(TranslatorCore):
    """String functions as Trino computes them."""

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
        if isinstance(search.node, exp.Literal) and search.node.this == "":
            raise refuse(
                "replace() with an empty search string", "Trino inserts the replacement between characters"
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
        typed = [self._text_arg(p, ctx, "concat") for p in parts]
        joined = typed[0].node
        for part in typed[1:]:
            joined = exp.DPipe(this=joined, expression=part.node, safe=False)
        return Typed(exp.Paren(this=joined), VARCHAR)

    def _starts_with(self, node: exp.StartsWith, ctx: _Ctx) -> Typed:
        value = self._text_arg(node.this, ctx, "starts_with")
        prefix = self._text_arg(node.expression, ctx, "starts_with")
        return Typed(_call("starts_with", value.node, prefix.node), BOOLEAN)

