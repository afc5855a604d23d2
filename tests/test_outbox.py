"""The outbox: what could not be sent at once goes out later, once, and a refusal for good is not retried."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.outbox import Outbox, PermanentDeliveryError
from storage.clock import Clock
from storage.db import Database
from storage.repositories import Repos


class Platform:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.tries = 0
        self.failures: list[Exception] = []

    async def deliver(self, message_id: int, room_id: str, payload: dict[str, Any]) -> None:
        self.tries += 1
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append((room_id, payload))


@pytest.fixture
def clock(migrated_db: Database) -> Clock:
    """The app's clock, stopped: the test moves it."""
    migrated_db.clock.freeze()
    return migrated_db.clock


async def status(db: Database, dedupe_key: str) -> tuple[str, int]:
    async with db.session() as session:
        for message in await Repos(session).outbox.due(datetime(2100, 1, 1, tzinfo=UTC), 1000):
            if message.dedupe_key == dedupe_key:
                return message.status, message.attempts
    return "not pending", -1


async def test_a_queued_message_goes_out_once(migrated_db: Database) -> None:
    outbox, platform = Outbox(migrated_db), Platform()
    outbox.register("matrix", platform.deliver)
    assert await outbox.enqueue("matrix", "!revue", {"text": "D-1 archivé"}, "announce:D-1")
    assert not await outbox.enqueue("matrix", "!revue", {"text": "D-1 archivé"}, "announce:D-1")
    assert await outbox.send_due() == 1
    assert await outbox.send_due() == 0
    assert platform.sent == [("!revue", {"text": "D-1 archivé"})]


async def test_a_failed_send_is_retried_later_with_a_growing_delay(migrated_db: Database, clock: Clock) -> None:
    outbox, platform = Outbox(migrated_db), Platform()
    outbox.register("matrix", platform.deliver)
    platform.failures = [ConnectionError("homeserver away"), ConnectionError("still away")]
    await outbox.enqueue("matrix", "!annonces", {"text": "x"}, "k1")
    assert await outbox.send_due() == 0
    assert await status(migrated_db, "k1") == ("pending", 1)
    assert await outbox.send_due() == 0  # not due yet
    clock.advance(timedelta(seconds=2))
    assert await outbox.send_due() == 0  # second failure; next try in 4 s
    clock.advance(timedelta(seconds=3))
    assert await outbox.send_due() == 0
    clock.advance(timedelta(seconds=1.5))
    assert await outbox.send_due() == 1
    assert platform.sent == [("!annonces", {"text": "x"})]


async def test_a_permanent_refusal_is_not_retried(migrated_db: Database, clock: Clock) -> None:
    outbox, platform = Outbox(migrated_db), Platform()
    outbox.register("matrix", platform.deliver)
    platform.failures = [PermanentDeliveryError("M_FORBIDDEN: banned")]
    await outbox.enqueue("matrix", "!gone", {"text": "x"}, "k2")
    assert await outbox.send_due() == 0
    assert platform.tries == 1
    assert await status(migrated_db, "k2") == ("not pending", -1)  # failed for good: never due again
    clock.advance(timedelta(days=1))  # long past any retry delay
    assert await outbox.send_due() == 0
    assert platform.tries == 1 and platform.sent == []


async def test_a_passing_failure_is_retried_and_a_permanent_one_is_not(migrated_db: Database, clock: Clock) -> None:
    outbox, platform = Outbox(migrated_db), Platform()
    outbox.register("matrix", platform.deliver)
    platform.failures = [ConnectionError("homeserver away"), PermanentDeliveryError("M_FORBIDDEN: banned")]
    await outbox.enqueue("matrix", "!annonces", {"text": "a"}, "passing")
    await outbox.enqueue("matrix", "!gone", {"text": "b"}, "permanent")
    assert await outbox.send_due() == 0
    assert await status(migrated_db, "passing") == ("pending", 1)
    assert await status(migrated_db, "permanent") == ("not pending", -1)
    clock.advance(timedelta(minutes=1))
    assert await outbox.send_due() == 1
    assert platform.sent == [("!annonces", {"text": "a"})] and platform.tries == 3


async def test_messages_wait_for_their_platform(migrated_db: Database) -> None:
    outbox, matrix, slack = Outbox(migrated_db), Platform(), Platform()
    await outbox.enqueue("slack", "C1", {"text": "x"}, "k3")
    outbox.register("matrix", matrix.deliver)
    assert await outbox.send_due() == 0
    assert await status(migrated_db, "k3") == ("pending", 0)  # due, but nobody here delivers to Slack yet
    assert matrix.tries == 0
    outbox.register("slack", slack.deliver)  # Slack connects
    assert await outbox.send_due() == 1
    assert slack.sent == [("C1", {"text": "x"})] and matrix.sent == []


async def test_two_rounds_at_once_send_a_message_once(migrated_db: Database) -> None:
    outbox, platform = Outbox(migrated_db), Platform()
    outbox.register("matrix", platform.deliver)
    await outbox.enqueue("matrix", "!annonces", {"text": "D-2 archivé"}, "announce:D-2")
    await asyncio.gather(outbox.send_due(), outbox.send_due())
    assert platform.sent == [("!annonces", {"text": "D-2 archivé"})]


async def test_a_recipient_who_becomes_reachable_gets_their_messages_at_once(
    migrated_db: Database, clock: Clock
) -> None:
    outbox, platform = Outbox(migrated_db), Platform()
    outbox.register("matrix", platform.deliver)
    platform.failures = [ConnectionError("waiting for @marie to accept the invitation")]
    await outbox.enqueue("matrix", "dm:@marie:odpe.test", {"text": "Étape 1/10"}, "k5")
    await outbox.send_due()
    assert await outbox.send_due() == 0  # not due before its retry time…
    async with migrated_db.session() as session:
        assert await Repos(session).outbox.retry_now("dm:@marie:odpe.test", clock.now()) == 1
    assert await outbox.send_due() == 1  # …until she joins
