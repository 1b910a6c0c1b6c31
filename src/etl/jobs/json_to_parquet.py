"""Job 1: one landing object to typed Parquet in the raw zone; bad lines to quarantine.

Good lines go to ``raw/<dataset>/run_id=<run>/``, rejected lines verbatim with their
reason to ``quarantine/<dataset>/run_id=<run>/``; each is written to a staging folder and
committed (etl.commits), so a re-run replaces exactly this run's output and a killed run
leaves nothing half-written. The counts go to a
manifest the state machine reads for the notification. A file that cannot be read at
all is copied whole to ``quarantine/_files/`` and the job fails with the reason.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from etl.commits import Swap, commit, recover
from etl.contracts import Contract, load_contract
from etl.errors import InputFileError, SourceGoneError
from etl.jobs.hadoop_fs import HadoopFs
from etl.jobs.layout import RunLayout
from etl.sniff import HEAD_BYTES, Sniffed, sniff
from etl.transforms import LINE_ORDER, REASON, VALUE, classify, prepare_lines, rejected_lines, valid_records

logger = logging.getLogger(__name__)

JOB = "json_to_parquet"
ARGUMENTS = ("JOB_NAME", "run_id", "dataset", "source_uri", "ingested_at", "raw_uri", "quarantine_uri")
_PARTITION_SHIFT = 33  # monotonically_increasing_id puts the partition index above bit 33


def run(spark: SparkSession, args: Mapping[str, str]) -> dict[str, Any]:
    started = time.monotonic()
    contract = load_contract(args["dataset"])
    layout = RunLayout(args["dataset"], args["run_id"], raw_uri=args["raw_uri"], quarantine_uri=args["quarantine_uri"])
    source = args["source_uri"]
    fs = HadoopFs(spark)
    manifest: dict[str, Any] = {"run_id": layout.run_id, "dataset": layout.dataset, "source": source}
    if not fs.exists(source):
        raise SourceGoneError(source)
    recover(fs, layout.raw_dataset)  # a killed earlier attempt may have left a commit half-applied
    recover(fs, layout.quarantine_dataset)
    try:
        sniffed = _sniff(fs, source, contract)
        read_uri = _readable_copy(fs, source, sniffed, layout)
        lines = _read_lines(spark, read_uri, sniffed)
        if lines is None:
            raise InputFileError(source, "not a valid JSON array")
    except InputFileError as error:
        _quarantine_whole_file(spark, fs, layout, source, error.reason)
        manifest.update(format="unreadable", records_read=0, loaded=0, quarantined=0, blank_lines=0,
                        quarantined_file=True, reason=error.reason, seconds=round(time.monotonic() - started, 3))
        fs.write_text(layout.manifest(JOB), json.dumps(manifest))
        raise
    counts = _load(spark, fs, lines, contract, layout, source, args["ingested_at"])
    fs.delete(layout.raw_staging)
    manifest.update(format=sniffed.format + (".gz" if sniffed.gzip else ""), **counts, quarantined_file=False,
                    seconds=round(time.monotonic() - started, 3))
    fs.write_text(layout.manifest(JOB), json.dumps(manifest))
    logger.info("json_to_parquet %s: %s", layout.run_id, counts)
    return manifest


def _sniff(fs: HadoopFs, source: str, contract: Contract) -> Sniffed:
    head = fs.read_head(source, HEAD_BYTES)
    sniffed = sniff(head, source, contract.accepted_formats)
    if sniffed.format == "empty" and len(head) == HEAD_BYTES:
        return Sniffed("jsonl", sniffed.gzip)  # only the head is blank: read it all
    return sniffed


def _readable_copy(fs: HadoopFs, source: str, sniffed: Sniffed, layout: RunLayout) -> str:
    """Hadoop picks the codec by file suffix: give gzip content without ``.gz`` a name that has it."""
    if sniffed.gzip and not source.lower().endswith(".gz"):
        staged = f"{layout.raw_staging}/_source/input.gz"
        fs.copy(source, staged)
        return staged
    return source


def _read_lines(spark: SparkSession, uri: str, sniffed: Sniffed) -> DataFrame | None:
    """One row per record candidate: ``value`` (text) and ``line_order`` (position in the file)."""
    if sniffed.format == "empty":
        return spark.createDataFrame([], f"{VALUE} string, {LINE_ORDER} long")
    if sniffed.format == "json_array":
        whole = spark.read.text(uri, wholetext=True)
        elements = whole.select(F.from_json(F.col(VALUE), "array<string>").alias("items"))
        if elements.where(F.col("items").isNull()).limit(1).count():
            return None
        return elements.select(F.posexplode("items").alias(LINE_ORDER, VALUE))
    return spark.read.text(uri).withColumn(LINE_ORDER, F.monotonically_increasing_id())


def _load(
    spark: SparkSession,
    fs: HadoopFs,
    lines: DataFrame,
    contract: Contract,
    layout: RunLayout,
    source: str,
    ingested_at: str,
) -> dict[str, int]:
    prepared = prepare_lines(lines)
    candidates = prepared.where(~F.col("is_blank")).drop("is_blank")
    classified = classify(candidates, contract).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        # One pass over the parsed lines gives the counts and each input partition's line count,
        # from which quarantined lines get their real line numbers.
        partition = F.shiftright(F.col(LINE_ORDER), _PARTITION_SHIFT)
        per_partition = (
            prepared.groupBy(partition.alias("p"))
            .agg(F.count(F.lit(1)).alias("lines"), F.sum(F.col("is_blank").cast("long")).alias("blank"))
            .collect()
        )
        bad_count = classified.where(F.col(REASON).isNotNull()).count()
        total_lines = sum(row["lines"] for row in per_partition)
        blank = sum(row["blank"] or 0 for row in per_partition)
        records = total_lines - blank
        line_number = _line_numbers({row["p"]: row["lines"] for row in per_partition})

        good = valid_records(classified, contract, ingested_at)
        raw = _stage(good, records - bad_count, layout.raw_staging + "/data", layout.raw_run, "parquet")
        bad = rejected_lines(classified, source, line_number)
        quarantine = _stage(bad.coalesce(1), bad_count, layout.quarantine_staging, layout.quarantine_run, "json")
        commit(fs, layout.raw_dataset, layout.run_id, [raw])
        commit(fs, layout.quarantine_dataset, layout.run_id, [quarantine])
    finally:
        classified.unpersist()
    return {"records_read": records, "loaded": records - bad_count, "quarantined": bad_count, "blank_lines": blank}


def _line_numbers(lines_per_partition: dict[int, int]) -> Column:
    """1-based line (or array element) number from ``line_order`` and the lines before each partition."""
    offsets, running = {}, 0
    for index in sorted(lines_per_partition):
        offsets[index] = running
        running += lines_per_partition[index]
    partition = F.shiftright(F.col(LINE_ORDER), _PARTITION_SHIFT)
    within = F.col(LINE_ORDER) - F.shiftleft(partition, _PARTITION_SHIFT)
    offset = F.lit(0).cast("long")
    for index, value in offsets.items():
        offset = F.when(partition == index, F.lit(value)).otherwise(offset)
    return within + offset + 1


def _stage(df: DataFrame, rows: int, staging: str, final: str, fmt: str) -> Swap:
    """Write ``df`` to staging, to replace ``final`` on commit; with no rows, ``final`` is removed."""
    if rows == 0:
        return Swap(final)
    writer = df.write.mode("overwrite")
    if fmt == "json":
        writer.option("ignoreNullFields", "false").json(staging)
    else:
        writer.parquet(staging)
    return Swap(final, staging)


def _quarantine_whole_file(spark: SparkSession, fs: HadoopFs, layout: RunLayout, source: str, reason: str) -> None:
    name = source.rstrip("/").rsplit("/", 1)[-1]
    fs.copy(source, layout.quarantine_whole_file(name))
    row = spark.createDataFrame(
        [(source, None, f"whole file quarantined: {reason}", None)],
        "source string, line_number long, reason string, raw_line string",
    )
    quarantine = _stage(row.coalesce(1), 1, layout.quarantine_staging, layout.quarantine_run, "json")
    commit(fs, layout.raw_dataset, layout.run_id, [Swap(layout.raw_run)])
    commit(fs, layout.quarantine_dataset, layout.run_id, [quarantine])
    fs.delete(layout.raw_staging)
