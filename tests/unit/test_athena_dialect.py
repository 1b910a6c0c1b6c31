"""Trino -> DuckDB rules of the local Athena: rewrites, refusals, parameters, result formatting.

The property tests compare the local engine with independent Python models of Trino's
implementation (integer division, HALF_UP decimals, BigDecimal.valueOf, Math.round, code point
substrings, Java whitespace), so they check the rewrites on many values, not a few examples.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, localcontext

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from etl.athena.dialect import (
    SqlType,
    Translator,
    common_super_type,
    decimal_type,
    parameter_from_literal,
    sql_type_of_glue,
    statement_kind,
    timestamp_type,
)
from etl.athena.local import LocalAthena
from etl.athena.results import (
    BIGINT,
    DATE,
    DOUBLE,
    INTEGER,
    TIMESTAMP,
    UNKNOWN,
    VARCHAR,
    QueryResult,
    column_info,
    java_double_to_string,
    render_value,
    to_get_query_results,
)
from etl.errors import QueryError, QueryRefusedError
from etl.glue.catalog import Catalog, Column, Table

PROPERTY = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
JAVA_WHITESPACE = "".join(
    chr(c)
    for c in (
        *range(0x09, 0x0E), *range(0x1C, 0x21), 0x1680, *range(0x2000, 0x2007), *range(0x2008, 0x200B),
        0x2028, 0x2029, 0x205F, 0x3000,
    )
)


@pytest.fixture(scope="module")
def athena(tmp_path_factory) -> LocalAthena:
    catalog = Catalog(tmp_path_factory.mktemp("dialect") / "catalog.duckdb")
    catalog.create_database("etl")
    return LocalAthena(catalog, database="etl")


def translate(sql: str, parameters=None) -> str:
    tables = {
        ("etl", "t"): [
            ("a", "bigint"), ("s", "string"), ("d", "decimal(10,2)"), ("x", "double"), ("day", "date"),
            ("ts", "timestamp"), ("tags", "array<string>"),
        ]
    }
    return Translator(tables, "etl").translate(sql, parameters).sql


def one(athena: LocalAthena, sql: str, parameters=None):
    result = athena.execute(sql, parameters=parameters)
    [row] = result.rows
    return row[0], result.types[0]


# --- types ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (INTEGER, BIGINT, BIGINT), (INTEGER, decimal_type(2, 1), decimal_type(11, 1)),
        (BIGINT, decimal_type(5, 2), decimal_type(21, 2)),
        (decimal_type(10, 2), decimal_type(5, 4), decimal_type(12, 4)), (decimal_type(5, 2), DOUBLE, DOUBLE),
        (DATE, TIMESTAMP, TIMESTAMP), (timestamp_type(0), timestamp_type(6), timestamp_type(6)),
        (UNKNOWN, VARCHAR, VARCHAR), (VARCHAR, INTEGER, None), (DATE, VARCHAR, None),
    ],
)
def test_common_super_type(a, b, expected):
    assert common_super_type(a, b) == expected
    assert common_super_type(b, a) == expected


def test_glue_types_map_to_athena_types():
    assert sql_type_of_glue("int") == INTEGER and sql_type_of_glue("string") == VARCHAR
    assert sql_type_of_glue("decimal(18,2)") == decimal_type(18, 2)
    assert str(sql_type_of_glue("timestamp")) == "timestamp"
    assert sql_type_of_glue("array<string>") is None and sql_type_of_glue("float") is None
    assert str(SqlType("timestamp", 0)) == "timestamp(0)"


# --- statements -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("sql", "kind"),
    [
        ("SELECT 1", "query"), ("  -- note\nWITH a AS (SELECT 1) SELECT * FROM a", "query"),
        ("VALUES 1", "query"), ("(SELECT 1)", "query"), ("SHOW TABLES", "show_tables"),
        ("describe t", "describe"),
    ],
)
def test_statement_kinds(sql, kind):
    assert statement_kind(sql) == kind


@pytest.mark.parametrize(
    ("sql", "construct"),
    [
        ("MSCK REPAIR TABLE t", "MSCK REPAIR TABLE"),
        (
            "CREATE TABLE x WITH (format = 'PARQUET', external_location = 's3://b/x') AS SELECT 1",
            "with WITH (...)",
        ),
        ("CREATE EXTERNAL TABLE x (a int) LOCATION 's3://b/'", "CREATE EXTERNAL TABLE"),
        ("UNLOAD (SELECT 1) TO 's3://b/' WITH (format = 'PARQUET')", "UNLOAD"),
        ("UPDATE t SET a = 1", "UPDATE"),
        ("MERGE INTO t USING u ON true WHEN MATCHED THEN DELETE", "MERGE"),
        ("SHOW COLUMNS IN t", "SHOW COLUMNS"),
        ("USE other", "USE"),
    ],
)
def test_ddl_dml_and_other_statements_are_refused(sql, construct):
    with pytest.raises(QueryRefusedError, match="run this query on Athena") as info:
        statement_kind(sql)
    assert construct in str(info.value)


# --- rewrites (the DuckDB SQL produced) -----------------------------------------------------------
def test_integer_division_and_modulo_use_the_trino_macros():
    sql = translate("SELECT a / 2, a % 2, x / 2 FROM t")
    assert "TRINO_IDIV" in sql and "TRINO_IMOD" in sql
    assert "CAST(2 AS BIGINT)" in sql  # the integer operand is widened to bigint first


def test_sum_of_integers_is_cast_to_bigint_and_order_by_keeps_nulls_last():
    sql = translate("SELECT sum(a) AS s FROM t ORDER BY s DESC")
    assert "CAST(SUM(" in sql and "AS BIGINT)" in sql
    assert sql.endswith("ORDER BY 1 DESC")


def test_parameters_are_bound_not_formatted():
    translation = Translator({}, "etl").translate("SELECT ? AS a, ? AS b", ["x'; DROP TABLE t; --", 5])
    assert "$1" in translation.sql and "$2" in translation.sql and "DROP" not in translation.sql
    assert translation.parameters == ["x'; DROP TABLE t; --", 5]


def test_parameter_values_and_types(athena):
    result = athena.execute(
        "SELECT ?, ?, ?, ?, ?, ?", parameters=["o'hara", 5, 2**40, 1.5, Decimal("1.50"), None]
    )
    assert result.types == ["varchar", "integer", "bigint", "double", "decimal(3,2)", "unknown"]
    assert result.rows == [("o'hara", 5, 2**40, 1.5, Decimal("1.50"), None)]


@pytest.mark.parametrize(
    ("sql", "parameters", "message"),
    [
        ("SELECT ?", [], r"more \? placeholders"), ("SELECT 1", [1], r"0 \? placeholders but 1"),
        ("SELECT ?", [object()], "has type object"),
    ],
)
def test_parameter_mistakes(athena, sql, parameters, message):
    with pytest.raises(QueryError, match=message):
        athena.execute(sql, parameters=parameters)


def test_unsupported_column_types_are_refused_only_when_used():
    assert "a" in translate("SELECT a FROM t")
    with pytest.raises(QueryRefusedError, match="column tags of type array<string>"):
        translate("SELECT tags FROM t")
    with pytest.raises(QueryRefusedError, match="column tags"):
        translate("SELECT * FROM t")


def test_unknown_table_lists_the_tables_available():
    with pytest.raises(QueryError, match=r"etl\.nope does not exist; tables available: etl\.t"):
        translate("SELECT * FROM nope")


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT s FROM t GROUP BY a HAVING a", "HAVING must be a boolean"),
        ("SELECT a FROM t WHERE sum(a) > 1", "aggregate"),
        ("SELECT row_number() FROM t", "needs an OVER clause"),
        ("SELECT day = '2024-01-01' FROM t", "cannot compare date with varchar"),
        ("SELECT year(s) FROM t", "year() is not defined for varchar"),
        ("SELECT a FROM t ORDER BY 3", "position 3"), ("SELECT a + s FROM t", "cannot apply +"),
    ],
)
def test_queries_athena_rejects(sql, message):
    with pytest.raises(QueryError, match=re.escape(message)) as info:
        translate(sql)
    assert not isinstance(info.value, QueryRefusedError)


def test_correlated_subquery_and_ctes_resolve(athena):
    value, _ = one(
        athena,
        "WITH v(k, n) AS (VALUES ('a', 1), ('a', 2), ('b', 5)) "
        "SELECT count(*) FROM v o WHERE n >= (SELECT max(n) FROM v i WHERE i.k = o.k)",
    )
    assert value == 2


# --- properties against models of Trino -----------------------------------------------------------
def trino_int_division(a: int, b: int) -> tuple[int, int]:
    quotient = abs(a) // abs(b) * (1 if (a < 0) == (b < 0) else -1)
    return quotient, a - b * quotient


@PROPERTY
@given(st.integers(-(2**31) + 1, 2**31 - 1), st.integers(-(2**31) + 1, 2**31 - 1).filter(bool))
def test_integer_division_truncates_toward_zero(athena, a, b):
    result = athena.execute("SELECT ? / ?, ? % ?", parameters=[a, b, a, b])
    assert result.rows == [trino_int_division(a, b)]
    assert result.types == ["integer", "integer"]


def decimal_text(value: Decimal, scale: int) -> str:
    return format(value.quantize(Decimal(1).scaleb(-scale)), "f")


@PROPERTY
@given(
    st.integers(-(10**8), 10**8), st.integers(0, 4), st.integers(-(10**6), 10**6).filter(bool),
    st.integers(0, 4),
)
def test_decimal_division_is_exact_half_up(athena, a, s1, b, s2):
    x, y = Decimal(a).scaleb(-s1), Decimal(b).scaleb(-s2)
    p1, p2 = max(len(str(abs(a))), s1, 1), max(len(str(abs(b))), s2, 1)
    scale = max(s1, s2)
    precision = min(38, p1 + s2 + max(0, s2 - s1))
    with localcontext() as context:
        context.prec = 100
        expected = (x / y).quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP)
    assume(len(expected.as_tuple().digits) <= precision)
    sql = (
        f"SELECT CAST('{decimal_text(x, s1)}' AS DECIMAL({p1},{s1})) / "
        f"CAST('{decimal_text(y, s2)}' AS DECIMAL({p2},{s2}))"
    )
    value, type_name = one(athena, sql)
    assert type_name == f"decimal({precision},{scale})"
    assert value == expected


@PROPERTY
@given(st.lists(st.integers(-(10**6), 10**6), min_size=1, max_size=6), st.integers(0, 3))
def test_avg_of_decimal_keeps_the_type_and_rounds_half_up(athena, values, scale):
    rows = ", ".join(
        f"CAST('{decimal_text(Decimal(v).scaleb(-scale), scale)}' AS DECIMAL(12,{scale}))" for v in values
    )
    value, type_name = one(athena, f"SELECT avg(x) FROM (VALUES {rows}) t(x)")
    with localcontext() as context:
        context.prec = 100
        exact = sum(Decimal(v).scaleb(-scale) for v in values) / len(values)
    assert type_name == f"decimal(12,{scale})"
    assert value == exact.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP)


@PROPERTY
@given(st.floats(-1e9, 1e9, allow_nan=False), st.integers(0, 6))
@example(1.2569542571077093e-28, 6)  # found by a random run: 10^38 * 2 overflowed the rounding division
@example(-4.9e-324, 0)
def test_double_to_decimal_goes_through_the_shortest_decimal(athena, x, scale):
    value, _ = one(athena, f"SELECT CAST(? AS DECIMAL(18,{scale}))", [x])
    assert value == Decimal(repr(x)).quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP)


@PROPERTY
@given(st.floats(-1e9, 1e9, allow_nan=False))
def test_double_to_integer_rounds_half_away_from_zero(athena, x):
    value, _ = one(athena, "SELECT CAST(? AS BIGINT)", [x])
    assert value == int(Decimal(repr(x)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def java_round(x: float, decimals: int) -> float:
    def math_round(y: float) -> float:
        floor = math.floor(y)
        return float(floor + (1 if y - floor >= 0.5 else 0))

    factor = math.pow(10, decimals)
    if abs(x * factor) >= 2.0**63:  # no digit left to round at that scale: Trino returns x, not a saturated value
        return x
    if x < 0:
        return -(math_round(-x * factor) / factor)
    return math_round(x * factor) / factor


@PROPERTY
@given(
    st.one_of(st.floats(-1e6, 1e6, allow_nan=False), st.floats(-1e25, 1e25, allow_nan=False)),
    st.integers(-3, 4),
)
def test_round_double_follows_java_math_round(athena, x, decimals):
    value, type_name = one(athena, "SELECT round(?, ?)", [x, decimals])
    assert type_name == "double"
    expected = java_round(x, decimals)
    assert value == expected and math.copysign(1, value) == math.copysign(1, expected)


def trino_substr(text: str, start: int, length: int | None) -> str:
    if start == 0 or not text or (length is not None and length <= 0):
        return ""
    count = len(text)
    if start > 0:
        begin = start - 1
        if begin >= count:
            return ""
    else:
        begin = count + start
        if begin < 0:
            return ""
    return text[begin:] if length is None else text[begin : begin + length]


@PROPERTY
@given(
    st.text(alphabet="abé😀\u0301", max_size=6), st.integers(-8, 8), st.one_of(st.none(), st.integers(-2, 8))
)
def test_substr_counts_code_points_like_trino(athena, text, start, length):
    if length is None:
        value, _ = one(athena, "SELECT substr(?, ?)", [text, start])
    else:
        value, _ = one(athena, "SELECT substr(?, ?, ?)", [text, start, length])
    assert value == trino_substr(text, start, length)


@PROPERTY
@given(st.text(alphabet=JAVA_WHITESPACE[:8] + "\u00a0\u3000ab ", max_size=8))
def test_trim_removes_java_whitespace(athena, text):
    result = athena.execute("SELECT trim(?), ltrim(?), rtrim(?)", parameters=[text, text, text])
    assert result.rows == [
        (text.strip(JAVA_WHITESPACE), text.lstrip(JAVA_WHITESPACE), text.rstrip(JAVA_WHITESPACE))
    ]


# --- result formatting ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1500.0, "1500.0"), (1.5e7, "1.5E7"), (1e7, "1.0E7"), (9999999.0, "9999999.0"), (0.001, "0.001"),
        (0.0001, "1.0E-4"), (-2.5, "-2.5"), (0.0, "0.0"), (-0.0, "-0.0"), (1e21, "1.0E21"),
        (123456789.123, "1.23456789123E8"), (float("nan"), "NaN"), (float("-inf"), "-Infinity"),
    ],
)
def test_java_double_to_string(value, text):
    assert java_double_to_string(value) == text


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_java_double_to_string_round_trips(value):
    text = java_double_to_string(value)
    assert float(text) == value
    assert ("E" in text) == (value != 0 and not 1e-3 <= abs(value) < 1e7)


def test_render_values():
    from datetime import date, datetime

    assert render_value(Decimal("1500"), "decimal(18,2)") == "1500.00"
    assert render_value(Decimal("1.5E-7"), "decimal(10,8)") == "0.00000015"
    assert render_value(datetime(2024, 1, 2, 3, 4, 5, 6000), "timestamp") == "2024-01-02 03:04:05.006"
    assert render_value(datetime(2024, 1, 2, 3, 4, 5), "timestamp(0)") == "2024-01-02 03:04:05"
    assert render_value(date(2024, 1, 2), "date") == "2024-01-02"
    assert render_value(True, "boolean") == "true"
    assert render_value(None, "varchar") is None


def test_get_query_results_shape():
    result = QueryResult(
        columns=["city", "total", "n"], types=["varchar", "decimal(18,2)", "bigint"],
        rows=[("a", Decimal("1.50"), 2), (None, None, 0)],
    )
    response = to_get_query_results(result)
    assert response["UpdateCount"] == 0
    rows = response["ResultSet"]["Rows"]
    assert rows[0] == {"Data": [{"VarCharValue": "city"}, {"VarCharValue": "total"}, {"VarCharValue": "n"}]}
    assert rows[1] == {"Data": [{"VarCharValue": "a"}, {"VarCharValue": "1.50"}, {"VarCharValue": "2"}]}
    assert rows[2] == {"Data": [{}, {}, {"VarCharValue": "0"}]}
    info = response["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]
    assert [i["Name"] for i in info] == ["city", "total", "n"]
    assert info[1] == column_info("total", "decimal(18,2)")
    assert (info[1]["Type"], info[1]["Precision"], info[1]["Scale"]) == ("decimal", 18, 2)
    assert (info[0]["Type"], info[0]["CaseSensitive"], info[2]["Precision"]) == ("varchar", True, 19)


# --- SHOW TABLES / DESCRIBE -----------------------------------------------------------------------
def test_show_tables_and_describe(tmp_path):
    from datetime import UTC, datetime

    catalog = Catalog(tmp_path / "catalog.duckdb")
    catalog.create_database("etl")
    for name in ("raw_shipping", "processed_shipping"):
        catalog.put_table(
            Table(
                "etl", name, str(tmp_path / name), "parquet", (Column("id", "bigint"),),
                (Column("year", "string"),), "c", datetime.now(UTC),
            ),
            [],
        )
    athena = LocalAthena(catalog, database="etl")
    assert athena.execute("SHOW TABLES").rows == [("processed_shipping",), ("raw_shipping",)]
    assert athena.execute("SHOW TABLES IN etl 'raw*'").rows == [("raw_shipping",)]
    described = athena.execute("DESCRIBE etl.processed_shipping;")
    assert described.rows == [("id", "bigint", ""), ("year", "string", "partition key")]
    assert athena.execute("SELECT count(*) FROM processed_shipping").rows == [(0,)]  # no files yet: no rows
    with pytest.raises(QueryError, match="etl tables"):
        athena.execute("DESCRIBE nope")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("5000", 5000),
        ("-12", -12),
        ("1.50", Decimal("1.50")),
        ("2e3", 2000.0),
        ("'main_city'", "main_city"),
        ("'it''s'", "it's"),
        ("''", ""),
        ("DATE '2024-01-15'", date(2024, 1, 15)),
        ("TIMESTAMP '2024-01-15 10:30:00'", datetime(2024, 1, 15, 10, 30)),
        ("true", True),
        ("NULL", None),
    ],
)
def test_a_parameter_is_one_sql_literal_as_athena_takes_it(text, value):
    parsed = parameter_from_literal(text)
    assert parsed == value and type(parsed) is type(value)


@pytest.mark.parametrize(
    "text", ["main_city", "1 + 1", "'a' || 'b'", "'x'); DROP TABLE t; --", "-'a'", "DATE '2024-02-30'", ""]
)
def test_anything_but_a_literal_is_refused_as_a_parameter(text):
    with pytest.raises(QueryError, match="parameter"):
        parameter_from_literal(text)


def test_a_literal_parameter_binds_with_its_type(athena):
    assert one(athena, "SELECT ? + 1", [parameter_from_literal("5000")]) == (5001, "integer")
    assert one(athena, "SELECT ? = DATE '2024-01-15'", [parameter_from_literal("DATE '2024-01-15'")])[0] is True
