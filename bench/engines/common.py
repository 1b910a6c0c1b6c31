"""What every engine shares: the lake layout it writes, the fixed job arguments and the step clock."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DATASET = "shipping"  # the JSON Lines series; the CSV series runs ev_population (EngineJob.dataset)
DATABASE = "etl"  # the Glue database (Iceberg namespace) of the processed table, as the local runtime names it
INGESTED_AT = "2026-11-22T00:00:00Z"  # fixed, so every engine writes the same lineage value
STARTUP = "startup"
TO_RAW = "json_to_parquet"
NORMALIZE = "normalize"


@dataclass(frozen=True)
class EngineJob:
    """One measurement: convert ``source`` and normalize it into a fresh lake under ``lake``."""

    source: Path
    lake: Path
    run_id: str
    dataset: str = DATASET

    @property
    def raw_dataset(self) -> Path:
        return self.lake / "raw" / self.dataset

    @property
    def raw_run(self) -> Path:
        return self.raw_dataset / f"run_id={self.run_id}"

    @property
    def quarantine_run(self) -> Path:
        return self.lake / "quarantine" / self.dataset / f"run_id={self.run_id}"

    @property
    def processed_dataset(self) -> Path:
        return self.lake / "processed" / self.dataset


@dataclass
class StepClock:
    """Wall time of named steps, on time.monotonic() so the parent can match them to its memory samples."""

    steps: list[dict[str, Any]] = field(default_factory=list)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        start = time.monotonic()
        try:
            yield
        finally:
            end = time.monotonic()
            self.steps.append({"name": name, "start": start, "end": end, "seconds": end - start})
