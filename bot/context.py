"""What a command handler receives: the message, the person, the repositories and the configuration."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.config import Config
from bot.dialogs import Dialogs
from bot.errors import Forbidden
from bot.messages import Message
from bot.registry import Registry, Role
from storage.models import Person
from storage.repositories import Repos


@dataclass
class Context:
    message: Message
    person: Person
    repo: Repos
    config: Config
    registry: Registry
    roles: frozenset[Role]
    language: str
    now: datetime
    words: tuple[str, ...] = ()  # the words typed after the command name, quotes resolved
    dialogs: Dialogs | None = None
    platforms: tuple[str, ...] = ()  # where notifications go: the platforms this process serves

    @property
    def dialog(self) -> Dialogs:
        if self.dialogs is None:
            raise RuntimeError("no dialog engine in this context")
        return self.dialogs

    @property
    def prefix(self) -> str:
        return self.config.command_prefix

    def has(self, role: Role) -> bool:
        return role in self.roles

    def require(self, role: Role) -> None:
        """For the parts of a command reserved to a role (e.g. editing the directory)."""
        if role not in self.roles:
            raise Forbidden(role.value)
