"""Job 2: a run's raw records into the processed table, PII-free, typed, deduplicated.

The processed table is an Apache Iceberg table (``glue_catalog.<database>.processed_<dataset>``),
partitioned by the contract's partition columns (year and month of the business date). The run is
upserted with one MERGE: the latest record per primary key wins (ingestion time, then run id, then
line within the run), so re-running a run, or running the same input twice, changes nothing and
commits nothing. The MERGE is one Iceberg commit: a query sees the table before the run or after it,
and a run killed before its commit leaves the table as it was.

The run's keys are looked up in the table's key, lineage and partition columns (skipped when the
key bounds Iceberg keeps per data file show the table cannot hold them). The rows a run replaces are
marked deleted (merge-on-read: position delete files), the MERGE's scan narrowed to the replaced
keys' partitions and keys; new keys are written as new files. The table's files are sorted by key
in small row groups, so the lookup reads the row groups whose key range meets the run's, not the
whole table: its cost follows the run for producers whose ids come in runs (growing ids, batches),
and stays a scan of the key column for random ids.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import Any

from pyspark.sql import Column, DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from etl.contracts import Contract
from etl.contracts.store import HadoopContractStore, effective_contract
from etl.jobs import iceberg, maintain, write_modes
from etl.jobs.hadoop_fs import HadoopFs
from etl.jobs.layout import RunLayout
from etl.spark import session_settings
from etl.transforms import INGESTED_AT, LINE_ORDER, RUN_ID, latest_per_key, normalize, processed_schema, raw_schema

logger = logging.getLogger(__name__)

JOB = "normalize"
ARGUMENTS = ("JOB_NAME", "run_id", "dataset", "database", "raw_uri", "processed_uri", "write_mode")

Partition = tuple[str, ...]
# What the table holds for a key the run sends: which version, and where.
_HELD = "_held"
# What a run's key is to the table: new, a newer version, or (None) one the table holds already or outdated.
_CHANGE = "_change"
INSERT, UPDATE = "insert", "update"
# Up to this many replaced keys narrow the MERGE's target scan by an IN list; Iceberg evaluates column bounds
# for IN lists of up to 200 values only (InclusiveMetricsEvaluator), so more are narrowed by the key range.
REPLACED_BY_KEY = 200
# A run with up to RANGED_KEYS_UP_TO integer keys looks them up in up to KEY_RANGES ranges around them, unless
# they are one block: no more than DENSE_SPAN times as many integers from lowest to highest as the run has records.
RANGED_KEYS_UP_TO, KEY_RANGES, DENSE_SPAN = 200_000, 64, 2
# No partial top-1 per key before the shuffle of the run's latest version per key: Spark 3.5 sorts every row of
# each input split for it, to drop the few keys sent twice within the split (1m records, new JVMs: normalize
# 7.49-7.68 s against 7.61-8.93 s; its buffers were the 5m peak: 1.46 GiB against 1.84-1.95 GiB). A run of many
# versions per key shuffles more rows without it, not more sorts.
DEDUPLICATION_SETTINGS = {"spark.sql.optimizer.windowGroupLimitThreshold": "-1"}
# Whether a run row is newer than the table's row of its key (the table's row is t., the run's s.).
NEWER = (f"s.`{INGESTED_AT}` > t.`{INGESTED_AT}` OR "
         f"(s.`{INGESTED_AT}` = t.`{INGESTED_AT}` AND s.`{RUN_ID}` > t.`{RUN_ID}`)")


def run(spark: SparkSession, args: Mapping[str, str]) -> dict[str, Any]:
    started = time.monotonic()
    fs = HadoopFs(spark)
    contract = effective_contract(args["dataset"], HadoopContractStore(fs, args["raw_uri"]))
    layout = RunLayout(args["dataset"], args["run_id"], raw_uri=args["raw_uri"], processed_uri=args["processed_uri"])
    iceberg.use_catalog(spark, layout.processed_uri)
    table = iceberg.processed_table(args["database"], layout.dataset)
    iceberg.ensure_table(spark, table, processed_schema(contract), [p.name for p in contract.partition_columns],
                         layout.processed_dataset, sort_columns=list(contract.primary_key))
    write_mode = write_modes.checked(args["write_mode"], contract)
    manifest: dict[str, Any] = {"run_id": layout.run_id, "dataset": layout.dataset, "table": table.replace("`", ""),
                                "write_mode": write_mode}
    if not fs.exists(layout.raw_run):
        manifest.update(raw_records=0, records=0, duplicates_in_run=0, inserted=0, updated=0, unchanged=0,
                        partitions_written=[], snapshot=None)
    elif write_mode == "upsert":
        with session_settings(spark, DEDUPLICATION_SETTINGS):
            manifest.update(iceberg.retry_on_conflict(lambda: _merge_run(spark, contract, layout, table), table))
    else:
        write = write_modes.append_run if write_mode == "append" else write_modes.overwrite_run
        manifest.update(iceberg.retry_on_conflict(lambda: write(spark, contract, layout, table), table))
    manifest["seconds"] = round(time.monotonic() - started, 3)
    fs.write_text(layout.manifest(JOB), json.dumps(manifest))
    logger.info("normalize %s: %s", layout.run_id, manifest)
    return manifest


def _merge_run(spark: SparkSession, contract: Contract, layout: RunLayout, table: str) -> dict[str, Any]:
    keys = list(contract.primary_key)
    partition_names = [p.name for p in contract.partition_columns]
    raw = spark.read.schema(raw_schema(contract)).parquet(layout.raw_run)
    to_raw = _to_raw_manifest(layout, spark)
    run_rows = normalize(raw, contract, layout.run_id)
    # The run's latest version of each key (ingestion time and run id are the run's own: the line decides).
    latest = latest_per_key(run_rows, keys, [F.col(LINE_ORDER).desc()]).drop(LINE_ORDER)
    key = keys[0] if len(keys) == 1 else None
    may_hold, key_range = _table_may_hold(spark, table, key, run_rows, _observed_key_range(to_raw, contract, key))
    if not may_hold:
        # Without a key range the table held no data file (or the run no key): nothing there to compact.
        return _append_new_keys(table, to_raw, raw, latest, partition_names, compact=key_range is not None)
    # What the table holds of each of the run's keys, and where: one job over the run's keys (where each key's
    # last line puts it: a hash aggregate, cheaper than the window the write deduplicates with) and the table's
    # key, lineage and partition columns, aggregated to a few rows per (change, partition, partition held).
    last_place = F.max_by(F.struct(*partition_names), F.col(LINE_ORDER))
    run_keys = run_rows.groupBy(*keys).agg(
        F.first(INGESTED_AT).alias(INGESTED_AT), F.first(RUN_ID).alias(RUN_ID), last_place.alias("_place")
    ).select(*keys, INGESTED_AT, RUN_ID, *[F.col(f"_place.{p}").alias(p) for p in partition_names])
    held = spark.table(table)
    if key is not None and key_range is not None:
        # Only rows in the run's key ranges can match: Iceberg skips the files, and its Parquet reader the row
        # groups, whose key bounds lie outside them (the files are sorted by key, in row groups of about 1 MB).
        ranges = _key_ranges(run_rows, key, key_range, to_raw.get("loaded"))
        held = held.where(_in_ranges(F.col(key), ranges))
    held = held.select(
        *keys, F.struct(F.col(INGESTED_AT), F.col(RUN_ID), *[F.col(p) for p in partition_names]).alias(_HELD)
    )
    versions = run_keys.join(held, keys, "left")
    is_newer = (F.col(INGESTED_AT) > F.col(f"{_HELD}.{INGESTED_AT}")) | (
        (F.col(INGESTED_AT) == F.col(f"{_HELD}.{INGESTED_AT}")) & (F.col(RUN_ID) > F.col(f"{_HELD}.{RUN_ID}"))
    )
    change = F.when(F.col(_HELD).isNull(), INSERT).when(is_newer, UPDATE)
    # With one key column, up to REPLACED_BY_KEY of the keys being replaced come back too (see the MERGE below).
    replaced_keys = (F.slice(F.collect_list(F.when(change == UPDATE, F.col(key))), 1, REPLACED_BY_KEY + 1)
                     if key is not None else F.array())
    summary = versions.groupBy(
        change.alias(_CHANGE), *partition_names, *[F.col(f"{_HELD}.{p}").alias(f"_held_{p}") for p in partition_names]
    ).agg(F.count(F.lit(1)).alias("n"), replaced_keys.alias("_replaced")).collect()

    counts = {kind: sum(row["n"] for row in summary if row[_CHANGE] == kind) for kind in (INSERT, UPDATE, None)}
    raw_records = _raw_records(to_raw, raw)
    records = sum(counts.values())
    replaced = {tuple(str(row[f"_held_{p}"]) for p in partition_names) for row in summary if row[_CHANGE] == UPDATE}
    written = {tuple(str(row[p]) for p in partition_names) for row in summary if row[_CHANGE] is not None}
    written |= replaced
    result: dict[str, Any] = {
        "raw_records": raw_records,
        "records": records,
        "duplicates_in_run": raw_records - records,
        "inserted": counts[INSERT],
        "updated": counts[UPDATE],
        "unchanged": counts[None],  # the table already holds this version or a newer one
        "partitions_written": ["/".join(f"{n}={v}" for n, v in zip(partition_names, p)) for p in sorted(written)],
    }
    if not counts[INSERT] and not counts[UPDATE]:
        result["snapshot"] = None  # nothing newer than the table holds: no commit
        return result
    source = latest
    if counts[None]:  # keys the table holds in this version or a newer one stay out of the MERGE
        source = latest.join(versions.where(change.isNull()).select(*keys), keys, "left_anti")
    if counts[UPDATE]:
        # The MERGE compares with the target rows of the replaced versions only: their partitions, and their keys
        # (a few: Iceberg and its Parquet reader skip the files and row groups whose key bounds hold none of them)
        # or else the run's key range. Only replaced keys are in the table; the run's other keys are new.
        scan_filter = _in_partitions(partition_names, replaced)
        replaced_keys_found = [k for row in summary for k in (row["_replaced"] or [])]
        if key is not None and len(replaced_keys_found) == counts[UPDATE] <= REPLACED_BY_KEY:
            scan_filter += f" AND t.`{key}` IN ({', '.join(_literal(k) for k in sorted(replaced_keys_found))})"
        elif key is not None and key_range is not None:
            scan_filter += f" AND t.`{key}` BETWEEN {_literal(key_range[0])} AND {_literal(key_range[1])}"
        iceberg.merge(spark, table, source, keys, NEWER, scan_filter=scan_filter)
    else:  # only new keys: an append, with no target rows to compare against
        iceberg.append(table, source, partition_names, len(written))
    result["snapshot"] = iceberg.current_snapshot(spark, table)
    result["partitions_compacted"] = _compact_crowded(spark, table, partition_names, written)
    return result


def _key_range(run_rows: DataFrame, key: str) -> tuple[Any, Any] | None:
    """The run's lowest and highest key (None for a run without keys)."""
    low, high = run_rows.agg(F.min(key), F.max(key)).first() or (None, None)
    return None if low is None else (low, high)


def _key_ranges(
    run_rows: DataFrame, key: str, key_range: tuple[Any, Any], records: int | None,
) -> list[tuple[Any, Any]]:
    """The run's integer keys as at most KEY_RANGES ranges that hold them all; else its one key range.

    A producer's file is a block of new ids plus some re-sent old ones: a range per cluster keeps the
    lookup on the row groups near them, where one range from lowest to highest would span the table.
    A run whose keys are one block (DENSE_SPAN; ``records``: the run's loaded records, when known) is
    its one range, with no job to find its clusters.
    """
    low, high = key_range
    if not isinstance(low, int) or isinstance(low, bool):
        return [key_range]
    if isinstance(records, int) and high - low < DENSE_SPAN * records:
        return [key_range]
    keys = [row[0] for row in run_rows.select(key).distinct().orderBy(key).limit(RANGED_KEYS_UP_TO + 1).collect()]
    if len(keys) > RANGED_KEYS_UP_TO or not keys:
        return [key_range]
    gaps = sorted(range(1, len(keys)), key=lambda i: keys[i] - keys[i - 1], reverse=True)[: KEY_RANGES - 1]
    splits = sorted(i for i in gaps if keys[i] - keys[i - 1] > 1)
    starts = [0, *splits]
    ends = [*splits, len(keys)]
    return [(keys[start], keys[end - 1]) for start, end in zip(starts, ends, strict=True)]


def _in_ranges(column: Column, ranges: list[tuple[Any, Any]]) -> Column:
    condition = column.between(*ranges[0])
    for low, high in ranges[1:]:
        condition = condition | column.between(low, high)
    return condition


def _table_may_hold(
    spark: SparkSession, table: str, key: str | None, run_rows: DataFrame, observed: tuple[Any, Any] | None,
) -> tuple[bool, tuple[Any, Any] | None]:
    """Whether the table may hold one of the run's keys (False needs no lookup of its rows); the run's key range.

    False when the table has no data file, or (one key column) when no data file's range of keys, from
    the column bounds Iceberg keeps per data file, overlaps the run's: a first load, or producers whose ids
    grow, skip the comparison with every key the table holds. The run's key range is the one json_to_parquet
    ``observed`` as it wrote the run, else read from the run's rows, when the table has a snapshot (a first
    load runs no job for it).
    """
    if not iceberg.has_snapshot(spark, table):
        return False, None  # a new table (a first load)
    if key is None:
        return iceberg.holds_data(spark, table), None
    key_range = observed or _key_range(run_rows, key)
    if key_range is None:
        return False, None
    return iceberg.holds_data(spark, table, (key, *key_range)), key_range


def _observed_key_range(to_raw: Mapping[str, Any], contract: Contract, key: str | None) -> tuple[Any, Any] | None:
    """The run's lowest and highest processed key as json_to_parquet observed them (its manifest's ``key_range``),
    when they are of the key's type; else None (a manifest without it, or from before it was kept)."""
    observed = to_raw.get("key_range")
    if key is None or not isinstance(observed, list) or len(observed) != 2:
        return None
    expected = {"int": int, "bigint": int, "string": str}.get(contract.field(key).type)
    if expected is not None and all(isinstance(value, expected) and not isinstance(value, bool) for value in observed):
        return observed[0], observed[1]
    return None


def _literal(value: Any) -> str:
    """A key value as a Spark SQL literal: numbers as they are, anything else as a string."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return iceberg.sql_string(str(value))
    return repr(value)


def _append_new_keys(
    table: str, to_raw: Mapping[str, Any], raw: DataFrame, latest: DataFrame, partition_names: list[str],
    *, compact: bool,
) -> dict[str, Any]:
    """Every key of the run is new to the table: its latest rows are appended, counted as they are written.

    ``compact``: whether the partitions written may now be crowded. Not after a first load: one write,
    distributed by partition, leaves a file or two per partition (and asking costs a query of the table's
    files, 0.4 s in a new JVM).
    """
    written_metric = Observation("written")
    seen = _run_partitions(to_raw, partition_names)  # None: json_to_parquet's manifest does not say
    iceberg.append(table, latest.observe(written_metric, F.count(F.lit(1)).alias("records")), partition_names,
                   len(seen or ()))
    records = int(written_metric.get["records"])
    raw_records = _raw_records(to_raw, raw)
    spark = raw.sparkSession
    written = seen or {tuple(str(v) for v in row) for row in latest.select(*partition_names).distinct().collect()}
    return {
        "raw_records": raw_records,
        "records": records,
        "duplicates_in_run": raw_records - records,
        "inserted": records,
        "updated": 0,
        "unchanged": 0,
        "partitions_written": ["/".join(f"{n}={v}" for n, v in zip(partition_names, p)) for p in sorted(written)],
        "snapshot": iceberg.current_snapshot(spark, table),
        "partitions_compacted": _compact_crowded(spark, table, partition_names, written) if compact else 0,
    }


def _to_raw_manifest(layout: RunLayout, spark: SparkSession) -> dict[str, Any]:
    """What json_to_parquet wrote about the run (its counts, the partitions it saw); {} without a manifest."""
    fs = HadoopFs(spark)
    manifest = layout.manifest("json_to_parquet")
    return json.loads(fs.read_text(manifest)) if fs.exists(manifest) else {}


def _run_partitions(to_raw: Mapping[str, Any], names: list[str]) -> set[Partition] | None:
    """The partitions json_to_parquet saw the run's records fall into (None: its manifest does not say)."""
    partitions = to_raw.get("partitions")
    if not partitions or any(len(values) != len(names) for values in partitions):
        return None
    return {tuple(str(v) for v in values) for values in partitions}


def _raw_records(to_raw: Mapping[str, Any], raw: DataFrame) -> int:
    """The run's raw rows: json_to_parquet counted them (its manifest), else they are counted here."""
    loaded = to_raw.get("loaded")
    return loaded if isinstance(loaded, int) else raw.count()


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
