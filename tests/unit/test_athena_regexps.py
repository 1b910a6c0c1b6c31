"""Java patterns rewritten for RE2, or refused where RE2 would read them differently; then run on DuckDB."""

from __future__ import annotations

import pytest

from etl.athena.functions.regexps import _replacement, translate_pattern
from etl.athena.local import LocalAthena
from etl.errors import QueryError, QueryRefusedError
from etl.glue.catalog import Catalog


@pytest.mark.parametrize(
    ("java", "re2", "groups", "single_line"),
    [
        (r"\d+", r"\d+", 0, False),
        (r"([a-z]+)-(\d{2,4})", r"([a-z]+)-(\d{2,4})", 2, False),
        (r"(?:ab)+?c", r"(?:ab)+?c", 0, False),
        (r"a\sb", "a[ \\t\\n\\x0B\\f\\r]b", 0, False),  # Java's \s has the vertical tab, RE2's not
        (r"[\s,]", "[ \\t\\n\\x0B\\f\\r,]", 0, False),
        (r"[^a-c\d]x", r"[^a-c\d]x", 0, False),
        (r"^a.c$", r"^a.c$", 0, True),
        (r"a\.b\$", r"a\.b\$", 0, False),
    ],
)
def test_the_common_core_of_the_syntax_is_rewritten(java, re2, groups, single_line):
    pattern = translate_pattern(java)
    assert (pattern.re2, pattern.groups, pattern.needs_single_line_text) == (re2, groups, single_line)


@pytest.mark.parametrize(
    ("java", "construct"),
    [
        (r"\bword\b", r"the escape \b"),
        (r"(?i)abc", "a (? construct"),
        (r"(?<=a)b", "a (? construct"),
        (r"(a)\1", r"the escape \1"),
        (r"a++", "a possessive quantifier"),
        (r"[a-z&&[^b]]", "a class inside a class"),
        (r"\p{L}", r"the escape \p"),
        (r"\Qa.b\E", r"the escape \Q"),
        (r"a{,3}", "a { that is not a repetition count"),
        (r"*a", "a quantifier * with nothing to repeat"),
        (r"[]a]", "a ] first in a character class"),
    ],
)
def test_what_re2_reads_differently_is_refused_naming_it(java, construct):
    with pytest.raises(QueryRefusedError) as refused:
        translate_pattern(java)
    assert construct in str(refused.value) and "run this query on Athena" in str(refused.value)


@pytest.mark.parametrize(
    ("java", "groups", "re2"),
    [("$2-$1", 2, r"\2-\1"), ("[$1]", 1, r"[\1]"), ("$12", 1, r"\12"), ("$12", 12, None), ("plain", 0, "plain")],
)
def test_group_references_in_a_replacement(java, groups, re2):
    if re2 is None:  # group 12 exists: RE2 reads one digit after the backslash
        with pytest.raises(QueryRefusedError):
            _replacement(java, groups)
    else:  # "$12" with one group is group 1 followed by "2", as Java reads it
        assert _replacement(java, groups) == re2


def test_a_reference_to_a_missing_group_is_an_error_as_in_trino():
    with pytest.raises(QueryError, match="Illegal group reference"):
        _replacement("$2", 1)


@pytest.fixture(scope="module")
def athena(tmp_path_factory):
    catalog = Catalog(tmp_path_factory.mktemp("regexps") / "catalog.duckdb")
    catalog.create_database("etl")
    return LocalAthena(catalog, database="etl")


@pytest.mark.parametrize(
    ("sql", "types", "row"),
    [
        (r"SELECT regexp_like('order-42', '\d+$'), regexp_like('x', 'y')", ["boolean", "boolean"], (True, False)),
        (r"SELECT regexp_extract('a1b22', '\d+'), regexp_extract('abc', '\d')", ["varchar", "varchar"], ("1", None)),
        (r"SELECT regexp_extract('id=77;', 'id=(\d+)', 1)", ["varchar"], ("77",)),
        (r"SELECT regexp_replace('2024-01-15', '(\d+)-(\d+)-(\d+)', '$3.$2.$1')", ["varchar"], ("15.01.2024",)),
        (r"SELECT regexp_replace('a1b2', '\d')", ["varchar"], ("ab",)),
        (r"SELECT regexp_count('a1b22c333', '\d+'), regexp_count(NULL, 'a')", ["bigint", "bigint"], (3, None)),
        (r"SELECT regexp_position('abc123', '\d'), regexp_position('abc', 'z')", ["integer", "integer"], (4, -1)),
        ("SELECT regexp_position('ñandú 5', '[0-9]')", ["integer"], (7,)),  # code points, not bytes
    ],
)
def test_regexp_functions_answer_as_trino(athena, sql, types, row):
    result = athena.execute(sql)
    assert (result.types, result.rows) == (types, [row])


@pytest.mark.parametrize(
    ("sql", "construct"),
    [
        ("SELECT regexp_extract('ab', '(x)?b', 1)", "a group that matched nothing"),
        ("SELECT regexp_like('a' || chr(13), 'a$')", "of text with a line break"),
        ("SELECT regexp_count('abc', 'x*')", "matches the empty string"),
        ("SELECT regexp_like('a', city) FROM (VALUES 'a') AS t(city)", "pattern that is not a string literal"),
        ("SELECT regexp_position('abc', 'b', 2)", "with a start or an occurrence"),
    ],
)
def test_where_the_engines_differ_the_query_is_refused(athena, sql, construct):
    with pytest.raises(QueryRefusedError, match="run this query on Athena") as refused:
        athena.execute(sql)
    assert construct in str(refused.value)


def test_a_group_past_the_last_is_an_error_as_in_trino(athena):
    with pytest.raises(QueryError, match=r"Pattern has 1 groups\. Cannot access group 2"):
        athena.execute("SELECT regexp_extract('ab', '(a)', 2)")
