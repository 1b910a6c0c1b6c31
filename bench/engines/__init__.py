"""The engines under test. Each module has ``run(job, clock) -> counts`` and is run in its own process
(bench.worker), so its memory is measured alone and no engine warms another's caches."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any

from bench.datasets import CLEAN, EV, INPUTS, SHIPPING
from bench.engines.common import EngineJob, StepClock

PIPELINE = "pipeline"
DUCKDB = "duckdb"
PANDAS = "pandas"
SPARK = "spark"  # a reference: the DuckDB engine's work in plain Spark (see spark_engine)
ENGINES = (PIPELINE, DUCKDB, PANDAS, SPARK)
SPARK_ENGINES = (PIPELINE, SPARK)  # their workers stop the local Spark session before exiting
_MODULES = {PIPELINE: "bench.engines.pipeline_engine", DUCKDB: "bench.engines.duckdb_engine",
            PANDAS: "bench.engines.pandas_engine", SPARK: "bench.engines.spark_engine"}
# The CSV series (ev_population): the pipeline's own scripts read it (--dataset), plain Spark has a
# module of its own (Spark's CSV source), DuckDB and pandas are not written for it.
_CSV_MODULES = {PIPELINE: _MODULES[PIPELINE], SPARK: "bench.engines.spark_csv_engine"}

# The inputs each engine can read. pyarrow's JSON reader (the pandas engine) stops at the first
# malformed line, so that engine reads only the clean files.
_READS: dict[str, dict[str, tuple[str, ...]]] = {SHIPPING: {PANDAS: (CLEAN,)}, EV: {DUCKDB: (), PANDAS: ()}}

EngineRun = Callable[[EngineJob, StepClock], dict[str, Any]]


def engine_run(name: str, dataset: str = SHIPPING) -> EngineRun:
    modules = _CSV_MODULES if dataset == EV else _MODULES
    if name not in modules:
        raise ValueError(f"engine {name} does not read the {dataset} dataset")
    run: EngineRun = import_module(modules[name]).run
    return run


def reads(name: str, dataset: str = SHIPPING) -> tuple[str, ...]:
    """The benchmark inputs (bench.datasets.INPUTS) of ``dataset`` engine ``name`` can read."""
    return _READS[dataset].get(name, INPUTS)
