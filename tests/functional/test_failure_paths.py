"""Every way a run can fail ends in a failure notification naming the run, the source file and the
error, and the run log shows the failed step: a Glue job that fails, a crawler that never finishes
(the ASL's poll limit), a query that Athena cancels (the workgroup's bytes-scanned limit)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from etl.config import LocalSettings
from etl.local.runlog import FAILED
from etl.local.runtime import LocalRuntime

pytestmark = pytest.mark.slow

GOOD = {"shipping_id": 1, "shipping_date": "2024/03/01", "customer_name": "Ann Example",
        "street_address": "1 Test Road", "destination_city": "main_city", "shipping_cost": 10.0,
        "shipping_distance": 2.0, "quantity": 3.0}


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("lake")


def runtime_for(lake: Path, spark, **settings) -> LocalRuntime:
    return LocalRuntime(LocalSettings.resolve(lake_root=lake, **settings), spark=lambda: spark)


def run_file(runtime: LocalRuntime, tmp_path: Path, name: str, content: bytes) -> str:
    source = tmp_path / name
    source.write_bytes(content)
    runtime.drop(source, "shipping")
    report = runtime.process_landing()
    [started] = report.started
    return started["run_id"]


def good_lines(first_id: int, count: int) -> bytes:
    return "".join(json.dumps({**GOOD, "shipping_id": first_id + i}) + "\n" for i in range(count)).encode()


def assert_failure_reported(
    runtime: LocalRuntime, run_id: str, key: str, error: str, failed_steps: set[str]
) -> dict:
    body = runtime.outbox.list()[-1].body
    assert body["status"] == "FAILED"
    assert body["run_id"] == run_id and body["source"]["key"] == key
    assert body["error"] == error
    assert run_id in body["summary"] and key in body["summary"] and error in body["summary"]
    assert "Traceback" not in json.dumps(body)
    record = runtime.runs.get(run_id)
    # The execution ends in a name of the pipeline's own; a service's States.* name is kept in its cause.
    if error.startswith("States."):
        assert record.error == "PipelineStepFailed" and record.cause.startswith(f"{error}: ")
    else:
        assert record.error == error
    assert record.status == FAILED
    first_failed = next(s for s in record.steps if s.status == FAILED)
    assert first_failed.state in failed_steps and first_failed.error == error
    return body


def test_a_failed_glue_job_is_notified(lake, spark, tmp_path):
    runtime = runtime_for(lake, spark)
    run_id = run_file(runtime, tmp_path, "scan.json", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    body = assert_failure_reported(runtime, run_id, "shipping/scan.json", "States.TaskFailed",
                                   {"Convert JSON to Parquet"})
    job_run = json.loads(body["cause"])
    assert job_run["JobRunState"] == "FAILED" and "binary" in job_run["ErrorMessage"]


def test_a_crawler_stuck_past_its_timeout_is_notified(lake, spark, tmp_path):
    # 80 polls of 15 s scaled to ~1.2 s; another process holds the catalog, so the crawls cannot finish.
    runtime = runtime_for(lake, spark, wait_scale=0.001)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, sys, time\n"
         "handle = open(sys.argv[1], 'a'); fcntl.flock(handle, fcntl.LOCK_EX); print('held', flush=True)\n"
         "sys.stdin.read()", str(runtime.catalog.path) + ".lock"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
        run_id = run_file(runtime, tmp_path, "stuck.json", good_lines(100, 5))
    finally:
        holder.communicate(b"")  # release the catalog
    assert runtime.services.wait_for_crawlers(timeout=60)
    body = assert_failure_reported(runtime, run_id, "shipping/stuck.json", "CrawlerTimeout",
                                   {"Raw crawl timed out", "Quarantine crawl timed out"})  # both branches wait
    assert "did not finish" in body["cause"]


def test_a_query_athena_cancels_is_notified(lake, spark, tmp_path):
    runtime = runtime_for(lake, spark, bytes_scanned_cutoff=1)
    run_id = run_file(runtime, tmp_path, "big.json", good_lines(200, 5))
    body = assert_failure_reported(runtime, run_id, "shipping/big.json", "States.TaskFailed",
                                   {"Run analytics query"})
    execution = json.loads(body["cause"])["QueryExecution"]
    assert execution["Status"]["State"] == "CANCELLED"
    assert "per-query limit of 1 bytes" in execution["Status"]["StateChangeReason"]
    # The data itself was loaded: only the analytics failed.
    assert runtime.runs.get(run_id).counts["loaded"] == 5
