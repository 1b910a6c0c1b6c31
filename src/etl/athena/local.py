"""A local Athena: the datasets' queries (Trino SQL) run on DuckDB over the catalog's tables.

Every catalog table is a DuckDB view ``"<database>"."<table>"`` over the files Athena would read:
the data files under each catalogued partition (or under the table location when it has no
partition keys), listed at query time and skipping ``_``/``.``-prefixed names like Athena does.
Partition values come from the catalog, so a partition the crawler has not seen yet is invisible,
as on AWS. The SQL itself goes through :mod:`etl.athena.dialect`, which keeps Athena's meaning or
refuses the query.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import datetime, time
from pathlib import Path
from typing import Any

import duckdb

from etl.athena.dialect import MACROS, Translation, Translator, statement_kind
from etl.athena.functions.json_udfs import register_json_functions
from etl.athena.functions.math_udfs import register_math_functions
from etl.athena.functions.regexp_udfs import register_regexp_functions
from etl.athena.results import QueryResult, SqlType, sql_type_of_glue, to_get_query_results
from etl.athena.translation import TableVersion
from etl.commits import reading
from etl.errors import CatalogError, QueryError, QueryRefusedError
from etl.glue.catalog import Catalog, Column, Table
from etl.glue.crawler import list_data_files
from etl.glue.iceberg import FORMAT as ICEBERG
from etl.glue.iceberg import METADATA_TABLES, SnapshotScan, check_snapshot, metadata_table, snapshot_at, snapshot_scan

logger = logging.getLogger(__name__)

__all__ = ["LocalAthena", "QueryResult", "to_get_query_results"]

DEFAULT_DATABASE = "default"
_FILE_COLUMN = "__etl_source_file"
_SHOW_TABLES = re.compile(
    r"""SHOW\s+TABLES(?:\s+(?:IN|FROM)\s+(?P<db>"[^"]+"|`[^`]+`|[\w]+))?(?:\s+(?:LIKE\s+)?'(?P<pattern>[^']*)')?""",
    re.IGNORECASE,
)
_DESCRIBE = re.compile(
    r"""DESC(?:RIBE)?\s+(?:EXTENDED\s+|FORMATTED\s+)?(?:(?P<db>"[^"]+"|`[^`]+`|\w+)\.)?(?P<table>"[^"]+"|`[^`]+`|\w+)""",
    re.IGNORECASE,
)


_UDF_FAILURE = re.compile(r"^Invalid Input Error: Python exception occurred while executing the UDF: \w+: ")


def _unquote(name: str | None) -> str | None:
    return name.strip('"`').lower() if name else None


def _strip_statement(sql: str) -> str:
    return re.sub(r"--[^\n]*", "", sql).strip().rstrip(";").strip()


class LocalAthena:
    """Runs Athena (Trino) SQL on DuckDB with the catalog's tables; one in-memory DuckDB per query."""

    def __init__(self, catalog: Catalog, *, database: str | None) -> None:
        self.catalog = catalog
        self.database = (database or DEFAULT_DATABASE).lower()

    def execute(
        self, sql: str, *, database: str | None = None, parameters: Sequence[Any] | None = None
    ) -> QueryResult:
        database = (database or self.database).lower()
        kind = statement_kind(sql)
        if kind in ("show_tables", "describe") and parameters:
            # These run without DuckDB: a value given for them would be dropped without a word.
            raise QueryError(
                f"{'SHOW TABLES' if kind == 'show_tables' else 'DESCRIBE'} takes no ? parameters, "
                f"got {len(parameters)}; write the name or pattern into the statement"
            )
        if kind == "show_tables":
            return self._show_tables(sql, database)
        if kind == "describe":
            return self._describe(sql, database)
        tables = {(t.database, t.name): t for t in self.catalog.tables()}
        for table in [t for t in tables.values() if t.format == ICEBERG]:
            for kind, columns in METADATA_TABLES.items():
                name = f"{table.name}${kind}"
                tables[(table.database, name)] = Table(
                    database=table.database, name=name, location=table.location, format=f"{ICEBERG}${kind}",
                    columns=tuple(Column(c, t) for c, t in columns), partition_keys=(), crawler=None,
                    updated_at=table.updated_at,
                )
        translator = Translator(
            {key: [(c.name, c.type) for c in t.all_columns] for key, t in tables.items()}, database
        )
        translation = translator.translate(sql, parameters)
        return self._run(translation, [tables[key] for key in translation.tables])

    # --- running -----------------------------------------------------------------------------------
    def _run(self, translation: Translation, tables: list[Table]) -> QueryResult:
        con = duckdb.connect(":memory:")
        try:
            self._prepare(con)
            # The files are listed and read with no commit in progress on the tables' datasets (an Iceberg
            # table needs no lock: a reader sees the files of one snapshot, which no commit changes).
            with reading([table.location for table in tables if not table.format.startswith(ICEBERG)]):
                for table in tables:
                    self._create_view(con, table)
                for version in translation.versions:
                    self._create_version_view(con, version, next(t for t in tables if (t.database, t.name) == (
                        version.database, version.table)))
                try:
                    cursor = con.execute(translation.sql, translation.parameters)
                    rows = cursor.fetchall()
                    described = [str(d[1]) for d in cursor.description or []]
                except duckdb.Error as exc:
                    raise self._query_error(exc, translation.sql) from exc
        finally:
            con.close()
        self._check_types(translation, described, rows)
        return QueryResult(columns=translation.columns, types=[str(t) for t in translation.types], rows=rows)

    @staticmethod
    def _prepare(con: duckdb.DuckDBPyConnection) -> None:
        con.execute("SET ieee_floating_point_ops = true")
        con.execute("SET default_null_order = 'nulls_last'")
        con.execute("SET scalar_subquery_error_on_multiple_rows = true")
        try:
            con.execute("SET TimeZone = 'UTC'")
        except duckdb.Error:  # without ICU there are no time zone casts to worry about
            logger.debug("DuckDB has no ICU; TimeZone left unset")
        for macro in MACROS:
            con.execute(macro)
        register_json_functions(con)
        register_math_functions(con)
        register_regexp_functions(con)

    @staticmethod
    def _query_error(exc: duckdb.Error, duck_sql: str) -> QueryError:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        # A Python function's failure reads as its own message, not as DuckDB's wrapping of it.
        message = _UDF_FAILURE.sub("", message)
        refused = re.search(r"refused locally: (.*?): (.*)", message)
        if refused:
            return QueryRefusedError(refused.group(1), refused.group(2))
        logger.debug("DuckDB failed on: %s", duck_sql)
        return QueryError(f"query failed: {message}")

    @staticmethod
    def _check_types(translation: Translation, described: list[str], rows: list[tuple[Any, ...]]) -> None:
        """Every column must come out of DuckDB with the type holding Athena's type (a safety net)."""
        for index, (name, expected, actual) in enumerate(
            zip(translation.columns, translation.types, described, strict=True)
        ):
            all_null = all(row[index] is None for row in rows)  # DuckDB types a folded NULL as "NULL"
            if not expected.is_unknown and expected.duck != actual and not all_null:
                logger.error("column %s: DuckDB produced %s for Athena type %s", name, actual, expected)
                raise QueryRefusedError(
                    f"column {name}",
                    f"the local engine produced {actual} instead of {expected}; run this query on Athena",
                )

    # --- views -------------------------------------------------------------------------------------
    def _create_view(self, con: duckdb.DuckDBPyConnection, table: Table) -> None:
        con.execute(f'CREATE SCHEMA IF NOT EXISTS "{table.database}"')
        try:
            select = self._table_select(con, table)
            con.execute(f'CREATE OR REPLACE VIEW "{table.database}"."{table.name}" AS {select}')
        except duckdb.Error as exc:
            raise QueryError(
                f"table {table.qualified_name}: its files cannot be read "
                f"({str(exc).splitlines()[0]}); re-run the job that wrote them"
            ) from exc

    def _create_version_view(self, con: duckdb.DuckDBPyConnection, version: TableVersion, table: Table) -> None:
        """The table at the snapshot ``FOR VERSION/TIMESTAMP AS OF`` names (Iceberg tables only, as on Athena)."""
        if table.format != ICEBERG:
            raise QueryError(
                f"FOR {version.kind} AS OF: table {table.qualified_name} is not an Iceberg table; "
                "time travel reads Iceberg tables only"
            )
        try:
            value = con.execute(f"SELECT {version.value_sql}").fetchone()
        except duckdb.Error as exc:
            raise self._query_error(exc, version.value_sql) from exc
        moment = value[0] if value else None
        if moment is None:
            raise QueryError(f"FOR {version.kind} AS OF: the {version.kind.lower()} is NULL")
        iceberg_table = self.catalog.iceberg.load(table.database, table.name)
        if version.kind == "VERSION":
            snapshot = check_snapshot(iceberg_table, int(moment))
        else:
            if not isinstance(moment, datetime):
                moment = datetime.combine(moment, time.min)
            snapshot = snapshot_at(iceberg_table, moment)
        select = self._table_select(con, table, snapshot_scan(iceberg_table, snapshot))
        con.execute(f'CREATE OR REPLACE VIEW "{table.database}"."{version.view}" AS {select}')

    def _table_select(self, con: duckdb.DuckDBPyConnection, table: Table, at: SnapshotScan | None = None) -> str:
        """The view's SELECT; file paths and partition values are our own, written as escaped literals.

        ``at``: the files of an Iceberg snapshot other than the current one.
        """
        if table.format.startswith(f"{ICEBERG}$"):
            return self._metadata_select(con, table)
        deletes: list[Path] = []
        if table.format == ICEBERG:  # a snapshot's rows: its data files' rows less those its position deletes name
            scan = at or snapshot_scan(self.catalog.iceberg.load(table.database, table.name))
            files: list[tuple[Path, tuple[str, ...]]] = [(path, ()) for path in scan.data]
            deletes = scan.position_deletes
        else:
            files = self._files(table)
        if not files:
            nulls = ", ".join(
                f'CAST(NULL AS {_duck_type(c.type)}) AS "{c.name}"' for c in table.all_columns
            )
            return f"SELECT {nulls} WHERE false"
        file_list = "[" + ", ".join(_sql_string(str(path)) for path, _ in files) + "]"
        if table.format in ("parquet", ICEBERG):
            reader = (
                f"read_parquet({file_list}, union_by_name = true, hive_partitioning = false, "
                f"filename = '{_FILE_COLUMN}'{', file_row_number = true' if deletes else ''})"
            )
            present = {name.lower() for name in con.sql(f"SELECT * FROM {reader} LIMIT 0").columns}
        else:
            spec = ", ".join(f"{_sql_string(c.name)}: '{_duck_json_type(c.type)}'" for c in table.columns)
            reader = (
                f"read_json({file_list}, format = 'newline_delimited', columns = {{{spec}}}, "
                f"filename = '{_FILE_COLUMN}')"
            )
            present = {c.name for c in table.columns}
        projections: list[str] = []
        for column in table.columns:
            if column.name in present:
                reference = f'd."{column.name}"'
                projections.append(f'{_view_cast(reference, column.type)} AS "{column.name}"')
            else:
                projections.append(f'CAST(NULL AS {_duck_type(column.type)}) AS "{column.name}"')
        projections += [f'p."{key.name}" AS "{key.name}"' for key in table.partition_keys]
        source = f"{reader} AS d"
        if deletes:
            # Iceberg names the data file by its location (file:/…); the reader by the path it was given.
            delete_list = "[" + ", ".join(_sql_string(str(path)) for path in deletes) + "]"
            located = "CASE WHEN starts_with(x.file_path, 'file:') THEN '/' || ltrim(substr(x.file_path, 6), '/') " \
                      "ELSE x.file_path END"
            source += (
                f" ANTI JOIN read_parquet({delete_list}) AS x"
                f" ON d.{_FILE_COLUMN} = {located} AND d.file_row_number = x.pos"
            )
        if table.partition_keys:
            rows = ", ".join(
                "(" + ", ".join(_sql_string(v) for v in (str(path), *values)) + ")" for path, values in files
            )
            names = ", ".join(f'"{k.name}"' for k in table.partition_keys)
            source += (
                f' JOIN (VALUES {rows}) AS p("{_FILE_COLUMN}", {names})'
                f" ON d.{_FILE_COLUMN} = p.{_FILE_COLUMN}"
            )
        return f"SELECT {', '.join(projections)} FROM {source}"

    def _metadata_select(self, con: duckdb.DuckDBPyConnection, table: Table) -> str:
        """``"<table>$snapshots"`` / ``"<table>$history"``: pyiceberg's rows, registered with DuckDB."""
        base, kind = table.name.rsplit("$", 1)
        rows = metadata_table(self.catalog.iceberg.load(table.database, base), kind)
        relation = f"_iceberg_{kind}_{len(con.execute('SHOW TABLES').fetchall())}"
        con.register(relation, rows)
        projections = []
        for column in table.columns:
            reference = f'"{column.name}"'
            supported = sql_type_of_glue(column.type) is not None
            projections.append(f'{_view_cast(reference, column.type) if supported else reference} AS "{column.name}"')
        return f"SELECT {', '.join(projections)} FROM {relation}"

    def _files(self, table: Table) -> list[tuple[Path, tuple[str, ...]]]:
        """The files of a crawled table, with their partition values."""
        wanted = table.format
        if not table.partition_keys:
            return [(p, ()) for p in list_data_files(Path(table.location), wanted)]
        files: list[tuple[Path, tuple[str, ...]]] = []
        for partition in self.catalog.partitions(table.database, table.name):
            files.extend((p, partition.values) for p in list_data_files(Path(partition.location), wanted))
        return files

    # --- SHOW TABLES / DESCRIBE ---------------------------------------------------------------------------
    def _show_tables(self, sql: str, database: str) -> QueryResult:
        match = _SHOW_TABLES.fullmatch(_strip_statement(sql))
        if not match:
            raise QueryError("SHOW TABLES takes the form: SHOW TABLES [IN database] ['pattern']")
        db = _unquote(match.group("db")) or database
        pattern = match.group("pattern")
        names = [t.name for t in self.catalog.tables(db)]
        if pattern is not None:
            regex = re.compile(
                "|".join(re.escape(p.strip()).replace(r"\*", ".*") for p in pattern.split("|")), re.IGNORECASE
            )
            names = [n for n in names if regex.fullmatch(n)]
        return QueryResult(columns=["tab_name"], types=["varchar"], rows=[(n,) for n in names])

    def _describe(self, sql: str, database: str) -> QueryResult:
        match = _DESCRIBE.fullmatch(_strip_statement(sql))
        if not match:
            raise QueryError("DESCRIBE takes the form: DESCRIBE [database.]table")
        db = _unquote(match.group("db")) or database
        name = _unquote(match.group("table")) or ""
        try:
            table = self.catalog.get_table(db, name)
        except CatalogError as exc:
            raise QueryError(str(exc)) from exc
        rows = [(c.name, c.type, "") for c in table.columns]
        rows += [(c.name, c.type, "partition key") for c in table.partition_keys]
        return QueryResult(columns=["col_name", "data_type", "comment"], types=["varchar"] * 3, rows=rows)


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _duck_type(glue_type: str) -> str:
    sql_type: SqlType | None = sql_type_of_glue(glue_type)
    return sql_type.duck if sql_type is not None else "VARCHAR"


def _duck_json_type(glue_type: str) -> str:
    return _duck_type(glue_type) if sql_type_of_glue(glue_type) is not None else "JSON"


def _view_cast(reference: str, glue_type: str) -> str:
    sql_type = sql_type_of_glue(glue_type)
    if sql_type is None:
        return reference
    if sql_type.base == "timestamp":
        # Athena reads timestamp columns as timestamp(3): round to milliseconds, keep DuckDB's TIMESTAMP
        return f"CAST(CAST({reference} AS TIMESTAMP_MS) AS TIMESTAMP)"
    return f"CAST({reference} AS {sql_type.duck})"
