"""Test helpers for the circuits: a bot whose messages to other rooms are caught, and people who talk to it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from bot.app import App
from bot.messages import Attachment, Message, Prompt, Reaction, Reply, RoomKind
from tests.chat import message

PLATFORM = "console"
# The `app` fixture makes "onpe" a reviewer; a circuit adds "claire", for what two reviewers do at once. Everyone
# else ("marie", "paul", …) is a référent, wherever they speak.
SECOND_REVIEWER = "@claire:console"


def pdf(body: str = "") -> Attachment:
    """A small but real PDF, different each time unless `body` is given."""
    unique = body or uuid.uuid4().hex
    data = f"%PDF-1.4\n1 0 obj<< /Title ({unique}) >>endobj\ntrailer<<>>\n%%EOF\n".encode()
    return Attachment("rapport.pdf", "application/pdf", data)


@dataclass
class Sent:
    target: str
    reply: Reply

    @property
    def text(self) -> str:
        return self.reply.plain()


@dataclass
class Circuit:
    """The bot with the console's platform name; what it sends elsewhere lands in `sent`."""

    app: App
    sent: list[Sent] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.app.router.platforms[:] = [PLATFORM]
        self.app.outbox.register(PLATFORM, self._deliver)
        if SECOND_REVIEWER not in self.app.config.roles.reviewers:
            self.app.config.roles.reviewers.append(SECOND_REVIEWER)

    async def _deliver(self, message_id: int, target: str, payload: dict[str, Any]) -> None:
        self.sent.append(Sent(target, Reply.from_json(payload["reply"])))

    async def say(
        self, text: str, user: str = "marie", room: RoomKind = RoomKind.DIRECT, attachments: tuple[Attachment, ...] = ()
    ) -> list[Reply]:
        msg = message(text, user=user, room=room)
        if attachments:
            msg = Message(**{**msg.__dict__, "attachments": attachments})
        replies = await self.app.router.handle(msg)
        await self.app.outbox.send_due()
        return replies

    async def text(self, *args: Any, **kwargs: Any) -> str:
        return "\n".join(r.plain() for r in await self.say(*args, **kwargs))

    async def react(
        self, key: str, subject: str, user: str = "onpe", room: RoomKind = RoomKind.REVIEW
    ) -> list[Reply]:
        """`user` reacts with `key` on the bot's message about `subject` (its card, or a copy of it) in `room`."""
        sender = f"@{user}:console"
        room_id = f"dm:{sender}" if room is RoomKind.DIRECT else room.value
        replies = await self.app.router.handle_reaction(Reaction(
            platform=PLATFORM, event_id=uuid.uuid4().hex, room_id=room_id, room_kind=room,  # type: ignore[arg-type]
            sender=sender, sender_name=user, key=key, prompt=Prompt("review", subject),  # type: ignore[arg-type]
        ))
        await self.app.outbox.send_due()
        return replies

    def to(self, target: str) -> list[Sent]:
        return [s for s in self.sent if s.target == target]

    def to_person(self, user: str) -> list[Sent]:
        return self.to(f"dm:@{user}:console")

    async def submit(self, user: str = "marie", title: str = "Rapport annuel 2025", file: Attachment | None = None,
                     summary: str = "-") -> str:
        """A complete document submission; returns the readable id the person was given."""
        for answer in ("!soumettre", "4", title, "03/11/2025", "Service ODPE", "maltraitance, indicateurs",
                       "Données du département", "mixte", "03"):
            await self.say(answer, user=user)
        await self.say("", user=user, attachments=(file or pdf(),))
        await self.say(summary, user=user)
        [reply] = await self.say("oui", user=user)
        text = reply.plain()
        assert "enregistré sous D-" in text, text
        return text.split("enregistré sous ")[1].split(".")[0]

