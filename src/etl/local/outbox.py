"""The local stand-in for the SNS topic: each published message is a JSON file in the outbox."""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Notification:
    message_id: str
    topic_arn: str
    subject: str
    message: str
    attributes: dict[str, str]
    published_at: str

    @property
    def body(self) -> Any:
        """The message parsed as JSON when it is JSON (the pipeline publishes JSON), else the text."""
        try:
            return json.loads(self.message)
        except ValueError:
            return self.message


class Outbox:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def publish(self, topic_arn: str, subject: str, message: str, attributes: dict[str, str]) -> Notification:
        self.folder.mkdir(parents=True, exist_ok=True)
        now = datetime.now(UTC)
        notification = Notification(
            message_id=str(uuid.uuid4()),
            topic_arn=topic_arn,
            subject=subject,
            message=message,
            attributes=attributes,
            published_at=now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        )
        name = f"{now:%Y%m%dT%H%M%S%f}-{notification.message_id}.json"
        temporary = self.folder / f".{name}.tmp"
        temporary.write_text(json.dumps(notification.__dict__, indent=2), encoding="utf-8")
        os.replace(temporary, self.folder / name)
        return notification

    def list(self, limit: int | None = None) -> list[Notification]:
        if not self.folder.is_dir():
            return []
        files = sorted(p for p in self.folder.glob("*.json") if not p.name.startswith("."))
        if limit is not None:
            files = files[-limit:]
        return [Notification(**json.loads(p.read_text(encoding="utf-8"))) for p in files]
