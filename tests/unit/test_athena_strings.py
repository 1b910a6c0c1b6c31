"""String-family functions whose answers the corpus format cannot hold yet (arrays), checked on Python values."""

from __future__ import annotations

import pytest

from etl.athena.local import LocalAthena
from etl.errors import QueryError, QueryRefusedError
from etl.glue.catalog import Catalog


@pytest.fixture(scope="module")
def athena(tmp_path_factory):
    catalog = Catalog(tmp_path_factory.mktemp("strings") / "catalog.duckdb")
    return LocalAthena(catalog, database="etl")


@pytest.mark.parametrize(
    ("sql", "value"),
    [
        ("SELECT regexp_split('k1=v1;k2=v2', '[;=]')", ["k1", "v1", "k2", "v2"]),
        ("SELECT regexp_split(';x;;', ';')", ["", "x", "", ""]),  # leading and trailing empty pieces stay
        ("SELECT regexp_split('', ';')", [""]),
        ("SELECT regexp_split('no separator', '\\d')", ["no separator"]),
        ("SELECT regexp_extract_all('id7 id42 idx', 'id\\d+')", ["id7", "id42"]),
        ("SELECT regexp_extract_all('id7 id42 idx', 'id(\\d+)', 1)", ["7", "42"]),
        ("SELECT regexp_extract_all('nothing here', '\\d')", []),
        ("SELECT regexp_extract_all('ab-cd', '(a)b|(c)d', 2)", [None, "c"]),  # a group not in the match is NULL
        ("SELECT regexp_split(CAST(NULL AS varchar), ',')", None),
        # a pattern that matches the empty string: Trino searches again one character after an empty match
        ("SELECT regexp_split('abc', 'x*')", ["", "a", "b", "c", ""]),
        ("SELECT regexp_extract_all('abc', '')", ["", "", "", ""]),
        # a line feed inside the text: . matches no line terminator in either engine
        ("SELECT regexp_split('a\nb', '.')", ["", "\n", ""]),
    ],
)
def test_array_returning_regexp_functions(athena, sql, value):
    result = athena.execute(sql)
    assert result.types == ["array(varchar)"]
    assert [list(row) for row in result.rows] == [[value]]


@pytest.mark.parametrize(
    ("sql", "construct"),
    [
        ("SELECT regexp_split('a' || chr(13) || 'b', '.')", "regexp_split of text with a line break"),
    ],
)
def test_where_the_engines_place_matches_differently_the_query_is_refused(athena, sql, construct):
    with pytest.raises(QueryRefusedError, match="run this query on Athena") as info:
        athena.execute(sql)
    assert construct in str(info.value)


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT regexp_extract_all('abc', '(b)', 2)", "Pattern has 1 groups. Cannot access group 2"),
        ("SELECT regexp_split('abc', '(b')", "has an unclosed group"),
        ("SELECT regexp_count('abc', 'b)')", "has an unmatched )"),
    ],
)
def test_patterns_and_groups_trino_rejects_are_query_errors(athena, sql, message):
    with pytest.raises(QueryError, match=message.replace("(", r"\(").replace(")", r"\)")) as info:
        athena.execute(sql)
    assert not isinstance(info.value, QueryRefusedError)
