"""Benchmark inputs: generated shipping files, cached by size, seed and kind so re-runs reuse them.

Every engine reads the same file. Two kinds at each size:

- *clean*: 1% re-sent corrections (the dedupe has real work) and no bad lines;
- *realistic*: what producers really send: the same 1% corrections, and 0.1% bad lines of the
  bad-input corpus's kinds (etl.generator.BAD_LINE_KINDS: cut lines, text that is not JSON, wrong
  types, missing fields, values out of range, NaN, impossible dates, a Latin-1 byte). Each kind is
  one that DuckDB's and Spark's JSON readers can tell from a good line too, so every engine that
  reads the file quarantines the same lines and the comparison stays equal work.

The CSV series reads the ``ev_population`` dataset the same two ways: Electric Vehicle Population
exports (etl.generator_ev.write_ev_file) with 1% re-sent corrections, and for *realistic* 0.1% bad
rows of etl.generator_ev.BAD_ROW_KINDS (too few or too many columns, a model year that is not a
number, a missing VIN, a vehicle type or location the contract refuses, values out of range).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

DUPLICATE_RATE = 0.01
CLEAN, REALISTIC = "clean", "realistic"
INPUTS = (CLEAN, REALISTIC)
BAD_RATE = {CLEAN: 0.0, REALISTIC: 0.001}
DEFAULT_SEED = 20261122
SHIPPING, EV = "shipping", "ev_population"  # the JSON Lines series and the CSV series
DATASETS = (SHIPPING, EV)
_EXTENSION = {SHIPPING: "json", EV: "csv"}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKmM]?)\s*$")
_MULTIPLIER = {"": 1, "k": 1_000, "m": 1_000_000}


def parse_size(text: str) -> int:
    """``100k`` -> 100000, ``1m`` -> 1000000, ``2500`` -> 2500."""
    match = _SIZE.match(text)
    if not match:
        raise ValueError(f"not a size: {text!r} (use e.g. 10k, 1m, 2500)")
    records = int(float(match.group(1)) * _MULTIPLIER[match.group(2).lower()])
    if records < 1:
        raise ValueError(f"size must be at least one record: {text!r}")
    return records


def size_label(records: int) -> str:
    """The short name used in tables and file names: 100k, 1m, 5m (or the plain number)."""
    for suffix, factor in (("m", 1_000_000), ("k", 1_000)):
        if records % factor == 0:
            return f"{records // factor}{suffix}"
    return str(records)


@dataclass(frozen=True)
class Dataset:
    label: str
    records: int  # distinct shipments
    lines: int  # lines as sent: shipments, re-sent duplicates and bad lines
    duplicates: int
    bytes: int
    seed: int
    path: Path
    input: str = CLEAN  # clean or realistic
    bad_lines: int = 0
    dataset: str = SHIPPING  # the contract it follows: shipping (JSON Lines) or ev_population (CSV)
    generated: bool = field(default=False, compare=False)  # made by this run, not found in the cache

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "path": str(self.path)}


def ensure_dataset(data_dir: Path, records: int, seed: int = DEFAULT_SEED, kind: str = CLEAN,
                   dataset: str = SHIPPING) -> Dataset:
    """The cached file for (dataset, records, seed, kind), generated first if missing or incomplete."""
    label = size_label(records)
    bad_rate = BAD_RATE[kind]
    stem = f"{dataset}-{label}-seed{seed}-dup{DUPLICATE_RATE:g}" + (f"-bad{bad_rate:g}" if bad_rate else "")
    path = data_dir / f"{stem}.{_EXTENSION[dataset]}"
    meta_path = data_dir / f"{stem}.meta.json"
    cached = _load_meta(meta_path, path)
    if cached is not None:
        return cached
    path.unlink(missing_ok=True)  # a file without its sidecar is incomplete (the EV writer refuses to replace one)
    if dataset == EV:  # imported late: only generation needs Faker and NumPy
        from etl.generator_ev import write_ev_file

        stats = write_ev_file(path, records, seed=seed, duplicate_rate=DUPLICATE_RATE, bad_rate=bad_rate)
    else:
        from etl.generator import write_file

        stats = write_file(path, records, seed=seed, duplicate_rate=DUPLICATE_RATE, bad_rate=bad_rate)
    made = Dataset(
        label=label,
        records=stats.records,
        lines=stats.records + stats.duplicates + stats.bad_lines,
        duplicates=stats.duplicates,
        bytes=path.stat().st_size,
        seed=seed,
        path=path,
        input=kind,
        bad_lines=stats.bad_lines,
        dataset=dataset,
        generated=True,
    )
    # The sidecar is written last: its presence (with a matching size) marks the file complete.
    meta = {k: v for k, v in made.as_dict().items() if k != "generated"}
    meta_path.write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return made


def _load_meta(meta_path: Path, path: Path) -> Dataset | None:
    if not (meta_path.is_file() and path.is_file()):
        return None
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        dataset = Dataset(**{**meta, "path": path, "generated": False})
    except (ValueError, TypeError):
        return None
    return dataset if dataset.bytes == path.stat().st_size else None
