"""The processed tables as Apache Iceberg tables, from the jobs' side: the catalog, the table, the upsert.

On Glue the catalog ``glue_catalog`` is Iceberg's GlueCatalog, configured by the job's parameters
(``--datalake-formats iceberg`` and ``--conf``, set by infra/). Locally it is Iceberg's JdbcCatalog on
the lake's SQLite file (see etl.glue.iceberg), configured here on the shared session the first time a
job of that lake runs.

The table is written merge-on-read: a MERGE that replaces rows writes position delete files (which
rows of which data file are gone) beside the new rows, instead of rewriting every data file holding
a replaced key. Copy-on-write rewrote whole months for a few re-sent records, so a correction's cost
grew with the table (BENCHMARKS.md: 31 s for 100 old records on a 5m-record lake). Readers apply the
deletes (Spark, Athena, and the local Athena by an anti-join); compaction folds them back in.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from etl.commits import file_uri, local_path
from etl.errors import ConfigError
from etl.glue.iceberg import CATALOG, CATALOG_FILE, SCHEMA_VERSION, jdbc_uri
from etl.local.lake import SYSTEM

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

logger = logging.getLogger(__name__)

CATALOG_CONF = f"spark.sql.catalog.{CATALOG}"
SPARK_EXTENSIONS = "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions"  # MERGE INTO, CALL
PROCESSED_PREFIX = "processed_"  # the processed table of dataset d is processed_<d>
# Table properties every processed table is created with.
TABLE_PROPERTIES = {
    "format-version": "2",
    # Merge-on-read for every row-level operation (see the module docstring).
    "write.merge.mode": "merge-on-read",
    "write.update.mode": "merge-on-read",
    "write.delete.mode": "merge-on-read",
    # Snappy, like every other Parquet file of the pipeline (Iceberg's default, zstd, took longer to write here).
    "write.parquet.compression-codec": "snappy",
    # Row groups of about 1 MB (Iceberg's default is 128 MB): each data file is sorted by the key (the table's
    # sort order), so a row group holds a narrow range of keys, and the lookup of a run's keys reads only the
    # row groups whose range meets the run's (Parquet's min/max per row group), not every key of a month.
    "write.parquet.row-group-size-bytes": str(1024 * 1024),
    # Each commit writes a new metadata file; keep the last 20 and delete older ones as commits go by.
    "write.metadata.delete-after-commit.enabled": "true",
    "write.metadata.previous-versions-max": "20",
    # Conflicting commits (another writer got in first) are retried by Iceberg itself a few times first.
    "commit.retry.num-retries": "6",
}
# An append spreads its rows over this many tasks per table partition they fall into (see append).
TASKS_PER_PARTITION = 2
# A MERGE that lost a race to another commit touching the same files is re-run this many times.
MERGE_ATTEMPTS = 5
_CONFLICTS = ("ValidationException", "CommitFailedException")
T = TypeVar("T")


def sql_string(value: str) -> str:
    """A Spark SQL string literal (Spark escapes with backslashes, not by doubling quotes)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def table_name(database: str, table: str) -> str:
    return f"{CATALOG}.`{database}`.`{table}`"


def processed_table(database: str, dataset: str) -> str:
    return table_name(database, PROCESSED_PREFIX + dataset)


def glue_spark_conf(warehouse: str) -> dict[str, str]:
    """The session settings of ``glue_catalog`` on AWS Glue: Iceberg's GlueCatalog and S3FileIO (infra/ passes them)."""
    return {
        "spark.sql.extensions": SPARK_EXTENSIONS,
        CATALOG_CONF: "org.apache.iceberg.spark.SparkCatalog",
        f"{CATALOG_CONF}.catalog-impl": "org.apache.iceberg.aws.glue.GlueCatalog",
        f"{CATALOG_CONF}.io-impl": "org.apache.iceberg.aws.s3.S3FileIO",
        f"{CATALOG_CONF}.warehouse": warehouse,
    }


def use_catalog(spark: SparkSession, processed_uri: str) -> None:
    """Point ``glue_catalog`` at the lake's local Iceberg catalog, unless the session already has Glue's."""
    implementation = spark.conf.get(f"{CATALOG_CONF}.catalog-impl", None) or ""
    if implementation.endswith("GlueCatalog"):
        return
    warehouse = local_path(processed_uri)
    if warehouse is None:
        raise ConfigError(
            f"the Iceberg catalog {CATALOG!r} is not configured for {processed_uri}; on Glue the job needs "
            "--datalake-formats iceberg and the catalog's --conf settings (infra/ sets them)"
        )
    catalog_file = warehouse.resolve().parent / SYSTEM / CATALOG_FILE
    wanted = {
        "": "org.apache.iceberg.spark.SparkCatalog",
        ".type": "jdbc",
        ".uri": jdbc_uri(catalog_file),
        ".warehouse": file_uri(warehouse),
        ".jdbc.schema-version": SCHEMA_VERSION,
    }
    current = spark.conf.get(f"{CATALOG_CONF}.uri", None)
    if current == wanted[".uri"]:
        return
    catalog_file.parent.mkdir(parents=True, exist_ok=True)
    for key, value in wanted.items():
        spark.conf.set(CATALOG_CONF + key, value)
    if current is not None:
        # The session already loaded the catalog of another lake (tests, the warm-up): load it anew.
        spark._jsparkSession.sessionState().catalogManager().reset()  # type: ignore[union-attr]


def ensure_table(
    spark: SparkSession, name: str, schema: Any, partition_columns: Sequence[str], location: str,
    sort_columns: Sequence[str] = (),
) -> None:
    """Create the table at ``location`` if it is missing; add columns the schema gained (never rewrites data).

    A new table's files are written sorted by ``sort_columns`` (the key) within each write task: no extra
    shuffle, and each file's row groups then hold narrow key ranges (see TABLE_PROPERTIES).
    """
    database = name.rsplit(".", 1)[0]
    spark.sql(f"CREATE NAMESPACE IF NOT EXISTS {database}")
    columns = ", ".join(f"`{field.name}` {field.dataType.simpleString()}" for field in schema.fields)
    partitions = ", ".join(f"`{p}`" for p in partition_columns)
    partitioned = f"PARTITIONED BY ({partitions}) " if partitions else ""  # a small table may have none
    properties = ", ".join(f"'{k}' = '{v}'" for k, v in TABLE_PROPERTIES.items())
    created = not spark.catalog.tableExists(name.replace("`", ""))
    spark.sql(
        f"CREATE TABLE IF NOT EXISTS {name} ({columns}) USING iceberg {partitioned}"
        f"LOCATION {sql_string(location)} TBLPROPERTIES ({properties})"
    )
    if created and sort_columns:
        # One commit: writes clustered by partition (one file per partition and write, not one per partition
        # and task), each task's rows sorted by the key.
        columns = ", ".join(f"`{c}`" for c in sort_columns)
        distributed = "WRITE DISTRIBUTED BY PARTITION " if partitions else "WRITE "
        spark.sql(f"ALTER TABLE {name} {distributed}LOCALLY ORDERED BY {columns}")
    present = {field.name: field.dataType.simpleString() for field in spark.table(name).schema.fields}
    _check_evolution(name, present, schema)
    for field in schema.fields:
        wanted = field.dataType.simpleString()
        if field.name not in present:
            logger.info("table %s gains column %s %s", name, field.name, wanted)
            spark.sql(f"ALTER TABLE {name} ADD COLUMN `{field.name}` {wanted}")
        elif present[field.name] != wanted:
            logger.info("table %s widens column %s to %s", name, field.name, wanted)
            spark.sql(f"ALTER TABLE {name} ALTER COLUMN `{field.name}` TYPE {wanted}")


def _check_evolution(name: str, present: dict[str, str], schema: Any) -> None:
    """Refuse, in one line, a contract the table's rows cannot follow: a column gone, or a type changed
    otherwise than Iceberg promotes it (adding optional columns and widening are done by ensure_table).
    Spark's type names (simpleString: int, bigint, decimal(p,s)) are the contract's."""
    from etl.contracts.evolution import widens

    wanted = {field.name: field.dataType.simpleString() for field in schema.fields}
    gone = [column for column in present if column not in wanted]
    changed = [f"{column} {present[column]} -> {wanted[column]}" for column in present
               if column in wanted and not widens(present[column], wanted[column])]
    if gone or changed:
        problems = [*(f"column {c} is no longer in the contract (removed, or made PII)" for c in gone),
                    *(f"column type changed ({c})" for c in changed)]
        raise ConfigError(
            f"the contract no longer matches {name.replace('`', '').split('.', 1)[1]}: {'; '.join(problems)}. "
            "A contract version may "
            "add optional fields and widen int to bigint or a decimal's precision; keep the rest as it is"
        )


def merge(
    spark: SparkSession, name: str, source: DataFrame, keys: Sequence[str], newer: str, *, scan_filter: str | None
) -> None:
    """MERGE ``source`` into the table: a key's row is replaced when ``newer`` holds, new keys are inserted.

    ``scan_filter`` (on ``t.``) narrows the target rows the MERGE compares with: the partitions that hold
    the keys being replaced. Iceberg prunes every other file, and checks at commit that no other writer
    changed those partitions meanwhile.
    """
    view = f"_etl_merge_{uuid.uuid4().hex}"
    source.createOrReplaceTempView(view)
    on = " AND ".join(f"t.`{k}` = s.`{k}`" for k in keys)
    if scan_filter:
        on = f"{on} AND {scan_filter}"
    try:
        spark.sql(
            f"MERGE INTO {name} t USING {view} s ON {on} "
            f"WHEN MATCHED AND ({newer}) THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *"
        )
    finally:
        spark.catalog.dropTempView(view)


def append(name: str, rows: DataFrame, partition_columns: Sequence[str] = (), partitions: int = 0) -> None:
    """Add rows to the table in one commit (the run brings only keys the table does not hold).

    ``partitions``: how many of the table's partitions the rows fall into, when known. The rows are then
    hashed by ``partition_columns`` into TASKS_PER_PARTITION times as many tasks, so that a task writes one
    partition or two, each in one file sorted by the key (Iceberg still sorts each task's rows). Iceberg's
    own distribution hashes them into spark.sql.shuffle.partitions buckets, which adaptive execution then
    merges up to Iceberg's advisory size: 24 months went into 3 unequal tasks, and on 2 cores the last ran
    alone (a 5m first load: normalize 14.8-15.9 s, against 11.4-13.2 s this way). The price: adaptive
    execution no longer splits one very large partition across tasks (Iceberg's file size still rolls its
    files).
    """
    if partition_columns and partitions:
        spread = rows.repartition(TASKS_PER_PARTITION * partitions, *partition_columns)
        spread.writeTo(name).option("distribution-mode", "none").append()
    else:
        rows.writeTo(name).append()


def retry_on_conflict(attempt: Callable[[], T], what: str, attempts: int = MERGE_ATTEMPTS) -> T:
    """Run ``attempt`` again when its commit lost to a concurrent commit of the same table.

    Each attempt reads the table afresh, so the latest version per key still wins.
    """
    for number in range(1, attempts + 1):
        try:
            return attempt()
        except Exception as exc:  # py4j/pyspark wrap Iceberg's exceptions; their class name is in the text
            text = str(exc)
            if number == attempts or not any(conflict in text for conflict in _CONFLICTS):
                raise
            pause = random.uniform(0.5, 1.5) * number
            logger.warning("%s: a concurrent commit won (attempt %d of %d); retrying in %.1f s: %s",
                           what, number, attempts, pause, text.splitlines()[0][:200])
            time.sleep(pause)
    raise AssertionError("unreachable")


def has_snapshot(spark: SparkSession, name: str) -> bool:
    """Whether the table has a snapshot (a table without one holds no data file)."""
    return _table(spark, name).currentSnapshot() is not None


def holds_data(spark: SparkSession, name: str, within: tuple[str, Any, Any] | None = None) -> bool:
    """Whether the table has a live data file; ``within`` (column, lowest, highest): one that may hold a value of
    the column in that range.

    Asked of Iceberg's scan planning, which answers from the column bounds its manifests keep per data file (a
    file without them may hold any value), on the driver: a query of the table's ``files`` runs a Spark job
    (0.07-0.13 s in a warm session, against 0.02-0.04 s).
    """
    scan = _table(spark, name).newScan()
    if within is not None:
        column, low, high = within
        jvm: Any = spark._jvm  # type: ignore[attr-defined]
        expressions = jvm.org.apache.iceberg.expressions.Expressions
        scan = scan.filter(getattr(expressions, "and")(expressions.greaterThanOrEqual(column, _iceberg_value(low)),
                                                        expressions.lessThanOrEqual(column, _iceberg_value(high))))
    tasks = scan.ignoreResiduals().planFiles()
    try:
        return bool(tasks.iterator().hasNext())
    finally:
        tasks.close()


def _iceberg_value(value: Any) -> Any:
    """A Python value as the literal Iceberg binds to a column: numbers and text as they are, anything else (dates,
    timestamps, decimals) as its ISO text, which Iceberg converts to the column's type (py4j passes no date, and a
    BigDecimal binds only at the column's scale)."""
    if isinstance(value, (bool, int, float, str)):
        return value
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def current_snapshot(spark: SparkSession, name: str) -> dict[str, Any] | None:
    """The table's current snapshot: id, operation and Iceberg's summary counts."""
    snapshot = _table(spark, name).currentSnapshot()
    if snapshot is None:
        return None
    summary = snapshot.summary()
    wanted = ("added-records", "deleted-records", "added-data-files", "deleted-data-files", "total-records",
              "total-data-files", "changed-partition-count")
    return {"snapshot_id": snapshot.snapshotId(), "operation": snapshot.operation(),
            **{key.replace("-", "_"): int(summary[key]) for key in wanted if key in summary}}


def _table(spark: SparkSession, name: str) -> Any:
    """Iceberg's table object, from the catalog Spark's queries use.

    Asked of it rather than by a query of the table's metadata tables: on a new JVM such a query plans and
    runs a Spark job (some 0.2 s); this is a lookup in the catalog the query would have used.
    """
    jvm: Any = spark._jvm  # type: ignore[attr-defined]
    return jvm.org.apache.iceberg.spark.Spark3Util.loadIcebergTable(spark._jsparkSession, name)
