"""Infra tests: the CDK app is synthesized once per session (with cdk-nag, as ``cdk synth`` does).

The synthesized template file is read back (``Template.from_json``) instead of
re-synthesizing per test. If cdk-nag rejects the app, synthesis raises but the template
and ``validation-report.json`` are still written: the nag test then shows the findings and
the other tests still check the template.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from .synthesis import CONTEXT, Synthesized

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "infra") not in sys.path:
    sys.path.insert(0, str(ROOT / "infra"))


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    from etl_infra.application import build_app

    outdir = tmp_path_factory.mktemp("cdk.out")
    app, stack = build_app(CONTEXT, outdir=str(outdir))
    error = None
    try:
        app.synth()
    except RuntimeError as exc:  # jsii raises cdk-nag's ValidationFailed as RuntimeError
        error = str(exc)
    template_file = outdir / f"{stack.stack_name}.template.json"
    template = json.loads(template_file.read_text(encoding="utf-8"))
    return Synthesized(outdir=outdir, template=template, stack_name=stack.stack_name, error=error)


@pytest.fixture(scope="session")
def template(synth: Synthesized):
    from aws_cdk.assertions import Template

    return Template.from_json(synth.template)
