"""The same two jobs in DuckDB SQL: the baseline the pipeline's targets are measured against.

Job 1 reads the JSON lines with the contract's schema (never inferred), numbers each line,
checks the contract's rules and writes the valid records with their ingestion time and line
order to the raw zone as snappy Parquet; invalid ones would go to quarantine. Job 2 drops
PII, trims strings, parses the date, keeps the last line per primary key and writes the
processed zone partitioned by year=YYYY/month=MM.
"""

from __future__ import annotations

from typing import Any

from bench.engines.common import INGESTED_AT, NORMALIZE, STARTUP, TO_RAW, EngineJob, StepClock
from bench.engines.rules import contract, date_regex, java_to_strftime, strptime_format

SQL_TYPES = {"bigint": "BIGINT", "double": "DOUBLE", "string": "VARCHAR", "date": "VARCHAR"}


def run(job: EngineJob, clock: StepClock) -> dict[str, Any]:
    with clock.step(STARTUP):
        import duckdb

        # Row order inside the files does not matter (line order is a column, taken WITH ORDINALITY,
        # which stays exact without it), and keeping it costs DuckDB about half its CPU here.
        connection = duckdb.connect(config={"preserve_insertion_order": False})
        connection.execute("SET enable_progress_bar = false")
    with clock.step(TO_RAW):
        to_raw = _json_to_parquet(connection, job)
    with clock.step(NORMALIZE):
        normalized = _normalize(connection, job)
    connection.close()
    return {TO_RAW: to_raw, NORMALIZE: normalized}


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _reason_sql() -> str:
    """The first contract rule a record breaks (NULL when it breaks none), in the pipeline's rule order."""
    checks: list[str] = []
    for field in contract().fields:
        name = f'"{field.name}"'
        if field.required:
            blank = f" OR trim({name}) = ''" if field.type in ("string", "date") else ""
            checks.append(f"WHEN {name} IS NULL{blank} THEN 'missing required field {field.name}'")
        if field.type == "double":
            checks.append(f"WHEN NOT isfinite({name}) THEN '{field.name} is not a finite number'")
        if field.type in ("double", "bigint"):
            if field.minimum is not None:
                checks.append(f"WHEN {name} < {field.minimum} THEN '{field.name} is below {field.minimum:g}'")
            if field.maximum is not None:
                checks.append(f"WHEN {name} > {field.maximum} THEN '{field.name} is above {field.maximum:g}'")
        if field.type == "date":
            checks.append(
                f"WHEN NOT regexp_full_match({name}, {_literal(date_regex())}) "
                f"OR try_strptime({name}, {_literal(strptime_format())}) IS NULL "
                f"THEN 'invalid {field.name}'"
            )
    return "CASE " + " ".join(checks) + " END"


def _json_to_parquet(connection: Any, job: EngineJob) -> dict[str, Any]:
    fields = contract().fields
    columns = "{" + ", ".join(f"'{f.name}': '{SQL_TYPES[f.type]}'" for f in fields) + "}"
    names = ", ".join(f'"{f.name}"' for f in fields)
    # WITH ORDINALITY numbers the lines in file order even when the file is read in parallel;
    # the table is kept (like the pipeline's persisted DataFrame) so the counts need no second parse.
    connection.execute(
        f"""
        CREATE TEMP TABLE classified AS
        SELECT {names}, ordinality - 1 AS line_order, {_reason_sql()} AS reason
        FROM read_json({_literal(str(job.source))}, format = 'newline_delimited', columns = {columns},
                       ignore_errors = true) WITH ORDINALITY
        """
    )
    records, quarantined = connection.execute(
        "SELECT count(*), count(*) FILTER (WHERE reason IS NOT NULL) FROM classified"
    ).fetchone()
    job.raw_run.mkdir(parents=True, exist_ok=True)
    ingested_at = INGESTED_AT.replace("T", " ").removesuffix("Z")
    connection.execute(
        f"""
        COPY (SELECT {names}, TIMESTAMP {_literal(ingested_at)} AS ingested_at, line_order
              FROM classified WHERE reason IS NULL)
        TO {_literal(str(job.raw_run))} (FORMAT parquet, COMPRESSION snappy, PER_THREAD_OUTPUT true)
        """
    )
    if quarantined:
        job.quarantine_run.mkdir(parents=True, exist_ok=True)
        connection.execute(
            f"""
            COPY (SELECT {_literal(str(job.source))} AS source, line_order + 1 AS line_number, reason
                  FROM classified WHERE reason IS NOT NULL)
            TO {_literal(str(job.quarantine_run / "part-0.json"))} (FORMAT json)
            """
        )
    connection.execute("DROP TABLE classified")
    return {"records_read": records, "loaded": records - quarantined, "quarantined": quarantined}


def _normalize(connection: Any, job: EngineJob) -> dict[str, Any]:
    rules = contract()
    date_field = next(f.name for f in rules.fields if f.type == "date")
    published = []
    for field in rules.published_fields:
        if field.type == "string":
            published.append(f'trim("{field.name}") AS "{field.name}"')
        elif field.type == "date":
            published.append(f'"_date" AS "{field.name}"')
        else:
            published.append(f'"{field.name}"')
    partitions = [
        f'strftime("_date", {_literal(java_to_strftime(p.format))}) AS "{p.name}"' for p in rules.partition_columns
    ]
    partition_names = ", ".join(f'"{p.name}"' for p in rules.partition_columns)
    keys = ", ".join(f'"{k}"' for k in rules.primary_key)
    raw = _literal(str(job.raw_run / "*.parquet"))
    raw_records = connection.execute(f"SELECT count(*) FROM read_parquet({raw})").fetchone()[0]
    job.processed_dataset.parent.mkdir(parents=True, exist_ok=True)
    written = connection.execute(
        f"""
        COPY (
            SELECT {", ".join(published)}, {_literal(job.run_id)} AS run_id, ingested_at, {", ".join(partitions)}
            FROM (SELECT *, strptime("{date_field}", {_literal(strptime_format())})::DATE AS "_date"
                  FROM read_parquet({raw}))
            QUALIFY row_number() OVER (PARTITION BY {keys} ORDER BY line_order DESC) = 1
        ) TO {_literal(str(job.processed_dataset))}
        (FORMAT parquet, COMPRESSION snappy, PARTITION_BY ({partition_names}), OVERWRITE_OR_IGNORE true)
        """
    ).fetchone()[0]
    return {"raw_records": raw_records, "records": written, "duplicates_in_run": raw_records - written}
