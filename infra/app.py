#!/usr/bin/env python3
"""CDK entry point: ``npx aws-cdk@2.1148.1 synth`` (run in infra/) calls this; see infra/README.md.

The stack reads the repository's own files (the ASL, SQL, Glue scripts, the etl package),
so the repository's src/ is put on the import path when etl is not installed.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [p for p in (str(ROOT / "infra"), str(ROOT / "src")) if p not in sys.path]

from etl_infra.application import build_app  # noqa: E402

if __name__ == "__main__":
    app, _ = build_app()
    app.synth()
