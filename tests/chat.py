"""Test helpers: speak to the bot through the core, as a person would, and read what it answers."""

from __future__ import annotations

import uuid

from bot.app import App
from bot.messages import EventId, Message, Platform, Reply, RoomId, RoomKind, UserId


def message(
    text: str,
    user: str = "marie",
    room: RoomKind = RoomKind.DIRECT,
    platform: str = "console",
    event_id: str | None = None,
) -> Message:
    sender = user if user.startswith("@") else f"@{user}:console"
    return Message(
        platform=Platform(platform),
        event_id=EventId(event_id or uuid.uuid4().hex),
        room_id=RoomId(f"dm:{sender}" if room is RoomKind.DIRECT else room.value),
        room_kind=room,
        sender=UserId(sender),
        sender_name=sender.split(":")[0].lstrip("@"),
        text=text,
    )


async def replies(app: App, text: str, **kwargs: object) -> list[Reply]:
    return await app.router.handle(message(text, **kwargs))  # type: ignore[arg-type]


async def say(app: App, text: str, **kwargs: object) -> str:
    """Everything the bot answers to `text`, as plain text."""
    return "\n".join(r.plain() for r in await replies(app, text, **kwargs))


def unique_user(base: str = "user") -> str:
    return f"{base}-{uuid.uuid4().hex[:8]}"
