"""The neutral message model that integrations translate to and from: Message in, Reply out."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import NewType

from bot.rich import Block, Doc, Para, Span

Platform = NewType("Platform", str)
RoomId = NewType("RoomId", str)
UserId = NewType("UserId", str)
EventId = NewType("EventId", str)


class RoomKind(enum.Enum):
    """What a room is for the bot; the integration decides it from its configuration."""

    DIRECT = "direct"
    REVIEW = "review"
    ANNOUNCEMENT = "announcement"
    GROUP = "group"


@dataclass(frozen=True)
class Attachment:
    name: str
    mime: str
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(frozen=True)
class Message:
    """One thing a person said, wherever they said it."""

    platform: Platform
    event_id: EventId
    room_id: RoomId
    room_kind: RoomKind
    sender: UserId
    sender_name: str
    text: str
    attachments: tuple[Attachment, ...] = ()
    thread_id: EventId | None = None
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    # The platform may deliver this event again (a repeated sync, a retried webhook): record its id so it
    # is handled once. Only a source that cannot repeat itself, like the console, turns this off.
    dedupe: bool = True

    @property
    def is_direct(self) -> bool:
        return self.room_kind is RoomKind.DIRECT


class Tone(enum.Enum):
    INFO = "info"
    SUCCESS = "success"
    ERROR = "error"


@dataclass(frozen=True)
class Reply:
    """What the bot says back. Text is a structured document: integrations render it (escaped) as they need."""

    body: Doc
    tone: Tone = Tone.INFO
    file: Attachment | None = None
    thread_id: EventId | None = None

    @classmethod
    def text(cls, *paragraphs: str | Sequence[Span]) -> Reply:
        return cls(Doc(tuple(Para.of(p) for p in paragraphs)))

    @classmethod
    def error(cls, *paragraphs: str | Sequence[Span]) -> Reply:
        return cls(Doc(tuple(Para.of(p) for p in paragraphs)), tone=Tone.ERROR)

    @classmethod
    def success(cls, *paragraphs: str | Sequence[Span]) -> Reply:
        return cls(Doc(tuple(Para.of(p) for p in paragraphs)), tone=Tone.SUCCESS)

    @classmethod
    def card(cls, blocks: Sequence[Block]) -> Reply:
        return cls(Doc(tuple(blocks)))

    def plain(self) -> str:
        return self.body.plain()

    def html(self) -> str:
        return self.body.html()
