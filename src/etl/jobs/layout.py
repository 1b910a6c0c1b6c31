"""Where each zone keeps a dataset's data, given the bucket URIs the jobs are passed."""

from __future__ import annotations

from dataclasses import dataclass


def join(base: str, *parts: str) -> str:
    return "/".join([base.rstrip("/"), *(p.strip("/") for p in parts)])


@dataclass(frozen=True)
class RunLayout:
    dataset: str
    run_id: str
    raw_uri: str = ""
    quarantine_uri: str = ""
    processed_uri: str = ""

    @property
    def raw_dataset(self) -> str:
        return join(self.raw_uri, self.dataset)

    @property
    def raw_run(self) -> str:
        return join(self.raw_dataset, f"run_id={self.run_id}")

    @property
    def raw_staging(self) -> str:
        return join(self.raw_dataset, "_staging", self.run_id)

    @property
    def quarantine_dataset(self) -> str:
        return join(self.quarantine_uri, self.dataset)

    @property
    def quarantine_run(self) -> str:
        return join(self.quarantine_dataset, f"run_id={self.run_id}")

    @property
    def quarantine_staging(self) -> str:
        return join(self.quarantine_dataset, "_staging", self.run_id)

    def quarantine_whole_file(self, name: str) -> str:
        return join(self.quarantine_uri, "_files", self.dataset, f"run_id={self.run_id}", name)

    @property
    def processed_dataset(self) -> str:
        return join(self.processed_uri, self.dataset)

    @property
    def processed_staging(self) -> str:
        return join(self.processed_dataset, "_staging", self.run_id)

    def manifest(self, job: str) -> str:
        """The job's counts for this run; the state machine reads the json_to_parquet one."""
        return join(self.raw_uri, "_runs", self.run_id, f"{job}.json")
