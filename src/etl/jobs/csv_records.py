"""Job 1 for a CSV dataset: a landing CSV file to typed Parquet in the raw zone; bad rows to quarantine.

json_to_parquet hands a file here when its dataset's contract accepts ``csv``; the run around it
(sniffing, the staged commit, the catalog, the manifest) is the same. The file is read as text
lines in parallel splits, and every record gets the number of the line it starts on (the header is
line 1) wherever the splits fall. Most exports have no quoted value spanning lines: each line is a
record, and the one pass that writes them also counts each split's lines and the lines that leave
a quote open. A file that has such a line is then read as records put together from their lines:
a first pass finds the lines that open or close a spanning value (etl.transforms_csv), and the
records are written again.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from etl.commits import Swap, commit
from etl.contracts import Contract
from etl.errors import InputFileError
from etl.jobs.hadoop_fs import HadoopFs
from etl.jobs.json_to_parquet import (
    KEPT,
    TOUCHED_COLUMNS,
    Settled,
    Touched,
    held_candidates,
    kept_line,
    line_numbers,
    literal_path,
    rejected_positions,
    settle_held,
    split_line_counts,
    touched_metrics,
    with_partition_key,
)
from etl.jobs.layout import RunLayout
from etl.sniff import HEAD_BYTES, head_text
from etl.transforms import LINE_ORDER, REASON, valid_records
from etl.transforms_csv import (
    IS_BLANK,
    assemble_records,
    classify_records,
    header_positions,
    mostly_plain_records,
    multi_line_spans,
    opens_a_quote,
)

logger = logging.getLogger(__name__)

ONE_FILE_BELOW_BYTES = 64 * 1024**2


def read_header(text: str, source: str, contract: Contract) -> list[str]:
    """The file's header row, parsed on the driver from the file's first bytes (``text``)."""
    options = contract.csv_options
    escape = None if options["escape"] == options["quote"] else options["escape"]
    reader = csv.reader(io.StringIO(text), delimiter=options["delimiter"], quotechar=options["quote"],
                        escapechar=escape, doublequote=escape is None)
    header = next(reader, [])
    names = [column.strip() for column in header]
    missing = [f.header for f in contract.required_fields if f.header not in names]
    if not header or missing or not any(f.header in names for f in contract.fields):
        expected = ", ".join(f.header for f in contract.fields)
        required = ", ".join(f.header for f in contract.required_fields) or "none"
        raise InputFileError(source, f"the CSV header lacks the required columns {missing or required}; the "
                                     f"{contract.dataset} contract expects a header row with: {expected} "
                                     f"(required: {required})")
    absent = [f.header for f in contract.fields if f.header not in names]
    if absent:  # a producer still sending the header of an earlier contract version: those values are NULL
        logger.info("%s: the header has no optional columns %s; their values are NULL", source, absent)
    return header


def load(
    spark: SparkSession, fs: HadoopFs, uri: str, contract: Contract, layout: RunLayout, source: str,
    ingested_at: str, file_bytes: int,
) -> tuple[dict[str, Any], dict[str, StructType]]:
    """Write the valid records to raw and the rejected ones to quarantine; the counts json_to_parquet reports."""
    head = head_text(fs.read_head(source, HEAD_BYTES))
    header = read_header(head, source, contract)
    lines = spark.read.text(literal_path(uri)).withColumn(LINE_ORDER, F.monotonically_increasing_id())
    partitions = lines.rdd.getNumPartitions()
    positions, columns = header_positions(contract, header), len(header)

    def classify(candidates: DataFrame, hold: bool = False) -> DataFrame:
        return classify_records(candidates, contract, positions, columns, hold=hold)

    run = _Run(spark, fs, contract, layout, source, ingested_at, file_bytes, classify,
               hold=mostly_plain_records(head, contract))
    loaded = run.write(lines.where(F.col(LINE_ORDER) != 0), lines_per_partition=None, partitions=partitions)
    if loaded is not None:
        return loaded
    # A quoted value spans lines: put its records together, and write them again over the first write.
    counts, odd_lines = _scan(lines, contract, partitions)
    records = assemble_records(spark, lines, multi_line_spans(odd_lines), counts).where(F.col(LINE_ORDER) != 0)
    written = run.write(records, lines_per_partition=counts, partitions=partitions)
    assert written is not None  # with the lines' counts given, nothing is left to find out
    return written


def _scan(lines: DataFrame, contract: Contract, partitions: int) -> tuple[dict[int, int], list[int]]:
    """One pass over the lines: how many each split holds, and which hold an odd number of quotes."""
    odd = opens_a_quote(contract)
    row = lines.agg(F.collect_list(F.when(odd, F.col(LINE_ORDER))).alias("odd"), *split_line_counts(partitions)).first()
    assert row is not None  # an aggregate without grouping always yields one row
    return {index: int(row[f"p{index}"] or 0) for index in range(partitions)}, list(row["odd"])


@dataclass(frozen=True)
class _Run:
    """One CSV file's load: what its write passes share (the speculative one and, when needed, the second)."""

    spark: SparkSession
    fs: HadoopFs
    contract: Contract
    layout: RunLayout
    source: str
    ingested_at: str
    file_bytes: int
    classify: Callable[..., DataFrame]  # records, hold=False (classify_records)
    hold: bool  # the first pass makes only the quick yes (classify_records' hold): the file is mostly plain

    def write(self, records: DataFrame, lines_per_partition: dict[int, int] | None,
              partitions: int) -> tuple[dict[str, Any], dict[str, StructType]] | None:
        """One pass writes the valid records, counting as it goes and noting which records it held back.

        As for JSON (json_to_parquet._load), with ``hold`` the pass makes only the quick yes, and holds the
        records it does not pass, bad or not; the held records are then settled (``settle_held``): kept in the
        pass's metrics, or taken again by position, and only they are checked in full. So a clean file is read
        once and nothing holds the whole file in memory (caching the checked records for the second write cost
        more than the rest of the job: 1m-record exports took 15 s instead of 6).

        Without ``lines_per_partition`` the records are the file's lines: the pass also counts each split's
        lines and the lines that leave a quote open, and when there is one it returns None (those records
        span lines) before quarantining or committing anything.
        """
        contract, layout = self.contract, self.layout
        metrics = Observation("csv")
        is_held = F.col(REASON).isNotNull()  # rejected, or (hold) left to the full check
        as_lines = [] if lines_per_partition is not None else [
            *split_line_counts(partitions), F.count(F.when(opens_a_quote(contract), 1)).alias("open_quotes")]
        # The observation also keeps the filters below from being pushed under the parse (see json_to_parquet._load).
        classified = with_partition_key(self.classify(records, self.hold), contract)
        observed = classified.withColumn(KEPT, kept_line(is_held)).observe(
            metrics, F.count(F.lit(1)).alias("records"), F.count(F.when(F.col(IS_BLANK), 1)).alias("blank"),
            F.count(F.when(is_held, 1)).alias("held"), rejected_positions(is_held),
            *touched_metrics(contract), F.array_join(F.collect_list(F.col(KEPT)), "\n").alias("kept"), *as_lines,
        ).drop(*TOUCHED_COLUMNS, KEPT)
        good = valid_records(observed.where(~F.col(IS_BLANK)), contract, self.ingested_at)
        if self.file_bytes < ONE_FILE_BELOW_BYTES:
            good = good.coalesce(1)
        good.write.mode("overwrite").parquet(layout.raw_staging + "/data")
        counted = metrics.get
        if lines_per_partition is None:
            if counted["open_quotes"]:
                return None
            # The header, left out of the records, is the first line of the first split.
            lines_per_partition = {index: int(counted[f"p{index}"] or 0) for index in range(partitions)}
            lines_per_partition[0] = max(lines_per_partition.get(0, 0), 1)
        blank, held = int(counted["blank"]), int(counted["held"])
        read = int(counted["records"]) - blank
        settled = Settled(rejected=0, touched=Touched.observed(counted))
        if held:
            candidates, in_full, exact, read_bytes = held_candidates(
                self.spark, records, counted, held, hold=self.hold, in_full=self.classify,
                as_in_pass=lambda text: self.classify(text, self.hold), file_bytes=self.file_bytes)
            settled = settle_held(self.fs, candidates, in_full, contract, layout, source=self.source,
                                  ingested_at=self.ingested_at, line_number=line_numbers(lines_per_partition),
                                  held=held, exact=exact, file_bytes=read_bytes, touched=settled.touched)
        rejected = settled.rejected
        raw = Swap(layout.raw_run, layout.raw_staging + "/data" if read > rejected else None)
        written: dict[str, StructType] = {"raw": good.schema} if raw.staged else {}
        quarantine = Swap(layout.quarantine_run)
        if settled.quarantine_schema is not None:
            written["quarantine"] = settled.quarantine_schema
            quarantine = Swap(layout.quarantine_run, layout.quarantine_staging)
        commit(self.fs, layout.raw_dataset, layout.run_id, [raw])
        commit(self.fs, layout.quarantine_dataset, layout.run_id, [quarantine])
        return {"records_read": read, "loaded": read - rejected, "quarantined": rejected, "blank_lines": blank,
                **settled.touched.manifest(contract)}, written
