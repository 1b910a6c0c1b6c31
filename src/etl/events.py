"""Landing events: which object arrived, which dataset it belongs to, and its run id.

The same functions serve the AWS Lambda (S3 notifications) and the local watcher (files
found under ``landing/``), so both decide identically what to run and under which name.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

from etl.contracts import OPERATIONS, Contract, available_datasets, load_contract, summary_query_of

logger = logging.getLogger(__name__)

# Names that tools write next to data and that are never data themselves.
IGNORED_SUFFIXES = (".tmp", ".part", ".crc", ".swp", ".filepart", ".partial", ".crdownload")
MAX_EXECUTION_NAME = 80
_SLUG_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass(frozen=True)
class SourceObject:
    """One object in the landing bucket, identified as S3 identifies it."""

    bucket: str
    key: str
    size: int | None = None
    etag: str | None = None
    version_id: str | None = None
    event_time: str | None = None

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True)
class RunRequest:
    """What one pipeline execution is asked to do."""

    run_id: str
    dataset: str
    source: SourceObject
    # Why the pipeline must refuse the object ({"Error", "Cause"}): its run goes straight to the failure
    # notification, so a refused file has a run and a notification like any other, and is not taken again.
    refusal: dict[str, str] | None = None
    # How normalize writes the run's rows: the operation the key names, else the contract's write_mode.
    write_mode: str = "upsert"
    # A contract dropped into landing and put in force by the trigger (etl.contracts.store): its run only notifies.
    contract_update: dict[str, Any] | None = None
    # The name and SQL of the query the run's success notification carries (etl.contracts.summary_query_of).
    summary_query: tuple[str, str] | None = None

    def execution_input(self) -> dict[str, Any]:
        source = self.source
        execution_input: dict[str, Any] = {
            "run_id": self.run_id,
            "dataset": self.dataset,
            "source": {
                "bucket": source.bucket,
                "key": source.key,
                "size": source.size,
                "etag": source.etag,
                "version_id": source.version_id,
                "event_time": source.event_time or utc_now_iso(),
            },
        }
        if self.refusal:
            execution_input["refusal"] = dict(self.refusal)
        elif self.contract_update:
            execution_input["contract_update"] = dict(self.contract_update)
        else:
            # The dataset's own summary query travels with the run: one state machine serves every dataset.
            name, sql = self.summary_query or summary_query_of(load_contract(self.dataset))
            execution_input["summary_query"] = {"name": name, "sql": sql}
            execution_input["write_mode"] = self.write_mode
        return execution_input


@dataclass(frozen=True)
class Skipped:
    key: str
    reason: str


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def skip_reason(key: str, size: int | None = None) -> str | None:
    """Why ``key`` is not a data file (None when it is one)."""
    if key.endswith("/"):
        return "folder marker"
    name = key.rsplit("/", 1)[-1]
    if not name:
        return "empty name"
    if any(segment in ("", ".", "..") for segment in key.split("/")):
        # S3 takes such a key literally; as a path it names another folder (or leaves the bucket).
        return "key has an empty, '.' or '..' path segment, so it could point outside its folder; rename the file"
    if name.startswith((".", "_")):
        return "hidden or system file"
    if name.lower().endswith(IGNORED_SUFFIXES):
        return "temporary file"
    return None


def packaged_contracts() -> dict[str, Contract]:
    """The contracts of the datasets packaged as folders (without the versions dropped into landing)."""
    return {dataset: load_contract(dataset) for dataset in available_datasets()}


def dataset_for_key(key: str, contracts: Mapping[str, Contract] | None = None) -> str | None:
    """The dataset a landing key belongs to: by prefix, or the default one for keys at the root."""
    known = (contracts if contracts is not None else packaged_contracts()).values()
    for contract in known:
        if key.startswith(contract.landing_prefix):
            return contract.dataset
    if "/" not in key:
        for contract in known:
            if contract.default_for_root_keys:
                return contract.dataset
    return None


def run_id_for(source: SourceObject, dataset: str) -> str:
    """A deterministic id for the object's identity: bucket, key and version (or ETag).

    Usable as a Step Functions execution name (<= 80 chars of [A-Za-z0-9_-]), so a
    duplicate event for the same object version maps to the same execution.
    """
    identity = "\n".join((source.bucket, source.key, source.version_id or "", (source.etag or "").strip('"')))
    digest = hashlib.sha256(identity.encode("utf-8")).hexdigest()[:16]
    name = source.key.rsplit("/", 1)[-1]
    slug = _SLUG_UNSAFE.sub("_", name).strip("_")
    room = MAX_EXECUTION_NAME - len(dataset) - len(digest) - 2
    slug = slug[:room].strip("_") or "object"
    return f"{dataset}-{slug}-{digest}"


def plan_run(source: SourceObject, contracts: Mapping[str, Contract] | None = None) -> RunRequest | Skipped:
    """Decide what to do with one landing object (``contracts``: those in force, by dataset; the packaged ones
    by default)."""
    reason = skip_reason(source.key, source.size)
    if reason:
        return Skipped(source.key, reason)
    contracts = contracts if contracts is not None else packaged_contracts()
    dataset = dataset_for_key(source.key, contracts)
    if dataset is None:
        prefix = source.key.split("/", 1)[0]
        name = _SLUG_UNSAFE.sub("_", prefix).strip("_")[:20] or "unknown"
        refusal = {"Error": UNKNOWN_DATASET, "Cause": unknown_prefix_cause(source.key, contracts)}
        return RunRequest(run_id=run_id_for(source, name), dataset=name, source=source, refusal=refusal)
    run_id = run_id_for(source, dataset)
    contract = contracts[dataset]
    operation = operation_in_key(source.key, contract)
    if operation is not None and operation not in contract.allowed_operations:
        cause = operation_not_allowed_cause(source.key, operation, contract)
        return RunRequest(run_id=run_id, dataset=dataset, source=source,
                          refusal={"Error": OPERATION_NOT_ALLOWED, "Cause": cause})
    write_mode = OPERATIONS[operation] if operation is not None else contract.write_mode
    return RunRequest(run_id=run_id, dataset=dataset, source=source, write_mode=write_mode,
                      summary_query=summary_query_of(contract))


OPERATION_NOT_ALLOWED = "OperationNotAllowed"


def operation_in_key(key: str, contract: Contract) -> str | None:
    """The operation a landing key names in the folder right under its dataset's prefix (users/append/x.csv)."""
    if not key.startswith(contract.landing_prefix):
        return None
    folder, slash, _ = key[len(contract.landing_prefix):].partition("/")
    return folder if slash and folder in OPERATIONS else None


def operation_not_allowed_cause(key: str, operation: str, contract: Contract) -> str:
    allowed = ", ".join(f"{contract.landing_prefix}{op}/" for op in contract.allowed_operations)
    where = (f"its contract allows {allowed}" if allowed
             else "its contract allows no operation folders")
    return (f"{key}: the {contract.dataset} dataset does not allow the operation {operation!r} ({where}; a file "
            f"directly under {contract.landing_prefix} is written as {contract.write_mode}); move the file, or add "
            f"{operation!r} to allowed_operations in src/etl/datasets/{contract.dataset}/contract.json")


UNKNOWN_DATASET = "UnknownDataset"


def unknown_prefix_cause(key: str, contracts: Mapping[str, Contract] | None = None) -> str:
    """Why an object under a prefix no dataset reads is refused, and the ways out."""
    prefix = key.split("/", 1)[0] + "/"
    known = list((contracts if contracts is not None else packaged_contracts()).values())
    prefixes = ", ".join(c.landing_prefix for c in known)
    root = [c.dataset for c in known if c.default_for_root_keys]
    at_root = f"; a file at the bucket root goes to {root[0]}" if root else ""
    return (f"{key}: no dataset reads the prefix {prefix} (known prefixes: {prefixes}{at_root}); "
            f"move the file under one of them, or add a dataset whose contract has \"landing_prefix\": "
            f"\"{prefix}\" (drop it into landing as _contracts/<name>.json, or deploy a folder "
            f"src/etl/datasets/<name>/)")


def sources_from_s3_event(event: dict[str, Any]) -> tuple[list[SourceObject], list[Skipped]]:
    """Objects named by an S3 notification (``Records``) or an EventBridge ``Object Created`` event.

    Records that cannot be understood are returned as Skipped with the reason, never dropped.
    """
    sources: list[SourceObject] = []
    bad: list[Skipped] = []
    records: Any = (
        [_record_from_eventbridge(event)]
        if event.get("detail-type") == "Object Created" and "detail" in event
        else event.get("Records")
    )
    if not isinstance(records, list):
        return [], [Skipped("", "event has no Records list; expected an S3 notification")]
    for index, record in enumerate(records):
        try:
            if record.get("eventSource") not in (None, "aws:s3"):
                bad.append(Skipped("", f"record {index}: not an S3 record ({record.get('eventSource')})"))
                continue
            if not str(record.get("eventName", "ObjectCreated")).startswith("ObjectCreated"):
                bad.append(Skipped("", f"record {index}: event {record.get('eventName')} is not ObjectCreated"))
                continue
            s3 = record["s3"]
            obj = s3["object"]
            sources.append(
                SourceObject(
                    bucket=s3["bucket"]["name"],
                    key=unquote_plus(obj["key"]),
                    size=obj.get("size"),
                    etag=obj.get("eTag") or obj.get("etag"),
                    version_id=obj.get("versionId"),
                    event_time=record.get("eventTime"),
                )
            )
        except (KeyError, TypeError, AttributeError) as exc:
            bad.append(Skipped("", f"record {index}: malformed S3 record, missing {exc}"))
    return sources, bad


def _record_from_eventbridge(event: dict[str, Any]) -> dict[str, Any]:
    detail = event["detail"]
    # EventBridge keys are not URL-encoded; quote '+' so unquote_plus leaves the key as is.
    key = detail["object"]["key"].replace("%", "%25").replace("+", "%2B").replace(" ", "+")
    return {
        "eventSource": "aws:s3",
        "eventName": "ObjectCreated:" + str(detail.get("reason", "PutObject")),
        "eventTime": event.get("time"),
        "s3": {
            "bucket": {"name": detail["bucket"]["name"]},
            "object": {
                "key": key,
                "size": detail["object"].get("size"),
                "eTag": detail["object"].get("etag"),
                "versionId": detail["object"].get("version-id"),
            },
        },
    }
