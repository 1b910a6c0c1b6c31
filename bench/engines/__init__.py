"""The engines under test. Each module has ``run(job, clock) -> counts`` and is run in its own process
(bench.worker), so its memory is measured alone and no engine warms another's caches."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any

from bench.datasets import CLEAN, INPUTS
from bench.engines.common import EngineJob, StepClock

PIPELINE = "pipeline"
DUCKDB = "duckdb"
PANDAS = "pandas"
SPARK = "spark"  # a reference: the DuckDB engine's work in plain Spark (see spark_engine)
ENGINES = (PIPELINE, DUCKDB, PANDAS, SPARK)
SPARK_ENGINES = (PIPELINE, SPARK)  # their workers stop the local Spark session before exiting
_MODULES = {PIPELINE: "bench.engines.pipeline_engine", DUCKDB: "bench.engines.duckdb_engine",
            PANDAS: "bench.engines.pandas_engine", SPARK: "bench.engines.spark_engine"}

# The inputs each engine can read. pyarrow's JSON reader (the pandas engine) stops at the first
# malformed line, so that engine reads only the clean files.
_READS = {PANDAS: (CLEAN,)}

EngineRun = Callable[[EngineJob, StepClock], dict[str, Any]]


def engine_run(name: str) -> EngineRun:
    run: EngineRun = import_module(_MODULES[name]).run
    return run


def reads(name: str) -> tuple[str, ...]:
    """The benchmark inputs (bench.datasets.INPUTS) engine ``name`` can read."""
    return _READS.get(name, INPUTS)
