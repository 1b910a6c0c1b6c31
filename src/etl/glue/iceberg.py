"""The Glue Data Catalog's Iceberg tables, and their local stand-in: an Iceberg SQL catalog in one SQLite file.

On AWS, Iceberg's GlueCatalog keeps each table's current metadata file in the Glue Data Catalog: Spark
on Glue commits there and Athena reads from there. Locally an Iceberg JDBC catalog in the file
``_system/iceberg_catalog.db`` of the lake plays that part: Spark commits through Iceberg's JdbcCatalog
(``etl.jobs.iceberg``) and the local Athena reads through pyiceberg's SqlCatalog, which keeps its
tables in the same SQLite schema. Both name the catalog ``glue_catalog``, the name the jobs use on Glue.

A reader here sees a table at one snapshot: the data files that snapshot lists, never a file of a
commit in progress or one a newer snapshot replaced.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from etl.errors import CatalogError, QueryError

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.catalog.sql import SqlCatalog
    from pyiceberg.table import Table as PyIcebergTable

logger = logging.getLogger(__name__)

CATALOG = "glue_catalog"  # the Spark catalog name of the jobs, on Glue and locally
CATALOG_FILE = "iceberg_catalog.db"  # in the lake's _system folder, beside the Glue catalog's catalog.duckdb
SCHEMA_VERSION = "V1"  # the JDBC catalog's table layout that both Iceberg (Java) and pyiceberg write and read
FORMAT = "iceberg"

# Glue type of each Iceberg primitive type, as GlueCatalog writes the table's columns.
_GLUE_TYPES = {
    "boolean": "boolean", "int": "int", "long": "bigint", "float": "float", "double": "double",
    "date": "date", "timestamp": "timestamp", "timestamptz": "timestamp with time zone", "string": "string",
    "uuid": "string", "binary": "binary",
}

# Athena's metadata tables of an Iceberg table ("<table>$snapshots", "<table>$history") and their columns.
METADATA_TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "snapshots": (
        ("committed_at", "timestamp(3) with time zone"), ("snapshot_id", "bigint"), ("parent_id", "bigint"),
        ("operation", "string"), ("manifest_list", "string"), ("summary", "map<string,string>"),
    ),
    "history": (
        ("made_current_at", "timestamp(3) with time zone"), ("snapshot_id", "bigint"), ("parent_id", "bigint"),
        ("is_current_ancestor", "boolean"),
    ),
}


@dataclass(frozen=True)
class IcebergColumn:
    name: str
    type: str  # the Glue type name


def jdbc_uri(catalog_file: Path) -> str:
    return f"jdbc:sqlite:{catalog_file}"


def glue_type(iceberg_type: Any) -> str:
    """The Glue type name of a pyiceberg type (``decimal(18,2)`` as it is; nested types by their string)."""
    text = str(iceberg_type)
    return _GLUE_TYPES.get(text, text.replace(", ", ","))


def data_file_path(location: str) -> Path:
    """The local path of a data file location as Iceberg writes it (``file:/lake/...`` or a plain path)."""
    if location.startswith("file:"):
        rest = location[len("file:") :]
        return Path("/" + rest.lstrip("/"))
    if "://" in location:
        raise QueryError(f"data file {location} is not on this machine; query this table on Athena")
    return Path(location)


class IcebergCatalog:
    """Read access to the lake's Iceberg tables (the file may not exist yet: then there are none)."""

    def __init__(self, catalog_file: Path) -> None:
        self.file = catalog_file
        self._catalog: SqlCatalog | None = None

    def _open(self) -> SqlCatalog | None:
        if self._catalog is None:
            if not self._created_by_spark():
                return None
            from pyiceberg.catalog.sql import SqlCatalog

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                # Read-only use: the layout Spark's JdbcCatalog created is detected, never migrated.
                self._catalog = SqlCatalog(CATALOG, uri=f"sqlite:///{self.file}")
        return self._catalog

    def _created_by_spark(self) -> bool:
        """Whether Spark's JdbcCatalog has created its tables in the file (read-only check).

        pyiceberg opened on a file Spark is still initialising would create the tables itself, in its
        older layout (no ``iceberg_type`` column), under the JdbcCatalog starting in the same moment:
        a crawler polling the catalog beside the first ``normalize`` of a lake did that.
        """
        if not self.file.is_file():
            return False
        import sqlite3

        try:
            with contextlib.closing(sqlite3.connect(f"{self.file.as_uri()}?mode=ro", uri=True, timeout=30)) as con:
                columns = {row[1] for row in con.execute("PRAGMA table_info(iceberg_tables)")}
        except sqlite3.Error:
            return False
        return "iceberg_type" in columns

    def table_names(self, database: str) -> list[str]:
        catalog = self._open()
        if catalog is None:
            return []
        from pyiceberg.exceptions import NoSuchNamespaceError

        try:
            return sorted(name for _, name in catalog.list_tables(database.lower()))
        except NoSuchNamespaceError:
            return []

    def databases(self) -> list[str]:
        catalog = self._open()
        if catalog is None:
            return []
        return sorted(".".join(namespace) for namespace in catalog.list_namespaces())

    def load(self, database: str, name: str) -> PyIcebergTable:
        catalog = self._open()
        from pyiceberg.exceptions import NoSuchTableError

        if catalog is None:
            raise CatalogError(f"table {database}.{name} is not an Iceberg table of this lake")
        try:
            return catalog.load_table((database.lower(), name.lower()))
        except NoSuchTableError as exc:
            raise CatalogError(f"table {database}.{name} is not an Iceberg table of this lake") from exc

    def partitioning(self, database: str, name: str) -> tuple[list[str], int]:
        """The table's partition fields, and how many partitions its current snapshot holds."""
        table = self.load(database, name)
        fields = [field.name for field in table.spec().fields]
        if table.current_snapshot() is None:
            return fields, 0
        return fields, table.inspect.partitions().num_rows

    @staticmethod
    def columns(table: PyIcebergTable) -> tuple[IcebergColumn, ...]:
        return tuple(IcebergColumn(field.name, glue_type(field.field_type)) for field in table.schema().fields)


def snapshot_files(table: PyIcebergTable, snapshot_id: int | None = None) -> list[Path]:
    """The data files of the table at a snapshot (the current one by default); [] for a table with no data.

    A snapshot's rows are these files' rows less the rows its position delete files name (snapshot_scan).
    """
    return snapshot_scan(table, snapshot_id).data


@dataclass(frozen=True)
class SnapshotScan:
    """What a reader needs for a snapshot's rows: its data files, and the position deletes to apply to them."""

    data: list[Path]
    position_deletes: list[Path]


def snapshot_scan(table: PyIcebergTable, snapshot_id: int | None = None) -> SnapshotScan:
    """The data files and position delete files of a snapshot (merge-on-read writes the latter).

    A position delete file lists (data file location, row position) pairs: those rows are no longer in
    the table. Equality deletes (which Spark's MERGE never writes) are refused rather than guessed at.
    """
    if snapshot_id is None and table.current_snapshot() is None:
        return SnapshotScan([], [])
    from pyiceberg.manifest import DataFileContent

    data: list[Path] = []
    deletes: dict[str, Path] = {}
    for task in table.scan(snapshot_id=snapshot_id).plan_files():
        data.append(data_file_path(task.file.file_path))
        for delete in task.delete_files:
            if delete.content != DataFileContent.POSITION_DELETES:
                raise QueryError(
                    f"table {'.'.join(table.name())} has equality delete files at this snapshot, which the local "
                    "Athena does not apply; run `etl maintain` or query on Athena"
                )
            deletes.setdefault(delete.file_path, data_file_path(delete.file_path))
    return SnapshotScan(data, sorted(deletes.values()))


def snapshot_at(table: PyIcebergTable, moment: datetime) -> int:
    """The snapshot that was current at ``moment`` (Athena's FOR TIMESTAMP AS OF)."""
    instant = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    millis = int(instant.timestamp() * 1000)
    current = None
    for entry in table.metadata.snapshot_log:
        if entry.timestamp_ms <= millis:
            current = entry.snapshot_id
    if current is None:
        raise QueryError(
            f"table {'.'.join(table.name())} has no snapshot at or before {instant.isoformat()}; "
            "its history starts later (SELECT * FROM \"<table>$history\" lists it)"
        )
    return current


def check_snapshot(table: PyIcebergTable, snapshot_id: int) -> int:
    """Athena's FOR VERSION AS OF: the id must be one of the table's snapshots."""
    if table.snapshot_by_id(snapshot_id) is None:
        raise QueryError(
            f"table {'.'.join(table.name())} has no snapshot {snapshot_id}; "
            "SELECT snapshot_id FROM \"<table>$snapshots\" lists them"
        )
    return snapshot_id


def metadata_table(table: PyIcebergTable, kind: str) -> pa.Table:
    """The rows of ``"<table>$<kind>"`` with Athena's column names."""
    if kind == "snapshots":
        return table.inspect.snapshots().select([name for name, _ in METADATA_TABLES["snapshots"]])
    if kind == "history":
        return table.inspect.history().select([name for name, _ in METADATA_TABLES["history"]])
    raise QueryError(f"metadata table ${kind} is not available locally; use $snapshots or $history, or Athena")
