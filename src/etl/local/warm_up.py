"""Warm a long-running process's JVM before the first real file: the pipeline runs on generated files.

HotSpot compiles Spark's JSON parser, the jobs' generated code and the Parquet writer while the first
jobs of a JVM run, on the same cores. Until it has, a job takes two to five times its steady time:
``json_to_parquet`` and ``normalize`` of a 10,000-record file took 9.0, 3.3, 2.6, 1.9 and 1.8 s in a
row in one new JVM (2 cores). ``etl watch`` runs for hours; it pays that once, at start, on a scratch
lake, instead of on the first files producers send. The scratch lake (its runs, tables and
notifications) is deleted afterwards; the user's lake is not touched.
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path

from etl.config import LocalSettings
from etl.generator import write_file
from etl.local.runtime import LocalRuntime

logger = logging.getLogger(__name__)

WARM_UP_FILES = 3
WARM_UP_RECORDS = 10_000


def warm_up(settings: LocalSettings, *, files: int = WARM_UP_FILES, records: int = WARM_UP_RECORDS) -> float:
    """Run the whole local pipeline on ``files`` generated files of ``records`` each; the seconds it took.

    The files are realistic (re-sent corrections and a few bad lines), so the quarantine path is
    compiled too. Runs in this process's Spark session, the one the watcher's runs then use.
    """
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="etl-warm-up-") as scratch:
        folder = Path(scratch)
        runtime = LocalRuntime(
            LocalSettings.resolve(
                lake_root=folder / "lake", project_root=settings.project_root, wait_scale=settings.wait_scale
            )
        )
        for index in range(files):
            source = folder / f"warm-up-{index}.json"
            write_file(source, records, seed=index, duplicate_rate=0.01, bad_rate=0.001)
            runtime.drop(source, "shipping")
            report = runtime.process_landing()
            ended = {item["run_id"]: runtime.runs.get(item["run_id"]) for item in report.started}
            failed = [*report.failed, *(run_id for run_id, r in ended.items() if r is None or r.status != "SUCCEEDED")]
            if failed:  # the watcher still starts: its own runs report their own failures
                logger.warning("a warm-up run did not succeed: %s", failed)
    return time.monotonic() - started
