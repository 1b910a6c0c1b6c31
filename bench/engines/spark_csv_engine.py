"""The CSV series' plain-Spark reference: the pipeline's work on a CSV dataset, written plainly in Spark.

Like spark_engine (the JSON one) it is a reference, not an alternative, on the pipeline's own session
(etl.spark.local_session). It does the cheapest thing Spark offers: Spark's own CSV file source
reads the file with the contract's schema (header row skipped, columns taken by position in the
contract's order, which is the export's), in PERMISSIVE mode with a corrupt-record column; one CASE
of the contract's rules (a value that does not parse, too few or too many columns, required values,
minimum and maximum, allowed values, patterns); counts observed while writing; one window for the
latest row per key and a partitioned Parquet write.

Spark's CSV source flags a row with too few or too many columns only when it parses every column:
with its column pruning on (the default) it parses just the columns a query needs, and a row's
token count is never compared with the schema. This engine needs every column anyway (it writes
them all), so it turns the pruning off for its own read (``spark.sql.csv.parser.columnPruning.enabled``)
and the count check costs nothing more. It leaves out what the pipeline adds: sniffing the file,
header columns in any order, quoted values spanning lines, the exact line number and text of every
bad row wherever the splits fall, manifests, the staged and swapped commit and the merge with what
the lake already holds.
"""

from __future__ import annotations

from typing import Any

from bench.engines.common import INGESTED_AT, NORMALIZE, STARTUP, TO_RAW, EngineJob, StepClock

LINE_ORDER = "line_order"
REASON = "reason"
CORRUPT = "_corrupt_record"  # Spark's CSV source puts a row it cannot parse here (only then)
COLUMN_PRUNING = "spark.sql.csv.parser.columnPruning.enabled"
NUMBER_TYPES = ("int", "bigint", "double")


def run(job: EngineJob, clock: StepClock) -> dict[str, Any]:
    with clock.step(STARTUP):
        from etl.spark import local_session

        spark = local_session("bench-spark-csv")
    with clock.step(TO_RAW):
        to_raw = _csv_to_parquet(spark, job)
    with clock.step(NORMALIZE):
        normalized = _normalize(spark, job)
    return {TO_RAW: to_raw, NORMALIZE: normalized}


def _contract(job: EngineJob) -> Any:
    from etl.contracts import load_contract

    return load_contract(job.dataset)


def _date_regex(date_format: str) -> str:
    for token, digits in (("yyyy", r"\d{4}"), ("MM", r"\d{2}"), ("dd", r"\d{2}")):
        date_format = date_format.replace(token, digits)
    return date_format


def _is_number(field: Any) -> bool:
    return field.type in NUMBER_TYPES or field.type.startswith("decimal")


def reason_column(contract: Any) -> Any:
    """The first contract rule a row breaks (NULL when it breaks none)."""
    from pyspark.sql import functions as F

    # A row the reader could not parse: a value not of its type, too few or too many columns.
    checks: list[tuple[Any, str]] = [(F.col(CORRUPT).isNotNull(), "malformed row")]
    for field in contract.fields:
        value = F.col(f"`{field.name}`")
        if field.required:
            blank = F.trim(value) == "" if field.type in ("string", "date", "timestamp") else F.lit(False)
            checks.append((value.isNull() | blank, f"missing required {field.name}"))
        if field.type == "double":
            checks.append((F.isnan(value) | (F.abs(value) == float("inf")), f"{field.name} is not a finite number"))
        if _is_number(field):
            if field.minimum is not None:
                checks.append((value < field.minimum, f"{field.name} is below {field.minimum:g}"))
            if field.maximum is not None:
                checks.append((value > field.maximum, f"{field.name} is above {field.maximum:g}"))
        if field.type == "date":
            date_format = field.format or contract.date_format
            parsed = F.to_date(value, date_format)
            checks.append((~value.rlike(f"^{_date_regex(date_format)}$") | parsed.isNull(), f"invalid {field.name}"))
        if field.allowed is not None:
            checks.append((~value.cast("string").isin(*field.allowed), f"{field.name} is not an allowed value"))
        if field.pattern is not None:
            checks.append((~value.cast("string").rlike(f"^(?:{field.pattern})\\z"),
                           f"{field.name} does not match its pattern"))
    reason = F.when(checks[0][0], checks[0][1])
    for condition, text in checks[1:]:
        reason = reason.when(condition, text)
    return reason


def _csv_to_parquet(spark: Any, job: EngineJob) -> dict[str, Any]:
    from pyspark.sql import Observation
    from pyspark.sql import functions as F

    from etl.transforms import input_type

    contract = _contract(job)
    options = contract.csv_options
    schema = ", ".join([*(f"`{f.name}` {input_type(f).simpleString()}" for f in contract.fields),
                        f"`{CORRUPT}` string"])
    pruning = spark.conf.get(COLUMN_PRUNING, "true")
    spark.conf.set(COLUMN_PRUNING, "false")
    try:
        # The file source splits one file in offset order, so this id grows with the row's position.
        classified = (spark.read.schema(schema)
                      .options(header="true", sep=options["delimiter"], quote=options["quote"],
                               escape=options["escape"], mode="PERMISSIVE", columnNameOfCorruptRecord=CORRUPT)
                      .csv(str(job.source))
                      .withColumn(LINE_ORDER, F.monotonically_increasing_id())
                      .withColumn(REASON, reason_column(contract)))
        counts = Observation("counts")
        observed = classified.observe(counts, F.count(F.lit(1)).alias("records"),
                                      F.count(F.col(REASON)).alias("quarantined"))
        names = [f"`{f.name}`" for f in contract.fields]
        (observed.where(F.col(REASON).isNull())
         .select(*names, F.to_timestamp(F.lit(INGESTED_AT)).alias("ingested_at"), LINE_ORDER)
         .write.parquet(str(job.raw_run)))
        records, quarantined = counts.get["records"], counts.get["quarantined"]
        # A second pass only for a file that has bad rows. The header is line 1; the line numbers are
        # exact only within the first split (the id jumps between splits).
        if quarantined:
            (classified.where(F.col(REASON).isNotNull())
             .select(F.lit(str(job.source)).alias("source"), (F.col(LINE_ORDER) + 2).alias("line_number"), REASON)
             .write.json(str(job.quarantine_run)))
    finally:
        spark.conf.set(COLUMN_PRUNING, pruning)
    return {"records_read": records, "loaded": records - quarantined, "quarantined": quarantined}


def _normalize(spark: Any, job: EngineJob) -> dict[str, Any]:
    from pyspark.sql import Observation, Window
    from pyspark.sql import functions as F

    contract = _contract(job)
    published = []
    for field in contract.published_fields:
        value = F.col(f"`{field.name}`")
        if field.type == "string":
            value = F.trim(value)
        elif field.type == "date":
            value = F.to_date(value, field.format or contract.date_format)
        published.append(value.alias(field.name))
    partitions = [
        (F.date_format(F.to_date(F.col(p.source), contract.date_format), p.format) if p.format
         else F.col(p.source).cast("string")).alias(p.name)
        for p in contract.partition_columns
    ]
    latest_first = Window.partitionBy(*contract.primary_key).orderBy(F.col(LINE_ORDER).desc())
    raw = spark.read.parquet(str(job.raw_run))
    raw_counts, written_counts = Observation("raw"), Observation("written")
    latest = (raw.observe(raw_counts, F.count(F.lit(1)).alias("rows"))
              .withColumn("_rank", F.row_number().over(latest_first)).where(F.col("_rank") == 1)
              .select(*published, F.lit(job.run_id).alias("run_id"), "ingested_at", *partitions)
              .observe(written_counts, F.count(F.lit(1)).alias("rows")))
    latest.write.partitionBy(*(p.name for p in contract.partition_columns)).parquet(str(job.processed_dataset))
    raw_records, written = raw_counts.get["rows"], written_counts.get["rows"]
    return {"raw_records": raw_records, "records": written, "duplicates_in_run": raw_records - written}
