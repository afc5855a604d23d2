"""The neutral message model that integrations translate to and from: Message in, Reply out."""

from __future__ import annotations

import base64
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NewType

from bot.rich import Block, Doc, Para, Span, UserLink

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
    # What the thread it was written in is about (e.g. "Q-3"), when the integration knows it.
    topic: str | None = None
    # The platform may deliver this event again (a repeated sync, a retried webhook): record its id so it
    # is handled once. Only a source that cannot repeat itself, like the console, turns this off.
    dedupe: bool = True
    # A change the person made to an earlier message (Matrix's m.replace, Slack's message_changed): never a new
    # answer or command, since the earlier one was already read.
    edited: bool = False
    # The names of files the person sent that the platform would not hand over (a failed download).
    unreadable: tuple[str, ...] = ()

    @property
    def is_direct(self) -> bool:
        return self.room_kind is RoomKind.DIRECT


class Tone(enum.Enum):
    INFO = "info"
    SUCCESS = "success"
    ERROR = "error"


@dataclass(frozen=True)
class FileRef:
    """A file the bot keeps (content-addressed), sent with a reply without carrying its bytes around."""

    sha256: str
    name: str
    mime: str


@dataclass(frozen=True)
class Prompt:
    """What a message of the bot asks for, so that a reaction to it (✅ ❌ ❓ ✋) can be acted upon, even
    after a restart: integrations store it with the message they sent."""

    kind: str  # which action handler answers, e.g. "review"
    subject: str  # what it is about, e.g. "D-12"


@dataclass(frozen=True)
class Reaction:
    """A person reacted to one of the bot's messages that carried a prompt."""

    platform: Platform
    event_id: EventId
    room_id: RoomId
    room_kind: RoomKind
    sender: UserId
    sender_name: str
    key: str
    prompt: Prompt


@dataclass(frozen=True)
class Reply:
    """What the bot says back. Text is a structured document: integrations render it (escaped) as they need."""

    body: Doc
    tone: Tone = Tone.INFO
    file: Attachment | None = None
    thread_id: EventId | None = None
    prompt: Prompt | None = None
    # What the message is about (e.g. "D-12"): integrations keep everything about one subject together
    # (on Matrix, the thread rooted at the first message with that topic in the room).
    topic: str | None = None
    stored_file: FileRef | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON form for the outbox (a file travels base64-encoded)."""
        data: dict[str, Any] = {"body": self.body.to_json(), "tone": self.tone.value}
        if self.file is not None:
            data["file"] = {
                "name": self.file.name,
                "mime": self.file.mime,
                "data": base64.b64encode(self.file.data).decode(),
            }
        if self.thread_id is not None:
            data["thread_id"] = self.thread_id
        if self.prompt is not None:
            data["prompt"] = {"kind": self.prompt.kind, "subject": self.prompt.subject}
        if self.topic is not None:
            data["topic"] = self.topic
        if self.stored_file is not None:
            ref = self.stored_file
            data["stored_file"] = {"sha256": ref.sha256, "name": ref.name, "mime": ref.mime}
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Reply:
        file = data.get("file")
        prompt = data.get("prompt")
        stored = data.get("stored_file")
        return cls(
            body=Doc.from_json(data["body"]),
            tone=Tone(data.get("tone", "info")),
            file=Attachment(file["name"], file["mime"], base64.b64decode(file["data"])) if file else None,
            thread_id=EventId(data["thread_id"]) if data.get("thread_id") else None,
            prompt=Prompt(prompt["kind"], prompt["subject"]) if prompt else None,
            topic=data.get("topic"),
            stored_file=FileRef(stored["sha256"], stored["name"], stored["mime"]) if stored else None,
        )

    @classmethod
    def text(cls, *paragraphs: str | Sequence[str | Span], **extra: Any) -> Reply:
        return cls(Doc(tuple(Para.of(p) for p in paragraphs)), **extra)

    @classmethod
    def error(cls, *paragraphs: str | Sequence[str | Span], **extra: Any) -> Reply:
        return cls(Doc(tuple(Para.of(p) for p in paragraphs)), tone=Tone.ERROR, **extra)

    @classmethod
    def success(cls, *paragraphs: str | Sequence[str | Span], **extra: Any) -> Reply:
        return cls(Doc(tuple(Para.of(p) for p in paragraphs)), tone=Tone.SUCCESS, **extra)

    @classmethod
    def card(cls, blocks: Sequence[Block], **extra: Any) -> Reply:
        return cls(Doc(tuple(blocks)), **extra)

    def plain(self) -> str:
        return self.body.plain()

    def html(self, link_user: UserLink | None = None) -> str:
        return self.body.html(link_user)
