"""The embedded Glue Data Catalog: databases, tables, columns and partitions in a DuckDB file.

Locally this plays the part of the AWS Glue Data Catalog: crawlers write it, the local Athena
reads it. Every call opens a short-lived connection and closes it again, so several threads and
processes can use the same file one after another; a process-wide lock plus an exclusive
``flock`` on ``<file>.lock`` serialises them (DuckDB lets only one process open a file at a time).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from etl.errors import CatalogBusyError, CatalogError
from etl.glue.iceberg import CATALOG_FILE as ICEBERG_CATALOG_FILE
from etl.glue.iceberg import FORMAT as ICEBERG
from etl.glue.iceberg import IcebergCatalog

logger = logging.getLogger(__name__)

FORMATS = ("parquet", "json")
_SCHEMA_VERSION = "1"
_CONNECT_ATTEMPTS = 50
_CONNECT_PAUSE_SECONDS = 0.2

_DDL = (
    "CREATE TABLE IF NOT EXISTS catalog_info (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)",
    "CREATE TABLE IF NOT EXISTS databases (name VARCHAR PRIMARY KEY, created_at TIMESTAMP NOT NULL)",
    """CREATE TABLE IF NOT EXISTS tables (
        database VARCHAR NOT NULL, name VARCHAR NOT NULL, location VARCHAR NOT NULL,
        format VARCHAR NOT NULL, crawler VARCHAR, updated_at TIMESTAMP NOT NULL,
        PRIMARY KEY (database, name))""",
    """CREATE TABLE IF NOT EXISTS columns (
        database VARCHAR NOT NULL, table_name VARCHAR NOT NULL, is_partition_key BOOLEAN NOT NULL,
        ordinal INTEGER NOT NULL, name VARCHAR NOT NULL, type VARCHAR NOT NULL,
        PRIMARY KEY (database, table_name, is_partition_key, ordinal))""",
    """CREATE TABLE IF NOT EXISTS partitions (
        database VARCHAR NOT NULL, table_name VARCHAR NOT NULL, ordinal INTEGER NOT NULL,
        location VARCHAR NOT NULL, PRIMARY KEY (database, table_name, ordinal))""",
    """CREATE TABLE IF NOT EXISTS partition_values (
        database VARCHAR NOT NULL, table_name VARCHAR NOT NULL, partition_ordinal INTEGER NOT NULL,
        key_ordinal INTEGER NOT NULL, value VARCHAR NOT NULL,
        PRIMARY KEY (database, table_name, partition_ordinal, key_ordinal))""",
)
_CHILD_TABLES = ("columns", "partitions", "partition_values")


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # a Glue/Hive type name: bigint, int, double, string, date, timestamp, decimal(p,s), ...


@dataclass(frozen=True)
class Partition:
    values: tuple[str, ...]
    location: str


@dataclass(frozen=True)
class Table:
    database: str
    name: str
    location: str
    format: str
    columns: tuple[Column, ...]
    partition_keys: tuple[Column, ...]
    crawler: str | None
    updated_at: datetime

    @property
    def qualified_name(self) -> str:
        return f"{self.database}.{self.name}"

    @property
    def all_columns(self) -> tuple[Column, ...]:
        """Data columns then partition keys: the column order Athena shows for ``SELECT *``."""
        return self.columns + self.partition_keys


_PROCESS_LOCKS: dict[str, threading.RLock] = {}
_PROCESS_LOCKS_GUARD = threading.Lock()


def _process_lock(path: Path) -> threading.RLock:
    with _PROCESS_LOCKS_GUARD:
        return _PROCESS_LOCKS.setdefault(str(path), threading.RLock())


def _naive_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


class Catalog:
    """A Glue-like catalog kept in one DuckDB file (created with its schema when absent)."""

    def __init__(self, path: Path, *, wait_seconds: float | None = None) -> None:
        """``wait_seconds``: how long a call waits for another process's use of the file (None: as long as it takes)."""
        self.path = Path(path).resolve()
        self._wait_seconds = wait_seconds
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = _process_lock(self.path)
        self._lock_file = self.path.with_name(self.path.name + ".lock")
        # The Iceberg tables (GlueCatalog's part of the catalog) live in their own catalog file beside this one.
        self.iceberg = IcebergCatalog(self.path.with_name(ICEBERG_CATALOG_FILE))
        with self._connect() as con:
            for statement in _DDL:
                con.execute(statement)
            con.execute(
                "INSERT INTO catalog_info VALUES ('schema_version', ?) ON CONFLICT (key) DO NOTHING",
                [_SCHEMA_VERSION],
            )

    # --- connections ------------------------------------------------------------------------
    @contextlib.contextmanager
    def _connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        if not self._lock.acquire(timeout=-1 if self._wait_seconds is None else self._wait_seconds):
            raise CatalogBusyError(f"catalog {self.path} is busy (in use for over {self._wait_seconds} s)")
        try:
            with self._lock_file.open("a") as lock_handle:
                self._flock(lock_handle)
                try:
                    con = self._open()
                    try:
                        yield con
                    finally:
                        con.close()
                finally:
                    fcntl.flock(lock_handle, fcntl.LOCK_UN)
        finally:
            self._lock.release()

    def _flock(self, handle: Any) -> None:
        if self._wait_seconds is None:
            fcntl.flock(handle, fcntl.LOCK_EX)
            return
        deadline = time.monotonic() + self._wait_seconds
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise CatalogBusyError(
                        f"catalog {self.path} is busy (another process has held it for over {self._wait_seconds} s)"
                    ) from None
                time.sleep(_CONNECT_PAUSE_SECONDS)

    def _open(self) -> duckdb.DuckDBPyConnection:
        """Open the file, waiting a while if a process outside this module holds it."""
        for attempt in range(_CONNECT_ATTEMPTS):
            try:
                return duckdb.connect(str(self.path))
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower() or attempt == _CONNECT_ATTEMPTS - 1:
                    raise CatalogError(
                        f"catalog {self.path} cannot be opened: {str(exc).splitlines()[0]}"
                    ) from exc
                time.sleep(_CONNECT_PAUSE_SECONDS)
        raise CatalogError(f"catalog {self.path} cannot be opened")  # pragma: no cover - loop always returns

    # --- databases ----------------------------------------------------------------------------
    def create_database(self, name: str) -> None:
        name = _normalise_name(name, "database")
        with self._connect() as con:
            con.execute(
                "INSERT INTO databases VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
                [name, _naive_utc(datetime.now(UTC))],
            )

    def databases(self) -> list[str]:
        with self._connect() as con:
            return [row[0] for row in con.execute("SELECT name FROM databases ORDER BY name").fetchall()]

    # --- tables -------------------------------------------------------------------------------
    def put_table(self, table: Table, partitions: Sequence[Partition]) -> None:
        """Create or replace ``table`` and all its partitions, in one transaction."""
        table = _validated(table, partitions)
        with self._connect() as con:
            if not con.execute("SELECT 1 FROM databases WHERE name = ?", [table.database]).fetchone():
                raise CatalogError(
                    f"database {table.database!r} does not exist in the catalog; "
                    "create it first (create_database)"
                )
            con.execute("BEGIN TRANSACTION")
            try:
                self._delete_table(con, table.database, table.name)
                con.execute(
                    "INSERT INTO tables VALUES (?, ?, ?, ?, ?, ?)",
                    [
                        table.database, table.name, table.location, table.format, table.crawler,
                        _naive_utc(table.updated_at),
                    ],
                )
                column_rows = [
                    [table.database, table.name, is_key, ordinal, column.name, column.type]
                    for is_key, group in ((False, table.columns), (True, table.partition_keys))
                    for ordinal, column in enumerate(group)
                ]
                if column_rows:
                    con.executemany("INSERT INTO columns VALUES (?, ?, ?, ?, ?, ?)", column_rows)
                self._insert_partitions(con, table.database, table.name, partitions)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        logger.debug("catalog: put %s with %d partitions", table.qualified_name, len(partitions))

    def add_partition(self, database: str, name: str, partition: Partition) -> bool:
        """Add one partition to a crawled table (Glue's BatchCreatePartition); False when its values exist already."""
        database, name = database.lower(), name.lower()
        with self._connect() as con:
            if not con.execute("SELECT 1 FROM tables WHERE database = ? AND name = ?", [database, name]).fetchone():
                raise CatalogError(f"table {database}.{name} is not in the catalog; crawl it first")
            keys = con.execute(
                "SELECT count(*) FROM columns WHERE database = ? AND table_name = ? AND is_partition_key",
                [database, name],
            ).fetchone()
            if keys is None or not partition.values or keys[0] != len(partition.values):
                raise CatalogError(
                    f"table {database}.{name}: partition {partition.location} has {len(partition.values)} values "
                    f"but the table has {keys[0] if keys else 0} partition keys"
                )
            held = con.execute(
                """SELECT p.ordinal, list(v.value ORDER BY v.key_ordinal) FROM partitions p
                   JOIN partition_values v ON v.database = p.database AND v.table_name = p.table_name
                    AND v.partition_ordinal = p.ordinal
                   WHERE p.database = ? AND p.table_name = ? GROUP BY p.ordinal""",
                [database, name],
            ).fetchall()
            if any(tuple(values) == partition.values for _, values in held):
                return False
            ordinal = max((row[0] for row in held), default=-1) + 1
            con.execute("BEGIN TRANSACTION")
            try:
                self._insert_partitions(con, database, name, [partition], first_ordinal=ordinal)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        logger.debug("catalog: added partition %s to %s.%s", partition.values, database, name)
        return True

    @staticmethod
    def _insert_partitions(
        con: duckdb.DuckDBPyConnection, database: str, name: str, partitions: Sequence[Partition],
        first_ordinal: int = 0,
    ) -> None:
        """Write ``partitions`` and their values, numbered from ``first_ordinal`` (inside the caller's transaction)."""
        numbered = list(enumerate(partitions, start=first_ordinal))
        if not numbered:
            return
        con.executemany("INSERT INTO partitions VALUES (?, ?, ?, ?)",
                        [[database, name, i, p.location] for i, p in numbered])
        value_rows = [[database, name, i, k, value] for i, p in numbered for k, value in enumerate(p.values)]
        if value_rows:
            con.executemany("INSERT INTO partition_values VALUES (?, ?, ?, ?, ?)", value_rows)

    @staticmethod
    def _delete_table(con: duckdb.DuckDBPyConnection, database: str, name: str) -> None:
        for child in _CHILD_TABLES:
            con.execute(f"DELETE FROM {child} WHERE database = ? AND table_name = ?", [database, name])
        con.execute("DELETE FROM tables WHERE database = ? AND name = ?", [database, name])

    def get_table(self, database: str, name: str) -> Table:
        database, name = database.lower(), name.lower()
        if name in self.iceberg.table_names(database):
            return self._iceberg_table(database, name)
        with self._connect() as con:
            tables = self._load_tables(con, "t.database = ? AND t.name = ?", [database, name])
        if not tables:
            raise CatalogError(
                f"table {database}.{name} is not in the catalog; run `etl tables` to list the tables "
                "(the pipeline catalogs a table once a run has written data to it)"
            )
        return tables[0]

    def crawled_table(self, database: str, name: str) -> Table | None:
        """A table the crawlers made (never an Iceberg table), or None: no Iceberg catalog is opened."""
        with self._connect() as con:
            tables = self._load_tables(con, "t.database = ? AND t.name = ?", [database.lower(), name.lower()])
        return tables[0] if tables else None

    def tables(self, database: str | None = None) -> list[Table]:
        """Every table, the Iceberg ones included (one of them wins over a crawled table of its name)."""
        with self._connect() as con:
            if database is None:
                crawled = self._load_tables(con, "TRUE", [])
            else:
                crawled = self._load_tables(con, "t.database = ?", [database.lower()])
        databases = [database.lower()] if database is not None else self.iceberg.databases()
        iceberg = [self._iceberg_table(db, name) for db in databases for name in self.iceberg.table_names(db)]
        names = {(t.database, t.name) for t in iceberg}
        return sorted(
            [t for t in crawled if (t.database, t.name) not in names] + iceberg, key=lambda t: (t.database, t.name)
        )

    def _iceberg_table(self, database: str, name: str) -> Table:
        """An Iceberg table as GlueCatalog registers it: all columns, no Hive partition keys."""
        table = self.iceberg.load(database, name)
        snapshot = table.current_snapshot()
        updated = (
            datetime.fromtimestamp(snapshot.timestamp_ms / 1000, UTC)
            if snapshot is not None
            else datetime.fromtimestamp(table.metadata.last_updated_ms / 1000, UTC)
        )
        return Table(
            database=database, name=name, location=table.location(), format=ICEBERG,
            columns=tuple(Column(c.name, c.type) for c in IcebergCatalog.columns(table)), partition_keys=(),
            crawler=None, updated_at=updated,
        )

    def partitions(self, database: str, name: str) -> list[Partition]:
        database, name = database.lower(), name.lower()
        if name in self.iceberg.table_names(database):
            return []  # Iceberg keeps its partitions in its own metadata, not as Hive partitions
        with self._connect() as con:
            if not con.execute(
                "SELECT 1 FROM tables WHERE database = ? AND name = ?", [database, name]
            ).fetchone():
                raise CatalogError(
                    f"table {database}.{name} is not in the catalog; run `etl tables` to list the tables"
                )
            rows = con.execute(
                """SELECT p.ordinal, p.location, v.key_ordinal, v.value
                   FROM partitions p LEFT JOIN partition_values v
                     ON v.database = p.database AND v.table_name = p.table_name
                    AND v.partition_ordinal = p.ordinal
                   WHERE p.database = ? AND p.table_name = ?
                   ORDER BY p.ordinal, v.key_ordinal""",
                [database, name],
            ).fetchall()
        values: dict[int, list[str]] = {}
        locations: dict[int, str] = {}
        for ordinal, location, key_ordinal, value in rows:
            locations[ordinal] = location
            values.setdefault(ordinal, [])
            if key_ordinal is not None:
                values[ordinal].append(value)
        return [Partition(values=tuple(values[i]), location=locations[i]) for i in sorted(locations)]

    @staticmethod
    def _load_tables(con: duckdb.DuckDBPyConnection, where: str, params: list[str]) -> list[Table]:
        table_rows = con.execute(
            f"SELECT t.database, t.name, t.location, t.format, t.crawler, t.updated_at FROM tables t "
            f"WHERE {where} ORDER BY t.database, t.name",
            params,
        ).fetchall()
        column_rows = con.execute(
            f"SELECT c.database, c.table_name, c.is_partition_key, c.name, c.type FROM columns c "
            f"JOIN tables t ON t.database = c.database AND t.name = c.table_name WHERE {where} "
            f"ORDER BY c.database, c.table_name, c.is_partition_key, c.ordinal",
            params,
        ).fetchall()
        columns: dict[tuple[str, str, bool], list[Column]] = {}
        for database, table_name, is_key, name, type_name in column_rows:
            columns.setdefault((database, table_name, is_key), []).append(Column(name, type_name))
        return [
            Table(
                database=database, name=name, location=location, format=file_format,
                columns=tuple(columns.get((database, name, False), [])),
                partition_keys=tuple(columns.get((database, name, True), [])), crawler=crawler,
                updated_at=updated_at.replace(tzinfo=UTC),
            )
            for database, name, location, file_format, crawler, updated_at in table_rows
        ]


def _normalise_name(name: str, what: str) -> str:
    cleaned = name.strip().lower()
    if not cleaned:
        raise CatalogError(f"a {what} name must not be empty")
    return cleaned


def _validated(table: Table, partitions: Sequence[Partition]) -> Table:
    database = _normalise_name(table.database, "database")
    name = _normalise_name(table.name, "table")
    if table.format not in FORMATS:
        raise CatalogError(
            f"table {database}.{name}: format {table.format!r} is not one of {', '.join(FORMATS)}"
        )
    names = [c.name.lower() for c in table.all_columns]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise CatalogError(f"table {database}.{name}: duplicate column names {', '.join(duplicates)}")
    for partition in partitions:
        if len(partition.values) != len(table.partition_keys):
            raise CatalogError(
                f"table {database}.{name}: partition {partition.location} has {len(partition.values)} values "
                f"but the table has {len(table.partition_keys)} partition keys"
            )
    columns = tuple(Column(c.name.lower(), c.type.lower()) for c in table.columns)
    keys = tuple(Column(c.name.lower(), c.type.lower()) for c in table.partition_keys)
    return Table(database, name, table.location, table.format, columns, keys, table.crawler, table.updated_at)
