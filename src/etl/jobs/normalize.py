"""Job 2: a run's raw records into the processed zone, PII-free, typed, deduplicated.

The run's records are merged into the processed partitions they touch: its own
year/month partitions plus any partition still holding an older version of one of its
keys. In each, the latest record per primary key wins (ingestion time, then run id), so
re-running a run reproduces the same partitions and running the same input twice changes
nothing. Partitions are rewritten in staging and committed together (etl.commits): a
query sees every rewritten partition of a run or none of them.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import Any

from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from etl.commits import Swap, commit, recover
from etl.contracts import Contract, load_contract
from etl.jobs.hadoop_fs import HadoopFs
from etl.jobs.layout import RunLayout, join
from etl.transforms import INGESTED_AT, LINE_ORDER, RUN_ID, latest_per_key, normalize, processed_schema, raw_schema

logger = logging.getLogger(__name__)

JOB = "normalize"
ARGUMENTS = ("JOB_NAME", "run_id", "dataset", "raw_uri", "processed_uri")

Partition = tuple[str, ...]
SHUFFLE_PARTITION_BYTES = 16 * 1024**2
_KEY_IN_RUN = "_key_in_run"


def run(spark: SparkSession, args: Mapping[str, str]) -> dict[str, Any]:
    started = time.monotonic()
    contract = load_contract(args["dataset"])
    layout = RunLayout(args["dataset"], args["run_id"], raw_uri=args["raw_uri"], processed_uri=args["processed_uri"])
    fs = HadoopFs(spark)
    manifest: dict[str, Any] = {"run_id": layout.run_id, "dataset": layout.dataset}
    # Read the processed partitions only after any commit a killed run left half-applied is finished.
    recover(fs, layout.processed_dataset)
    if not fs.exists(layout.raw_run):
        manifest.update(raw_records=0, records=0, duplicates_in_run=0, partitions_rewritten=[])
    else:
        manifest.update(_merge_run(spark, fs, contract, layout))
    manifest["seconds"] = round(time.monotonic() - started, 3)
    fs.write_text(layout.manifest(JOB), json.dumps(manifest))
    logger.info("normalize %s: %s", layout.run_id, manifest)
    return manifest


def _merge_run(spark: SparkSession, fs: HadoopFs, contract: Contract, layout: RunLayout) -> dict[str, Any]:
    keys = list(contract.primary_key)
    partition_names = [p.name for p in contract.partition_columns]
    raw = spark.read.schema(raw_schema(contract)).parquet(layout.raw_run)
    run_rows = normalize(raw, contract, layout.run_id)
    # The partitions the run touches: its own (observed by json_to_parquet, else read from the date column) ...
    affected = _run_partitions(fs, layout, partition_names) or _partitions(run_rows, partition_names)
    present = _partitions_present(fs, layout.processed_dataset, partition_names)
    # ... and those still holding an older version of one of its keys (a corrected date moves a key). Only
    # the partitions the run does not rewrite anyway are searched: often none, as a run spans the months.
    others = present - affected
    if others:
        existing, _ = _read_partitions(spark, contract, layout, partition_names, others)
        holding = existing.select(*keys, *partition_names).join(raw.select(*keys), keys, "left_semi")
        affected |= _partitions(holding, partition_names)
    candidates, inputs = run_rows, [layout.raw_run]
    if affected & present:
        current, paths = _read_partitions(spark, contract, layout, partition_names, affected & present)
        candidates = run_rows.unionByName(current, allowMissingColumns=True)
        inputs += paths
    one_writer = _size_shuffle(spark, fs, inputs) <= SHUFFLE_PARTITION_BYTES
    if one_writer:
        # Few rows: one task reads them, keeps the latest per key and writes every partition. Rows in
        # one Spark partition need no shuffle for the window (warm 10k: 0.1-0.15 s less than two stages).
        candidates = candidates.coalesce(1)

    # One window over the run's rows and the partitions' current rows: the latest version of each key
    # wins (ingestion time, then run id, then line within the run; older rows have no line).
    in_run = F.col(LINE_ORDER).isNotNull()
    read_metric, kept_metric = Observation("read"), Observation("kept")
    candidates = candidates.observe(read_metric, F.count(F.when(in_run, 1)).alias("raw_records"))
    newest_first = [F.col(INGESTED_AT).desc(), F.col(RUN_ID).desc(), F.col(LINE_ORDER).desc()]
    merged = latest_per_key(candidates, keys, newest_first, key_had=(_KEY_IN_RUN, in_run)).observe(
        kept_metric, F.count(F.when(F.col(_KEY_IN_RUN), 1)).alias("records")
    )
    rows = merged.drop(_KEY_IN_RUN, LINE_ORDER)
    _rewrite_partitions(fs, rows, layout, partition_names, affected, one_writer=one_writer)
    raw_records, records = int(read_metric.get["raw_records"]), int(kept_metric.get["records"])
    return {
        "raw_records": raw_records,
        "records": records,
        "duplicates_in_run": raw_records - records,
        "partitions_rewritten": ["/".join(_partition_folders(partition_names, p)) for p in sorted(affected)],
    }


def _size_shuffle(spark: SparkSession, fs: HadoopFs, inputs: list[str]) -> int:
    """About 16 MB of Parquet (some 100 MB of rows) per shuffle partition, at least one per core; the bytes read."""
    parquet_bytes = sum(fs.du(uri) for uri in inputs)
    cores = spark.sparkContext.defaultParallelism
    spark.conf.set("spark.sql.shuffle.partitions", str(max(cores, -(-parquet_bytes // SHUFFLE_PARTITION_BYTES))))
    return parquet_bytes


def _partitions_present(fs: HadoopFs, root: str, names: list[str]) -> set[Partition]:
    """The partition folders (``year=2024/month=01``) under ``root``: a listing per level, not a check each."""
    found: set[Partition] = {()}
    for name in names:
        found = {
            (*values, status.name.split("=", 1)[1])
            for values in found
            for status in fs.list(_partition_path(root, names, values))
            if status.is_dir and status.name.startswith(f"{name}=")
        }
    return found


def _run_partitions(fs: HadoopFs, layout: RunLayout, names: list[str]) -> set[Partition] | None:
    """The partitions json_to_parquet saw the run's records fall into (None: its manifest does not say)."""
    manifest_uri = layout.manifest("json_to_parquet")
    if not fs.exists(manifest_uri):
        return None
    partitions = json.loads(fs.read_text(manifest_uri)).get("partitions")
    if not partitions or any(len(values) != len(names) for values in partitions):
        return None
    return {tuple(str(v) for v in values) for values in partitions}


def _partitions(df: DataFrame, names: list[str]) -> set[Partition]:
    return {tuple(row) for row in df.select(*names).distinct().collect()}


def _read_partitions(
    spark: SparkSession, contract: Contract, layout: RunLayout, names: list[str], partitions: set[Partition]
) -> tuple[DataFrame, list[str]]:
    """The current rows of some processed partitions (partition columns from the folder names), and their paths."""
    paths = [_partition_path(layout.processed_dataset, names, values) for values in sorted(partitions)]
    reader = spark.read.schema(processed_schema(contract)).option("basePath", layout.processed_dataset)
    return reader.parquet(*paths), paths


def _partition_folders(names: list[str], values: Partition) -> list[str]:
    """``["year=2024", "month=01"]``: the folders of a partition (or of its first levels)."""
    return [f"{n}={v}" for n, v in zip(names, values)]


def _partition_path(root: str, names: list[str], values: Partition) -> str:
    return join(root, *_partition_folders(names, values))


def _rewrite_partitions(
    fs: HadoopFs, merged: DataFrame, layout: RunLayout, names: list[str], affected: set[Partition], *, one_writer: bool
) -> None:
    """Write the merged rows to staging, one file per partition, and commit the affected partitions together.

    ``one_writer``: the rows are few and in one Spark partition, and one task writes every partition
    (sorted by partition, so one file each) instead of a second shuffle that spreads them over the cores.
    """
    staging = layout.processed_staging
    # One file per partition: the data of one run and month is small enough, and Athena prefers fewer files.
    spread = merged.coalesce(1) if one_writer else merged.repartition(*names)
    spread.write.mode("overwrite").partitionBy(*names).parquet(staging)
    written = _partitions_present(fs, staging, names)
    swaps = []
    for values in sorted(affected):
        staged = _partition_path(staging, names, values)
        final = _partition_path(layout.processed_dataset, names, values)
        # A partition missing from staging lost all its keys to other partitions: it is removed.
        swaps.append(Swap(final, staged if values in written else None))
    commit(fs, layout.processed_dataset, layout.run_id, swaps)
    fs.delete(staging)
