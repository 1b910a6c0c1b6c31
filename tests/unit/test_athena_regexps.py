"""Java patterns rewritten for RE2, or refused where RE2 would read them differently; then run on DuckDB."""

from __future__ import annotations

import pytest

from etl.athena.functions.regexps import replacement_for_re2, translate_pattern
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
        (r"[\b]", r"the escape \b"),
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
    [("$2-$1", 2, r"\2-\1"), ("[$1]", 1, r"[\1]"), ("$12", 1, r"\12"), ("$12", 12, None), ("plain", 0, "plain"),
     (r"\$", 0, None), ("$", 0, None), ("$2", 1, None)],
)
def test_group_references_in_a_replacement(java, groups, re2):
    # None: RE2 cannot say it (group 12, an escape, a lone $, a missing group): Python follows Trino instead.
    # "$12" with one group is group 1 followed by "2", as Trino reads it.
    assert replacement_for_re2(java, groups) == re2


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
        # Trino's loop: after an empty match the next search starts one character on
        ("SELECT regexp_count('abc', 'x*'), regexp_count('', '')", ["bigint", "bigint"], (4, 1)),
        ("SELECT regexp_split('añb', ''), regexp_extract_all('ab', 'a*')",
         ["array(varchar)", "array(varchar)"], (["", "a", "ñ", "b", ""], ["a", "", ""])),
        ("SELECT regexp_replace('año', '', '-'), regexp_replace('aa', 'a*', '<$0>')",
         ["varchar", "varchar"], ("-a-ñ-o-", "<aa><>")),
        # Java's replacement syntax: an escaped character stands for itself; a missing group fails only on a match
        (r"SELECT regexp_replace('a.b', '\.', '\$'), regexp_replace('abc', 'x', '$7')", ["varchar", "varchar"],
         ("a$b", "abc")),
        ("SELECT regexp_position('a,b,c', ',', 3), regexp_position('a1b2c3', '[0-9]', 2, 3), "
         "regexp_position('ab', 'b', 5)", ["integer", "integer", "integer"], (4, 6, -1)),
        # a pattern from a column is translated when the query runs
        (r"SELECT regexp_like(s, p), regexp_replace(s, p, r) FROM (VALUES ('a1', '\d', '<$0>')) AS t(s, p, r)",
         ["boolean", "varchar"], (True, "a<1>")),
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
        (r"SELECT regexp_like('a', p) FROM (VALUES '\p{L}') AS t(p)", "the escape \\p"),
        (r"SELECT regexp_like('Åse', '\bse')", "not ASCII, by a pattern with \\b"),
        ("SELECT regexp_count(s, p) FROM (VALUES ('a' || chr(10), 'a$')) AS t(s, p)", "line break"),
        ("SELECT regexp_count(s, p) FROM (VALUES ('a' || chr(8232) || 'b', 'a.b')) AS t(s, p)", "line break"),
    ],
)
def test_where_the_engines_differ_the_query_is_refused(athena, sql, construct):
    with pytest.raises(QueryRefusedError, match="run this query on Athena") as refused:
        athena.execute(sql)
    assert construct in str(refused.value)


def test_a_group_past_the_last_is_an_error_as_in_trino(athena):
    with pytest.raises(QueryError, match=r"Pattern has 1 groups\. Cannot access group 2"):
        athena.execute("SELECT regexp_extract('ab', '(a)', 2)")


def test_a_replacement_naming_a_missing_group_fails_where_a_match_is_replaced(athena):
    with pytest.raises(QueryError, match="Illegal replacement sequence: unknown group 2"):
        athena.execute("SELECT regexp_replace('abc', '(b)', '$2')")


def test_position_rejects_a_start_or_occurrence_below_one_as_trino(athena):
    with pytest.raises(QueryError, match="occurrence cannot be smaller than 1"):
        athena.execute("SELECT regexp_position('abc', 'b', 1, 0)")


@pytest.mark.parametrize(
    ("sql", "row"),
    [
        # a \n inside the text: . does not match it, and ^ $ (no multiline flag) ignore it, in both engines
        ("SELECT regexp_count(s, p) FROM (VALUES ('a' || chr(10) || 'b', 'a.b')) AS t(s, p)", (0,)),
        ("SELECT regexp_extract_all('dot' || chr(10) || 'got', '.ot')", (["dot", "got"],)),
        ("SELECT regexp_like('x' || chr(10) || 'y', '^x.*$')", (False,)),
        ("SELECT regexp_like('x' || chr(10) || 'y', '^x' || chr(10) || 'y$')", (True,)),
    ],
)
def test_a_line_feed_inside_the_text_is_read_alike(athena, sql, row):
    assert athena.execute(sql).rows == [row]
