"""On Glue, run_job takes arguments from getResolvedOptions and the session from GlueContext, gives that
session the settings every job runs with (Glue starts it with its own defaults) and wraps the run in
Job.init / Job.commit. awsglue exists only on Glue: here a stand-in module wraps the local session."""

from __future__ import annotations

import sys
import types

import pytest

from etl.jobs.runner import run_job
from etl.spark import JOB_CONF

pytestmark = pytest.mark.slow


@pytest.fixture
def glue(monkeypatch, spark):
    calls: list[tuple] = []

    class GlueContext:
        def __init__(self, spark_context):
            assert spark_context is spark.sparkContext
            self.spark_session = spark

    class Job:
        def __init__(self, context):
            self.context = context

        def init(self, name, args):
            calls.append(("init", name, dict(args)))

        def commit(self):
            calls.append(("commit",))

    def get_resolved_options(argv, names):
        calls.append(("options", list(argv), list(names)))
        return {name: argv[argv.index(f"--{name}") + 1] for name in names}

    modules = {"awsglue": types.ModuleType("awsglue")}
    for name, attributes in {"context": {"GlueContext": GlueContext}, "job": {"Job": Job},
                             "utils": {"getResolvedOptions": get_resolved_options}}.items():
        module = types.ModuleType(f"awsglue.{name}")
        module.__dict__.update(attributes)
        modules[f"awsglue.{name}"] = module
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    return calls


def test_a_glue_run_gets_the_job_settings_and_is_committed(glue, spark):
    previous = {key: spark.conf.get(key, None) for key in JOB_CONF}
    spark.conf.set("spark.sql.constraintPropagation.enabled", "true")  # Glue's (and Spark's) default
    spark.conf.set("spark.sql.session.timeZone", "America/New_York")
    seen: dict[str, str] = {}

    def job(session, args):
        seen.update({key: session.conf.get(key) for key in JOB_CONF})
        glue.append(("job", dict(args)))
        return {"ok": True}

    argv = ["script.py", "--JOB_NAME", "normalize", "--run_id", "r1", "--job-bookmark-option", "job-bookmark-disable"]
    try:
        assert run_job(job, ["JOB_NAME", "run_id"], argv) == {"ok": True}
    finally:
        for key, value in previous.items():
            if value is not None:
                spark.conf.set(key, value)
    assert seen == JOB_CONF
    args = {"JOB_NAME": "normalize", "run_id": "r1"}
    assert glue == [("options", argv, ["JOB_NAME", "run_id"]), ("init", "normalize", args), ("job", args), ("commit",)]
