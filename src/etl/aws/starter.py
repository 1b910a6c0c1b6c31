"""ExecutionStarter on AWS: Step Functions StartExecution named by the run id."""

from __future__ import annotations

import json
from typing import Any

from etl.events import RunRequest
from etl.trigger import ExecutionAlreadyExistsError


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

    def start(self, request: RunRequest) -> str:
        try:
            response = self.client.start_execution(
                stateMachineArn=self.state_machine_arn,
                name=request.run_id,
                input=json.dumps(request.execution_input()),
            )
        except self.client.exceptions.ExecutionAlreadyExists as exc:
            raise ExecutionAlreadyExistsError(f"execution {request.run_id} already exists") from exc
        return str(response["executionArn"])
