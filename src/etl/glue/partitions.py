"""A run's raw and quarantine folders registered as partitions of their crawled tables, instead of a crawl.

A crawl costs a crawler's 10-minute minimum on AWS; most runs only add a ``run_id=<run>`` folder to a
table whose schema and layout the crawler knows already. The json_to_parquet job asks the catalog
for the table: when it is there, partitioned by ``run_id`` alone, and holds every column the job
wrote with the same type, the folder is added as a partition (Glue's BatchCreatePartition with the
table's storage descriptor, or the local catalog); otherwise the state machine crawls, as before.
What was decided is written into the job's manifest, and the ASL's Choice reads it.

The decision errs towards crawling: a table that is missing, laid out differently, or changed, and
any error asking the catalog, mean a crawl, which catalogs the folder either way.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from etl.commits import local_path
from etl.local.lake import SYSTEM

if TYPE_CHECKING:
    from pyspark.sql.types import DataType, StructType

    from etl.glue.catalog import Catalog

logger = logging.getLogger(__name__)

REGISTERED, CRAWL, NOTHING = "registered", "crawl", "none"  # the actions the ASL's Choice reads
# The crawlers' table prefix per zone (infra/ and the local runtime configure the crawlers with them).
TABLE_PREFIXES = {"raw": "raw_", "quarantine": "quarantine_"}
# The crawlers crawl each zone from its root; a table is a dataset's folder, level 2 counted from the bucket
# (Glue's TableLevelConfiguration), so a dataset defined at run time needs no new crawler target.
DATASET_TABLE_LEVEL = 2
PARTITION_KEY = "run_id"
CATALOG_FILE = "catalog.duckdb"  # the local Glue catalog, in the lake's _system folder
LOCAL_CATALOG_WAIT_SECONDS = 5.0
_INTEGERS = {"tinyint", "smallint", "int", "bigint"}


@dataclass(frozen=True)
class CatalogedTable:
    """What a crawler cataloged: the columns (name -> Glue type), partition keys and format."""

    columns: Mapping[str, str]
    partition_keys: tuple[str, ...]
    format: str | None
    storage: Mapping[str, Any] | None = None  # Glue's StorageDescriptor, which a new partition copies


class PartitionCatalog(Protocol):
    def table(self, database: str, name: str) -> CatalogedTable | None: ...

    def add_partition(self, database: str, name: str, table: CatalogedTable, values: list[str],
                      location: str) -> bool: ...


def table_name(prefix: str, folder: str) -> str:
    """The Glue table name a crawler gives a dataset folder: lower-cased, other characters than [a-z0-9_] as ``_``.

    Here rather than in etl.glue.crawler, so the Glue jobs (which ship without DuckDB) name tables by it too.
    """
    return re.sub(r"[^a-z0-9_]", "_", (prefix + folder).lower())


def crawled_table_name(zone: str, dataset: str) -> str:
    """The table a zone's crawler makes of a dataset folder."""
    return table_name(TABLE_PREFIXES[zone], dataset)


def register_run_folder(
    catalog: PartitionCatalog, database: str, table_name: str, schema: StructType, run_id: str, location: str,
) -> dict[str, Any]:
    """Add the run's folder to ``table_name`` when no crawl is needed; what was done, for the manifest."""
    decision: dict[str, Any] = {"table": table_name}
    try:
        table = catalog.table(database, table_name)
        reason = crawl_reason(table, table_name, schema)
        if reason is None and table is not None:
            added = catalog.add_partition(database, table_name, table, [run_id], location)
            logger.info("catalog: %s partition run_id=%s %s", table_name, run_id,
                        "added" if added else "was there already")
            return {**decision, "action": REGISTERED}
    except Exception as exc:
        reason = f"the catalog could not be asked or updated ({type(exc).__name__}: {str(exc).splitlines()[0]})"
        logger.warning("catalog: %s: %s; the crawler will catalog run_id=%s", table_name, reason, run_id)
    return {**decision, "action": CRAWL, "reason": reason}


def nothing_written(table_name: str) -> dict[str, Any]:
    return {"table": table_name, "action": NOTHING}


def crawl_reason(table: CatalogedTable | None, table_name: str, schema: StructType) -> str | None:
    """Why the folder needs a crawl (a new table, layout or schema), or None when it can be registered."""
    if table is None:
        return f"table {table_name} is not in the catalog yet"
    if table.partition_keys != (PARTITION_KEY,):
        keys = ", ".join(table.partition_keys) or "nothing"
        return f"table {table_name} is partitioned by {keys}, not {PARTITION_KEY}"
    for field in schema.fields:
        name, wanted = field.name.lower(), glue_type_of_spark(field.dataType)
        held = table.columns.get(name)
        if held is None:
            return f"column {name} is new to table {table_name}"
        if held != wanted and not (table.format == "json" and {held, wanted} <= _INTEGERS):
            return f"column {name} is {wanted} in this run but {held} in table {table_name}"
    return None


def glue_type_of_spark(data_type: DataType) -> str:
    """The Glue (Hive) type a crawler gives a column Spark wrote with ``data_type``."""
    from pyspark.sql import types as T

    if isinstance(data_type, (T.TimestampType, T.TimestampNTZType)):
        return "timestamp"
    if isinstance(data_type, T.ArrayType):
        return f"array<{glue_type_of_spark(data_type.elementType)}>"
    if isinstance(data_type, T.MapType):
        return f"map<{glue_type_of_spark(data_type.keyType)},{glue_type_of_spark(data_type.valueType)}>"
    if isinstance(data_type, T.StructType):
        fields = ",".join(f"{f.name.lower()}:{glue_type_of_spark(f.dataType)}" for f in data_type.fields)
        return f"struct<{fields}>"
    if isinstance(data_type, T.DecimalType):
        return f"decimal({data_type.precision},{data_type.scale})"
    return data_type.simpleString()  # bigint, int, smallint, tinyint, double, float, boolean, string, date, binary


def catalog_for(zone_uri: str) -> tuple[PartitionCatalog, str]:
    """The catalog a zone's tables are in, and how partition locations are written there.

    A local zone (a path or file: URI) is a bucket folder of a local lake, whose catalog is in its
    ``_system`` folder; anything else is S3, cataloged in the AWS Glue Data Catalog.
    """
    path = local_path(zone_uri)
    if path is not None:
        return LocalPartitionCatalog(path.resolve().parent / SYSTEM / CATALOG_FILE), "local"
    return GluePartitionCatalog(), "s3"


def partition_location(folder_uri: str, style: str) -> str:
    """A run folder as its crawler writes partition locations: an absolute path locally, ``s3://…/`` on AWS."""
    if style == "local":
        path = local_path(folder_uri)
        assert path is not None
        return str(path.resolve())
    return folder_uri.rstrip("/") + "/"


class LocalPartitionCatalog:
    """The lake's embedded catalog (etl.glue.catalog), which the local crawlers write."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._opened: Catalog | None = None

    def _catalog(self) -> Catalog:
        if self._opened is None:
            from etl.glue.catalog import Catalog  # DuckDB: imported only where the local catalog is used

            # A run waits a few seconds at most for a crawl's hold on the file, then leaves the folder to the crawler.
            self._opened = Catalog(self.path, wait_seconds=LOCAL_CATALOG_WAIT_SECONDS)
        return self._opened

    def table(self, database: str, name: str) -> CatalogedTable | None:
        if not self.path.is_file():
            return None
        table = self._catalog().crawled_table(database, name)
        if table is None:
            return None
        return CatalogedTable(
            columns={c.name: c.type for c in table.columns},
            partition_keys=tuple(c.name for c in table.partition_keys),
            format=table.format,
        )

    def add_partition(self, database: str, name: str, table: CatalogedTable, values: list[str],
                      location: str) -> bool:
        from etl.glue.catalog import Partition

        return self._catalog().add_partition(database, name, Partition(tuple(values), location))


class GluePartitionCatalog:
    """The AWS Glue Data Catalog, through boto3 (GetTable, BatchCreatePartition)."""

    def __init__(self, client: Any | None = None) -> None:
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("glue")
        return self._client

    def table(self, database: str, name: str) -> CatalogedTable | None:
        try:
            found = self.client.get_table(DatabaseName=database, Name=name)["Table"]
        except self.client.exceptions.EntityNotFoundException:
            return None
        storage = found.get("StorageDescriptor") or {}
        return CatalogedTable(
            columns={c["Name"].lower(): c["Type"].lower() for c in storage.get("Columns", [])},
            partition_keys=tuple(k["Name"].lower() for k in found.get("PartitionKeys", [])),
            format=(found.get("Parameters") or {}).get("classification"),
            storage=storage,
        )

    def add_partition(self, database: str, name: str, table: CatalogedTable, values: list[str],
                      location: str) -> bool:
        # The partition reads its files as the table does: the table's storage descriptor, at the run's folder.
        storage = {key: value for key, value in (table.storage or {}).items() if key != "Location"}
        answer = self.client.batch_create_partition(
            DatabaseName=database, TableName=name,
            PartitionInputList=[{"Values": values, "StorageDescriptor": {**storage, "Location": location}}],
        )
        for error in answer.get("Errors", []):
            code = error.get("ErrorDetail", {}).get("ErrorCode")
            if code == "AlreadyExistsException":  # a re-run of the same run
                return False
            raise RuntimeError(f"{code}: {error.get('ErrorDetail', {}).get('ErrorMessage')}")
        return True
