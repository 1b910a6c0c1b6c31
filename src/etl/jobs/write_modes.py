"""The processed table's write modes besides upsert: append (rows are added; no key) and overwrite (a file's
rows replace the table). Upsert, the default, is normalize's MERGE.

Each writes one Iceberg commit, so a query sees the table before the run or after it, and re-running a
run changes nothing:

- append: the run's rows are added in one commit, so the table holds all of them or none; a run whose
  rows the table already holds (its ``run_id``) is not appended again.
- overwrite: the run's rows replace every row of the table in one commit. A run older than the one that
  last replaced the table (ingestion time, then run id: the order upserts use) changes nothing, so a late
  re-delivery of an old file cannot roll the table back.
"""

from __future__ import annotations

from typing import Any

from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from etl.contracts import OPERATIONS, Contract
from etl.errors import ConfigError
from etl.jobs import iceberg
from etl.jobs.layout import RunLayout
from etl.transforms import INGESTED_AT, LINE_ORDER, RUN_ID, normalize, raw_schema


def allowed_write_modes(contract: Contract) -> list[str]:
    """The dataset's write mode, and those of the operations its landing folders may name."""
    modes = [contract.write_mode]
    modes += [OPERATIONS[op] for op in contract.allowed_operations if OPERATIONS[op] not in modes]
    return modes


def checked(write_mode: str, contract: Contract) -> str:
    """``write_mode`` when the contract allows it; a clear error otherwise."""
    allowed = allowed_write_modes(contract)
    if write_mode not in allowed:
        raise ConfigError(
            f"write mode {write_mode!r} is not allowed for the {contract.dataset} dataset (its contract allows "
            f"{', '.join(allowed)}); pass --write_mode as the start Lambda does, from the landing key"
        )
    return write_mode


def _run_rows(spark: SparkSession, contract: Contract, layout: RunLayout) -> DataFrame:
    raw = spark.read.schema(raw_schema(contract)).parquet(layout.raw_run)
    return normalize(raw, contract, layout.run_id).drop(LINE_ORDER)


def _write_counted(rows: DataFrame, write: Any) -> int:
    """Run ``write`` on ``rows``, counting the rows as they are written (no second pass over the run)."""
    written = Observation("written")
    write(rows.observe(written, F.count(F.lit(1)).alias("records")))
    return int(written.get["records"])


def _result(records: int, *, inserted: int, deleted: int, snapshot: dict[str, Any] | None) -> dict[str, Any]:
    return {"raw_records": records, "records": records, "duplicates_in_run": 0, "inserted": inserted,
            "updated": 0, "unchanged": records - inserted, "deleted": deleted, "snapshot": snapshot}


def append_run(spark: SparkSession, contract: Contract, layout: RunLayout, table: str) -> dict[str, Any]:
    """Add the run's rows to the table, unless it holds them already."""
    rows = _run_rows(spark, contract, layout)
    # Each data file holds one run's rows (a write is one run; compaction keeps the run id's bounds), so
    # Iceberg answers this from the files' run_id bounds, reading few or no rows.
    if spark.table(table).where(F.col(RUN_ID) == layout.run_id).limit(1).count():
        return _result(rows.count(), inserted=0, deleted=0, snapshot=None)
    records = _write_counted(rows, lambda observed: iceberg.append(table, observed))
    return _result(records, inserted=records, deleted=0, snapshot=iceberg.current_snapshot(spark, table))


def overwrite_run(spark: SparkSession, contract: Contract, layout: RunLayout, table: str) -> dict[str, Any]:
    """Replace the table's rows by the run's, unless a newer run replaced them already."""
    rows = _run_rows(spark, contract, layout)
    ingested_at = rows.select(INGESTED_AT).first()
    latest = (spark.table(table).select(INGESTED_AT, RUN_ID)
              .orderBy(F.col(INGESTED_AT).desc(), F.col(RUN_ID).desc()).first())
    if ingested_at is not None and latest is not None:
        ours = (ingested_at[INGESTED_AT], layout.run_id)
        if (latest[INGESTED_AT], latest[RUN_ID]) >= ours:  # the table is this run's or a newer one's
            return _result(rows.count(), inserted=0, deleted=0, snapshot=None)
    held = spark.table(table).count()
    records = _write_counted(rows, lambda observed: observed.writeTo(table).overwrite(F.lit(True)))
    return _result(records, inserted=records, deleted=held, snapshot=iceberg.current_snapshot(spark, table))
