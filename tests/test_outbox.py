"""The outbox: what could not be sent at once goes out later, once, and a refusal for good is not retried."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot.outbox import Outbox, PermanentDeliveryError
from storage.db import Database
from storage.repositories import Repos


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class Platform:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.failures: list[Exception] = []

    async def deliver(self, message_id: int, room_id: str, payload: dict[str, Any]) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append((room_id, payload))


async def status(db: Database, dedupe_key: str) -> tuple[str, int]:
    async with db.session() as session:
        for message in await Repos(session).outbox.due(datetime(2100, 1, 1, tzinfo=UTC), 1000):
            if message.dedupe_key == dedupe_key:
                return message.status, message.attempts
    return "not pending", -1


async def test_a_queued_message_goes_out_once(migrated_db: Database) -> None:
    outbox, platform = Outbox(migrated_db, Clock()), Platform()
    outbox.register("matrix", platform.deliver)
    assert await outbox.enqueue("matrix", "!revue", {"text": "D-1 archivé"}, "announce:D-1")
    assert not await outbox.enqueue("matrix", "!revue", {"text": "D-1 archivé"}, "announce:D-1")
    assert await outbox.send_due() == 1
    assert await outbox.send_due() == 0
    assert platform.sent == [("!revue", {"text": "D-1 archivé"})]


async def test_a_failed_send_is_retried_later_with_a_growing_delay(migrated_db: Database) -> None:
    clock = Clock()
    outbox, platform = Outbox(migrated_db, clock), Platform()
    outbox.register("matrix", platform.deliver)
    platform.failures = [ConnectionError("homeserver away"), ConnectionError("still away")]
    await outbox.enqueue("matrix", "!annonces", {"text": "x"}, "k1")
    assert await outbox.send_due() == 0
    assert await status(migrated_db, "k1") == ("pending", 1)
    assert await outbox.send_due() == 0  # not due yet
    clock.now += timedelta(seconds=2)
    assert await outbox.send_due() == 0  # second failure; next try in 4 s
    clock.now += timedelta(seconds=3)
    assert await outbox.send_due() == 0
    clock.now += timedelta(seconds=1.5)
    assert await outbox.send_due() == 1
    assert platform.sent == [("!annonces", {"text": "x"})]


async def test_a_permanent_refusal_is_not_retried(migrated_db: Database) -> None:
    clock = Clock()
    outbox, platform = Outbox(migrated_db, clock), Platform()
    outbox.register("matrix", platform.deliver)
    platform.failures = [PermanentDeliveryError("M_FORBIDDEN: banned")]
    await outbox.enqueue("matrix", "!gone", {"text": "x"}, "k2")
    await outbox.send_due()
    clock.now += timedelta(days=1)
    assert await outbox.send_due() == 0
    assert platform.sent == []
    async with migrated_db.session() as session:
        [entry] = [m for m in await Repos(session).outbox.due(clock.now, 100) if m.dedupe_key == "k2"] or [None]
    assert entry is None  # failed for good: no longer due


async def test_messages_wait_for_their_platform(migrated_db: Database) -> None:
    outbox, platform = Outbox(migrated_db, Clock()), Platform()
    await outbox.enqueue("slack", "C1", {"text": "x"}, "k3")
    outbox.register("matrix", platform.deliver)
    assert await outbox.send_due() == 0
    assert await status(migrated_db, "k3") == ("pending", 0)


async def test_two_rounds_at_once_send_a_message_once(migrated_db: Database) -> None:
    import asyncio

    outbox, platform = Outbox(migrated_db, Clock()), Platform()
    outbox.register("matrix", platform.deliver)
    await outbox.enqueue("matrix", "!annonces", {"text": "D-2 archivé"}, "announce:D-2")
    await asyncio.gather(outbox.send_due(), outbox.send_due())
    assert platform.sent == [("!annonces", {"text": "D-2 archivé"})]


async def test_a_recipient_who_becomes_reachable_gets_their_messages_at_once(migrated_db: Database) -> None:
    clock = Clock()
    outbox, platform = Outbox(migrated_db, clock), Platform()
    outbox.register("matrix", platform.deliver)
    platform.failures = [ConnectionError("waiting for @marie to accept the invitation")]
    await outbox.enqueue("matrix", "dm:@marie:odpe.test", {"text": "Étape 1/10"}, "k5")
    await outbox.send_due()
    assert await outbox.send_due() == 0  # not due before its retry time…
    async with migrated_db.session() as session:
        assert await Repos(session).outbox.retry_now("dm:@marie:odpe.test", clock.now) == 1
    assert await outbox.send_due() == 1  # …until she joins
