"""One engine measurement in a process of its own: ``python -m bench.worker ENGINE SOURCE LAKE RUN_ID RESULT``
(``--dataset ev_population`` for the CSV series).

The parent samples this process's memory (and its JVM's, for the pipeline) and reads the step
times this writes to RESULT as JSON: {"engine", "steps": [{name, start, end, seconds}], "counts"}.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from bench.datasets import DATASETS, SHIPPING
from bench.engines import ENGINES, SPARK_ENGINES, engine_run
from bench.engines.common import EngineJob, StepClock


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.worker")
    parser.add_argument("engine", choices=ENGINES)
    parser.add_argument("source", type=Path)
    parser.add_argument("lake", type=Path)
    parser.add_argument("run_id")
    parser.add_argument("result", type=Path)
    parser.add_argument("--dataset", choices=DATASETS, default=SHIPPING)
    args = parser.parse_args(argv)
    clock = StepClock()
    job = EngineJob(source=args.source, lake=args.lake, run_id=args.run_id, dataset=args.dataset)
    counts = engine_run(args.engine, args.dataset)(job, clock)
    args.result.write_text(json.dumps({"engine": args.engine, "steps": clock.steps, "counts": counts}, default=str),
                           encoding="utf-8")
    if args.engine in SPARK_ENGINES:  # stop the JVM cleanly rather than leaving it to die with us
        from etl.spark import stop_local_session

        stop_local_session()
    return 0


def exit_at_once(code: int) -> None:
    """End the process without the interpreter's teardown, once the result is written.

    Teardown aborted about one pandas worker in 150 beside a busy test suite ("terminate called without an active
    exception", apache/arrow#34314), after its result is written: an Arrow pool thread dropping the
    last reference to NumPy-backed data (pandas' partitioned ``to_parquet``) takes the GIL while the
    interpreter finalizes, and Python ends that thread inside a C++ destructor (seen in gdb).
    Nothing left to tear down matters to the measurement (the JVM, if any, is stopped).
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    exit_at_once(main())
