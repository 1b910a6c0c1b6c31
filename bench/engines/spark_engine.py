"""The DuckDB engine's work written plainly in Spark: what Spark itself costs, without the pipeline's guarantees.

It is a reference, not an alternative. It runs on the pipeline's own session
(etl.spark.local_session: same JVM options, class archive and settings) and does what
duckdb_engine does, in the cheapest way Spark offers: Spark's JSON file source parses the
bytes with the contract's schema (the text kept only of a line it cannot parse; the others could
not be quarantined verbatim), one CASE of the contract's rules, counts observed while writing, one window for the
latest line per key and a partitioned write. It leaves out what the pipeline adds: the sniffing
of the file, the exact reason and text of every bad line, multi-value and duplicate-key lines,
manifests, the staged and swapped commit and the merge with what the lake already holds.

So the gap between this engine and DuckDB is Spark's on this machine, and the gap between the
pipeline and this engine is the price of the pipeline's guarantees.
"""

from __future__ import annotations

from typing import Any

from bench.engines.common import INGESTED_AT, NORMALIZE, STARTUP, TO_RAW, EngineJob, StepClock
from bench.engines.rules import contract, date_regex

LINE_ORDER = "line_order"
REASON = "reason"
CORRUPT = "_corrupt_record"  # Spark's JSON source puts a line it cannot parse here (only then)


def run(job: EngineJob, clock: StepClock) -> dict[str, Any]:
    with clock.step(STARTUP):
        from etl.spark import local_session

        spark = local_session("bench-spark")
    with clock.step(TO_RAW):
        to_raw = _json_to_parquet(spark, job)
    with clock.step(NORMALIZE):
        normalized = _normalize(spark, job)
    return {TO_RAW: to_raw, NORMALIZE: normalized}


def _reason() -> Any:
    """The first contract rule a record breaks (NULL when it breaks none), in the DuckDB engine's order."""
    from pyspark.sql import functions as F

    rules = contract()
    # A line the reader could not parse (cut short, not JSON, a wrong type, bytes that are not UTF-8):
    # Spark may still fill some fields from it, so it is not left to the field rules.
    checks: list[tuple[Any, str]] = [(F.col(CORRUPT).isNotNull(), "malformed JSON")]
    for field in rules.fields:
        value = F.col(field.name)
        if field.required:
            blank = F.trim(value) == "" if field.type in ("string", "date") else F.lit(False)
            checks.append((value.isNull() | blank, f"missing required field {field.name}"))
        if field.type == "double":
            checks.append((F.isnan(value) | (F.abs(value) == float("inf")), f"{field.name} is not a finite number"))
        if field.type in ("double", "bigint"):
            if field.minimum is not None:
                checks.append((value < field.minimum, f"{field.name} is below {field.minimum:g}"))
            if field.maximum is not None:
                checks.append((value > field.maximum, f"{field.name} is above {field.maximum:g}"))
        if field.type == "date":
            parsed = F.to_date(value, rules.date_format)
            checks.append((~value.rlike(f"^{date_regex()}$") | parsed.isNull(), f"invalid {field.name}"))
    reason = F.when(checks[0][0], checks[0][1])
    for condition, text in checks[1:]:
        reason = reason.when(condition, text)
    return reason


def _json_to_parquet(spark: Any, job: EngineJob) -> dict[str, Any]:
    from pyspark.sql import Observation
    from pyspark.sql import functions as F

    from etl.transforms import input_type

    fields = contract().fields
    schema = ", ".join([*(f"`{f.name}` {input_type(f).simpleString()}" for f in fields), f"`{CORRUPT}` string"])
    # The file source splits one file in offset order, so this id grows with the line's position.
    classified = (spark.read.schema(schema).option("allowSingleQuotes", "false").json(str(job.source))
                  .withColumn(LINE_ORDER, F.monotonically_increasing_id())
                  .withColumn(REASON, _reason()))
    counts = Observation("counts")
    observed = classified.observe(counts, F.count(F.lit(1)).alias("records"),
                                  F.count(F.col(REASON)).alias("quarantined"))
    names = [f.name for f in fields]
    (observed.where(F.col(REASON).isNull())
     .select(*names, F.to_timestamp(F.lit(INGESTED_AT)).alias("ingested_at"), LINE_ORDER)
     .write.parquet(str(job.raw_run)))
    records, quarantined = counts.get["records"], counts.get["quarantined"]
    # A second pass only for a file that has bad lines (the benchmark's have none). Its line numbers
    # are exact only within the first split: the id jumps between splits, and this engine does not
    # count each split's lines as the pipeline does.
    if quarantined:
        (classified.where(F.col(REASON).isNotNull())
         .select(F.lit(str(job.source)).alias("source"), (F.col(LINE_ORDER) + 1).alias("line_number"), REASON)
         .write.json(str(job.quarantine_run)))
    return {"records_read": records, "loaded": records - quarantined, "quarantined": quarantined}


def _normalize(spark: Any, job: EngineJob) -> dict[str, Any]:
    from pyspark.sql import Observation, Window
    from pyspark.sql import functions as F

    rules = contract()
    date_field = next(f.name for f in rules.fields if f.type == "date")
    parsed_date = F.to_date(F.col(date_field), rules.date_format)
    published = [
        F.trim(F.col(f.name)).alias(f.name) if f.type == "string"
        else parsed_date.alias(f.name) if f.type == "date"
        else F.col(f.name)
        for f in rules.published_fields
    ]
    partitions = [F.date_format(parsed_date, p.format).alias(p.name) for p in rules.partition_columns]
    latest_first = Window.partitionBy(*rules.primary_key).orderBy(F.col(LINE_ORDER).desc())
    raw = spark.read.parquet(str(job.raw_run))
    raw_counts, written_counts = Observation("raw"), Observation("written")
    latest = (raw.observe(raw_counts, F.count(F.lit(1)).alias("rows"))
              .withColumn("_rank", F.row_number().over(latest_first)).where(F.col("_rank") == 1)
              .select(*published, F.lit(job.run_id).alias("run_id"), "ingested_at", *partitions)
              .observe(written_counts, F.count(F.lit(1)).alias("rows")))
    latest.write.partitionBy(*(p.name for p in rules.partition_columns)).parquet(str(job.processed_dataset))
    raw_records, written = raw_counts.get["rows"], written_counts.get["rows"]
    return {"raw_records": raw_records, "records": written, "duplicates_in_run": raw_records - written}
