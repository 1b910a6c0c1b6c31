"""split_to_map and split_to_multimap: a string of entries split into a map of varchar.

Trino walks the string entry by entry: a trailing entry delimiter ends the string (no empty last entry),
each entry must hold the key-value delimiter exactly once, and split_to_map fails on a repeated key.
Trino builds the map in a hash map, so a map of several keys comes out in an order of its own (hash
order) that DuckDB cannot reproduce: such results are refused at run time; a map of one key is exact.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp

from etl.athena.core import TranslatorCore
from etl.athena.results import VARCHAR, array_type, map_type
from etl.athena.translation import Handlers, Typed, _cast, _Ctx, invalid

# The entries of string s (entry delimiter e, key-value delimiter k), as Trino reads them.
_ENTRIES = (
    "CASE WHEN s = '' THEN CAST([] AS VARCHAR[]) WHEN suffix(s, e) "
    "THEN list_slice(string_split(s, e), 1, len(string_split(s, e)) - 1) ELSE string_split(s, e) END"
)
_BAD = "list_filter(ENTRIES, p -> strpos(p, k) = 0 OR strpos(substr(p, strpos(p, k) + length(k)), k) > 0)"
_KEYS = "list_transform(ENTRIES, p -> substr(p, 1, strpos(p, k) - 1))"
_VALUES = "list_transform(ENTRIES, p -> substr(p, strpos(p, k) + length(k)))"
_CHECKS = (
    "CASE WHEN s IS NULL OR e IS NULL OR k IS NULL THEN NULL "
    "WHEN e = '' THEN error('entryDelimiter is empty') "
    "WHEN k = '' THEN error('keyValueDelimiter is empty') "
    "WHEN e = k THEN error('entryDelimiter and keyValueDelimiter must not be the same') "
    "WHEN len(BAD) > 0 THEN error('Key-value delimiter must appear exactly once in each entry. Bad input: ' "
    "|| BAD[1]) "
)
_ORDER = (
    "WHEN len(list_distinct(KEYS)) > 1 THEN error('refused locally: WHAT() of several keys: Trino gives "
    "them in its hash order; run this query on Athena') "
)
_SPLIT_TO_MAP = (
    _CHECKS + "WHEN len(list_distinct(KEYS)) < len(KEYS) THEN error('Duplicate keys are not allowed') "
    + _ORDER + "ELSE map(KEYS, VALUES) END"
)
_SPLIT_TO_MULTIMAP = (
    _CHECKS + _ORDER + "WHEN len(KEYS) = 0 THEN map() ELSE map([KEYS[1]], [VALUES]) END"
)


def _template(text: str, what: str) -> str:
    for name, part in (("BAD", _BAD), ("KEYS", _KEYS), ("VALUES", _VALUES), ("ENTRIES", _ENTRIES)):
        text = text.replace(name, part)
    return text.replace("WHAT", what)


class MapTextFunctions(TranslatorCore):
    """split_to_map and split_to_multimap as Trino computes them."""

    def _map_text_handlers(self) -> Handlers:
        return {exp.StrToMap: self._split_to_map, "split_to_multimap": self._split_to_multimap}

    def _split_parts(self, nodes: list[exp.Expr], ctx: _Ctx, name: str) -> dict[str, exp.Expr]:
        typed = [self._text_arg(node, ctx, name).node for node in nodes]
        return dict(zip(("s", "e", "k"), typed, strict=True))

    @staticmethod
    def _filled(template: str, parts: dict[str, exp.Expr]) -> exp.Expr:
        tree = sqlglot.parse_one(template, read="duckdb")

        def fill(node: exp.Expr) -> exp.Expr:
            if isinstance(node, exp.Column) and not node.table and node.name in parts:
                return exp.Paren(this=parts[node.name].copy())
            return node

        return tree.transform(fill)

    def _split_to_map(self, node: exp.StrToMap, ctx: _Ctx) -> Typed:
        self._check_args(node, {"this", "pair_delim", "key_value_delim"})
        if node.args.get("pair_delim") is None or node.args.get("key_value_delim") is None:
            raise invalid("split_to_map() takes three arguments")
        parts = self._split_parts(
            [node.this, node.args["pair_delim"], node.args["key_value_delim"]], ctx, "split_to_map"
        )
        result = map_type(VARCHAR, VARCHAR)
        return Typed(_cast(self._filled(_template(_SPLIT_TO_MAP, "split_to_map"), parts), result.duck), result)

    def _split_to_multimap(self, node: exp.Anonymous, ctx: _Ctx) -> Typed:
        if len(node.expressions) != 3:
            raise invalid("split_to_multimap() takes three arguments")
        parts = self._split_parts(list(node.expressions), ctx, "split_to_multimap")
        result = map_type(VARCHAR, array_type(VARCHAR))
        template = _template(_SPLIT_TO_MULTIMAP, "split_to_multimap")
        return Typed(_cast(self._filled(template, parts), result.duck), result)
