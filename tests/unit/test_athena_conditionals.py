"""try() and TRY_CAST: NULL exactly where Trino's evaluation fails, and nothing else swallowed."""

from __future__ import annotations

import pytest

from etl.athena.local import LocalAthena
from etl.athena.results import render_value
from etl.errors import QueryRefusedError
from etl.glue.catalog import Catalog


@pytest.fixture(scope="module")
def athena(tmp_path_factory) -> LocalAthena:
    catalog = Catalog(tmp_path_factory.mktemp("conditionals") / "catalog.duckdb")
    catalog.create_database("etl")
    return LocalAthena(catalog, database="etl")


def column(athena: LocalAthena, sql: str) -> tuple[list[str | None], str]:
    """The first column as Athena renders it, and its type."""
    result = athena.execute(sql)
    return [render_value(row[0], result.types[0]) for row in result.rows], result.types[0]


@pytest.mark.parametrize(
    ("sql", "values", "type_name"),
    [
        # the failing rows only: a macro's error branch (integer division) becomes NULL
        ("SELECT try(6 / y) FROM (VALUES 3, 0, -2) t(y)", ["2", None, "-3"], "integer"),
        ("SELECT try(6 % y) FROM (VALUES 4, 0) t(y)", ["2", None], "integer"),
        # DuckDB's own failures: overflow, an invalid date
        ("SELECT try(x * 2) FROM (VALUES BIGINT '9223372036854775807', 5) t(x)", [None, "10"], "bigint"),
        ("SELECT try(CAST(s AS DATE)) FROM (VALUES '2024-02-30', '2024-02-29') t(s)", [None, "2024-02-29"], "date"),
        ("SELECT TRY_CAST(s AS INTEGER) FROM (VALUES '12', 'twelve', '', '99999999999') t(s)",
         ["12", None, None, None], "integer"),
        ("SELECT TRY_CAST(x AS DECIMAL(3,1)) FROM (VALUES 12.25, 1234.5) t(x)", ["12.3", None], "decimal(3,1)"),
        ("SELECT try(NULL)", [None], "unknown"),
    ],
)
def test_try_is_null_only_where_trino_fails(athena, sql, values, type_name):
    assert column(athena, sql) == (values, type_name)


@pytest.mark.parametrize(
    "sql",
    [
        # a run-time refusal inside try() must not turn into NULL
        "SELECT try(upper(s)) FROM (VALUES 'strasse') t(s)",
        # text Trino may or may not read ('1.5' as an integer fails, ' 12' is unsure)
        "SELECT TRY_CAST(' 12' AS BIGINT)",
        "SELECT try(sum(x)) FROM (VALUES 1) t(x)",
    ],
)
def test_try_refuses_what_it_cannot_decide(athena, sql):
    with pytest.raises(QueryRefusedError):
        athena.execute(sql)


def test_try_cast_column_refuses_uncertain_text_at_run_time(athena):
    with pytest.raises(QueryRefusedError, match="TRY_CAST"):
        athena.execute("SELECT TRY_CAST(s AS BIGINT) FROM (VALUES '12', ' 12') t(s)")
