"""The bot's Matrix session (user id, device id, access token) kept in the store, so each start reuses its device."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

FILE_NAME = "credentials.json"


@dataclass(frozen=True)
class Credentials:
    user_id: str
    device_id: str
    access_token: str

    def __repr__(self) -> str:  # the token must never reach a log through a repr
        return f"Credentials(user_id={self.user_id!r}, device_id={self.device_id!r}, access_token='***')"


def load(store_dir: Path) -> Credentials | None:
    try:
        data = json.loads((store_dir / FILE_NAME).read_text(encoding="utf-8"))
        return Credentials(data["user_id"], data["device_id"], data["access_token"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save(store_dir: Path, credentials: Credentials) -> None:
    store_dir.mkdir(parents=True, exist_ok=True)
    path = store_dir / FILE_NAME
    temporary = path.with_suffix(".tmp")
    # Created readable by the bot's user alone, then moved into place so a crash never leaves half a file.
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(asdict(credentials), handle)
    os.replace(temporary, path)


def forget(store_dir: Path) -> None:
    (store_dir / FILE_NAME).unlink(missing_ok=True)
