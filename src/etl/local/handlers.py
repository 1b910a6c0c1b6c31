"""Local implementations of the AWS resources the ASL's Task states call, keyed by Resource ARN.

Each handler takes the Task's effective parameters and answers in the shape the AWS service
integration returns, so ResultSelector paths in the ASL work unchanged. Failures raise
TaskFailedError with the error name Step Functions would use, so Retry and Catch apply.
"""

from __future__ import annotations

import csv
import fcntl
import importlib.util
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import sqlglot
from sqlglot import exp

from etl.athena.local import LocalAthena, QueryResult, to_get_query_results
from etl.errors import EtlError, LakePathError, TaskFailedError
from etl.glue.catalog import Catalog
from etl.glue.crawler import CrawlerConfig, crawl
from etl.glue.iceberg import FORMAT as ICEBERG
from etl.glue.iceberg import snapshot_files
from etl.jobs import SERIAL_JOBS
from etl.local.lake import ATHENA_RESULTS, Lake
from etl.local.outbox import Notification, Outbox

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from etl.stepfunctions import TaskContext

logger = logging.getLogger(__name__)

GLUE_JOB_SYNC = "arn:aws:states:::glue:startJobRun.sync"
GLUE_START_CRAWLER = "arn:aws:states:::aws-sdk:glue:startCrawler"
GLUE_GET_CRAWLER = "arn:aws:states:::aws-sdk:glue:getCrawler"
S3_GET_OBJECT = "arn:aws:states:::aws-sdk:s3:getObject"
ATHENA_QUERY_SYNC = "arn:aws:states:::athena:startQueryExecution.sync"
ATHENA_GET_RESULTS = "arn:aws:states:::athena:getQueryResults"
SNS_PUBLISH = "arn:aws:states:::sns:publish"


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Cancelled(Exception):
    """The query went over the workgroup's bytes-scanned limit."""


@dataclass
class _CrawlerState:
    state: str = "READY"
    last_crawl: dict[str, Any] | None = None


class LocalServices:
    """Glue, S3, Athena and SNS as the pipeline uses them, on the lake folder."""

    def __init__(
        self,
        lake: Lake,
        catalog: Catalog,
        outbox: Outbox,
        jobs: dict[str, Path],
        crawlers: dict[str, CrawlerConfig],
        spark: Callable[[], SparkSession],
        on_publish: Callable[[Notification], None] | None = None,
        bytes_scanned_cutoff: int | None = None,
    ) -> None:
        self.lake = lake
        self.catalog = catalog
        self.outbox = outbox
        self.jobs = jobs
        self.crawlers = crawlers
        self._spark = spark
        self._on_publish = on_publish
        self._modules: dict[str, ModuleType] = {}
        self._crawler_states = {name: _CrawlerState() for name in crawlers}
        self._crawler_lock = threading.Lock()
        self._queries: dict[str, QueryResult] = {}
        self._crawls: list[threading.Thread] = []
        self.bytes_scanned_cutoff = bytes_scanned_cutoff

    def handlers(self) -> dict[str, Callable[[Any, TaskContext], Any]]:
        return {
            GLUE_JOB_SYNC: self.glue_start_job_run_sync,
            GLUE_START_CRAWLER: self.glue_start_crawler,
            GLUE_GET_CRAWLER: self.glue_get_crawler,
            S3_GET_OBJECT: self.s3_get_object,
            ATHENA_QUERY_SYNC: self.athena_start_query_execution_sync,
            ATHENA_GET_RESULTS: self.athena_get_query_results,
            SNS_PUBLISH: self.sns_publish,
        }

    # --- Glue jobs -------------------------------------------------------------------------
    def glue_start_job_run_sync(self, params: dict[str, Any], context: TaskContext) -> dict[str, Any]:
        name = params["JobName"]
        if name not in self.jobs:
            raise TaskFailedError("Glue.EntityNotFoundException", f"no job named {name!r}; known: {sorted(self.jobs)}")
        arguments = {k: str(v) for k, v in (params.get("Arguments") or {}).items()}
        argv = ["--JOB_NAME", name]
        for key, value in arguments.items():
            argv += [key, self.lake.local_uri(value)]
        run_id = f"jr_{uuid.uuid4().hex}"
        started = datetime.now(UTC)
        clock = time.monotonic()
        run = {"Id": run_id, "JobName": name, "Arguments": arguments, "StartedOn": _iso(started), "Attempt": 0}
        try:
            with self._job_slot(name):
                self._job_module(name).main(argv, spark=self._spark())
        except Exception as exc:  # the job failed: Step Functions reports States.TaskFailed with the JobRun
            message = str(exc) if isinstance(exc, EtlError) else f"{type(exc).__name__}: {exc}"
            first_line = message.splitlines()[0] if message else type(exc).__name__
            run.update(JobRunState="FAILED", ErrorMessage=first_line,
                       ExecutionTime=round(time.monotonic() - clock), CompletedOn=_iso(datetime.now(UTC)))
            logger.warning("Glue job %s failed: %s", name, first_line)  # a Java trace stays out of the console
            logger.debug("Glue job %s failure in full: %s", name, message)
            raise TaskFailedError("States.TaskFailed", json.dumps(run)) from exc
        run.update(JobRunState="SUCCEEDED", ExecutionTime=round(time.monotonic() - clock),
                   CompletedOn=_iso(datetime.now(UTC)))
        return run

    @contextmanager
    def _job_slot(self, name: str) -> Iterator[None]:
        """Queue a serial job's runs behind each other, across processes (Glue's job-run queuing)."""
        if name not in SERIAL_JOBS:
            yield
            return
        locks = self.lake.system / "locks"
        locks.mkdir(parents=True, exist_ok=True)
        with (locks / f"glue-job-{name}.lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def run_job(self, name: str, arguments: dict[str, str]) -> Any:
        """Run a Glue job script outside a state machine (``etl maintain``), queued like the serial jobs."""
        argv = ["--JOB_NAME", name]
        for key, value in arguments.items():
            argv += [key, self.lake.local_uri(value)]
        with self._job_slot(name):
            return self._job_module(name).main(argv, spark=self._spark())

    def _job_module(self, name: str) -> ModuleType:
        if name not in self._modules:
            path = self.jobs[name]
            spec = importlib.util.spec_from_file_location(f"glue_job_{name}", path)
            if spec is None or spec.loader is None:
                raise TaskFailedError("Glue.EntityNotFoundException", f"cannot load job script {path}")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            self._modules[name] = module
        return self._modules[name]

    # --- Glue crawlers ---------------------------------------------------------------------
    def glue_start_crawler(self, params: dict[str, Any], context: TaskContext) -> dict[str, Any]:
        """Start a crawl and return at once, as Glue does; GetCrawler says RUNNING until it ends."""
        name = params["Name"]
        config = self._crawler(name)
        with self._crawler_lock:
            state = self._crawler_states[name]
            if state.state != "READY":
                raise TaskFailedError("Glue.CrawlerRunningException", f"Crawler with name {name} has already started")
            state.state = "RUNNING"
            thread = threading.Thread(target=self._crawl, args=(name, config, state), name=f"crawler-{name}",
                                      daemon=True)
            self._crawls = [t for t in self._crawls if t.is_alive()] + [thread]
        thread.start()
        return {}

    def _crawl(self, name: str, config: CrawlerConfig, state: _CrawlerState) -> None:
        started = datetime.now(UTC)
        try:
            result = crawl(config, self.catalog)
            last = {"Status": "SUCCEEDED", "StartTime": _iso(started), "Summary": {
                "TablesCreated": len(result.tables_created), "TablesUpdated": len(result.tables_updated),
                "Partitions": result.partitions}}
        except Exception as exc:  # recorded as a failed crawl, as Glue does; the ASL turns it into a Fail
            logger.warning("crawler %s failed: %s", name, exc)
            last = {"Status": "FAILED", "StartTime": _iso(started), "ErrorMessage": str(exc)}
        with self._crawler_lock:
            state.state, state.last_crawl = "READY", last

    def idle(self, seconds: float) -> None:
        """Let ``seconds`` pass, or less while crawls run: until the last of them has ended.

        A state machine waits here between polls of a crawler. Locally nothing but a crawl changes
        while it waits, so once the crawls have ended the next GetCrawler answers READY and the rest
        of the wait would be idle time (0.15 s per poll at the default wait scale). With no crawl
        running, e.g. a Retry's backoff, the whole time passes.
        """
        with self._crawler_lock:
            crawling = any(thread.is_alive() for thread in self._crawls)
        if crawling:
            self.wait_for_crawlers(timeout=seconds)
        else:
            time.sleep(seconds)

    def wait_for_crawlers(self, timeout: float | None = None) -> bool:
        """Wait up to ``timeout`` seconds in all for the crawls running now to end; True if none is left."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._crawler_lock:
            running = list(self._crawls)
        for thread in running:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in running)

    def glue_get_crawler(self, params: dict[str, Any], context: TaskContext) -> dict[str, Any]:
        name = params["Name"]
        config = self._crawler(name)
        with self._crawler_lock:
            state = self._crawler_states[name]
            crawler: dict[str, Any] = {
                "Name": name,
                "State": state.state,
                "DatabaseName": config.database,
                "TablePrefix": config.table_prefix,
                "Targets": {"S3Targets": [{"Path": str(t)} for t in config.targets]},
            }
            if state.last_crawl is not None:
                crawler["LastCrawl"] = dict(state.last_crawl)
        return {"Crawler": crawler}

    def _crawler(self, name: str) -> CrawlerConfig:
        if name not in self.crawlers:
            raise TaskFailedError("Glue.EntityNotFoundException", f"no crawler named {name!r}")
        return self.crawlers[name]

    # --- S3 ----------------------------------------------------------------------------------
    def s3_get_object(self, params: dict[str, Any], context: TaskContext) -> dict[str, Any]:
        try:
            path = self.lake.path(params["Bucket"], params["Key"])
        except LakePathError as exc:
            raise TaskFailedError("S3.S3Exception", str(exc)) from exc
        if not path.is_file():
            uri = f"s3://{params['Bucket']}/{params['Key']}"
            raise TaskFailedError("S3.NoSuchKeyException", f"{uri!r} does not exist")
        body = path.read_bytes()
        return {"Body": body.decode("utf-8"), "ContentLength": len(body), "ContentType": "application/json"}

    # --- Athena --------------------------------------------------------------------------------
    def athena_start_query_execution_sync(self, params: dict[str, Any], context: TaskContext) -> dict[str, Any]:
        query = params["QueryString"]
        database = (params.get("QueryExecutionContext") or {}).get("Database")
        query_id = str(uuid.uuid4())
        output = f"s3://{ATHENA_RESULTS}/{query_id}.csv"
        submitted = datetime.now(UTC)
        clock = time.monotonic()
        execution: dict[str, Any] = {
            "QueryExecutionId": query_id,
            "Query": query,
            "StatementType": "DML",
            "WorkGroup": params.get("WorkGroup", "primary"),
            "QueryExecutionContext": {"Database": database},
            "ResultConfiguration": {"OutputLocation": output},
        }
        scanned = self._bytes_of_tables(query, database)
        try:
            if self.bytes_scanned_cutoff is not None and scanned > self.bytes_scanned_cutoff:
                raise _Cancelled(
                    f"Query cancelled: it reads {scanned} bytes, over the workgroup's per-query limit of "
                    f"{self.bytes_scanned_cutoff} bytes; raise the limit or query fewer partitions"
                )
            result = LocalAthena(self.catalog, database=database).execute(query)
        except (_Cancelled, EtlError) as exc:
            execution["Status"] = {
                "State": "CANCELLED" if isinstance(exc, _Cancelled) else "FAILED",
                "StateChangeReason": str(exc),
                "SubmissionDateTime": _iso(submitted),
            }
            raise TaskFailedError("States.TaskFailed", json.dumps({"QueryExecution": execution})) from exc
        self._queries[query_id] = result
        self._write_csv(query_id, result)
        execution["Status"] = {"State": "SUCCEEDED", "SubmissionDateTime": _iso(submitted),
                               "CompletionDateTime": _iso(datetime.now(UTC))}
        execution["Statistics"] = {
            "EngineExecutionTimeInMillis": round((time.monotonic() - clock) * 1000),
            # Locally: the size of the data files of the tables the query reads (an upper bound of Athena's).
            "DataScannedInBytes": scanned,
        }
        return {"QueryExecution": execution}

    def athena_get_query_results(self, params: dict[str, Any], context: TaskContext) -> dict[str, Any]:
        query_id = params["QueryExecutionId"]
        if query_id not in self._queries:
            raise TaskFailedError("Athena.InvalidRequestException", f"QueryExecution {query_id} was not found")
        response = to_get_query_results(self._queries[query_id])
        limit = int(params.get("MaxResults", 1000))
        response["ResultSet"]["Rows"] = response["ResultSet"]["Rows"][:limit]
        return response

    def _write_csv(self, query_id: str, result: QueryResult) -> None:
        path = self.lake.path(ATHENA_RESULTS, f"{query_id}.csv")
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, quoting=csv.QUOTE_ALL)
            writer.writerow(result.columns)
            writer.writerows(result.rows)

    def _bytes_of_tables(self, query: str, database: str | None) -> int:
        try:
            names = {t.name.lower() for t in sqlglot.parse_one(query, read="trino").find_all(exp.Table)}
        except sqlglot.errors.ParseError:
            return 0
        total = 0
        for table in self.catalog.tables(database):
            if table.name in names and table.format == ICEBERG:  # the current snapshot's files, as Athena reads
                iceberg_table = self.catalog.iceberg.load(table.database, table.name)
                total += sum(p.stat().st_size for p in snapshot_files(iceberg_table))
            elif table.name in names:
                location = Path(table.location)
                total += sum(p.stat().st_size for p in location.rglob("*") if p.is_file() and not
                             any(part.startswith(("_", ".")) for part in p.relative_to(location).parts))
        return total

    # --- SNS -------------------------------------------------------------------------------------
    def sns_publish(self, params: dict[str, Any], context: TaskContext) -> dict[str, Any]:
        attributes = {
            name: str(value.get("StringValue", "")) for name, value in (params.get("MessageAttributes") or {}).items()
        }
        subject = params.get("Subject", "")
        if len(subject) > 100:
            raise TaskFailedError("SNS.InvalidParameterException", "Subject must be at most 100 characters")
        notification = self.outbox.publish(params["TopicArn"], subject, params["Message"], attributes)
        if self._on_publish:
            self._on_publish(notification)
        return {"MessageId": notification.message_id}
