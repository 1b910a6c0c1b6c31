"""ExecutionStarter on AWS: Step Functions StartExecution named by the run id.

StartExecution is idempotent for a RUNNING execution with the same name and input: it returns
the existing execution instead of failing. A duplicate S3 event (same object, same event time)
arriving while the first run is still going would therefore look like a fresh start, so the
starter first asks whether an execution of that name exists. Two duplicates racing each other
can both pass that check; Step Functions still runs the object once.
"""

from __future__ import annotations

import json
from typing import Any

from etl.contracts.store import S3ContractStore
from etl.events import RunRequest, SourceObject
from etl.trigger import ContractDrops, ExecutionAlreadyExistsError


class StepFunctionsStarter:
    def __init__(self, state_machine_arn: str, client: Any | None = None) -> None:
        self.state_machine_arn = state_machine_arn
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:  # created on first use, never at import time
            import boto3

            self._client = boto3.client("stepfunctions")
        return self._client

    def execution_arn(self, name: str) -> str:
        """The ARN Step Functions gives this state machine's execution ``name``."""
        return f"{self.state_machine_arn.replace(':stateMachine:', ':execution:', 1)}:{name}"

    def existing_execution(self, name: str) -> str | None:
        """The ARN of this state machine's execution ``name`` if one was started before, else None."""
        arn = self.execution_arn(name)
        try:
            self.client.describe_execution(executionArn=arn)
        except self.client.exceptions.ExecutionDoesNotExist:
            return None
        return arn

    def start(self, request: RunRequest) -> str:
        if self.existing_execution(request.run_id) is not None:
            raise ExecutionAlreadyExistsError(f"execution {request.run_id} already exists")
        try:
            response = self.client.start_execution(
                stateMachineArn=self.state_machine_arn,
                name=request.run_id,
                input=json.dumps(request.execution_input()),
            )
        except self.client.exceptions.ExecutionAlreadyExists as exc:
            raise ExecutionAlreadyExistsError(f"execution {request.run_id} already exists") from exc
        return str(response["executionArn"])


def contract_drops(raw_bucket: str, client: Any | None = None) -> ContractDrops:
    """Contracts dropped into landing, on AWS: read from the landing bucket, kept in the raw bucket's _contracts/."""
    store = S3ContractStore(raw_bucket, client)

    def read_landing(source: SourceObject) -> bytes:
        extra = {"VersionId": source.version_id} if source.version_id else {}
        return bytes(store.client.get_object(Bucket=source.bucket, Key=source.key, **extra)["Body"].read())

    return ContractDrops(store, read_landing)
