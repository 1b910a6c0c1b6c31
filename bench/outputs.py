"""What an engine wrote to the processed zone, summarised so the engines can be checked against each other.

Read with DuckDB after the measured process has exited (it is not part of any timing), in a
process of its own: Pss splits shared library pages between every process that maps them, so a
harness that had loaded DuckDB itself would make the next DuckDB worker look smaller. Only the
data files under ``year=*/month=*/`` count: the pipeline's staging, commit log and CRC files are
skipped. The pipeline's processed table is an Iceberg table: its rows are the data files of its
current snapshot (which hold the year and month columns themselves).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

PARTITIONED_FILES = "year=*/month=*/*.parquet"


@dataclass(frozen=True)
class OutputSummary:
    rows: int
    distinct_keys: int
    shipping_cost_sum: str  # exact decimal text: float sums would depend on the row order
    partitions: int
    files: int
    columns: list[str]
    shipping_date_type: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def agrees_with(self, other: OutputSummary) -> bool:
        return (self.rows, self.distinct_keys, self.shipping_cost_sum, self.partitions) == (
            other.rows, other.distinct_keys, other.shipping_cost_sum, other.partitions)


def is_iceberg(processed_dataset: Path) -> bool:
    return (processed_dataset / "metadata").is_dir()


def data_files(processed_dataset: Path) -> list[Path]:
    """The Parquet files an engine wrote under ``year=*/month=*/`` (hidden and ``_`` files skipped), or the
    current snapshot's files of the pipeline's Iceberg table."""
    if is_iceberg(processed_dataset):
        from etl.glue.iceberg import snapshot_scan

        scan = snapshot_scan(_iceberg_table(processed_dataset))
        if scan.position_deletes:  # a measured run loads one file into an empty lake: an append, no deletes
            raise ValueError(f"{processed_dataset}: the snapshot has delete files; its data files are not its rows")
        return sorted(scan.data)
    return sorted(p for p in processed_dataset.glob(PARTITIONED_FILES) if not p.name.startswith((".", "_")))


def _iceberg_table(processed_dataset: Path) -> Any:
    from etl.glue.iceberg import CATALOG_FILE, IcebergCatalog
    from etl.local.lake import SYSTEM

    lake = processed_dataset.parent.parent
    return IcebergCatalog(lake / SYSTEM / CATALOG_FILE).load("etl", f"processed_{processed_dataset.name}")


def read_table(processed_dataset: Path) -> Any:
    """The processed rows as a pyarrow Table, with the partition columns (for tests; not timed)."""
    import pyarrow.dataset as ds

    if is_iceberg(processed_dataset):
        return _iceberg_table(processed_dataset).scan().to_arrow()  # pyiceberg applies any delete files
    files = [str(p) for p in data_files(processed_dataset)]
    base = str(processed_dataset)
    return ds.dataset(files, format="parquet", partitioning="hive", partition_base_dir=base).to_table()


def summarize(processed_dataset: Path) -> OutputSummary | None:
    files = data_files(processed_dataset)
    if not files:
        return None
    import duckdb

    with duckdb.connect() as connection:
        connection.execute("SET enable_progress_bar = false")
        hive = "false" if is_iceberg(processed_dataset) else "true"
        scan = f"read_parquet({[str(p) for p in files]!r}, hive_partitioning = {hive})"
        totals = connection.execute(
            f"SELECT count(*), count(DISTINCT shipping_id), sum(CAST(shipping_cost AS DECIMAL(38, 2))),"
            f" count(DISTINCT (year, month)) FROM {scan}"
        ).fetchone()
        assert totals is not None, "an aggregate always returns one row"
        rows, keys, cost, partitions = totals
        described = connection.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall()
    types = {row[0]: row[1] for row in described}
    return OutputSummary(
        rows=rows,
        distinct_keys=keys,
        shipping_cost_sum=str(Decimal(cost or 0)),
        partitions=partitions,
        files=len(files),
        columns=list(types),
        shipping_date_type=types.get("shipping_date", "missing"),
    )


def summarize_in_subprocess(processed_dataset: Path, timeout: float = 600.0) -> OutputSummary | None:
    """``summarize`` run by ``python -m bench.outputs DIR``, so this process never loads DuckDB."""
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-m", "bench.outputs", str(processed_dataset)], cwd=root, env=env,
                          capture_output=True, text=True, timeout=timeout, check=True)
    data = json.loads(done.stdout)
    return OutputSummary(**data) if data else None


if __name__ == "__main__":
    found = summarize(Path(sys.argv[1]))
    print(json.dumps(found.as_dict() if found else None))
