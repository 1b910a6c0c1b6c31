"""What an engine wrote to the processed zone, summarised so the engines can be checked against each other.

The processed folder is named after its dataset, and the dataset's contract says what to count:
its primary key, its partition columns, and the column summed exactly (``SUM_COLUMNS``).

Read with DuckDB after the measured process has exited (it is not part of any timing), in a
process of its own: Pss splits shared library pages between every process that maps them, so a
harness that had loaded DuckDB itself would make the next DuckDB worker look smaller. Only the
data files under the partition folders (``year=*/month=*/`` for shipping, ``year=*/`` for
ev_population) count: the pipeline's staging, commit log and CRC files are skipped. The pipeline's
processed table is an Iceberg table: its rows are the data files of its current snapshot (which
hold the partition columns themselves).
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

# The column each dataset's summary sums exactly (as DECIMAL(38, 2)).
SUM_COLUMNS = {"shipping": "shipping_cost", "ev_population": "base_msrp"}


@dataclass(frozen=True)
class OutputSummary:
    rows: int
    distinct_keys: int
    sum_column: str  # shipping_cost, base_msrp: SUM_COLUMNS[dataset]
    value_sum: str  # exact decimal text of its sum: float sums would depend on the row order
    partitions: int
    files: int
    columns: list[str]
    column_types: dict[str, str]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def agrees_with(self, other: OutputSummary) -> bool:
        return (self.rows, self.distinct_keys, self.sum_column, self.value_sum, self.partitions) == (
            other.rows, other.distinct_keys, other.sum_column, other.value_sum, other.partitions)


def _layout(processed_dataset: Path) -> tuple[list[str], list[str], str]:
    """The dataset's primary key, partition columns and summed column, from its contract (the folder's name)."""
    from etl.contracts import load_contract

    contract = load_contract(processed_dataset.name)
    return list(contract.primary_key), [p.name for p in contract.partition_columns], SUM_COLUMNS[contract.dataset]


def partitioned_files(processed_dataset: Path) -> str:
    """The glob of the data files under the dataset's partition folders: ``year=*/month=*/*.parquet``."""
    _, partitions, _ = _layout(processed_dataset)
    return "/".join([*(f"{name}=*" for name in partitions), "*.parquet"])


def is_iceberg(processed_dataset: Path) -> bool:
    return (processed_dataset / "metadata").is_dir()


def data_files(processed_dataset: Path) -> list[Path]:
    """The Parquet files an engine wrote under its partition folders (hidden and ``_`` files skipped), or the
    current snapshot's files of the pipeline's Iceberg table."""
    if is_iceberg(processed_dataset):
        from etl.glue.iceberg import snapshot_scan

        scan = snapshot_scan(_iceberg_table(processed_dataset))
        if scan.position_deletes:  # a measured run loads one file into an empty lake: an append, no deletes
            raise ValueError(f"{processed_dataset}: the snapshot has delete files; its data files are not its rows")
        return sorted(scan.data)
    found = processed_dataset.glob(partitioned_files(processed_dataset))
    return sorted(p for p in found if not p.name.startswith((".", "_")))


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

    keys, partitions, sum_column = _layout(processed_dataset)
    key = ", ".join(f'"{k}"' for k in keys)
    partition = ", ".join(f'"{p}"' for p in partitions)

    with duckdb.connect() as connection:
        connection.execute("SET enable_progress_bar = false")
        hive = "false" if is_iceberg(processed_dataset) else "true"
        scan = f"read_parquet({[str(p) for p in files]!r}, hive_partitioning = {hive})"
        totals = connection.execute(
            f"SELECT count(*), count(DISTINCT ({key})), sum(CAST(\"{sum_column}\" AS DECIMAL(38, 2))),"
            f" count(DISTINCT ({partition})) FROM {scan}"
        ).fetchone()
        assert totals is not None, "an aggregate always returns one row"
        rows, distinct_keys, total, partition_count = totals
        described = connection.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall()
    types = {row[0]: row[1] for row in described}
    return OutputSummary(
        rows=rows,
        distinct_keys=distinct_keys,
        sum_column=sum_column,
        value_sum=str(Decimal(total or 0)),
        partitions=partition_count,
        files=len(files),
        columns=list(types),
        column_types=types,
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
