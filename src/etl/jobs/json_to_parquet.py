"""Job 1: one landing object to typed Parquet in the raw zone; bad lines to quarantine.

Good lines go to ``raw/<dataset>/run_id=<run>/``, rejected lines verbatim with their
reason to ``quarantine/<dataset>/run_id=<run>/``; each is written to a staging folder and
committed (etl.commits), so a re-run replaces exactly this run's output and a killed run
leaves nothing half-written. Each folder is then added to its crawled table as a ``run_id``
partition when the table already has its schema (etl.glue.partitions), so most runs need no
crawl. The counts, and what was cataloged, go to a manifest the state machine reads for its
crawl Choices and the notification. A file that cannot be read at
all is copied whole to ``quarantine/_files/`` and the job fails with the reason.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pyspark.sql import Column, DataFrame, Observation, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from etl.commits import Swap, commit, recover
from etl.contracts import Contract, Field
from etl.contracts.store import HadoopContractStore, effective_contract
from etl.errors import InputFileError, NothingLoadedError, SourceChangedError, SourceGoneError
from etl.glue.partitions import (
    catalog_for,
    crawled_table_name,
    nothing_written,
    partition_location,
    register_run_folder,
)
from etl.jobs.hadoop_fs import HadoopFs
from etl.jobs.layout import RunLayout
from etl.native import computed_now, kept_text
from etl.sniff import HEAD_BYTES, Sniffed, head_text, looks_like, sniff
from etl.spark import session_settings, text_pieces
from etl.transforms import (
    LINE_ORDER,
    REASON,
    VALUE,
    classify,
    mostly_plain,
    partition_key,
    prepare_lines,
    processed_value,
    rejected_lines,
    valid_records,
)

logger = logging.getLogger(__name__)

JOB = "json_to_parquet"
ARGUMENTS = ("JOB_NAME", "run_id", "dataset", "database", "source_uri", "ingested_at", "raw_uri", "quarantine_uri")
_PARTITION_SHIFT = 33  # monotonically_increasing_id puts the partition index above bit 33
ONE_FILE_BELOW_BYTES = 64 * 1024**2  # a smaller source is written as one Parquet file
MAX_SPLIT_BYTES = 128 * 1024**2  # Spark's default split size: the upper bound of a task's share of the file
CORRUPT_GZIP = "corrupt gzip data: the stream is cut short or damaged; send the whole file again"
# What Hadoop's gzip codecs say when the stream ends early or does not inflate.
_GZIP_READ_ERRORS = ("Unexpected end of input stream", "ZipException", "Corrupt GZIP", "gzip stream CRC failure",
                     "incorrect header check", "invalid block type", "invalid distance", "invalid stored block",
                     "invalid code lengths")
# Up to this many held lines (rejected, or left to the full check) are found again by their position (some 12
# bytes each in the first pass's metrics and in the text that carries them to the second read); a file with
# more is mostly bad, and its lines are all checked again instead. Up to IN_LIST_UP_TO of them are picked by an IN
# filter, more by a join.
REJECTED_BY_POSITION = 200_000
IN_LIST_UP_TO = 2_000
# The first read keeps the text of up to this many held lines of each input split (and this much text) in its
# metrics, so that a file with a few bad lines is not read a second time to quarantine them.
KEPT_LINES_PER_SPLIT = 5_000
KEPT_BYTES_PER_SPLIT = 1024**2
PARTITION_KEY = "_partition_key"  # see with_partition_key
RUN_KEY = "_run_key"  # see with_partition_key
TOUCHED_COLUMNS = (PARTITION_KEY, RUN_KEY)  # what with_partition_key adds, to drop after the observation
# A key of these types has its range observed for normalize (as JSON numbers or strings in the manifest).
RANGED_KEY_TYPES = ("int", "bigint", "string")
KEPT = "_kept"  # see kept_lines
_GLOB_CHARACTERS = re.compile(r"([\\{}\[\]*?])")


def run(spark: SparkSession, args: Mapping[str, str]) -> dict[str, Any]:
    started = time.monotonic()
    fs = HadoopFs(spark)
    contract = effective_contract(args["dataset"], HadoopContractStore(fs, args["raw_uri"]))
    layout = RunLayout(args["dataset"], args["run_id"], raw_uri=args["raw_uri"], quarantine_uri=args["quarantine_uri"])
    source = args["source_uri"]
    manifest: dict[str, Any] = {"run_id": layout.run_id, "dataset": layout.dataset, "source": source}
    if not fs.exists(source):
        raise SourceGoneError(source)
    recover(fs, layout.raw_dataset)  # a killed earlier attempt may have left a commit half-applied
    recover(fs, layout.quarantine_dataset)
    try:
        sniffed, head = _sniff(fs, source, contract)
        read_uri = _readable_copy(fs, source, sniffed, layout)
        is_csv = "csv" in contract.accepted_formats
        lines = None if is_csv else _read_lines(spark, read_uri, sniffed)
        if lines is None and not is_csv:
            raise InputFileError(source, "not a valid JSON array")
        try:
            file_bytes = fs.size(read_uri)
            with _reading_settings(spark, file_bytes):
                if lines is None:
                    # Imported here: the CSV job builds on this module's helpers.
                    from etl.jobs import csv_records

                    counts, written = csv_records.load(
                        spark, fs, read_uri, contract, layout, source, args["ingested_at"], file_bytes)
                    sniffed = Sniffed("csv", sniffed.gzip)
                else:
                    # JSON Lines whose first lines mostly pass the quick yes have the full check only for the others.
                    hold = sniffed.format == "jsonl" and mostly_plain(head_text(head), contract)
                    counts, written = _load(
                        spark, fs, lines, contract, layout, source, args["ingested_at"], file_bytes, hold=hold)
        except Exception as exc:
            if sniffed.gzip and _is_corrupt_compression(exc):
                raise InputFileError(source, CORRUPT_GZIP) from None
            raise
    except InputFileError as error:
        _quarantine_whole_file(spark, fs, layout, source, error.reason)
        manifest.update(format="unreadable", records_read=0, loaded=0, quarantined=0, blank_lines=0,
                        quarantined_file=True, reason=error.reason, seconds=round(time.monotonic() - started, 3))
        fs.write_text(layout.manifest(JOB), json.dumps(manifest))
        raise
    fs.delete(layout.raw_staging)
    manifest.update(format=sniffed.format + (".gz" if sniffed.gzip else ""), **counts, quarantined_file=False,
                    catalog=_catalog_run_folders(layout, args["database"], written),
                    seconds=round(time.monotonic() - started, 3))
    fs.write_text(layout.manifest(JOB), json.dumps(manifest))
    logger.info("json_to_parquet %s: %s", layout.run_id, counts)
    if counts["quarantined"] and not counts["loaded"]:
        # Every line is quarantined (each with its reason): the run fails, saying what the file looks like.
        hint = _nothing_loaded_hint(spark, fs, source, layout, contract)
        raise NothingLoadedError(source, counts["quarantined"], hint)
    return manifest


def _nothing_loaded_hint(spark: SparkSession, fs: HadoopFs, source: str, layout: RunLayout, contract: Contract) -> str:
    """Why no line loaded: what the file looks like, or the reason most of its lines were quarantined for."""
    formats = "JSON Lines, a JSON array" + (" or either one gzip-compressed" if "gzip" in contract.accepted_formats
                                             else "")
    is_csv = "csv" in contract.accepted_formats
    if is_csv:
        formats = "CSV with a header row" + (", or gzip-compressed" if "gzip" in contract.accepted_formats else "")
    kind = None if is_csv else looks_like(head_text(fs.read_head(source, HEAD_BYTES)))
    if kind is not None:
        return f"no line is a JSON record: this looks like {kind}; the {contract.dataset} contract accepts {formats}"
    reasons = spark.read.json(layout.quarantine_run).groupBy(REASON).count().orderBy(F.desc("count"), REASON)
    top = reasons.first()
    if top is None:
        return f"the {contract.dataset} contract accepts {formats}"
    return (f"no line meets the {contract.dataset} contract; the most common reason ({top['count']} lines): "
            f"{top[REASON]!r}; the reasons are in quarantine/{layout.dataset}/run_id={layout.run_id}/")


def _sniff(fs: HadoopFs, source: str, contract: Contract) -> tuple[Sniffed, bytes]:
    """What the file holds, judged by its first bytes; and those bytes."""
    head = fs.read_head(source, HEAD_BYTES)
    sniffed = sniff(head, source, contract.accepted_formats)
    if sniffed.format == "empty" and len(head) == HEAD_BYTES:
        return Sniffed("jsonl", sniffed.gzip), head  # only the head is blank: read it all
    return sniffed, head


def _readable_copy(fs: HadoopFs, source: str, sniffed: Sniffed, layout: RunLayout) -> str:
    """Hadoop picks the codec by file suffix: give gzip content without ``.gz`` a name that has it."""
    if sniffed.gzip and not source.lower().endswith(".gz"):
        staged = f"{layout.raw_staging}/_source/input.gz"
        fs.copy(source, staged)
        return staged
    return source


@contextmanager
def _reading_settings(spark: SparkSession, file_bytes: int) -> Iterator[None]:
    """Session settings while this job reads and checks the file; the previous values come back after.

    Splits: a multiple of the cores, each at most 128 MiB. Spark's default of 128 MiB splits gives a
    277 MB file three tasks: on two cores the third runs alone. Equal splits, as many as a few whole
    waves of tasks, keep every core busy to the end.

    No whole-stage code generation: the contract's checks would become one very large generated
    method, compiled (by Janino, then the JIT) on the same cores while the job runs. Code generated per
    expression did the same work faster: 1m records 11.3-12.4 s instead of 12.0-12.7 s in a new JVM,
    5.4-5.8 s instead of 5.8-6.3 s in a warm one (3 trials each, 2 cores).
    """
    cores = max(1, spark.sparkContext.defaultParallelism)
    waves = max(1, -(-file_bytes // (cores * MAX_SPLIT_BYTES)))
    split = max(1024**2, -(-file_bytes // (cores * waves)))
    settings = {"spark.sql.files.maxPartitionBytes": str(split), "spark.sql.codegen.wholeStage": "false"}
    with session_settings(spark, settings):
        yield


def _is_corrupt_compression(error: BaseException) -> bool:
    return any(marker in str(error) for marker in _GZIP_READ_ERRORS)


def literal_path(uri: str) -> str:
    """``uri`` escaped for Spark's file sources, which expand ``[ ] { } * ?`` as a glob pattern.

    A file named ``batch [1].json`` is then read as itself, not as ``batch 1.json``.
    """
    return _GLOB_CHARACTERS.sub(r"\\\1", uri)


def _read_lines(spark: SparkSession, uri: str, sniffed: Sniffed) -> DataFrame | None:
    """One row per record candidate: ``value`` (text) and ``line_order`` (position in the file)."""
    if sniffed.format == "empty":
        return spark.createDataFrame([], f"{VALUE} string, {LINE_ORDER} long")
    if sniffed.format == "json_array":
        whole = spark.read.text(literal_path(uri), wholetext=True)
        elements = whole.select(F.from_json(F.col(VALUE), "array<string>").alias("items"))
        if elements.where(F.col("items").isNull()).limit(1).count():
            return None
        # posexplode numbers elements with a 32-bit int; line_order is a long everywhere.
        exploded = elements.select(F.posexplode("items").alias("position", VALUE))
        return exploded.select(F.col(VALUE), F.col("position").cast("long").alias(LINE_ORDER))
    if sniffed.format == "json_object":  # one record spread over several lines: read as one, like [ {…} ]
        whole = spark.read.text(literal_path(uri), wholetext=True)
        return whole.select(F.col(VALUE), F.lit(0).cast("long").alias(LINE_ORDER))
    return spark.read.text(literal_path(uri)).withColumn(LINE_ORDER, F.monotonically_increasing_id())


def _load(
    spark: SparkSession,
    fs: HadoopFs,
    lines: DataFrame,
    contract: Contract,
    layout: RunLayout,
    source: str,
    ingested_at: str,
    file_bytes: int,
    *,
    hold: bool,
) -> tuple[dict[str, Any], dict[str, StructType]]:
    """Write the good records in one pass over the file, counting as it goes; then the lines it left out.

    Returns the counts, and the schema of what was written to each zone ("raw", "quarantine").

    The counts come from observed metrics of that pass, not from extra reads. With ``hold`` the pass
    checks each line by the quick yes only (etl.transforms.classify): the lines it does not pass, bad or
    not, are held, and checked in full afterwards (``settle_held``), which quarantines the bad ones and
    adds the others to the raw run. Without it the pass makes the full check, and holds only the rejected
    lines. The same pass keeps the held lines' text (up to KEPT_LINES_PER_SPLIT of each input split), so
    that they are settled without a second read of the file: their cost is that of those lines. A file
    with more held lines than that has them taken from its text again by the position the pass noted
    (``line_order``). A clean file, or one with a few bad lines, is read once.
    """
    partitions = lines.rdd.getNumPartitions()
    line_metrics, held_metric = Observation("lines"), Observation("held")
    prepared = prepare_lines(lines).observe(line_metrics, *_line_counts(partitions))
    is_held = F.col(REASON).isNotNull()

    def check(marked: DataFrame) -> DataFrame:  # the non-blank lines of prepare_lines' output, classified
        return classify(marked.where(~F.col("is_blank")).drop("is_blank"), contract, hold=hold)

    # The observation also stops the optimizer from pushing valid_records' filter on the reason below
    # the parse, where it would be rewritten to parse each line once per field it reads.
    classified = with_partition_key(check(prepared), contract).withColumn(KEPT, kept_line(is_held))
    classified = classified.observe(held_metric, F.count(F.when(is_held, 1)).alias("held"),
                                    rejected_positions(is_held), *touched_metrics(contract),
                                    F.array_join(F.collect_list(F.col(KEPT)), "\n").alias("kept"))
    classified = classified.drop(*TOUCHED_COLUMNS, KEPT)
    good = valid_records(classified, contract, ingested_at)
    if file_bytes < ONE_FILE_BELOW_BYTES:
        good = good.coalesce(1)  # a small run: one Parquet file, not one per input split
    good.write.mode("overwrite").parquet(layout.raw_staging + "/data")
    counted, held = line_metrics.get, int(held_metric.get["held"])
    blank = int(counted["blank"] or 0)
    records = int(counted["lines"]) - blank
    settled = Settled(rejected=0, touched=Touched.observed(held_metric.get))
    if held:
        # Kept lines come prepared; lines read again are prepared as in the pass.
        candidates, in_full, exact, read_bytes = held_candidates(
            spark, lines, held_metric.get, held, hold=hold, in_full=lambda text: classify(text, contract),
            as_in_pass=lambda text: check(prepare_lines(text)), file_bytes=file_bytes)
        line_number = line_numbers({i: int(counted[f"p{i}"] or 0) for i in range(partitions)})
        settled = settle_held(fs, candidates, in_full, contract, layout, source=source, ingested_at=ingested_at,
                              line_number=line_number, held=held, exact=exact, file_bytes=read_bytes,
                              touched=settled.touched)
    raw = Swap(layout.raw_run, layout.raw_staging + "/data" if records > settled.rejected else None)
    written: dict[str, StructType] = {"raw": good.schema} if raw.staged else {}
    quarantine = Swap(layout.quarantine_run)
    if settled.quarantine_schema is not None:
        written["quarantine"] = settled.quarantine_schema
        quarantine = Swap(layout.quarantine_run, layout.quarantine_staging)
    commit(fs, layout.raw_dataset, layout.run_id, [raw])
    commit(fs, layout.quarantine_dataset, layout.run_id, [quarantine])
    return {"records_read": records, "loaded": records - settled.rejected, "quarantined": settled.rejected,
            "blank_lines": blank, **settled.touched.manifest(contract)}, written


def _catalog_run_folders(layout: RunLayout, database: str, written: Mapping[str, StructType]) -> dict[str, Any]:
    """Register the run's raw and quarantine folders with their tables, or say why they need a crawl."""
    decisions: dict[str, Any] = {}
    for zone, zone_uri, folder in (
        ("raw", layout.raw_uri, layout.raw_run), ("quarantine", layout.quarantine_uri, layout.quarantine_run),
    ):
        table = crawled_table_name(zone, layout.dataset)
        if zone not in written:
            decisions[zone] = nothing_written(table)
            continue
        catalog, style = catalog_for(zone_uri)
        decisions[zone] = register_run_folder(
            catalog, database, table, written[zone], layout.run_id, partition_location(folder, style))
    return decisions



def with_partition_key(classified: DataFrame, contract: Contract) -> DataFrame:
    """``classified`` with PARTITION_KEY, to observe: the processed partition of each valid record
    (etl.transforms.partition_key); and with a ranged key (``ranged_key``), RUN_KEY: its processed key.

    Computed in the projection below the observation, in generated code: inside the metric's aggregate it
    was interpreted, row by row (some 6% of the job). Drop them after the observation.
    """
    is_valid = F.col(REASON).isNull()
    key, _ = partition_key(contract)
    marked = classified.withColumn(PARTITION_KEY, F.when(is_valid, key))
    field = ranged_key(contract)
    return marked if field is None else marked.withColumn(RUN_KEY, F.when(is_valid, processed_value(field, contract)))


def ranged_key(contract: Contract) -> Field | None:
    """The contract's key when its range is observed for normalize: one key column, of a RANGED_KEY_TYPES type."""
    if len(contract.primary_key) != 1:
        return None
    field = contract.field(contract.primary_key[0])
    return field if field.type in RANGED_KEY_TYPES else None


def touched_metrics(contract: Contract) -> list[Column]:
    """What the run's records touch in the processed table, for normalize: observed here, not re-read there.

    The processed partitions they fall into, as one string (keys joined by commas: metrics hand only plain
    values back to Python; read with ``touched_partition_values``); with a ranged key, its lowest and highest
    value, with which normalize asks Iceberg's per-file key bounds whether the table may hold one of the run's keys.
    """
    partitions = F.array_join(F.array_sort(F.collect_set(F.col(PARTITION_KEY))), ",").alias("partitions")
    if ranged_key(contract) is None:
        return [partitions]
    return [partitions, F.min(RUN_KEY).alias("key_low"), F.max(RUN_KEY).alias("key_high")]


@dataclass(frozen=True)
class Touched:
    """What ``touched_metrics`` observed of the run's loaded records: their partitions, and their key range (None
    without a ranged key or a record)."""

    partitions: str | None = None
    key_low: Any = None
    key_high: Any = None

    @classmethod
    def observed(cls, metrics: Mapping[str, Any]) -> Touched:
        return cls(metrics["partitions"], metrics.get("key_low"), metrics.get("key_high"))

    def joined(self, other: Touched) -> Touched:
        """Both observations' partitions and key range together (a file's first pass, and its held lines)."""
        keys = {key for observed in (self.partitions, other.partitions) for key in (observed or "").split(",") if key}
        lows = [value for value in (self.key_low, other.key_low) if value is not None]
        highs = [value for value in (self.key_high, other.key_high) if value is not None]
        return Touched(",".join(sorted(keys)), min(lows, default=None), max(highs, default=None))

    def manifest(self, contract: Contract) -> dict[str, Any]:
        """The job manifest's ``partitions`` (their values), and ``key_range`` ([lowest, highest]) when observed."""
        found: dict[str, Any] = {"partitions": touched_partition_values(contract, self.partitions)}
        if self.key_low is not None and self.key_high is not None:
            found["key_range"] = [self.key_low, self.key_high]
        return found


def touched_partition_values(contract: Contract, observed: str | None) -> list[list[str]]:
    """The partition values (["2024", "01"], …) of the keys ``touched_metrics`` observed."""
    _, values = partition_key(contract)
    return [values(key) for key in (observed or "").split(",") if key]


def rejected_positions(is_rejected: Column) -> Column:
    """The rejected lines' ``line_order``, comma-separated (up to REJECTED_BY_POSITION + 1 of them), to observe."""
    wanted = F.collect_list(F.when(is_rejected, F.col(LINE_ORDER)))
    return F.array_join(F.slice(wanted, 1, REJECTED_BY_POSITION + 1), ",").alias("positions")


def kept_line(is_rejected: Column) -> Column:
    """A rejected line's ``line_order`` and text as ``<line_order>:<hex of its bytes>``, for the first ones of each
    input split (etl.native.kept_text); NULL for the others. The bytes, so an undecodable one stays as it was."""
    text = kept_text(is_rejected, F.col(VALUE), KEPT_LINES_PER_SPLIT, KEPT_BYTES_PER_SPLIT)
    return F.concat(F.col(LINE_ORDER).cast("string"), F.lit(":"), F.hex(text.cast("binary")))


def kept_lines(observed: str | None) -> list[str]:
    """The lines ``kept_line`` kept (joined by newlines in the metrics), each as ``<line_order>:<hex>``."""
    return [item for item in (observed or "").split("\n") if item]


def kept_candidates(spark: SparkSession, kept: list[str]) -> DataFrame:
    """The kept lines (``kept_lines``) as ``value`` (their bytes as they were) and ``line_order``.

    Made in the JVM from one text of them all (etl.spark.text_pieces), and computed now
    (etl.native.computed_now): the full check of these few lines is then evaluated as the settling job is
    planned, not compiled and shipped to a task (a new JVM's job on 100k lines with 0.1% bad ones: 0.4 s, not 1.0 s).
    """
    split = text_pieces(spark, "\n".join(kept), "\n").select(
        F.unhex(F.substring_index(VALUE, ":", -1)).cast("string").alias(VALUE),
        F.substring_index(VALUE, ":", 1).cast("long").alias(LINE_ORDER))
    return computed_now(split)


def held_candidates(
    spark: SparkSession,
    lines: DataFrame,
    metrics: Mapping[str, Any],
    held: int,
    *,
    hold: bool,
    in_full: Callable[[DataFrame], DataFrame],
    as_in_pass: Callable[[DataFrame], DataFrame],
    file_bytes: int,
) -> tuple[DataFrame, Callable[[DataFrame], DataFrame], bool, int]:
    """Where ``settle_held`` takes the ``held`` lines of a first pass from (its ``metrics``: ``kept``, ``positions``):
    the candidates, the check to settle them with, whether they are exactly the held lines, and the bytes read again.

    The lines kept in the metrics, when they are all of them: no second read, checked ``in_full``. Else ``lines``
    read again and picked by position: with ``hold``, checked again ``as_in_pass``, so that exactly the held lines
    are settled (all lines are picked when there are too many to pick by position), then ``in_full``; without it
    the pass made the full check, and its held lines are the rejected ones, found by that same check.
    """
    kept = kept_lines(metrics["kept"])
    if len(kept) == held:
        return kept_candidates(spark, kept), in_full, True, 0
    again = rejected_candidates(spark, lines, metrics["positions"], held)
    if not hold:
        return again, as_in_pass, False, file_bytes
    # Observed, so that the filter stays above the parse.
    picked = as_in_pass(again).observe("picked", F.count(F.lit(1)))
    return picked.where(F.col(REASON).isNotNull()).select(VALUE, LINE_ORDER), in_full, True, file_bytes


def rejected_candidates(spark: SparkSession, lines: DataFrame, positions: str | None, rejected: int) -> DataFrame:
    """The lines to check again (the held lines): those at ``positions`` (comma-separated line orders).

    The file is read again as text, with the same splits, so each line has the ``line_order`` it had
    in the first pass, and the rejected ones are picked without parsing any line: by an IN filter
    when they are few (no extra Spark job; the optimizer makes it a hash set), else by a broadcast
    semi-join (an IN list of 50,000 took seconds to plan, the join a constant 0.3-0.9 s). With more
    rejected lines than REJECTED_BY_POSITION (a file that is mostly bad) every line is checked again.
    """
    if positions is None or rejected > REJECTED_BY_POSITION:
        return lines
    if positions.count(",") < IN_LIST_UP_TO:
        # Written as SQL: the JVM parses the list at once, where isin() makes one gateway call per value
        # (0.45 s for 1,007 rejected lines in a new JVM). The positions are the metric's integers, checked here.
        in_list = ", ".join(str(int(position)) for position in positions.split(","))
        return lines.where(F.expr(f"`{LINE_ORDER}` IN ({in_list})"))
    wanted = text_pieces(spark, positions, ",").select(F.col(VALUE).cast("long").alias(LINE_ORDER))
    return lines.join(F.broadcast(wanted), LINE_ORDER, "left_semi")


@dataclass(frozen=True)
class Settled:
    """What ``settle_held`` made of the held lines: how many it quarantined, what the run's loaded records touch
    (``touched_metrics``), and the schema of the quarantine it staged (None when none)."""

    rejected: int
    touched: Touched
    quarantine_schema: StructType | None = None


def settle_held(
    fs: HadoopFs,
    candidates: DataFrame,
    in_full: Callable[[DataFrame], DataFrame],
    contract: Contract,
    layout: RunLayout,
    *,
    source: str,
    ingested_at: str,
    line_number: Column,
    held: int,
    exact: bool,
    file_bytes: int,
    touched: Touched,
) -> Settled:
    """Check in full (``in_full``: the JSON or CSV check) the ``held`` lines the first pass left out: the rejected
    ones go verbatim with their reason to the quarantine staging, as one file in line order; the valid ones are
    added to the raw staging beside the first pass's records.

    ``exact``: the ``candidates`` are exactly the held lines. Otherwise the first pass made the full check, so
    that it held only rejected lines, and the candidates may also hold lines it loaded (they are left out).
    ``touched`` is what the first pass's records touch, to which what the records added here touch is joined.
    """
    found = Observation("found")
    is_rejected = F.col(REASON).isNotNull()
    # Observed before the filter, like the first pass: the filter then stays above the parse (below it, the
    # parse would run once per field the reason reads).
    again = with_partition_key(in_full(candidates), contract).observe(
        found, F.count(F.when(is_rejected, 1)).alias("rejected"), F.count(F.lit(1)).alias("lines"),
        *touched_metrics(contract)).drop(*TOUCHED_COLUMNS)
    bad = rejected_lines(again, source, line_number)
    # One file, in line order. A small source is read in one task for it; a large one is read in parallel and its
    # rejected lines brought together by a shuffle (a global sort would first sample them: one more read).
    small = file_bytes < ONE_FILE_BELOW_BYTES
    bad = (bad.coalesce(1) if small else bad.repartition(1)).sortWithinPartitions("line_number")
    bad.write.mode("overwrite").option("ignoreNullFields", "false").json(layout.quarantine_staging)
    rejected = int(found.get["rejected"])
    found_again = int(found.get["lines"]) if exact else rejected
    if found_again != held:  # the two reads must agree, or a line would be lost
        raise SourceChangedError(source, f"{held} lines held back, {found_again} found again")
    if exact and rejected < held:  # valid after all: into the raw run, beside the records the first pass wrote
        valid = valid_records(in_full(candidates), contract, ingested_at)
        (valid.coalesce(1) if small else valid).write.mode("append").parquet(layout.raw_staging + "/data")
    if not rejected:
        fs.delete(layout.quarantine_staging)
    return Settled(rejected, touched.joined(Touched.observed(found.get)), bad.schema if rejected else None)


def _line_counts(partitions: int) -> list[Column]:
    """Lines, blank lines and each input partition's line count, observed while the file is read."""
    return [
        F.count(F.lit(1)).alias("lines"),
        F.sum(F.col("is_blank").cast("long")).alias("blank"),
        *split_line_counts(partitions),
    ]


def split_line_counts(partitions: int) -> list[Column]:
    """Aggregates ``p0`` … ``p<n-1>``: how many lines each input partition holds (its last line's position + 1)."""
    partition = F.shiftright(F.col(LINE_ORDER), _PARTITION_SHIFT)
    within = F.col(LINE_ORDER) - F.shiftleft(partition, _PARTITION_SHIFT)
    return [F.max(F.when(partition == index, within + 1)).alias(f"p{index}") for index in range(partitions)]


def line_numbers(lines_per_partition: dict[int, int]) -> Column:
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


def _quarantine_whole_file(spark: SparkSession, fs: HadoopFs, layout: RunLayout, source: str, reason: str) -> None:
    name = source.rstrip("/").rsplit("/", 1)[-1]
    fs.copy(source, layout.quarantine_whole_file(name))
    row = spark.createDataFrame(
        [(source, None, f"whole file quarantined: {reason}", None)],
        "source string, line_number long, reason string, raw_line string",
    )
    row.coalesce(1).write.mode("overwrite").option("ignoreNullFields", "false").json(layout.quarantine_staging)
    commit(fs, layout.raw_dataset, layout.run_id, [Swap(layout.raw_run)])
    commit(fs, layout.quarantine_dataset, layout.run_id, [Swap(layout.quarantine_run, layout.quarantine_staging)])
    fs.delete(layout.raw_staging)
