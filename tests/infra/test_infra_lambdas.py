"""The Lambdas: runtime, wiring (S3 notification, state machine), least privilege, Docker-free bundles.

The bundles are imported in a fresh interpreter without site-packages (``python -S``): what
the handler needs must be in the bundle, as on Lambda (where only boto3 is provided).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from aws_cdk.assertions import Match, Template

from .cfn_model import Resolver, allows, role_statements
from .synthesis import Synthesized

ROOT = Path(__file__).resolve().parents[2]


def _function(synth: Synthesized, prefix: str) -> tuple[str, dict]:
    return next((k, r) for k, r in synth.of_type("AWS::Lambda::Function").items() if k.startswith(prefix))


def _bundle(synth: Synthesized, prefix: str) -> Path:
    _, function = _function(synth, prefix)
    return synth.asset_path(function["Properties"]["Code"]["S3Key"])


@pytest.mark.parametrize("prefix", ["FunctionsStartPipeline", "FunctionsGenerateShipments"])
def test_functions_run_python_311_handlers_with_their_own_log_group(synth: Synthesized, prefix: str):
    _, function = _function(synth, prefix)
    props = function["Properties"]
    assert props["Runtime"] == "python3.11"
    assert props["Handler"] == "handler.handler"
    log_group = props["LoggingConfig"]["LogGroup"]["Ref"]
    assert synth.resources[log_group]["Type"] == "AWS::Logs::LogGroup"


def test_start_pipeline_knows_the_state_machine_and_may_only_start_it(synth: Synthesized):
    _, function = _function(synth, "FunctionsStartPipeline")
    state_machine, _ = synth.one("AWS::StepFunctions::StateMachine")
    raw = next(k for k in synth.of_type("AWS::S3::Bucket") if k.startswith("BucketsRaw"))
    assert function["Properties"]["Environment"]["Variables"] == {"STATE_MACHINE_ARN": {"Ref": state_machine},
                                                                  "RAW_BUCKET": {"Ref": raw}}
    resolve = Resolver(synth.template)
    statements = role_statements(synth.template, function["Properties"]["Role"]["Fn::GetAtt"][0])
    assert allows(statements, resolve, "states:StartExecution", resolve({"Ref": state_machine}))
    assert not allows(
        statements, resolve, "states:StartExecution", "arn:aws:states:eu-west-1:123456789012:stateMachine:other"
    )
    executions = "arn:aws:states:eu-west-1:123456789012:execution"
    assert allows(statements, resolve, "states:DescribeExecution", f"{executions}:etl-test-pipeline:shipping-x-0123")
    assert not allows(statements, resolve, "states:DescribeExecution", f"{executions}:other:shipping-x-0123")
    assert {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])} == {
        "states:StartExecution", "states:DescribeExecution", "logs:CreateLogStream", "logs:PutLogEvents",
        "s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:ListBucket", "s3:GetBucketLocation",
    }  # fmt: skip
    # Contracts dropped into landing are read from landing's _contracts/ and kept in raw's _contracts/ only.
    landing = next(k for k in synth.of_type("AWS::S3::Bucket") if k.startswith("BucketsLanding"))
    landing_arn, raw_arn = (resolve({"Fn::GetAtt": [bucket, "Arn"]}) for bucket in (landing, raw))
    assert allows(statements, resolve, "s3:GetObject", f"{landing_arn}/_contracts/shipping.json")
    assert not allows(statements, resolve, "s3:GetObject", f"{landing_arn}/shipping/data.json")
    assert not allows(statements, resolve, "s3:PutObject", f"{landing_arn}/_contracts/shipping.json")
    assert allows(statements, resolve, "s3:PutObject", f"{raw_arn}/_contracts/shipping.json")
    assert not allows(statements, resolve, "s3:PutObject", f"{raw_arn}/shipping/run_id=r1/part-0.parquet")
    # Routing lists the contracts in force: datasets defined at run time are those kept in raw's _contracts/.
    assert allows(statements, resolve, "s3:ListBucket", raw_arn)


def test_landing_object_created_events_invoke_start_pipeline(synth: Synthesized, template: Template):
    function, _ = _function(synth, "FunctionsStartPipeline")
    landing = next(k for k in synth.of_type("AWS::S3::Bucket") if k.startswith("BucketsLanding"))
    template.has_resource_properties(
        "Custom::S3BucketNotifications",
        {
            "BucketName": {"Ref": landing},
            "NotificationConfiguration": {
                "LambdaFunctionConfigurations": [
                    {"Events": ["s3:ObjectCreated:*"], "LambdaFunctionArn": {"Fn::GetAtt": [function, "Arn"]}}
                ]
            },
        },
    )
    template.has_resource_properties(
        "AWS::Lambda::Permission",
        {
            "Action": "lambda:InvokeFunction",
            "Principal": "s3.amazonaws.com",
            "FunctionName": {"Fn::GetAtt": [function, "Arn"]},
            "SourceArn": {"Fn::GetAtt": [landing, "Arn"]},
            "SourceAccount": Match.any_value(),
        },
    )


def test_the_generator_may_only_write_new_landing_files(synth: Synthesized):
    _, function = _function(synth, "FunctionsGenerateShipments")
    landing = next(k for k in synth.of_type("AWS::S3::Bucket") if k.startswith("BucketsLanding"))
    resolve = Resolver(synth.template)
    env = resolve(function["Properties"]["Environment"]["Variables"])
    assert env == {"LANDING_BUCKET": resolve({"Ref": landing}), "RECORDS": "1000"}
    statements = role_statements(synth.template, function["Properties"]["Role"]["Fn::GetAtt"][0])
    assert allows(statements, resolve, "s3:PutObject", f"arn:aws:s3:::{env['LANDING_BUCKET']}/shipping/x.json.gz")
    assert not allows(statements, resolve, "s3:GetObject", f"arn:aws:s3:::{env['LANDING_BUCKET']}/shipping/x.json.gz")
    assert not allows(
        statements, resolve, "s3:DeleteObject", f"arn:aws:s3:::{env['LANDING_BUCKET']}/shipping/x.json.gz"
    )


def test_start_pipeline_bundle_is_the_handler_and_the_etl_package(synth: Synthesized):
    bundle = _bundle(synth, "FunctionsStartPipeline")
    assert (bundle / "handler.py").read_bytes() == (ROOT / "lambdas" / "start_pipeline" / "handler.py").read_bytes()
    assert (bundle / "etl" / "trigger.py").is_file()
    assert (bundle / "etl" / "datasets" / "shipping" / "contract.json").is_file()
    assert not list(bundle.rglob("__pycache__"))
    assert sorted(p.name for p in bundle.iterdir()) == ["etl", "handler.py"]


def _run_isolated(bundle: Path, code: str, tmp_path: Path) -> dict:
    """Run ``code`` in a new interpreter that sees only the standard library and the bundle."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run(
        [sys.executable, "-S", "-I", "-c", f"import sys; sys.path.insert(0, {str(bundle)!r})\n{code}"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_start_pipeline_bundle_is_self_contained(synth: Synthesized, tmp_path: Path):
    code = (
        "import os, json; os.environ['STATE_MACHINE_ARN'] = 'arn:aws:states:eu-west-1:1:stateMachine:x'\n"
        "import handler\n"
        "from etl.events import plan_run, SourceObject\n"
        "plan = plan_run(SourceObject('b', 'shipping/a.json', etag='e'))\n"
        "print(json.dumps({'run_id': plan.run_id, 'dataset': plan.dataset}))"
    )
    planned = _run_isolated(_bundle(synth, "FunctionsStartPipeline"), code, tmp_path)
    assert planned["dataset"] == "shipping" and planned["run_id"].startswith("shipping-a_json-")


def test_generator_bundle_holds_the_handler_core_and_linux_wheels(synth: Synthesized):
    bundle = _bundle(synth, "FunctionsGenerateShipments")
    assert (bundle / "handler.py").is_file() and (bundle / "etl" / "generator.py").is_file()
    assert list((bundle / "numpy").glob("_core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so"))
    assert (bundle / "faker").is_dir() and not (bundle / "bin").exists()


@pytest.mark.skipif(
    sys.platform != "linux" or os.uname().machine != "x86_64",
    reason="the bundle holds linux x86_64 wheels, which only run on such a machine",
)
def test_generator_bundle_runs_the_generator_from_its_own_wheels(synth: Synthesized, tmp_path: Path):
    bundle = _bundle(synth, "FunctionsGenerateShipments")
    code = (
        "import json, gzip, pathlib, handler, numpy, faker\n"
        "from etl.generator import write_file\n"
        "stats = write_file(pathlib.Path('out.json.gz'), 25, seed=7)\n"
        "lines = gzip.open('out.json.gz', 'rt').read().splitlines()\n"
        "print(json.dumps({'numpy': numpy.__file__, 'faker': faker.__file__, 'lines': len(lines),\n"
        "                  'first': json.loads(lines[0])}))"
    )
    result = _run_isolated(bundle, code, tmp_path)
    assert result["numpy"].startswith(str(bundle)) and result["faker"].startswith(str(bundle))
    assert result["lines"] == 25 and {"shipping_id", "customer_name"} <= set(result["first"])
