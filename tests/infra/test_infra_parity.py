"""Parity between the ASL, the stack and the Glue scripts.

- every ``${Placeholder}`` in the ASL is substituted, and the deployed definition is the repository's file;
- substituted, the definition is valid JSON with the SQL text of the analytics query;
- every Task in the ASL is allowed by the state machine role (IAM actions on the concrete resource ARNs);
- the Glue job arguments (stack defaults + what the ASL passes) are exactly what the scripts parse.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from etl.definition import ASL_PATH, placeholders, substitute
from etl.jobs import json_to_parquet, normalize

from .cfn_model import ACCOUNT, PARTITION, REGION, Resolver, allows, role_statements
from .synthesis import Synthesized

ROOT = Path(__file__).resolve().parents[2]
ASL_TEXT = (ROOT / ASL_PATH).read_text(encoding="utf-8")
RUN_ID = "shipping-example-0123456789abcdef"
QUERY_ID = "11111111-2222-3333-4444-555555555555"

# Parameters Glue reads itself (AWS Glue "job parameters" reference), as opposed to the scripts' own arguments.
GLUE_JOB_PARAMETERS = {
    "--job-language", "--job-bookmark-option", "--TempDir", "--enable-metrics", "--enable-observability-metrics",
    "--enable-continuous-cloudwatch-log", "--enable-spark-ui", "--spark-event-logs-path", "--extra-py-files",
    "--additional-python-modules", "--python-modules-installer-option", "--enable-glue-datacatalog",
    "--enable-job-insights", "--enable-auto-scaling", "--conf", "--extra-jars", "--extra-files", "--datalake-formats",
    "--continuous-log-logGroup", "--enable-continuous-log-filter", "--continuous-log-logStreamPrefix",
}  # fmt: skip


def _tasks(states: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for state in states.values():
        if state["Type"] == "Task":
            found.append(state)
        for branch in state.get("Branches", []):
            found += _tasks(branch["States"])
    return found


@pytest.fixture(scope="module")
def state_machine(synth: Synthesized) -> dict[str, Any]:
    return synth.one("AWS::StepFunctions::StateMachine")[1]["Properties"]


def _substituted(synth: Synthesized, state_machine: dict[str, Any]) -> str:
    """The deployed definition text with CloudFormation's substitutions applied (values resolved to examples)."""
    resolve = Resolver(synth.template)
    values = {name: str(resolve(value)) for name, value in state_machine["DefinitionSubstitutions"].items()}
    text = synth.asset_path(state_machine["DefinitionS3Location"]["Key"]).read_text(encoding="utf-8")
    return substitute(text, values)


@pytest.fixture(scope="module")
def definition(synth: Synthesized, state_machine: dict[str, Any]) -> dict[str, Any]:
    return json.loads(_substituted(synth, state_machine))


def test_every_placeholder_is_substituted(state_machine: dict[str, Any]):
    assert placeholders(ASL_TEXT) == set(state_machine["DefinitionSubstitutions"])


def test_the_deployed_definition_is_the_repository_asl_file(synth: Synthesized, state_machine: dict[str, Any]):
    deployed = synth.asset_path(state_machine["DefinitionS3Location"]["Key"])
    assert deployed.read_text(encoding="utf-8") == ASL_TEXT


def test_the_substituted_definition_is_valid_json(synth: Synthesized, state_machine: dict[str, Any]):
    text = _substituted(synth, state_machine)
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        pytest.fail(f"substituted definition is not JSON ({exc}); a substitution value needs JSON-string escaping")


def test_the_definition_runs_the_datasets_summary_query_in_the_workgroup(definition: dict[str, Any]):
    query = definition["States"]["Run analytics query"]["Parameters"]
    # The start Lambda puts the dataset's summary query in the execution input (etl.events.RunRequest).
    assert query["QueryString.$"] == "$.summary_query.sql"
    assert query["WorkGroup"] == "etl-test"
    assert query["QueryExecutionContext"] == {"Database": "etl_test"}


def _required_permissions(task: dict[str, Any], synth: Synthesized) -> list[tuple[str, str]]:
    """(IAM action, resource ARN) pairs one Task needs, from its Resource ARN and its (substituted) Parameters."""
    params = task["Parameters"]
    arn = f"{PARTITION}:{{service}}:{REGION}:{ACCOUNT}"
    glue = "arn:" + arn.format(service="glue")
    resource = task["Resource"]
    if resource == "arn:aws:states:::glue:startJobRun.sync":
        job = f"{glue}:job/{params['JobName']}"
        return [(a, job) for a in ("glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns", "glue:BatchStopJobRun")]
    if resource == "arn:aws:states:::aws-sdk:glue:startCrawler":
        return [("glue:StartCrawler", f"{glue}:crawler/{params['Name']}")]
    if resource == "arn:aws:states:::aws-sdk:glue:getCrawler":
        return [("glue:GetCrawler", f"{glue}:crawler/{params['Name']}")]
    if resource == "arn:aws:states:::aws-sdk:s3:getObject":
        key = f"_runs/{RUN_ID}/json_to_parquet.json"  # what Key.$ evaluates to
        return [("s3:GetObject", f"arn:aws:s3:::{params['Bucket']}/{key}")]
    workgroup = _workgroup(synth)
    workgroup_arn = "arn:" + arn.format(service="athena") + f":workgroup/{workgroup['Name']}"
    results = workgroup["OutputLocation"].removeprefix("s3://")
    results_bucket = results.split("/", 1)[0]
    if resource == "arn:aws:states:::athena:startQueryExecution.sync":
        database = params["QueryExecutionContext"]["Database"]
        table = f"{glue}:table/{database}/processed_shipping"
        processed = _bucket(synth, "Processed")
        return [
            *[(a, workgroup_arn) for a in ("athena:StartQueryExecution", "athena:GetQueryExecution",
                                            "athena:StopQueryExecution")],
            ("athena:GetDataCatalog", "arn:" + arn.format(service="athena") + ":datacatalog/AwsDataCatalog"),
            *[(a, target) for a in ("glue:GetDatabase", "glue:GetTable", "glue:GetPartitions")
              for target in (f"{glue}:catalog", f"{glue}:database/{database}", table)
              if not (a == "glue:GetDatabase" and target == table)],
            ("s3:ListBucket", f"arn:aws:s3:::{processed}"),
            ("s3:GetBucketLocation", f"arn:aws:s3:::{processed}"),
            ("s3:GetObject", f"arn:aws:s3:::{processed}/shipping/year=2024/month=01/part-00000.parquet"),
            ("s3:GetBucketLocation", f"arn:aws:s3:::{results_bucket}"),
            ("s3:ListBucket", f"arn:aws:s3:::{results_bucket}"),
            ("s3:PutObject", f"arn:aws:s3:::{results}{QUERY_ID}.csv"),
            ("s3:GetObject", f"arn:aws:s3:::{results}{QUERY_ID}.csv"),
        ]  # fmt: skip
    if resource == "arn:aws:states:::athena:getQueryResults":
        return [("athena:GetQueryResults", workgroup_arn), ("s3:GetObject", f"arn:aws:s3:::{results}{QUERY_ID}.csv")]
    if resource == "arn:aws:states:::sns:publish":
        key = Resolver(synth.template)(synth.one("AWS::SNS::Topic")[1]["Properties"]["KmsMasterKeyId"])
        return [("sns:Publish", params["TopicArn"]), ("kms:GenerateDataKey", key), ("kms:Decrypt", key)]
    raise AssertionError(f"no IAM mapping for Task resource {resource}; add one to this test")


def _workgroup(synth: Synthesized) -> dict[str, str]:
    props = synth.one("AWS::Athena::WorkGroup")[1]["Properties"]
    location = Resolver(synth.template)(props["WorkGroupConfiguration"]["ResultConfiguration"]["OutputLocation"])
    return {"Name": props["Name"], "OutputLocation": location}


def _bucket(synth: Synthesized, name: str) -> str:
    logical_id = next(k for k in synth.of_type("AWS::S3::Bucket") if k.startswith(f"Buckets{name}"))
    return str(Resolver(synth.template).ref(logical_id))


def test_every_task_is_allowed_by_the_state_machine_role(
    synth: Synthesized, state_machine: dict[str, Any], definition: dict[str, Any]
):
    role = state_machine["RoleArn"]["Fn::GetAtt"][0]
    statements = role_statements(synth.template, role)
    resolve = Resolver(synth.template)
    tasks = _tasks(definition["States"])
    assert {t["Resource"] for t in tasks} == {t["Resource"] for t in _tasks(json.loads(ASL_TEXT)["States"])}
    missing = [
        f"{task['Resource']}: {action} on {arn}"
        for task in tasks
        for action, arn in _required_permissions(task, synth)
        if not allows(statements, resolve, action, arn)
    ]
    assert missing == []


def test_the_role_cannot_start_jobs_or_crawlers_outside_the_pipeline(synth: Synthesized, state_machine: dict[str, Any]):
    statements = role_statements(synth.template, state_machine["RoleArn"]["Fn::GetAtt"][0])
    resolve = Resolver(synth.template)
    glue = f"arn:{PARTITION}:glue:{REGION}:{ACCOUNT}"
    assert not allows(statements, resolve, "glue:StartJobRun", f"{glue}:job/etl-test-other-job")
    assert not allows(statements, resolve, "glue:StartCrawler", f"{glue}:crawler/etl-test-other")
    assert not allows(
        statements, resolve, "s3:GetObject", f"arn:aws:s3:::{_bucket(synth, 'Raw')}/shipping/run_id=x/p.parquet"
    )
    assert not allows(statements, resolve, "sns:Publish", f"arn:aws:sns:{REGION}:{ACCOUNT}:another-topic")


def _asl_glue_arguments(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    passed = {}
    for task in _tasks(definition["States"]):
        if task["Resource"] == "arn:aws:states:::glue:startJobRun.sync":
            passed[task["Parameters"]["JobName"]] = {
                name.removesuffix(".$"): value for name, value in task["Parameters"]["Arguments"].items()
            }
    return passed


@pytest.mark.parametrize("module", [json_to_parquet, normalize], ids=["json_to_parquet", "normalize"])
def test_glue_arguments_from_stack_and_asl_are_exactly_what_the_script_parses(
    synth: Synthesized, definition: dict[str, Any], module: Any
):
    resolve = Resolver(synth.template)
    job_name = f"etl-test-{module.JOB.replace('_', '-')}"
    job = next(j for j in synth.of_type("AWS::Glue::Job").values() if j["Properties"]["Name"] == job_name)
    defaults = resolve(job["Properties"]["DefaultArguments"])
    script_defaults = {k: v for k, v in defaults.items() if k not in GLUE_JOB_PARAMETERS}
    per_run = _asl_glue_arguments(definition)[job_name]
    names = {k.removeprefix("--") for k in [*script_defaults, *per_run]}
    assert names == set(module.ARGUMENTS) - {"JOB_NAME"}
    for name, value in script_defaults.items():  # a default the ASL also passes must be the same value
        if name in per_run:
            assert per_run[name] == value, name
