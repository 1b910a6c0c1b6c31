"""The ``etl`` command: run the pipeline on this machine and look at what it produced.

Errors are one line on stderr and a non-zero exit code; no trace unless ETL_DEBUG=1.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from etl import console
from etl.config import LocalSettings
from etl.errors import EtlError

logger = logging.getLogger(__name__)

PROGRESS_STATES = {"StateExited", "StateFailed", "TaskRetry"}


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as error:
        print(f"etl: error: {error}", file=sys.stderr)
        return USAGE_EXIT
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.handler(args) or 0)
    except (EtlError, OSError) as error:
        if os.environ.get("ETL_DEBUG"):
            raise
        print(f"etl: error: {_one_line(error)}", file=sys.stderr)
        return error.exit_code if isinstance(error, EtlError) else 1
    except KeyboardInterrupt:
        print("etl: interrupted", file=sys.stderr)
        return 130


USAGE_EXIT = 2


class UsageError(Exception):
    """A command line argparse cannot take; shown as one line, like every other user error."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one ``etl: error:`` line naming the --help to read, not a usage dump."""

    def error(self, message: str) -> NoReturn:
        command = self.prog.removeprefix("etl").strip()
        raise UsageError(f"{command + ': ' if command else ''}{message} (see `{self.prog} --help`)")


def _one_line(error: BaseException) -> str:
    if isinstance(error, OSError) and error.filename is not None:
        return f"{error.strerror or error}: {error.filename}"
    return " ".join(str(error).split())


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative; give 0 or more")
    return value


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a share between 0 and 1 (0.01 is 1%)")
    return value


def _positive_number(unit: str) -> Callable[[str], float]:
    """An argparse type: a positive, finite number of ``unit``."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = 0.0
        if not 0 < value < float("inf"):
            raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of {unit}")
        return value

    return parse


_positive_hours = _positive_number("hours")
_positive_seconds = _positive_number("seconds")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="etl", description="Run the ETL pipeline locally and inspect its results.")
    parser.add_argument("--lake", help="lake root folder (default ./lake or $ETL_LAKE_ROOT)")
    commands = parser.add_subparsers(dest="command", required=True)

    generate = commands.add_parser("generate", help="write a synthetic shipping (or --dataset) file into landing/")
    generate.add_argument("--dataset", choices=("shipping", "ev_population", "users"), default="shipping",
                          help="shipping: JSON Lines; ev_population: the EV population CSV export; "
                               "users: a user_data CSV export (into landing/users/append/)")
    generate.add_argument("--records", type=_count, default=10_000)
    generate.add_argument("--seed", type=int, default=None, help="make the file reproducible")
    generate.add_argument("--duplicate-rate", type=_share, default=0.01, help="share of re-sent corrected records")
    generate.add_argument("--bad-rate", type=_share, default=0.001, help="share of extra malformed lines")
    generate.add_argument("--output",  # text, not a Path: a trailing "/" says "a folder" even before it exists
                          help="a folder (a new file is named in it) or a new file, instead of landing/shipping/")
    generate.set_defaults(handler=_generate)

    run = commands.add_parser("run", help="drop FILE (or every file in FOLDER) into landing, process new landing files")
    run.add_argument("file", nargs="?", type=Path, metavar="FILE|FOLDER")
    run.add_argument("--dataset", default="shipping", help="landing prefix to drop FILE under (default shipping)")
    run.add_argument("--quiet", action="store_true", help="no step progress")
    run.set_defaults(handler=_run)

    watch = commands.add_parser("watch", help="process files as they land (one warm Spark session)")
    watch.add_argument("--interval", type=_positive_seconds, default=1.0, help="seconds between scans")
    watch.add_argument("--max-seconds", type=_positive_seconds, default=None, help="stop after this long")
    watch.add_argument("--no-warm-up", dest="warm_up", action="store_false",
                       help="take files at once, without first running the pipeline on generated files to warm the JVM")
    watch.set_defaults(handler=_watch)

    query = commands.add_parser("query", help="run Athena SQL (Trino dialect) on the local catalog")
    query.add_argument("sql", nargs="?")
    query.add_argument("--file", type=Path,
                       help="read the SQL from a file (e.g. src/etl/datasets/shipping/queries/top_products.sql)")
    query.add_argument("--param", action="append", default=[],
                       help="value for a ? parameter, as a SQL literal like Athena's execution parameters: "
                            "5000, 'main_city', DATE '2024-01-15' (repeatable)")
    query.add_argument("--format", choices=("table", "csv", "json"), default="table")
    query.set_defaults(handler=_query)

    maintain = commands.add_parser(
        "maintain", help="compact the processed Iceberg tables, expire old snapshots, delete orphan files")
    maintain.add_argument("--retention-hours", type=_positive_hours, default=None,
                          help="keep snapshots this recent for time travel (default 168, a week)")
    maintain.add_argument("--orphan-hours", type=_positive_hours, default=None,
                          help="delete files no snapshot lists once this old (default and least 24)")
    maintain.set_defaults(handler=_maintain)

    datasets = commands.add_parser("datasets", help="list the datasets (src/etl/datasets/<name>/) and their queries")
    datasets.set_defaults(handler=_datasets)

    validate = commands.add_parser("validate", help="check dataset folders or contracts: one line per problem, "
                                                    "exit 1 if any")
    validate.add_argument("targets", nargs="*", metavar="NAME|FOLDER|FILE",
                          help="a dataset name, a folder holding contract.json and queries/, or a contract file "
                               "<dataset>.json to drop into landing as _contracts/<dataset>.json (default: every "
                               "dataset)")
    validate.set_defaults(handler=_validate)

    tables = commands.add_parser("tables", help="list catalogued tables")
    tables.set_defaults(handler=_tables)

    runs = commands.add_parser("runs", help="list runs with status, times and counts")
    runs.add_argument("--limit", type=_count, default=20)
    runs.add_argument("--steps", action="store_true", help="show each step's time")
    runs.set_defaults(handler=_runs)

    notifications = commands.add_parser("notifications", help="show published notifications")
    notifications.add_argument("--limit", type=_count, default=5)
    notifications.add_argument("--raw", action="store_true", help="print the message JSON as published")
    notifications.set_defaults(handler=_notifications)
    return parser


def _settings(args: argparse.Namespace) -> LocalSettings:
    return LocalSettings.resolve(lake_root=args.lake)


def _runtime(args: argparse.Namespace, *, quiet: bool = False):  # type: ignore[no-untyped-def]
    from etl.local.runtime import LocalRuntime

    shown: set[tuple[str, str]] = set()

    def on_event(run_id: str, event) -> None:  # type: ignore[no-untyped-def]
        if event.type == "ExecutionStarted":
            print(f"▶ run {run_id}", flush=True)
        if quiet or event.type not in PROGRESS_STATES or event.state not in runtime.task_states:
            return
        if event.type == "StateExited":
            if (run_id, event.state) in shown:
                return  # a state entered again (a crawler polled once more) is one line, like one row in `etl runs`
            shown.add((run_id, event.state))
            seconds = event.details.get("duration_seconds") or 0.0
            print(f"  ✓ {event.state:<34} {seconds:6.1f}s", flush=True)
        elif event.type == "TaskRetry":
            print(f"  ↻ {event.state:<34} retry after {event.details.get('error')}", flush=True)
        else:
            print(f"  ✗ {event.state:<34} {event.details.get('error')}", flush=True)

    def on_publish(note) -> None:  # type: ignore[no-untyped-def]
        print(console.notification(note), flush=True)

    runtime = LocalRuntime(_settings(args), on_event=on_event, on_publish=on_publish)
    return runtime


def _generate(args: argparse.Namespace) -> int:
    import secrets

    from etl.errors import ConfigError
    from etl.generator import landing_file_name, write_file, write_new_file
    from etl.local.lake import LANDING, Lake

    started = time.monotonic()
    seed = args.seed if args.seed is not None else secrets.randbits(31)  # two runs in one second differ
    shape = {"seed": seed, "duplicate_rate": args.duplicate_rate, "bad_rate": args.bad_rate}
    if args.dataset != "shipping":
        return _generate_csv(args, shape, started)
    output = Path(args.output) if args.output else None
    if output is not None and not (output.is_dir() or args.output.endswith(("/", os.sep))):
        if output.exists():
            raise ConfigError(f"{output} exists and is not a folder; give a new file name or a folder")
        try:
            stats = write_file(output, args.records, replace=False, **shape)
        except FileExistsError:
            raise ConfigError(f"{output} appeared while it was written; give a new file name or a folder") from None
    else:
        if output is None:
            lake = Lake(_settings(args).lake_root)
            lake.ensure()
            output = lake.path(LANDING, "shipping")
        stats = write_new_file(output, landing_file_name(), args.records, **shape)
    print(
        f"wrote {stats.records} records (+{stats.duplicates} re-sent corrections, +{stats.bad_lines} bad lines, "
        f"seed {seed}) to {stats.path} in {time.monotonic() - started:.1f}s"
    )
    return 0


def _generate_csv(args: argparse.Namespace, shape: dict[str, Any], started: float) -> int:
    """A CSV export of the ev_population or users dataset, into its landing folder or ``--output``."""
    from etl.errors import ConfigError
    from etl.generator_ev import ev_file_name, write_ev_file
    from etl.generator_users import users_file_name, write_users_file
    from etl.local.lake import LANDING, Lake

    write, file_name, folder, what = {
        "ev_population": (write_ev_file, ev_file_name, "ev_population", "vehicles"),
        "users": (write_users_file, users_file_name, "users/append", "users"),
    }[args.dataset]
    output = Path(args.output) if args.output else None
    if output is None:
        lake = Lake(_settings(args).lake_root)
        lake.ensure()
        output = lake.path(LANDING, folder) / file_name()
    elif output.is_dir() or args.output.endswith(("/", os.sep)):
        output = output / file_name()
    try:
        stats = write(output, args.records, **shape)
    except FileExistsError:
        raise ConfigError(f"{output} exists; give a new file name or a folder") from None
    print(
        f"wrote {stats.records} {what} (+{stats.duplicates} re-sent corrections, +{stats.bad_lines} bad rows, "
        f"seed {shape['seed']}) to {stats.path} in {time.monotonic() - started:.1f}s"
    )
    return 0


def _run(args: argparse.Namespace) -> int:
    runtime = _runtime(args, quiet=args.quiet)
    given: list[str] = []
    if args.file:
        for file in _files_to_drop(args.file):
            dropped = runtime.drop(file, args.dataset, relative_to=args.file if args.file.is_dir() else None)
            print(f"dropped {file} as s3://landing/{dropped.key}")
            given.append(dropped.key)
    return _report(runtime, runtime.process_landing(), given=given)


def _files_to_drop(path: Path) -> list[Path]:
    """FILE itself, or every file under FOLDER (hidden files, like ``.DS_Store``, left out)."""
    from etl.errors import ConfigError

    if path.is_file():
        return [path]
    if not path.is_dir():
        raise ConfigError(f"no such file or folder: {path}")
    files = sorted(f for f in path.rglob("*")
                   if f.is_file() and not any(part.startswith(".") for part in f.relative_to(path).parts))
    if not files:
        raise ConfigError(f"{path} holds no files to drop")
    return files


def _report(runtime, report, given: Sequence[str] = ()) -> int:  # type: ignore[no-untyped-def]
    """What happened to the files given (each named) and to the rest (counted), and the failures."""
    earlier = [item for item in report.duplicates if item["key"] not in given]
    for item in report.duplicates:
        if item["key"] in given:
            print(f"already processed: {item['key']} (run {item['run_id']}); the same file was run before")
    if earlier:
        files = ("other " if given else "") + ("file" if len(earlier) == 1 else "files")
        print(f"{len(earlier)} {files} in landing/ already processed (`etl runs` lists their runs)")
    for item in report.skipped:
        print(f"skipped: {item['key']}: {item['reason']}")
    failed = list(report.failed)
    for item in report.started:
        record = runtime.runs.get(item["run_id"])
        if record is not None and record.status != "SUCCEEDED":
            failed.append({"key": item["key"], "error": f"run {record.run_id} {record.status}: {record.headline()}"})
    for item in failed:
        print(f"failed: {item['key']}: {item['error']}", file=sys.stderr)
    if not report.started and not failed and not given:
        print("no new files in landing/ (drop one with `etl run FILE` or `etl generate`)")
    return 1 if failed else 0


def _watch(args: argparse.Namespace) -> int:
    from etl.local.watcher import watch

    runtime = _runtime(args)
    if args.warm_up:
        from etl.local.warm_up import WARM_UP_FILES, WARM_UP_RECORDS, warm_up

        print(f"warming up: the pipeline on {WARM_UP_FILES} generated files of {WARM_UP_RECORDS:,} records in a "
              "scratch lake, so the first files run at full speed (--no-warm-up skips it)", flush=True)
        print(f"warmed up in {warm_up(runtime.settings):.1f} s", flush=True)
    print(f"watching {runtime.lake.path('landing')} (Ctrl-C to stop)", flush=True)
    watch(runtime, interval=args.interval, max_seconds=args.max_seconds, report=lambda r: _report(runtime, r))
    return 0


def _query(args: argparse.Namespace) -> int:
    from etl.athena.dialect import parameter_from_literal
    from etl.athena.local import LocalAthena
    from etl.definition import query_text
    from etl.errors import ConfigError
    from etl.glue.catalog import Catalog
    from etl.local.lake import Lake

    if bool(args.sql) == bool(args.file):
        raise ConfigError("give either SQL text or --file PATH")
    if args.file and not args.file.is_file():
        raise ConfigError(f"no such SQL file: {args.file} "
                          "(each dataset's saved queries are in src/etl/datasets/<name>/queries/)")
    sql = query_text(args.file) if args.file else args.sql
    settings = _settings(args)
    catalog = Catalog(Lake(settings.lake_root).system / "catalog.duckdb")
    parameters = [parameter_from_literal(text) for text in args.param]
    result = LocalAthena(catalog, database=settings.database).execute(sql, parameters=parameters or None)
    render = {"table": console.table, "csv": console.as_csv, "json": console.as_json}[args.format]
    print(render(result.columns, result.rows))
    return 0


def _maintain(args: argparse.Namespace) -> int:
    from etl.jobs.maintain import DEFAULT_ORPHAN_HOURS, DEFAULT_RETENTION_HOURS

    runtime = _runtime(args, quiet=True)
    report = runtime.maintain(retention_hours=args.retention_hours or DEFAULT_RETENTION_HOURS,
                              orphan_hours=args.orphan_hours or DEFAULT_ORPHAN_HOURS)
    if not report["tables"]:
        print("no processed table yet: run the pipeline first (`etl run`)")
        return 0
    rows = [[name, t["live_files_before"], t["live_files_after"], t["files_rewritten"], t["snapshots"],
             t["orphan_files_deleted"]] for name, t in report["tables"].items()]
    print(console.table(["table", "files before", "files after", "files rewritten", "snapshots kept",
                         "orphan files deleted"], rows))
    return 0


def _datasets(args: argparse.Namespace) -> int:
    from etl.contracts import available_datasets, query_files, summary_query_of
    from etl.contracts.store import FileContractStore, contracts_in_force
    from etl.local.lake import RAW, Lake

    store = FileContractStore(Lake(_settings(args).lake_root).path(RAW))  # versions dropped into landing
    packaged = available_datasets()
    rows = []
    for name, contract in contracts_in_force(store).items():
        summary = summary_query_of(contract)[0]
        queries = ([f"{q}*" if q == summary else q for q in query_files(name)] if name in packaged
                   else [f"{summary}* (defined at run time)"])
        rows.append([name, contract.version, contract.landing_prefix
                     + ("  (and the bucket root)" if contract.default_for_root_keys else ""),
                     ",".join(contract.accepted_formats), contract.write_mode, ",".join(contract.primary_key) or "-",
                     len(contract.fields), " ".join(queries)])
    print(console.table(["dataset", "version", "landing prefix", "formats", "write mode", "key", "fields",
                         "queries (* in the notification)"], rows))
    return 0


def _validate(args: argparse.Namespace) -> int:
    from etl.contracts import CONTRACT_FILE, available_datasets, dataset_folder, validate_dropped, validate_folder

    targets = args.targets or available_datasets()
    problems: list[str] = []
    for target in targets:
        path = Path(target)
        if path.is_file() and path.name != CONTRACT_FILE:  # a contract to drop into landing as _contracts/<d>.json
            found = validate_dropped(path)
            problems += found
            if not found:
                print(f"ok: {path} (drop it into landing as _contracts/{path.name})")
            continue
        if path.name == CONTRACT_FILE:
            path = path.parent
        folder = path if path.is_dir() else dataset_folder(target)
        found = validate_folder(folder)
        problems += found
        if not found:
            print(f"ok: {folder.name}")
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if problems else 0


def _tables(args: argparse.Namespace) -> int:
    from etl.glue.catalog import Catalog
    from etl.glue.iceberg import FORMAT as ICEBERG
    from etl.local.lake import Lake

    settings = _settings(args)
    catalog = Catalog(Lake(settings.lake_root).system / "catalog.duckdb")
    rows = []
    for t in catalog.tables():
        if t.format == ICEBERG:  # partitions are Iceberg's own: its partition fields, the current snapshot's
            keys, partitions = catalog.iceberg.partitioning(t.database, t.name)
        else:
            keys, partitions = [k.name for k in t.partition_keys], len(catalog.partitions(t.database, t.name))
        rows.append([f"{t.database}.{t.name}", t.format, len(t.columns), ",".join(keys) or "-", partitions,
                     t.location])
    if not rows:
        print("no tables yet: run the pipeline first (`etl run`)")
        return 0
    print(console.table(["table", "format", "columns", "partition keys", "partitions", "location"], rows))
    return 0


def _runs(args: argparse.Namespace) -> int:
    from etl.local.lake import Lake
    from etl.local.runlog import RunLog

    runs = RunLog(Lake(_settings(args).lake_root).system / "runs").list(limit=args.limit)
    if not runs:
        print("no runs yet")
        return 0
    rows = [
        [r.started_at, r.run_id, r.status, _seconds(r.seconds), r.counts.get("records_read"), r.counts.get("loaded"),
         _quarantined(r.counts), r.headline()]
        for r in runs
    ]
    print(console.table(["started", "run", "status", "seconds", "read", "loaded", "quarantined", "error"], rows))
    if args.steps:
        for r in runs:
            print(f"\n{r.run_id}")
            print(console.table(["step", "status", "seconds", "times", "retries", "error"],
                                [[s.state, s.status, _seconds(s.seconds), s.entries, s.retries, s.error or ""]
                                 for s in r.steps]))
    return 0


def _quarantined(counts: dict[str, Any]) -> Any:
    """Lines quarantined, or the whole file when it could not be read at all."""
    return "whole file" if counts.get("quarantined_file") else counts.get("quarantined")


def _seconds(value: float | None) -> str:
    """A duration as a person reads it: 12.57, not 12.566813000000002."""
    return "-" if value is None else f"{value:.2f}"


def _notifications(args: argparse.Namespace) -> int:
    from etl.local.lake import Lake
    from etl.local.outbox import Outbox

    notes = Outbox(Lake(_settings(args).lake_root).system / "outbox").list(limit=args.limit)
    if not notes:
        print("no notifications yet")
    for note in notes:
        print(note.message if args.raw else console.notification(note))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
