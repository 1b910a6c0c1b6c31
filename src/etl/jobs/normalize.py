"""Job 2: a run's raw records into the processed table, PII-free, typed, deduplicated.

The processed table is an Apache Iceberg table (``glue_catalog.<database>.processed_<dataset>``),
partitioned by the contract's partition columns (year and month of the business date). The run is
upserted with one MERGE: the latest record per primary key wins (ingestion time, then run id, then
line within the run), so re-running a run, or running the same input twice, changes nothing and
commits nothing. The MERGE is one Iceberg commit: a query sees the table before the run or after it,
and a run killed before its commit leaves the table as it was.

The cost of a run follows the run, not the table: the keys the run re-sends are looked up in the
table's key and lineage columns, and only the partitions holding the versions they replace are read
and rewritten (copy-on-write). New keys are written as new files.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import Any

from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from etl.contracts import Contract, load_contract
from etl.jobs import iceberg, maintain
from etl.jobs.hadoop_fs import HadoopFs
from etl.jobs.layout import RunLayout
from etl.transforms import INGESTED_AT, LINE_ORDER, RUN_ID, latest_per_key, normalize, processed_schema, raw_schema

logger = logging.getLogger(__name__)

JOB = "normalize"
ARGUMENTS = ("JOB_NAME", "run_id", "dataset", "database", "raw_uri", "processed_uri")

Partition = tuple[str, ...]
# What the table holds for a key the run sends: which version, and where.
_HELD = "_held"
# Whether a run row is newer than the table's row of its key (the table's row is t., the run's s.).
NEWER = (f"s.`{INGESTED_AT}` > t.`{INGESTED_AT}` OR "
         f"(s.`{INGESTED_AT}` = t.`{INGESTED_AT}` AND s.`{RUN_ID}` > t.`{RUN_ID}`)")


def run(spark: SparkSession, args: Mapping[str, str]) -> dict[str, Any]:
    started = time.monotonic()
    contract = load_contract(args["dataset"])
    layout = RunLayout(args["dataset"], args["run_id"], raw_uri=args["raw_uri"], processed_uri=args["processed_uri"])
    fs = HadoopFs(spark)
    iceberg.use_catalog(spark, layout.processed_uri)
    table = iceberg.processed_table(args["database"], layout.dataset)
    iceberg.ensure_table(spark, table, processed_schema(contract), [p.name for p in contract.partition_columns],
                         layout.processed_dataset)
    manifest: dict[str, Any] = {"run_id": layout.run_id, "dataset": layout.dataset, "table": table.replace("`", "")}
    if not fs.exists(layout.raw_run):
        manifest.update(raw_records=0, records=0, duplicates_in_run=0, inserted=0, updated=0, unchanged=0,
                        partitions_written=[], snapshot=None)
    else:
        manifest.update(iceberg.retry_on_conflict(lambda: _merge_run(spark, contract, layout, table), table))
    manifest["seconds"] = round(time.monotonic() - started, 3)
    fs.write_text(layout.manifest(JOB), json.dumps(manifest))
    logger.info("normalize %s: %s", layout.run_id, manifest)
    return manifest


def _merge_run(spark: SparkSession, contract: Contract, layout: RunLayout, table: str) -> dict[str, Any]:
    keys = list(contract.primary_key)
    partition_names = [p.name for p in contract.partition_columns]
    raw = spark.read.schema(raw_schema(contract)).parquet(layout.raw_run)
    read_metric = Observation("read")
    run_rows = normalize(raw, contract, layout.run_id).observe(read_metric, F.count(F.lit(1)).alias("raw_records"))
    # The run's latest version of each key (ingestion time and run id are the run's own: the line decides).
    latest = latest_per_key(run_rows, keys, [F.col(LINE_ORDER).desc()]).drop(LINE_ORDER)
    # The version the table holds of each of those keys, and its partition: one read of the table's key,
    # lineage and partition columns, joined to the run's keys (broadcast when the run is small).
    held = spark.table(table).select(
        *keys, F.struct(F.col(INGESTED_AT), F.col(RUN_ID), *[F.col(p) for p in partition_names]).alias(_HELD)
    )
    compared = latest.join(held, keys, "left")
    is_new = F.col(_HELD).isNull()
    is_newer = (F.col(INGESTED_AT) > F.col(f"{_HELD}.{INGESTED_AT}")) | (
        (F.col(INGESTED_AT) == F.col(f"{_HELD}.{INGESTED_AT}")) & (F.col(RUN_ID) > F.col(f"{_HELD}.{RUN_ID}"))
    )
    # Materialised once: the counts, the partitions and the MERGE all use it, and the table may change.
    classified = compared.withColumn("_change", F.when(is_new, "insert").when(is_newer, "update")).localCheckpoint()
    counts = {row["_change"]: row["n"] for row in classified.groupBy("_change").agg(F.count("*").alias("n")).collect()}
    raw_records = int(read_metric.get["raw_records"])
    records = sum(counts.values())
    result: dict[str, Any] = {
        "raw_records": raw_records,
        "records": records,
        "duplicates_in_run": raw_records - records,
        "inserted": counts.get("insert", 0),
        "updated": counts.get("update", 0),
        "unchanged": counts.get(None, 0),  # the table already holds this version or a newer one
    }
    pending = classified.where(F.col("_change").isNotNull())
    replaced = _partitions(pending.where(F.col("_change") == "update"), [f"{_HELD}.{p}" for p in partition_names])
    written = _partitions(pending, partition_names) | replaced
    result["partitions_written"] = ["/".join(f"{n}={v}" for n, v in zip(partition_names, p)) for p in sorted(written)]
    if not result["inserted"] and not result["updated"]:
        result["snapshot"] = None  # nothing newer than the table holds: no commit
        return result
    source = pending.drop(_HELD, "_change")
    iceberg.merge(spark, table, source, keys, NEWER, scan_filter=_in_partitions(partition_names, replaced))
    result["snapshot"] = iceberg.current_snapshot(spark, table)
    result["partitions_compacted"] = _compact_crowded(spark, table, partition_names, written)
    return result


def _compact_crowded(spark: SparkSession, table: str, names: list[str], written: set[Partition]) -> int:
    """Compact the partitions this run wrote that now hold too many files (see etl.jobs.maintain)."""
    crowded = [p for p in maintain.crowded_partitions(spark, table, names) if p in written]
    if crowded:
        where = " OR ".join(
            "(" + " AND ".join(f"`{n}` = {iceberg.sql_string(v)}" for n, v in zip(names, p)) + ")" for p in crowded
        )
        iceberg.retry_on_conflict(lambda: maintain.compact_partitions(spark, table, where), table)
    return len(crowded)


def _partitions(df: DataFrame, columns: list[str]) -> set[Partition]:
    return {tuple(str(v) for v in row) for row in df.select(*columns).distinct().collect()}


def _in_partitions(names: list[str], partitions: set[Partition]) -> str:
    """A condition on the target's partition columns: in one of ``partitions`` (FALSE when there are none).

    Written as ORs of equalities: Iceberg turns those into file filters (a tuple IN list it cannot).
    """
    if not partitions:
        return "FALSE"
    return "(" + " OR ".join(
        "(" + " AND ".join(f"t.`{n}` = {iceberg.sql_string(v)}" for n, v in zip(names, p)) + ")"
        for p in sorted(partitions)
    ) + ")"
