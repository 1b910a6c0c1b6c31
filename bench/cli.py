"""``python -m bench``: generate the inputs, run the schedule, print and save the tables.

Examples (from the repository root):
    python -m bench                                   # the full run: 100k, 1m, 5m, clean and realistic; 3 reps; e2e
    python -m bench --sizes 100k --reps 1 --engines duckdb,pandas --e2e none
    python -m bench --sizes none --csv-sizes 100k --engines pipeline,spark --e2e none --growth none
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from bench import machine, report
from bench.datasets import DEFAULT_SEED, EV, INPUTS, parse_size
from bench.e2e import MODES
from bench.engines import ENGINES
from bench.growth import DEFAULT_LAKE_SIZES, measure_growth
from bench.runner import Plan, run_plan

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_SIZES = "100k,1m,5m"
DEFAULT_CSV_SIZES = "100k,1m"
DEFAULT_E2E_SIZES = "1k,10k,100k"


def _names(text: str, allowed: Sequence[str], what: str) -> list[str]:
    if text.strip().lower() in ("", "none"):
        return []
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in allowed]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown {what}: {', '.join(unknown)} (choose from {', '.join(allowed)})")
    return list(dict.fromkeys(names))


def _sizes(text: str) -> list[int]:
    if text.strip().lower() in ("", "none"):
        return []
    try:
        return sorted({parse_size(part) for part in text.split(",") if part.strip()})
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def _lake_sizes(text: str) -> list[int]:
    if text.strip().lower() in ("", "none"):
        return []
    parts = [part.strip() for part in text.split(",") if part.strip()]
    try:
        return sorted({0 if part == "0" else parse_size(part) for part in parts})
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=_sizes, default=DEFAULT_SIZES, help=f"job sizes (default {DEFAULT_SIZES})")
    p.add_argument("--csv-sizes", type=_sizes, default=DEFAULT_CSV_SIZES,
                   help=f"sizes of the CSV series: ev_population exports, clean and realistic, on the pipeline and "
                        f"plain Spark's CSV source (default {DEFAULT_CSV_SIZES}; 'none' skips it)")
    p.add_argument("--reps", type=int, default=3, help="repetitions (default 3)")
    p.add_argument("--engines", type=lambda t: _names(t, ENGINES, "engine"), default=",".join(ENGINES),
                   help=f"engines to compare (default {','.join(ENGINES)}; 'none' for e2e only)")
    p.add_argument("--inputs", type=lambda t: _names(t, INPUTS, "input"), default=",".join(INPUTS),
                   help=f"job inputs, side by side at each size (default {','.join(INPUTS)}): clean has no bad "
                        "lines; realistic has 0.1%% bad lines of the corpus's kinds")
    p.add_argument("--e2e", type=lambda t: _names(t, MODES, "e2e mode"), default=",".join(MODES),
                   help="end-to-end modes: cold,warm (default both; 'none' to skip)")
    p.add_argument("--e2e-sizes", type=_sizes, default=DEFAULT_E2E_SIZES,
                   help=f"end-to-end sizes (default {DEFAULT_E2E_SIZES})")
    p.add_argument("--growth", type=_lake_sizes, default=",".join(str(n) for n in DEFAULT_LAKE_SIZES),
                   help="lake sizes of the growth series, e.g. 0,1m,5m (default; 'none' skips it)")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help="generator seed of the job datasets")
    p.add_argument("--data-dir", type=Path, default=BENCH_DIR / "data", help="dataset cache (default bench/data)")
    p.add_argument("--results-dir", type=Path, default=BENCH_DIR / "results", help="default bench/results")
    p.add_argument("--work-dir", type=Path, default=BENCH_DIR / "work",
                   help="scratch lakes, deleted after each measurement (default bench/work)")
    p.add_argument("--keep-outputs", action="store_true", help="keep each measurement's lake for inspection")
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds before one measurement is abandoned")
    p.add_argument("--watch-interval", type=float, default=1.0,
                   help="scan interval of `etl watch` for the warm runs (default 1.0, the CLI's default)")
    p.add_argument("--sample-interval", type=float, default=0.05, help="memory sampling period in seconds")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    # argparse applies `type` to string defaults too, so these are lists here.
    if args.reps < 1:
        parser().error("--reps must be at least 1")
    plan = Plan(
        sizes=args.sizes if args.engines and args.inputs else [],
        csv_sizes=args.csv_sizes if args.engines and args.inputs else [],
        reps=args.reps,
        engines=args.engines,
        e2e_modes=args.e2e,
        e2e_sizes=args.e2e_sizes if args.e2e else [],
        seed=args.seed,
        data_dir=args.data_dir.resolve(),
        inputs=tuple(args.inputs),
        work_dir=args.work_dir.resolve(),
        timeout=args.timeout,
        watch_interval=args.watch_interval,
        sample_interval=args.sample_interval,
        keep_outputs=args.keep_outputs,
    )
    if not plan.sizes and not plan.csv_sizes and not plan.e2e_sizes and not args.growth:
        parser().error("nothing to measure: give --sizes or --csv-sizes with --engines, --e2e with --e2e-sizes, "
                       "or --growth")
    started_at = datetime.now(UTC)
    results_dir = args.results_dir.resolve()
    results_dir.mkdir(parents=True, exist_ok=True)
    results_file = results_dir / f"{started_at:%Y%m%dT%H%M%SZ}.json"
    meta = {
        "started_at": started_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "command": "python -m bench " + " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv)),
        "results_file": results_file.name,
        "machine": machine.describe(),
        "load_average_start": machine.load_average(),
        "plan": {
            "sizes": plan.sizes, "csv_sizes": plan.csv_sizes, "inputs": list(plan.inputs), "reps": plan.reps,
            "engines": plan.engines,
            "e2e_modes": plan.e2e_modes,
            "e2e_sizes": plan.e2e_sizes, "seed": plan.seed, "watch_interval": plan.watch_interval,
            "sample_interval": plan.sample_interval, "timeout": plan.timeout, "growth": args.growth,
        },
    }
    clock = time.monotonic()
    def progress(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    measurements, datasets = run_plan(plan, progress=progress)
    if args.growth:
        measurements += measure_growth(lake_sizes=args.growth, reps=plan.reps, seed=plan.seed, data_dir=plan.data_dir,
                                       work_dir=plan.work_dir, timeout=plan.timeout, progress=progress)
    meta.update(
        finished_at=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        seconds=round(time.monotonic() - clock, 1),
        load_average_end=machine.load_average(),
    )
    rows = report.summarize(measurements)
    csv_rows = report.summarize(measurements, EV)
    targets = report.evaluate_targets(rows) + report.csv_targets(csv_rows) + report.growth_targets(measurements)
    checks = report.consistency(measurements)
    results = {
        "meta": meta,
        "datasets": [d.as_dict() for d in datasets],
        "summary": report.rows_as_dicts([*rows, *csv_rows]),
        "targets": report.targets_as_dicts(targets),
        "consistency": checks,
        "measurements": measurements,
    }
    results_file.write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    (results_dir / "latest.md").write_text(report.render_markdown(rows, targets, checks, measurements, meta),
                                           encoding="utf-8")
    print(report.render_text(rows, targets, checks, measurements))
    print(f"\nresults: {results_file}\nmarkdown: {results_dir / 'latest.md'}")
    failed = any(not m["ok"] for m in measurements) or any(not c["agree"] for c in checks)
    return 1 if failed else 0
