"""Synthetic shipping data, like the producers send: JSON Lines, one shipment per line.

Faker makes ~5k records/s, so it only fills small pools of names and addresses; numbers,
dates and the choice from the pools are drawn with NumPy, which keeps 1M records well
under a minute. Optional duplicates (a later corrected line for an earlier id) and bad
lines exercise deduplication and quarantine; both are counted so tests can check totals.
"""

from __future__ import annotations

import gzip
import json
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Any

import numpy as np

CITIES = (
    "serverless_island",
    "island_city",
    "machine_learning_island",
    "architect_city",
    "data_analytic_hanger",
    "main_city",
)
COST_RANGE = (1000.0, 10000.0)
DISTANCE_RANGE = (10.0, 100.0)
QUANTITY_RANGE = (1000.0, 10000.0)
FIRST_DATE = date(2023, 1, 1)
DAYS = 730
POOL_SIZE = 2000
CHUNK = 50_000
# The kinds of bad line producers send (those of the bad-input corpus that any reader of JSON Lines
# with the contract's schema can tell from a good line), each made from the record it spoils.
# Generated lines are text; an undecodable byte is written from a lone surrogate (surrogateescape).
Record = dict[str, Any]


def _without(record: Record, name: str) -> Record:
    return {key: value for key, value in record.items() if key != name}


BAD_LINE_KINDS: tuple[tuple[str, Callable[[Record], str]], ...] = (
    ("truncated line", lambda r: json.dumps(r)[:60]),
    ("not JSON", lambda r: "not json at all"),
    ("not an object", lambda r: json.dumps([r["shipping_id"], r["shipping_date"]])),
    ("number sent as text", lambda r: json.dumps({**r, "shipping_cost": "abc"})),
    ("id sent as text", lambda r: json.dumps({**r, "shipping_id": "abc"})),
    ("missing id", lambda r: json.dumps(_without(r, "shipping_id"))),
    ("missing city", lambda r: json.dumps(_without(r, "destination_city"))),
    ("blank city", lambda r: json.dumps({**r, "destination_city": " "})),
    ("negative cost", lambda r: json.dumps({**r, "shipping_cost": -r["shipping_cost"]})),
    ("cost over the maximum", lambda r: json.dumps({**r, "shipping_cost": 1e12})),
    ("NaN", lambda r: json.dumps({**r, "quantity": float("nan")})),
    ("impossible date", lambda r: json.dumps({**r, "shipping_date": "2023/02/29"})),
    ("other date format", lambda r: json.dumps({**r, "shipping_date": r["shipping_date"].replace("/", "-")})),
    ("Latin-1 byte", lambda r: json.dumps({**r, "customer_name": r["customer_name"] + " Zo\udceb"},
                                          ensure_ascii=False)),
)
ENCODING, ERRORS = "utf-8", "surrogateescape"


@dataclass
class GenerationStats:
    records: int = 0
    duplicates: int = 0
    bad_lines: int = 0
    path: Path | None = None


def landing_file_name(now: datetime | None = None) -> str:
    """Producers' naming: ``shipping_data.json-YYYY-MM-DD-HH-MM-SS.json``."""
    now = now or datetime.now(UTC)
    return f"shipping_data.json-{now:%Y-%m-%d-%H-%M-%S}.json"


def _pools(seed: int) -> tuple[list[str], list[str]]:
    from faker import Faker

    faker = Faker()
    faker.seed_instance(seed)
    names = [faker.name() for _ in range(POOL_SIZE)]
    addresses = [faker.street_address() for _ in range(POOL_SIZE)]
    return names, addresses


def generate_lines(
    records: int, *, seed: int = 0, duplicate_rate: float = 0.0, bad_rate: float = 0.0
) -> Iterator[str]:
    """Yield JSON lines: ``records`` shipments, then re-sent corrections and bad lines mixed in."""
    for chunk, _, _ in _chunks(records, seed=seed, duplicate_rate=duplicate_rate, bad_rate=bad_rate):
        yield from chunk


def _chunks(
    records: int, *, seed: int, duplicate_rate: float, bad_rate: float
) -> Iterator[tuple[list[str], int, int]]:
    """Lines in chunks, with how many re-sent duplicates and bad lines each chunk holds."""
    rng = np.random.default_rng(seed)
    names, addresses = _pools(seed)
    base_id = int(rng.integers(1, 10**9)) * 1000
    ids = base_id + rng.permutation(records)
    dumps = json.dumps
    for start in range(0, records, CHUNK):
        n = min(CHUNK, records - start)
        chunk_ids = ids[start : start + n]
        days = rng.integers(0, DAYS, n)
        cities = rng.integers(0, len(CITIES), n)
        name_index = rng.integers(0, POOL_SIZE, n)
        address_index = rng.integers(0, POOL_SIZE, n)
        costs = np.round(rng.uniform(*COST_RANGE, n), 2)
        distances = np.round(rng.uniform(*DISTANCE_RANGE, n), 2)
        quantities = np.round(rng.uniform(*QUANTITY_RANGE, n), 2)
        products = rng.integers(10000, 99999, n)
        duplicate = rng.random(n) < duplicate_rate
        bad = rng.random(n) < bad_rate
        dates = [(FIRST_DATE.toordinal() + int(d)) for d in days]
        lines = []
        for i in range(n):
            record = {
                "shipping_id": int(chunk_ids[i]),
                "shipping_date": date.fromordinal(dates[i]).strftime("%Y/%m/%d"),
                "customer_name": names[name_index[i]],
                "street_address": addresses[address_index[i]],
                "destination_city": CITIES[cities[i]],
                "shipping_cost": float(costs[i]),
                "shipping_distance": float(distances[i]),
                "quantity": float(quantities[i]),
                "product_id": int(products[i]),
            }
            lines.append(dumps(record))
            if duplicate[i]:  # a corrected re-send of the same shipment: the later line wins
                record["shipping_cost"] = round(float(costs[i]) * 1.1, 2)
                lines.append(dumps(record))
            if bad[i]:
                lines.append(BAD_LINE_KINDS[i % len(BAD_LINE_KINDS)][1](record))
        yield lines, int(duplicate.sum()), int(bad.sum())


def write_file(
    path: Path,
    records: int,
    *,
    seed: int = 0,
    duplicate_rate: float = 0.0,
    bad_rate: float = 0.0,
    replace: bool = True,
) -> GenerationStats:
    """Write the generated lines to ``path`` (gzip if it ends with .gz); hidden name until complete.

    With ``replace=False`` an existing ``path`` is never replaced: FileExistsError instead.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = _temporary_beside(path)
    stats = GenerationStats(records=records, path=path)
    try:
        stats.duplicates, stats.bad_lines = _write_temporary(temporary, path, records, seed, duplicate_rate,
                                                             bad_rate)
        if replace:
            temporary.replace(path)
        else:
            os.link(temporary, path)  # fails when the name exists: never overwrites
    finally:
        temporary.unlink(missing_ok=True)
    return stats


def write_new_file(
    folder: Path,
    name: str,
    records: int,
    *,
    seed: int = 0,
    duplicate_rate: float = 0.0,
    bad_rate: float = 0.0,
) -> GenerationStats:
    """Write a new file named ``name`` in ``folder``; ``name-2``, ``name-3``… when that name is taken.

    Safe with several writers at once: each writes its own hidden file and claims the final name
    atomically (a hard link fails when the name exists), so no file replaces another.
    """
    folder.mkdir(parents=True, exist_ok=True)
    gzip_suffix = ".gz" if name.endswith(".gz") else ""
    base = name[: len(name) - len(gzip_suffix)]
    stem, dot, suffix = base.rpartition(".") if "." in base else (base, "", "")
    suffix += gzip_suffix
    temporary = _temporary_beside(folder / name)
    try:
        duplicates, bad = _write_temporary(temporary, folder / name, records, seed, duplicate_rate, bad_rate)
        for attempt in range(1, 10_000):
            candidate = folder / (name if attempt == 1 else f"{stem}-{attempt}{dot}{suffix}")
            try:
                os.link(temporary, candidate)
            except FileExistsError:
                continue
            return GenerationStats(records=records, duplicates=duplicates, bad_lines=bad, path=candidate)
        raise FileExistsError(f"no free name like {name} in {folder}")
    finally:
        temporary.unlink(missing_ok=True)


def _temporary_beside(path: Path) -> Path:
    """A hidden name of this writer's own next to ``path`` (watchers and the lake skip hidden files)."""
    return path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")


def _write_temporary(
    temporary: Path, final: Path, records: int, seed: int, duplicate_rate: float, bad_rate: float
) -> tuple[int, int]:
    opener = gzip.open if final.suffix == ".gz" else open
    with opener(temporary, "wt", encoding=ENCODING, errors=ERRORS) as handle:
        return _write(handle, records, seed, duplicate_rate, bad_rate)


def _write(handle: IO[str], records: int, seed: int, duplicate_rate: float, bad_rate: float) -> tuple[int, int]:
    duplicates = bad = 0
    for chunk, chunk_duplicates, chunk_bad in _chunks(
        records, seed=seed, duplicate_rate=duplicate_rate, bad_rate=bad_rate
    ):
        duplicates += chunk_duplicates
        bad += chunk_bad
        handle.write("\n".join(chunk))
        handle.write("\n")
    return duplicates, bad


def upload_to_s3(bucket: str, records: int, *, seed: int | None = None, client: Any = None) -> dict[str, Any]:
    """Generate ``records`` shipments and put them into ``bucket`` under ``shipping/`` (gzip)."""
    import tempfile

    if client is None:
        import boto3

        client = boto3.client("s3")
    seed = seed if seed is not None else int(datetime.now(UTC).timestamp())
    key = "shipping/" + landing_file_name() + ".gz"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "data.json.gz"
        stats = write_file(path, records, seed=seed)
        client.upload_file(str(path), bucket, key)
    return {"bucket": bucket, "key": key, "records": stats.records}


def write_csv_export(
    path: Path, header: Sequence[str], tagged_rows: Iterator[tuple[str, Sequence[str]]], *, line_terminator: str
) -> dict[str, int]:
    """Write a CSV export (header, then each (kind, row)) to a new file ``path``; how many rows of each kind.

    Written through a hidden file beside it, so a watcher never sees half a file; the final name is claimed
    atomically (a hard link), so two writers at once never replace each other's file: FileExistsError when
    ``path`` exists.
    """
    import csv

    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    written: dict[str, int] = {}
    with temporary.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator=line_terminator)
        writer.writerow(header)
        for kind, row in tagged_rows:
            writer.writerow(row)
            written[kind] = written.get(kind, 0) + 1
    try:
        os.link(temporary, path)
    finally:
        temporary.unlink()
    return written
