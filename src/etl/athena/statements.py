"""What kind of statement a query is, and the syntax errors Athena raises before any translation."""

from __future__ import annotations

import itertools
import re

from sqlglot.dialects.trino import Trino
from sqlglot.errors import TokenError
from sqlglot.tokens import TokenType

from etl.athena.translation import refuse
from etl.errors import QueryError

# --- statement kinds ------------------------------------------------------------------------------
_DDL_DML = {
    "INSERT", "DROP", "ALTER", "DELETE", "UPDATE", "MERGE", "UNLOAD", "TRUNCATE", "VACUUM", "OPTIMIZE",
    "EXPLAIN", "PREPARE", "EXECUTE", "DEALLOCATE", "USE", "SET", "RESET", "GRANT", "REVOKE", "CALL", "START",
    "COMMIT", "ROLLBACK", "ANALYZE", "COMMENT", "REFRESH", "MSCK", "CREATE", "REPLACE", "LOAD",
}
_QUERY_STARTS = {"SELECT", "WITH", "VALUES", "("}


_AFTER_A_LIST = {TokenType.FROM, TokenType.WHERE, TokenType.GROUP_BY, TokenType.ORDER_BY, TokenType.HAVING,
                 TokenType.LIMIT, TokenType.R_PAREN, TokenType.UNION, TokenType.SEMICOLON}


def _refuse_trailing_commas(sql: str) -> None:
    """A list that ends with a comma (``SELECT a, FROM t``) is a syntax error on Athena; sqlglot accepts it."""
    tokens = Trino().tokenize(sql)
    for comma, following in itertools.pairwise([*tokens, None]):
        if comma is not None and comma.token_type == TokenType.COMMA and (
            following is None or following.token_type in _AFTER_A_LIST
        ):
            after = "the end" if following is None else f"'{following.text}'"
            raise QueryError(f"syntax error: line {comma.line}:{comma.col}: a comma before {after}; "
                             f"remove the trailing comma")


def statement_kind(sql: str) -> str:
    """``query``, ``show_tables`` or ``describe``; refuses everything else (DDL, DML, ...)."""
    try:
        tokens = Trino().tokenize(sql)
    except TokenError as exc:
        raise QueryError(f"the query cannot be read: {str(exc).splitlines()[0]}") from exc
    if all(t.token_type == TokenType.SEMICOLON for t in tokens):
        raise QueryError("the query is empty")
    # sqlglot reads SHOW, EXPLAIN, ... as one command token: take the words from the text itself
    words = [w.upper() for w in re.findall(r"[^\s(),;]+|\(", sql[tokens[0].start :])]
    first = words[0]
    second = words[1] if len(words) > 1 else ""
    if first in _QUERY_STARTS:
        return "query"
    if first == "SHOW" and second == "TABLES":
        return "show_tables"
    if first in ("DESCRIBE", "DESC"):
        return "describe"
    if first == "MSCK":
        raise refuse("MSCK REPAIR TABLE", "DDL does not run locally (the local crawler loads partitions)")
    if first == "CREATE":
        raise refuse(_create_construct(words), "DDL does not run locally (crawlers create the tables)")
    if first in _DDL_DML or first == "SHOW":
        raise refuse(
            f"{first} {second}".strip() if first == "SHOW" else f"{first} statement",
            "only SELECT, WITH ... SELECT and VALUES queries (and SHOW TABLES, DESCRIBE) run locally",
        )
    # No Athena statement starts with this word: Athena answers a syntax error, and so does this.
    raise QueryError(f"syntax error: line 1:1: mismatched input '{words[0] if words else first}': a statement "
                     f"starts with SELECT, WITH, VALUES, SHOW, DESCRIBE or a DDL/DML keyword")


def _create_construct(words: list[str]) -> str:
    head = words[1:5]
    if "VIEW" in head:
        return "CREATE VIEW"
    if (
        "TABLE" in head
        and "AS" in words
        and any(w in ("SELECT", "WITH", "VALUES") for w in words[words.index("AS") :])
    ):
        head = words[: words.index("AS")]
        if "WITH" in head:
            return "CREATE TABLE AS (CTAS) with WITH (...)"
        return "CREATE TABLE AS (CTAS)"
    what = " ".join(w for w in words[1:3] if w.isalpha())
    return f"CREATE {what}".strip()


def _typed_literal_starts(sql: str) -> set[int]:
    """Start offsets of string literals written as typed literals (``DECIMAL '1.50'``).

    Also refuses numbers glued to a name (``1_000``): sqlglot reads that as ``1 AS _000``.
    """
    starts = set()
    tokens = Trino().tokenize(sql)
    for previous, token in itertools.pairwise(tokens):
        if token.token_type == TokenType.STRING and previous.token_type == TokenType.DECIMAL:
            starts.add(token.start)
        glued = previous.token_type == TokenType.NUMBER and token.start == previous.end + 1
        if (
            glued
            and token.token_type != TokenType.STRING
            and (token.text[:1].isalpha() or token.text[:1] == "_")
        ):
            raise refuse(
                f"numeric literal {previous.text}{token.text}", "sqlglot does not read it as Trino does"
            )
    return starts


