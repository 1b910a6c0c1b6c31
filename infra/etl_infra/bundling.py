"""Lambda code assembled on this machine during synth, without Docker.

A bundle is the handler's folder (``lambdas/<name>/*.py``) plus the ``etl`` package, and,
when the function needs third-party packages, those packages installed by pip for the
Lambda platform (``--platform manylinux2014_x86_64 --only-binary=:all:`` for CPython
3.11): only prebuilt wheels, so nothing is compiled here and the result matches what
Lambda's Amazon Linux 2 (glibc 2.26) can load. The asset hash is taken from the bundle
(``AssetHashType.OUTPUT``), so a change in ``src/etl`` redeploys the functions.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

from etl.errors import ConfigError
from etl_infra.paths import ETL_PACKAGE_DIR

RUNTIME = lambda_.Runtime.PYTHON_3_11  # Glue 5.0's Python, and the project's requires-python
PIP_PLATFORM = "manylinux2014_x86_64"
PIP_PYTHON_VERSION = "3.11"
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")


@jsii.implements(ILocalBundling)
class LocalPythonBundle:
    """Writes handler + etl (+ pip requirements) into the directory CDK hands over."""

    def __init__(self, handler_dir: Path, requirements: Sequence[str] = ()) -> None:
        self.handler_dir = handler_dir
        self.requirements = tuple(requirements)

    def try_bundle(self, output_dir: str, *, image: DockerImage, **_options: Any) -> bool:
        out = Path(output_dir)
        if self.requirements:
            self._pip_install(out)
        for source in sorted(self.handler_dir.glob("*.py")):
            shutil.copy2(source, out / source.name)
        shutil.copytree(ETL_PACKAGE_DIR, out / ETL_PACKAGE_DIR.name, ignore=_IGNORED, dirs_exist_ok=True)
        return True

    def _pip_install(self, out: Path) -> None:
        command = [
            sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
            "--target", str(out), "--platform", PIP_PLATFORM, "--implementation", "cp",
            "--python-version", PIP_PYTHON_VERSION, "--only-binary=:all:", *self.requirements,
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise ConfigError(
                f"pip could not install {' '.join(self.requirements)} for the Lambda bundle of {self.handler_dir.name} "
                f"(needs PyPI access during synth): {result.stderr.strip().splitlines()[-1:]}"
            )
        shutil.rmtree(out / "bin", ignore_errors=True)  # console scripts carry this machine's interpreter path


def python_code(handler_dir: Path, requirements: Sequence[str] = ()) -> lambda_.Code:
    return lambda_.Code.from_asset(
        str(handler_dir),
        asset_hash_type=AssetHashType.OUTPUT,
        bundling=BundlingOptions(image=RUNTIME.bundling_image, local=LocalPythonBundle(handler_dir, requirements)),
    )
