"""The local runtime: the pipeline's ASL run by the local executor against the lake folder.

It is the local ExecutionStarter: ``start`` runs one execution to the end, named by the run
id, and refuses a name that was used before (like Step Functions' ExecutionAlreadyExists).
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from etl.contracts.store import FileContractStore, contracts_in_force
from etl.definition import load_definition
from etl.errors import ConfigError
from etl.events import RunRequest, SourceObject
from etl.glue.catalog import Catalog
from etl.glue.crawler import CrawlerConfig
from etl.glue.partitions import DATASET_TABLE_LEVEL, TABLE_PREFIXES
from etl.local.handlers import LocalServices
from etl.local.lake import LANDING, PROCESSED, QUARANTINE, RAW, Lake
from etl.local.outbox import Notification, Outbox
from etl.local.runlog import FAILED, RUNNING, RunLog, RunRecord, Step, cause_text, is_alive
from etl.stepfunctions import ExecutionEvent, StateMachine
from etl.trigger import ContractDrops, ExecutionAlreadyExistsError, StartReport, start_runs

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from etl.config import LocalSettings

logger = logging.getLogger(__name__)

STATE_MACHINE_NAME = "etl-pipeline"
TOPIC_ARN = "arn:aws:sns:local:000000000000:etl-notifications"
JOB_SCRIPTS = {"json_to_parquet": "glue_jobs/json_to_parquet.py", "normalize": "glue_jobs/normalize.py",
               "maintain": "glue_jobs/maintain.py"}
# The processed tables are Iceberg tables, which the normalize job registers itself: no crawler.
CRAWLER_PREFIXES = {RAW: TABLE_PREFIXES["raw"], QUARANTINE: TABLE_PREFIXES["quarantine"]}
EventCallback = Callable[[str, ExecutionEvent], None]


class LocalRuntime:
    def __init__(
        self,
        settings: LocalSettings,
        *,
        spark: Callable[[], SparkSession] | None = None,
        on_event: EventCallback | None = None,
        on_publish: Callable[[Notification], None] | None = None,
    ) -> None:
        self.settings = settings
        self.lake = Lake(settings.lake_root)
        self.lake.ensure()
        self.catalog = Catalog(self.lake.system / "catalog.duckdb")
        self.catalog.create_database(settings.database)
        self.outbox = Outbox(self.lake.system / "outbox")
        self.runs = RunLog(self.lake.system / "runs")
        self._on_event = on_event
        if spark is None:
            from etl.spark import local_session

            spark = local_session
        self.services = LocalServices(
            lake=self.lake,
            catalog=self.catalog,
            outbox=self.outbox,
            jobs={name: settings.project_root / script for name, script in JOB_SCRIPTS.items()},
            crawlers=self._crawlers(),
            spark=spark,
            on_publish=on_publish,
            bytes_scanned_cutoff=settings.bytes_scanned_cutoff,
        )
        self.definition = load_definition(settings.project_root, self.substitutions())
        self.task_states = _state_names(self.definition, "Task")
        # The run log shows the tasks, the Fail state a failed run ended in (e.g. a crawler's timeout), and the
        # Succeed states that end a branch early (a crawl skipped because the job registered the run's folder).
        self.logged_states = (self.task_states | _state_names(self.definition, "Fail")
                              | _state_names(self.definition, "Succeed"))

    @property
    def contract_store(self) -> FileContractStore:
        """The contract versions in force that were dropped into landing (``lake/raw/_contracts/``)."""
        return FileContractStore(self.lake.path(RAW))

    def substitutions(self) -> dict[str, str]:
        """The local value of every ${Placeholder} in the ASL (infra/ supplies the AWS ones)."""
        return {
            "JsonToParquetJobName": "json_to_parquet",
            "NormalizeJobName": "normalize",
            "RawCrawlerName": RAW,
            "QuarantineCrawlerName": QUARANTINE,
            "RawBucket": RAW,
            "ProcessedBucket": PROCESSED,
            "QuarantineBucket": QUARANTINE,
            "GlueDatabase": self.settings.database,
            "AthenaWorkGroup": "local",
            "NotificationTopicArn": TOPIC_ARN,
        }

    def _crawlers(self) -> dict[str, CrawlerConfig]:
        """The raw and quarantine crawlers: each zone from its root, a table per dataset folder (as on AWS)."""
        return {
            zone: CrawlerConfig(name=zone, database=self.settings.database, table_prefix=prefix,
                                targets=(self.lake.path(zone),), table_level=DATASET_TABLE_LEVEL)
            for zone, prefix in CRAWLER_PREFIXES.items()
        }

    def maintain(self, *, retention_hours: float, orphan_hours: float) -> dict[str, Any]:
        """Run the maintenance job on the processed tables (what infra/ schedules on AWS)."""
        return self.services.run_job("maintain", {
            "--database": self.settings.database,
            "--processed_uri": f"s3://{PROCESSED}/",
            "--retention_hours": str(retention_hours),
            "--orphan_hours": str(orphan_hours),
        })

    # --- landing ---------------------------------------------------------------------------
    def drop(self, file: Path, dataset: str | None = None, *, relative_to: Path | None = None) -> SourceObject:
        """Copy a file into the landing bucket (under the dataset's prefix) as a producer would.

        A file from a folder being dropped keeps its path below that folder (``relative_to``).
        """
        if not file.is_file():
            raise ConfigError(f"no such file: {file}")
        contracts = contracts_in_force(self.contract_store)
        if dataset and dataset not in contracts:
            raise ConfigError(f"no dataset {dataset!r}; the datasets are: {', '.join(contracts)}")
        prefix = contracts[dataset].landing_prefix if dataset else ""
        key = prefix + (file.relative_to(relative_to).as_posix() if relative_to else file.name)
        target = self.lake.path(LANDING, key)
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.tmp")  # hidden while copying, like a multipart upload
        shutil.copyfile(file, temporary)
        temporary.replace(target)
        return self.lake.landing_object(key)

    def process_landing(self, objects: list[SourceObject] | None = None) -> StartReport:
        """Start a run for every landing object that has none yet (the Lambda's logic, locally)."""
        sources = list(self.lake.landing_objects()) if objects is None else objects
        drops = ContractDrops(self.contract_store,
                              lambda source: self.lake.path(LANDING, source.key).read_bytes())
        return start_runs(sources, self, contracts=drops)

    # --- ExecutionStarter ------------------------------------------------------------------
    def start(self, request: RunRequest) -> str:
        execution_input = request.execution_input()
        record = RunRecord(run_id=request.run_id, dataset=request.dataset, source=execution_input["source"],
                           reason=(request.refusal or {}).get("Cause"))
        if not self.runs.create(record):
            existing = self.runs.get(request.run_id)
            if existing is None or existing.status != RUNNING or is_alive(existing.pid):
                raise ExecutionAlreadyExistsError(f"execution {request.run_id} already exists")
            logger.warning("run %s was interrupted (process %s is gone); running it again", request.run_id,
                           existing.pid)
            self.runs.save(record)
        self._execute(record, execution_input)
        return f"arn:aws:states:local:000000000000:execution:{STATE_MACHINE_NAME}:{request.run_id}"

    def _execute(self, record: RunRecord, execution_input: dict[str, Any]) -> None:
        clock = time.monotonic()
        machine = StateMachine(
            self.definition,
            self.services.handlers(),
            name=STATE_MACHINE_NAME,
            sleep=self._sleep,
            listener=lambda event: self._record_event(record, event),
        )
        result = machine.execute(execution_input, name=record.run_id)
        record.status = result.status
        record.error, record.cause = result.error, result.cause
        record.ended_at = result.stop_time.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        record.seconds = round(time.monotonic() - clock, 3)
        record.counts = self._counts(record.run_id)
        self.runs.save(record)

    def _record_event(self, record: RunRecord, event: ExecutionEvent) -> None:
        if event.type == "StateFailed" and record.reason is None and event.details.get("cause"):
            record.reason = cause_text(event.details["cause"])  # the first failure is the run's cause
        if event.state in self.logged_states:
            stamp = event.timestamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")
            step = next((s for s in record.steps if s.state == event.state), None)
            if event.type == "StateEntered":
                if step is None:
                    record.steps.append(Step(state=event.state, started_at=stamp))
                else:  # entered again (a crawler polled once more): one row, its time summed
                    step.entries += 1
                    step.status = RUNNING
            elif step is not None:
                if event.type in ("StateExited", "StateFailed"):  # a failed step still took its time
                    step.seconds = (step.seconds or 0.0) + (event.details.get("duration_seconds") or 0.0)
                if event.type == "StateExited":
                    step.status = "SUCCEEDED"
                elif event.type == "StateFailed":
                    step.status = FAILED
                    step.error = event.details.get("error")
                elif event.type == "TaskRetry":
                    step.retries += 1
            self.runs.save(record)
        if self._on_event:
            self._on_event(record.run_id, event)

    def _counts(self, run_id: str) -> dict[str, Any]:
        counts: dict[str, Any] = {}
        for job in ("json_to_parquet", "normalize"):
            path = self.lake.path(RAW, f"_runs/{run_id}/{job}.json")
            if path.is_file():
                manifest = json.loads(path.read_text(encoding="utf-8"))
                for key in ("records_read", "loaded", "quarantined", "blank_lines", "duplicates_in_run",
                            "quarantined_file"):
                    if key in manifest:
                        counts[key] = manifest[key]
        return counts

    def _sleep(self, seconds: float) -> None:
        self.services.idle(seconds * self.settings.wait_scale)


def _state_names(definition: dict[str, Any], state_type: str) -> set[str]:
    names: set[str] = set()
    for name, state in definition["States"].items():
        if state["Type"] == state_type:
            names.add(name)
        for branch in state.get("Branches", []):
            names |= _state_names(branch, state_type)
    return names
