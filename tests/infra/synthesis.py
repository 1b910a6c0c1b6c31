"""The synthesized app as the infra tests see it (shared by conftest and the test modules)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STAGE = "test"
CONTEXT = {"stage": STAGE, "notificationEmail": "ops@example.com"}


@dataclass
class Synthesized:
    outdir: Path
    template: dict[str, Any]
    stack_name: str
    error: str | None

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.template["Resources"]

    def of_type(self, cfn_type: str) -> dict[str, dict[str, Any]]:
        return {k: r for k, r in self.resources.items() if r["Type"] == cfn_type}

    def one(self, cfn_type: str) -> tuple[str, dict[str, Any]]:
        found = self.of_type(cfn_type)
        assert len(found) == 1, f"expected one {cfn_type}, found {sorted(found)}"
        return next(iter(found.items()))

    @property
    def assets(self) -> dict[str, Any]:
        return json.loads((self.outdir / f"{self.stack_name}.assets.json").read_text(encoding="utf-8"))

    def asset_path(self, object_key: str) -> Path:
        """The cdk.out path of the file asset uploaded under ``object_key``."""
        for asset in self.assets["files"].values():
            for destination in asset["destinations"].values():
                if destination["objectKey"] == object_key:
                    return self.outdir / asset["source"]["path"]
        raise KeyError(object_key)
