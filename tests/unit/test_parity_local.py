"""The ASL file and the local runtime agree: every placeholder has a local value and every Task
resource a local handler; the Glue job scripts parse the arguments the ASL passes them."""

import json
from pathlib import Path

from etl.definition import ASL_PATH, placeholders
from etl.jobs import json_to_parquet, normalize
from etl.local.handlers import LocalServices

ROOT = Path(__file__).resolve().parents[2]
ASL_TEXT = (ROOT / ASL_PATH).read_text(encoding="utf-8")


def _states(definition):
    for name, state in definition["States"].items():
        yield name, state
        for branch in state.get("Branches", []):
            yield from _states(branch)


def test_every_placeholder_has_a_local_value(tmp_path):
    from etl.config import LocalSettings
    from etl.local.runtime import LocalRuntime

    runtime = LocalRuntime(LocalSettings.resolve(lake_root=tmp_path), spark=lambda: None)
    assert placeholders(ASL_TEXT) == set(runtime.substitutions())


def test_every_task_resource_has_exactly_one_local_handler():
    definition = json.loads(ASL_TEXT)
    resources = {state["Resource"] for _, state in _states(definition) if state["Type"] == "Task"}
    known = set(LocalServices(None, None, None, {}, {}, lambda: None).handlers())  # type: ignore[arg-type]
    assert resources <= known, f"no local handler for {sorted(resources - known)}"


def test_glue_arguments_in_the_asl_are_the_ones_the_scripts_parse():
    definition = json.loads(ASL_TEXT)
    passed = {}
    for _, state in _states(definition):
        if state.get("Resource") == "arn:aws:states:::glue:startJobRun.sync":
            job = state["Parameters"]["JobName"]
            passed[job] = {name.removesuffix(".$").removeprefix("--") for name in state["Parameters"]["Arguments"]}
    assert passed["${JsonToParquetJobName}"] | {"JOB_NAME"} == set(json_to_parquet.ARGUMENTS)
    assert passed["${NormalizeJobName}"] | {"JOB_NAME"} == set(normalize.ARGUMENTS)
