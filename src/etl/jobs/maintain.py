"""Job 3: keep the processed Iceberg tables' small files and old snapshots bounded.

Every run adds at least one data file to each month it writes and one snapshot. This job, run by
``etl maintain`` locally and on a schedule on AWS (infra/), does for each processed table:

1. compaction: the small data files of each partition are rewritten into one (Iceberg's
   ``rewrite_data_files``, bin-packing), and the manifests likewise;
2. snapshot expiry: snapshots older than the retention, beyond the last few, are dropped with the
   files only they referenced (time travel reaches back as far as the retention);
3. orphan cleanup: files under the table that no snapshot lists and that are older than a grace
   period (a run killed inside normalize leaves such files) are deleted.

Between two maintenance runs the normalize job compacts a partition it wrote once that partition
holds more than ``COMPACT_ABOVE_FILES`` small files (under ``SMALL_FILE_BYTES``) or position delete
files, bin-packing its small data files and merging its delete files. So however often files
arrive, a partition holds at most ``COMPACT_ABOVE_FILES`` small files and delete files, plus its large ones
(each at least ``SMALL_FILE_BYTES``, so at most its bytes ÷ that).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from etl.errors import ConfigError
from etl.jobs import iceberg

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

logger = logging.getLogger(__name__)

JOB = "maintain"
ARGUMENTS = ("JOB_NAME", "database", "processed_uri", "retention_hours", "orphan_hours")
DEFAULT_RETENTION_HOURS = 7 * 24  # time travel reaches back a week
DEFAULT_ORPHAN_HOURS = 24  # no writer runs longer than this, so a file this old that no snapshot lists is garbage
MIN_ORPHAN_HOURS = 24  # Iceberg's remove_orphan_files refuses a shorter age
RETAIN_LAST = 10  # snapshots kept whatever their age
COMPACT_ABOVE_FILES = 8  # a partition with more small data files than this is compacted by the run that wrote it
# A "small" file: what one producer file adds to a month is some kilobytes. The run's compaction bin-packs only
# files under this size, so a month's large files are never rewritten because small ones arrived: its cost
# follows the drops, not the table.
SMALL_FILE_BYTES = 4 * 1024**2


def run(spark: SparkSession, args: Mapping[str, str]) -> dict[str, Any]:
    started = time.monotonic()
    iceberg.use_catalog(spark, args["processed_uri"])
    retention = timedelta(hours=float(args.get("retention_hours") or DEFAULT_RETENTION_HOURS))
    orphan_age = timedelta(hours=float(args.get("orphan_hours") or DEFAULT_ORPHAN_HOURS))
    if orphan_age < timedelta(hours=MIN_ORPHAN_HOURS):
        raise ConfigError(
            f"orphan files must be at least {MIN_ORPHAN_HOURS} hours old to be deleted (a younger file may belong "
            f"to a commit in progress; Iceberg refuses less), got {orphan_age.total_seconds() / 3600:g}"
        )
    report: dict[str, Any] = {"tables": {}}
    for dataset in processed_datasets(spark, args["database"]):
        name = iceberg.processed_table(args["database"], dataset)
        report["tables"][name.replace("`", "")] = maintain_table(spark, name, retention, orphan_age)
    report["seconds"] = round(time.monotonic() - started, 3)
    logger.info("maintain: %s", json.dumps(report))
    return report


def processed_datasets(spark: SparkSession, database: str) -> list[str]:
    """The datasets that have a processed table: packaged ones and those defined at run time alike."""
    from pyspark.errors import AnalysisException

    try:
        tables = spark.sql(f"SHOW TABLES IN {iceberg.CATALOG}.`{database}`").collect()
    except AnalysisException:  # no database yet: nothing was processed
        return []
    return sorted(row.tableName.removeprefix(iceberg.PROCESSED_PREFIX) for row in tables
                  if row.tableName.startswith(iceberg.PROCESSED_PREFIX))


def maintain_table(spark: SparkSession, name: str, retention: timedelta, orphan_age: timedelta) -> dict[str, Any]:
    """Compact, expire and clean one table; returns what each step did (Iceberg's own counts)."""
    plain = name.replace("`", "")
    database_table = plain.split(".", 1)[1]
    before = live_files(spark, name)
    # A data file with any delete is rewritten without its deleted rows, so no delete file outlives a compaction.
    options = "map('min-input-files', '2', 'delete-file-threshold', '1')"
    compacted = iceberg.retry_on_conflict(lambda: _call(
        spark, "rewrite_data_files", f"table => '{database_table}', options => {options}"), plain)
    _call(spark, "rewrite_manifests", f"table => '{database_table}'")
    now = datetime.now(UTC)
    expired = _call(
        spark, "expire_snapshots",
        f"table => '{database_table}', older_than => TIMESTAMP '{_timestamp(now - retention)}', "
        f"retain_last => {RETAIN_LAST}",
    )
    orphans = spark.sql(
        f"CALL {iceberg.CATALOG}.system.remove_orphan_files(table => '{database_table}', "
        f"older_than => TIMESTAMP '{_timestamp(now - orphan_age)}')"
    ).count()
    return {
        "live_files_before": before,
        "live_files_after": live_files(spark, name),
        "files_rewritten": int(compacted.get("rewritten_data_files_count", 0)),
        "files_added": int(compacted.get("added_data_files_count", 0)),
        "snapshots_expired_data_files_deleted": int(expired.get("deleted_data_files_count", 0)),
        "orphan_files_deleted": orphans,
        "snapshots": spark.sql(f"SELECT count(*) FROM {name}.snapshots").collect()[0][0],
    }


def compact_partitions(spark: SparkSession, name: str, where: str) -> dict[str, Any]:
    """Compact the partitions ``where`` selects (a SQL condition on partition columns), rewriting small files only.

    Their small data files are bin-packed (any deletes against them applied), and their position delete
    files merged into one per partition. A large data file with deletes is left as it is: folding those
    deletes in would rewrite the month (the daily maintenance does it).
    """
    plain = name.replace("`", "")
    database_table = plain.split(".", 1)[1]
    options = f"map('min-input-files', '2', 'min-file-size-bytes', '{SMALL_FILE_BYTES}')"
    result = _call(spark, "rewrite_data_files",
                   f"table => '{database_table}', where => {iceberg.sql_string(where)}, options => {options}")
    _call(spark, "rewrite_position_delete_files",
          f"table => '{database_table}', where => {iceberg.sql_string(where)}, "
          "options => map('min-input-files', '2')")
    return result


def crowded_partitions(spark: SparkSession, name: str, names: list[str]) -> list[tuple[str, ...]]:
    """The partitions holding more than ``COMPACT_ABOVE_FILES`` small live data files or delete files."""
    rows = spark.sql(
        f"SELECT partition, count(*) AS small FROM {name}.files WHERE (content = 0 AND file_size_in_bytes < "
        f"{SMALL_FILE_BYTES}) OR content = 1 GROUP BY partition HAVING count(*) > {COMPACT_ABOVE_FILES}"
    ).collect()
    return sorted(tuple(str(row["partition"][n]) for n in names) for row in rows)


def live_files(spark: SparkSession, name: str) -> int:
    """The data files the current snapshot lists."""
    return int(spark.sql(f"SELECT count(*) FROM {name}.files WHERE content = 0").collect()[0][0])


def _call(spark: SparkSession, procedure: str, arguments: str) -> dict[str, Any]:
    rows = spark.sql(f"CALL {iceberg.CATALOG}.system.{procedure}({arguments})").collect()
    return rows[0].asDict() if rows else {}


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
