"""The pipeline itself: its two Glue job scripts, through their real ``main(argv, spark)`` entry points.

The Spark session is created first and timed as ``startup``, so the job steps measure work,
not JVM start; the session is the one the local runtime uses (etl.spark.local_session, which
honours ETL_SPARK_CORES, ETL_SPARK_DRIVER_MEMORY and ETL_SPARK_SHUFFLE_PARTITIONS).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

from bench.engines.common import DATABASE, INGESTED_AT, NORMALIZE, STARTUP, TO_RAW, EngineJob, StepClock

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def load_glue_script(name: str) -> ModuleType:
    """Load ``glue_jobs/<name>.py`` by path, as Glue (and the local runtime) do: it is a script, not a package."""
    path = PROJECT_ROOT / "glue_jobs" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"bench_glue_job_{name}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(job: EngineJob, clock: StepClock) -> dict[str, Any]:
    to_raw, normalize = load_glue_script(TO_RAW), load_glue_script(NORMALIZE)
    with clock.step(STARTUP):
        from etl.spark import local_session

        spark = local_session("bench")
    raw_uri = (job.lake / "raw").as_uri()
    common = ["--run_id", job.run_id, "--dataset", job.dataset, "--database", DATABASE, "--raw_uri", raw_uri]
    with clock.step(TO_RAW):
        to_raw.main(
            ["json_to_parquet.py", "--JOB_NAME", TO_RAW, *common, "--source_uri", job.source.resolve().as_uri(),
             "--ingested_at", INGESTED_AT, "--quarantine_uri", (job.lake / "quarantine").as_uri()],
            spark=spark,
        )
    with clock.step(NORMALIZE):
        normalize.main(
            ["normalize.py", "--JOB_NAME", NORMALIZE, *common,
             "--processed_uri", (job.lake / "processed").as_uri(), "--write_mode", "upsert"],
            spark=spark,
        )
    manifests = job.lake / "raw" / "_runs" / job.run_id
    # The jobs' own manifests: their counts, and their own "seconds" to compare with the wall time.
    return {name: json.loads((manifests / f"{name}.json").read_text(encoding="utf-8")) for name in (TO_RAW, NORMALIZE)}
