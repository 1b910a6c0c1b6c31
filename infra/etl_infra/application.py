"""Builds the CDK app: cdk.json's feature flags, stage settings from context, the stack, cdk-nag.

``infra/app.py`` (run by the CDK CLI) and the tests both call :func:`build_app`, so the
tests synthesize exactly what ``cdk synth`` does. Context given on the command line wins
over cdk.json, which wins over the defaults in :class:`etl_infra.settings.StageSettings`.
The stack is environment-agnostic (account and region come from the credentials at deploy
time), so the template synthesized offline is the one that is deployed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aws_cdk import App

from etl_infra.nag import add_nag_checks
from etl_infra.paths import CDK_JSON
from etl_infra.settings import StageSettings
from etl_infra.stack import EtlPipelineStack


def cdk_json_context() -> dict[str, Any]:
    return dict(json.loads(CDK_JSON.read_text(encoding="utf-8")).get("context", {}))


def build_app(context: Mapping[str, Any] | None = None, outdir: str | None = None) -> tuple[App, EtlPipelineStack]:
    app = App(context={**cdk_json_context(), **(context or {})}, outdir=outdir)
    settings = StageSettings.from_context(app.node)
    stack = EtlPipelineStack(
        app,
        settings.stack_name,
        settings=settings,
        description=f"Event-driven ETL pipeline ({settings.stage}): S3, Lambda, Step Functions, Glue, Athena, SNS",
    )
    add_nag_checks(app)
    return app, stack
