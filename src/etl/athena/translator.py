"""The translator: one class made of the families' mixins, and the table from node type to handler."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from etl.athena.expressions import Expressions
from etl.athena.functions.aggregates import Aggregates
from etl.athena.functions.array_builders import ArrayBuilderFunctions
from etl.athena.functions.array_lambdas import ArrayLambdaFunctions
from etl.athena.functions.array_sets import ArraySetFunctions
from etl.athena.functions.arrays import ArrayFunctions
from etl.athena.functions.casts import Casts
from etl.athena.functions.conditionals import ConditionalFunctions
from etl.athena.functions.datetimes import DatetimeFunctions
from etl.athena.functions.json import JsonFunctions
from etl.athena.functions.map_text import MapTextFunctions
from etl.athena.functions.maps import MapFunctions
from etl.athena.functions.math import MathFunctions
from etl.athena.functions.numeric import NumericFunctions
from etl.athena.functions.regexps import RegexpFunctions
from etl.athena.functions.strings import StringFunctions
from etl.athena.queries import Queries
from etl.athena.results import sql_type_of_glue
from etl.athena.translation import OutputColumn, TableVersion, Typed, _Ctx


class Translator(
    Queries, JsonFunctions, Expressions, Casts, NumericFunctions, StringFunctions, RegexpFunctions, DatetimeFunctions,
    Aggregates, ConditionalFunctions, MathFunctions, ArrayFunctions, ArrayLambdaFunctions, ArraySetFunctions,
    ArrayBuilderFunctions, MapFunctions, MapTextFunctions,
):
    """Translates one Athena query to DuckDB SQL over views named ``"<database>"."<table>"``.

    Each family of SQL constructs is a mixin of its own module; this class holds the query's state
    and the table of which node type each family translates.
    """

    def __init__(
        self, tables: Mapping[tuple[str, str], Sequence[tuple[str, str]]], default_database: str
    ) -> None:
        self._tables = {
            (db.lower(), name.lower()): [OutputColumn(c.lower(), sql_type_of_glue(t), t) for c, t in columns]
            for (db, name), columns in tables.items()
        }
        self._default_database = default_database.lower()
        self._parameters: list[Any] = []
        self._bound: list[Any] = []
        self._placeholders = 0
        self._used: list[tuple[str, str]] = []
        self._versions: list[TableVersion] = []
        self._typed_literals: set[int] = set()
        self._source_sql = ""
        self._aliases = 0
        self._handlers: dict[type, Callable[[Any, _Ctx], Typed]] = {}
        self._named_handlers: dict[str, Callable[[Any, _Ctx], Typed]] = {}
        families = (
            self._expression_handlers(), self._cast_handlers(), self._numeric_handlers(), self._string_handlers(),
            self._regexp_handlers(), self._datetime_handlers(), self._aggregate_handlers(),
            self._json_handlers(), self._conditional_handlers(), self._math_handlers(), self._array_handlers(),
            self._array_lambda_handlers(), self._array_set_handlers(), self._array_builder_handlers(),
            self._map_handlers(), self._map_text_handlers(),
        )
        for family in families:
            for construct, handler in family.items():
                if isinstance(construct, str):
                    self._named_handlers[construct] = handler
                else:
                    self._handlers[construct] = handler

