"""Athena (engine v3, Trino) SQL to DuckDB SQL, keeping Athena's meaning or refusing the query.

The query is parsed by sqlglot with ``read="trino"``; every node is typed with Trino's rules
(integer literals are ``integer``, ``2.5`` is ``decimal(2,1)``, ``integer / integer`` is an integer,
``avg(bigint)`` is ``double``, ...) from the catalog schema, and rewritten so that DuckDB computes the
same value with the same type. What this module cannot make DuckDB compute exactly as Trino does is
refused with :class:`~etl.errors.QueryRefusedError`: the allow-list below is the contract, anything
else (unknown functions, DDL/DML, ``at_timezone``, ...) is refused. Queries Athena itself would
reject (unknown columns, ``varchar = integer``, ...) raise :class:`~etl.errors.QueryError`.

Rewrites, each measured against DuckDB 1.4 (see tests/athena_corpus for the cases):

* ``integer / integer`` truncates toward zero and fails on zero (DuckDB ``/`` gives a double,
  ``//`` gives NULL on zero); ``%`` likewise fails on zero.
* decimal ``/`` is exact with Trino's result type and HALF_UP rounding (DuckDB gives a double);
  ``+ - *`` are computed in DECIMAL(38, s) and cast to Trino's result type.
* ``CAST(x AS DECIMAL)`` is ``decimal(38,0)`` (DuckDB: 18,3); double to decimal goes through the
  shortest decimal string like Java's ``BigDecimal.valueOf``; double to integer rounds half away from
  zero (DuckDB: half to even).
* ``sum`` of integers is ``bigint`` (DuckDB: HUGEINT); ``avg`` of a decimal is that decimal;
  ``count_if`` is ``bigint``.
* ``date_trunc`` keeps the argument's type (DuckDB returns DATE for a timestamp truncated to a day or
  more); ``date_add`` on a DATE is a DATE (DuckDB: TIMESTAMP); ``date_diff`` counts whole units.
* ``round(double, d)`` follows Trino's ``Math.round``-based formula; ``round(decimal)`` keeps Trino's
  result type; ``ceil``/``floor``/``truncate``/``sign`` keep Trino's result types.
* ``substr`` with a start of 0 or before the string is empty, as in Trino; ``trim`` removes Java
  whitespace (DuckDB: spaces only); ``concat`` is NULL when an argument is NULL (DuckDB skips NULLs);
  ``greatest``/``least`` are NULL when an argument is NULL; ``upper('ß')`` is refused at run time.
* comparisons of doubles treat NaN as Trino does (never equal, never ordered).
* ORDER BY puts NULLs last in both directions; output columns get Trino's names (``_col0``, ...).

The translator is split by family (``etl.athena.functions``) over a core (``core``, ``queries``,
``expressions``); this module is its public face.
"""

from etl.athena.macros import MACROS
from etl.athena.parameters import parameter_from_literal
from etl.athena.results import SqlType, common_super_type, decimal_type, sql_type_of_glue, timestamp_type
from etl.athena.statements import statement_kind
from etl.athena.translation import OutputColumn, Translation
from etl.athena.translator import Translator

__all__ = [
    "MACROS", "OutputColumn", "SqlType", "Translation", "Translator", "common_super_type", "decimal_type",
    "parameter_from_literal", "sql_type_of_glue", "statement_kind", "timestamp_type",
]
