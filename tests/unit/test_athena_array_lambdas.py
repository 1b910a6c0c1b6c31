"""Array lambdas and set functions: values over several rows, parameters inside lambdas, and the queries
that must fail rather than risk Trino's unpinned answers (NaN, -0.0)."""

from __future__ import annotations

import pytest

from etl.athena.local import LocalAthena
from etl.athena.results import render_value
from etl.errors import QueryError
from etl.glue.catalog import Catalog


@pytest.fixture(scope="module")
def athena(tmp_path_factory) -> LocalAthena:
    catalog = Catalog(tmp_path_factory.mktemp("array_lambdas") / "catalog.duckdb")
    catalog.create_database("etl")
    return LocalAthena(catalog, database="etl")


def column(athena: LocalAthena, sql: str, parameters=None) -> tuple[list[str | None], str]:
    result = athena.execute(sql, parameters=parameters)
    return [render_value(row[0], result.types[0]) for row in result.rows], result.types[0]


@pytest.mark.parametrize(
    ("sql", "values", "type_name"),
    [
        # the lambda reads each row's own column
        ("SELECT transform(a, x -> x * k) FROM (VALUES (ARRAY[1, 2], 2), (ARRAY[3], 10)) t(a, k)",
         ["[2, 4]", "[30]"], "array(integer)"),
        ("SELECT any_match(a, x -> x > 2) FROM (VALUES ARRAY[1, NULL], ARRAY[3, NULL], ARRAY[1], NULL) t(a)",
         [None, "true", "false", None], "boolean"),
        ("SELECT array_intersect(a, b) FROM (VALUES (ARRAY[1, 2, 3], ARRAY[3, 1]), (ARRAY[3, 1], ARRAY[1, 2, 3]))"
         " t(a, b)", ["[1, 3]", "[1, 3]"], "array(integer)"),
        ("SELECT array_except(a, b) FROM (VALUES (ARRAY[1, 1], NULL), (NULL, ARRAY[1])) t(a, b)",
         [None, None], "array(integer)"),
    ],
)
def test_values_per_row(athena, sql, values, type_name):
    assert column(athena, sql) == (values, type_name)


def test_reduce_widening_its_state_binds_a_parameter_once(athena):
    # the input function is translated twice (integer state, then bigint): its ? must stay parameter 1
    sql = "SELECT reduce(ARRAY[BIGINT '1', 2], 0, (s, x) -> s + x * ?, s -> s + ?)"
    assert column(athena, sql, parameters=[10, 5]) == (["35"], "bigint")


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT array_distinct(ARRAY[nan(), 1.0E0])",
        "SELECT array_union(ARRAY[-0.0E0], ARRAY[0.0E0])",
        "SELECT arrays_overlap(ARRAY[1.0E0], ARRAY[nan()])",
    ],
)
def test_nan_and_negative_zero_fail_the_query(athena, sql):
    with pytest.raises(QueryError, match="run this query on Athena"):
        athena.execute(sql)


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT sequence(1, 5, 0)", "step must not be zero"),
        ("SELECT sequence(1, 5, -1)", "stop value should be greater than or equal to start value"),
        ("SELECT sequence(0, 10000)", "must not have more than 10000 entries"),
        ("SELECT repeat('x', 100001)", "must be at most 100000"),
    ],
)
def test_trino_failures_are_failures(athena, sql, message):
    with pytest.raises(QueryError, match=message):
        athena.execute(sql)
