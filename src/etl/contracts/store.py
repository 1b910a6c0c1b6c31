"""Contracts updated at run time: a contract dropped into landing as ``_contracts/<dataset>.json``.

A producer (or a data engineer) updates a dataset's contract by dropping its new version into the landing
bucket under ``_contracts/``. The trigger validates it, compares it with the dataset's current contract
(etl.contracts.evolution: compatible changes only), and keeps it in the raw bucket's ``_contracts/``
folder, where every later run reads it: the jobs through their file system (s3:// or the local lake),
the trigger through the store it is given. The dataset's effective contract is the one of the highest
version among the packaged file (``src/etl/datasets/<d>/contract.json``) and the stored one, so a
deployed new version supersedes an older runtime one.

A contract for a dataset the pipeline does not know yet defines it: from then on its landing prefix is
routed to it, its tables are created by its first run and crawled with the others, and its runs notify how
many records its table holds (a folder deployed with the stack gives a dataset its own queries).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from etl.contracts import Contract, _parse, available_datasets, load_contract, new_dataset_problems, problems
from etl.contracts.evolution import compare
from etl.errors import ContractError

CONTRACTS_FOLDER = "_contracts"  # in landing: where a new version is dropped; in raw: the versions in force


class ContractStore(Protocol):
    """Where the contract versions in force are kept (the raw bucket's ``_contracts/``)."""

    def read(self, dataset: str) -> str | None: ...

    def write(self, dataset: str, text: str) -> None: ...

    def names(self) -> list[str]:
        """The datasets that have a version kept here."""
        ...


def contract_key(dataset: str) -> str:
    return f"{CONTRACTS_FOLDER}/{dataset}.json"


def dataset_of_contract_key(key: str) -> str | None:
    """The dataset a landing key ``_contracts/<dataset>.json`` updates (None for any other key)."""
    folder, _, name = key.partition("/")
    if folder != CONTRACTS_FOLDER or "/" in name or not name.endswith(".json"):
        return None
    return name.removesuffix(".json")


def datasets_in_force(store: ContractStore | None) -> list[str]:
    """Every dataset the pipeline runs: the packaged folders and those defined by a contract dropped into landing."""
    return sorted(set(available_datasets()) | set(store.names() if store is not None else ()))


def contracts_in_force(store: ContractStore | None) -> dict[str, Contract]:
    return {dataset: effective_contract(dataset, store) for dataset in datasets_in_force(store)}


def effective_contract(dataset: str, store: ContractStore | None) -> Contract:
    """The dataset's contract in force: the stored version when it is above the packaged one (or there is none)."""
    packaged = load_contract(dataset) if dataset in available_datasets() else None
    text = store.read(dataset) if store is not None else None
    if text is None:
        if packaged is None:
            raise ContractError(dataset, f"is no dataset of this pipeline: no folder src/etl/datasets/{dataset}/ and "
                                         f"no contract dropped into landing as {contract_key(dataset)}")
        return packaged
    stored = _parse(json.loads(text))
    return stored if packaged is None or stored.version > packaged.version else packaged


@dataclass(frozen=True)
class ContractUpdate:
    dataset: str
    version: int
    changes: list[str]

    def as_input(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "version": self.version, "changes": self.changes,
                "summary": f"contract of {self.dataset} now at version {self.version}: " + "; ".join(self.changes)}


def apply_contract(dataset: str, text: str, store: ContractStore) -> ContractUpdate:
    """Validate a dropped contract, check it against the one in force, and keep it; ContractError says why not.

    A contract for a dataset the pipeline does not know defines it. Dropping the version in force again (a
    re-sent file, a duplicate event) changes nothing and says so.
    """
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise ContractError(dataset, f"{contract_key(dataset)} is not valid JSON: {exc}") from None
    if dataset not in datasets_in_force(store):
        return _define(dataset, raw, text, store)
    found = problems(dataset, raw)
    current = effective_contract(dataset, store)
    if not found and raw.get("summary_query", current.summary_query) != current.summary_query:
        found.append("summary_query cannot change at run time: the queries are deployed with the dataset's folder")
    if found:
        raise ContractError(dataset, "; ".join(found))
    new = _parse({**raw, "summary_query": current.summary_query})
    if new == current:
        return ContractUpdate(dataset, new.version, [f"version {new.version} is already in force: nothing changes"])
    evolution = compare(current, new)
    if not evolution.compatible:
        raise ContractError(dataset, "; ".join(evolution.problems))
    store.write(dataset, text)
    return ContractUpdate(dataset, new.version, evolution.changes)


def _define(dataset: str, raw: Any, text: str, store: ContractStore) -> ContractUpdate:
    """A new dataset from its first contract: valid, and fed by landing keys no other dataset reads."""
    found = problems(dataset, raw)
    if found:
        raise ContractError(dataset, "; ".join(found))
    found += new_dataset_problems(raw)
    prefix = raw["landing_prefix"]
    for other in contracts_in_force(store).values():
        if prefix.startswith(other.landing_prefix) or other.landing_prefix.startswith(prefix):
            found.append(f"landing_prefix {prefix!r} overlaps {other.landing_prefix!r} of the {other.dataset} "
                         "dataset: each landing key must belong to one dataset")
        if raw.get("default_for_root_keys") and other.default_for_root_keys:
            found.append(f"default_for_root_keys: the {other.dataset} dataset already takes the files at the "
                         "landing root")
    if found:
        raise ContractError(dataset, "; ".join(found))
    contract = _parse({**raw, "summary_query": ""})
    store.write(dataset, text)
    return ContractUpdate(dataset, contract.version, [_definition(contract)])


def _definition(contract: Contract) -> str:
    """The notification's account of a new dataset: where its files go and how they are written."""
    key = f", key {', '.join(contract.primary_key)}" if contract.primary_key else ""
    pii = f" ({len(contract.pii_fields)} PII)" if contract.pii_fields else ""
    return (f"defines dataset {contract.dataset}: {len(contract.fields)} fields{pii}{key}, files under "
            f"{contract.landing_prefix} ({', '.join(contract.accepted_formats)}) written as {contract.write_mode}")


class FileContractStore:
    """The local lake's raw zone (``lake/raw/_contracts/``), as the jobs see it through Hadoop's file system."""

    def __init__(self, raw_zone: Path) -> None:
        self.folder = raw_zone / CONTRACTS_FOLDER

    def read(self, dataset: str) -> str | None:
        path = self.folder / f"{dataset}.json"
        return path.read_text(encoding="utf-8") if path.is_file() else None

    def write(self, dataset: str, text: str) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        temporary = self.folder / f".{dataset}.json.tmp"
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(self.folder / f"{dataset}.json")  # readers see the old version or the new one

    def names(self) -> list[str]:
        return sorted(path.stem for path in self.folder.glob("*.json")) if self.folder.is_dir() else []


class S3ContractStore:
    """The raw bucket's ``_contracts/`` on AWS (the start Lambda's view)."""

    def __init__(self, bucket: str, client: Any | None = None) -> None:
        self.bucket = bucket
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("s3")
        return self._client

    def read(self, dataset: str) -> str | None:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=contract_key(dataset))["Body"]
        except self.client.exceptions.NoSuchKey:
            return None
        return str(body.read().decode("utf-8"))

    def write(self, dataset: str, text: str) -> None:
        self.client.put_object(Bucket=self.bucket, Key=contract_key(dataset), Body=text.encode("utf-8"),
                               ContentType="application/json")

    def names(self) -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=f"{CONTRACTS_FOLDER}/")
        keys = (item["Key"] for page in pages for item in page.get("Contents", ()))
        return sorted(name for name in map(dataset_of_contract_key, keys) if name is not None)


class HadoopContractStore:
    """The raw zone through a job's file system (s3:// on Glue, file:// locally): what the jobs read."""

    def __init__(self, fs: Any, raw_uri: str) -> None:
        self.fs = fs
        self.folder = raw_uri.rstrip("/") + "/" + CONTRACTS_FOLDER

    def read(self, dataset: str) -> str | None:
        uri = f"{self.folder}/{dataset}.json"
        return str(self.fs.read_text(uri)) if self.fs.exists(uri) else None

    def write(self, dataset: str, text: str) -> None:
        self.fs.write_text(f"{self.folder}/{dataset}.json", text)

    def names(self) -> list[str]:
        found = (dataset_of_contract_key(f"{CONTRACTS_FOLDER}/{status.name}") for status in self.fs.list(self.folder))
        return sorted(name for name in found if name is not None)
