"""The outbox as the people waiting for a message, and the operator watching it, see it: what goes out, when it
is tried again, when it is given up, and for which platforms."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

import pytest

from bot.outbox import Outbox, PermanentDeliveryError
from storage.clock import Clock
from storage.db import Database
from storage.models import OutboxMessage
from storage.repositories import Repos


@pytest.fixture
def clock(migrated_db: Database) -> Clock:
    """The app's clock, stopped: the test moves it."""
    migrated_db.clock.freeze()
    return migrated_db.clock


class Platform:
    """A platform that takes messages, or fails as told: `failures[i]` is raised at the i-th try, if any."""

    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.tries: list[str] = []
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.arrived = asyncio.Event()

    async def deliver(self, message_id: int, room_id: str, payload: dict[str, Any]) -> None:
        self.tries.append(room_id)
        if self.failures:
            failure = self.failures.pop(0)
            if failure is not None:
                raise failure
        self.sent.append((room_id, payload))
        self.arrived.set()


async def row(db: Database, dedupe_key: str) -> OutboxMessage:
    async with db.session() as session:
        for message in await Repos(session).outbox.pending(["matrix", "slack"], limit=1000):
            if message.dedupe_key == dedupe_key:
                return message
    raise AssertionError(f"{dedupe_key} is not waiting")


async def test_a_refusal_for_good_is_tried_once_and_the_next_message_still_goes(
    migrated_db: Database, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    outbox, platform = Outbox(migrated_db), Platform(PermanentDeliveryError("M_FORBIDDEN: the bot was banned"))
    outbox.register("matrix", platform.deliver)
    await outbox.enqueue("matrix", "!gone", {"text": "D-1 archivé"}, "gone")
    await outbox.enqueue("matrix", "!annonces", {"text": "D-2 archivé"}, "fine")
    gone = (await row(migrated_db, "gone")).id
    with caplog.at_level(logging.WARNING, logger="bot.outbox"):
        assert await outbox.send_due() == 1
    assert f"outbox message {gone} to !gone given up: M_FORBIDDEN: the bot was banned" in caplog.messages
    async with migrated_db.session() as session:
        given_up = await Repos(session).outbox.get(gone)
    assert given_up is not None
    assert (given_up.status, given_up.attempts, given_up.last_error) == ("failed", 1, "M_FORBIDDEN: the bot was banned")
    assert platform.sent == [("!annonces", {"text": "D-2 archivé"})]
    assert await outbox.waiting() == []  # given up: the operator is not told it still waits
    for _ in range(3):
        clock.advance(timedelta(hours=12))
        assert await outbox.send_due() == 0
    assert platform.tries == ["!gone", "!annonces"]


async def test_a_passing_failure_is_tried_again_after_2_4_8_seconds_then_every_10_minutes_at_most(
    migrated_db: Database, clock: Clock
) -> None:
    outbox, platform = Outbox(migrated_db), Platform(*[ConnectionError("homeserver away")] * 11)
    outbox.register("matrix", platform.deliver)
    await outbox.enqueue("matrix", "!annonces", {"text": "x"}, "k")
    assert await outbox.send_due() == 0
    delays = (2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600)  # after the 1st, 2nd… 11th failure
    for n, delay in enumerate(delays, start=1):
        clock.advance(timedelta(seconds=delay - 1))
        assert await outbox.send_due() == 0
        assert len(platform.tries) == n  # not tried again before its time
        clock.advance(timedelta(seconds=1))
        assert await outbox.send_due() == (1 if n == len(delays) else 0)
        assert len(platform.tries) == n + 1
    assert platform.sent == [("!annonces", {"text": "x"})]


async def test_the_operator_sees_how_often_a_message_failed_and_why(migrated_db: Database, clock: Clock) -> None:
    outbox = Outbox(migrated_db)
    outbox.register("matrix", Platform(ConnectionError("homeserver away"), TimeoutError()).deliver)
    await outbox.enqueue("matrix", "!annonces", {"text": "x"}, "k")
    await outbox.send_due()
    [waiting] = await outbox.waiting()
    assert (waiting.room_id, waiting.attempts) == ("!annonces", 1)
    assert waiting.last_error == "ConnectionError: homeserver away"
    assert waiting.next_attempt_at == clock.now() + timedelta(seconds=2)
    clock.advance(timedelta(seconds=2))
    await outbox.send_due()
    [waiting] = await outbox.waiting()
    assert (waiting.attempts, waiting.last_error) == (2, "TimeoutError: ")
    assert waiting.next_attempt_at == clock.now() + timedelta(seconds=4)


async def test_a_very_long_error_is_kept_to_its_first_500_characters(migrated_db: Database, clock: Clock) -> None:
    outbox = Outbox(migrated_db)
    outbox.register("matrix", Platform(ConnectionError("x" * 1000)).deliver)
    await outbox.enqueue("matrix", "!annonces", {"text": "x"}, "k")
    await outbox.send_due()
    [waiting] = await outbox.waiting()
    assert waiting.last_error == ("ConnectionError: " + "x" * 1000)[:500]


async def test_after_200_failed_tries_a_message_is_given_up(migrated_db: Database, clock: Clock) -> None:
    platform = Platform(*[ConnectionError("still away")] * 200)
    outbox = Outbox(migrated_db)
    outbox.register("matrix", platform.deliver)
    await outbox.enqueue("matrix", "!annonces", {"text": "x"}, "k")
    for _ in range(199):
        await outbox.send_due()
        clock.advance(timedelta(minutes=10))
    assert (await row(migrated_db, "k")).attempts == 199
    await outbox.send_due()  # the 200th failure
    assert await outbox.waiting() == []
    clock.advance(timedelta(days=2))
    assert await outbox.send_due() == 0
    assert len(platform.tries) == 200 and platform.sent == []


async def test_a_message_waits_untried_for_its_platform_and_goes_once_it_connects(
    migrated_db: Database, clock: Clock
) -> None:
    outbox, matrix, slack = Outbox(migrated_db), Platform(), Platform()
    outbox.register("matrix", matrix.deliver)
    await outbox.enqueue("slack", "C-annonces", {"text": "D-3 archivé"}, "for-slack")
    await outbox.enqueue("matrix", "!annonces", {"text": "D-3 archivé"}, "for-matrix")
    assert await outbox.send_due() == 1
    assert [m.dedupe_key for m in await outbox.waiting()] == []  # this process delivers to Matrix only
    clock.advance(timedelta(days=3))
    assert await outbox.send_due() == 0
    waiting = await row(migrated_db, "for-slack")
    assert (waiting.attempts, waiting.last_error) == (0, None)  # never tried, never counted as a failure
    outbox.register("slack", slack.deliver)
    assert [m.dedupe_key for m in await outbox.waiting()] == ["for-slack"]
    assert await outbox.send_due() == 1
    assert slack.sent == [("C-annonces", {"text": "D-3 archivé"})]
    assert matrix.sent == [("!annonces", {"text": "D-3 archivé"})]


async def test_one_round_sends_at_most_its_limit_the_oldest_first(migrated_db: Database, clock: Clock) -> None:
    outbox, platform = Outbox(migrated_db), Platform()
    outbox.register("matrix", platform.deliver)
    for n in range(5):
        await outbox.enqueue("matrix", f"!room{n}", {"n": n}, f"k{n}")
        clock.advance(timedelta(seconds=1))
    assert await outbox.send_due(limit=3) == 3
    assert platform.tries == ["!room0", "!room1", "!room2"]
    assert await outbox.send_due() == 2
    assert await outbox.send_due() == 0


async def test_a_round_sends_50_messages_at_most(migrated_db: Database, clock: Clock) -> None:
    outbox, platform = Outbox(migrated_db), Platform()
    outbox.register("matrix", platform.deliver)
    for n in range(51):
        await outbox.enqueue("matrix", f"!room{n}", {"n": n}, f"k{n}")
    assert await outbox.send_due() == 50
    assert await outbox.send_due() == 1
    assert len(platform.sent) == 51


async def test_the_same_dedupe_key_is_queued_once(migrated_db: Database) -> None:
    outbox, platform = Outbox(migrated_db), Platform()
    outbox.register("matrix", platform.deliver)
    assert await outbox.enqueue("matrix", "!annonces", {"text": "first"}, "announce:D-4") is True
    assert await outbox.enqueue("matrix", "!annonces", {"text": "second"}, "announce:D-4") is False
    assert await outbox.send_due() == 1
    assert platform.sent == [("!annonces", {"text": "first"})]


async def test_the_dispatcher_sends_what_is_queued_without_waiting_for_its_tick_and_stops_when_told(
    migrated_db: Database,
) -> None:
    outbox, platform = Outbox(migrated_db), Platform()
    outbox.register("matrix", platform.deliver)
    stop = asyncio.Event()
    running = asyncio.create_task(outbox.run(stop, interval=3600))  # a tick far away: only a wake sends now
    await outbox.enqueue("matrix", "!annonces", {"text": "first"}, "k1")
    await asyncio.wait_for(platform.arrived.wait(), 10)
    platform.arrived.clear()
    await outbox.enqueue("matrix", "!annonces", {"text": "second"}, "k2")  # queued once the dispatcher waits
    await asyncio.wait_for(platform.arrived.wait(), 10)
    assert platform.sent == [("!annonces", {"text": "first"}), ("!annonces", {"text": "second"})]
    stop.set()
    await asyncio.wait_for(running, 10)


async def test_the_dispatcher_goes_on_after_a_round_that_failed(
    migrated_db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    outbox, platform = Outbox(migrated_db), Platform()
    outbox.register("matrix", platform.deliver)
    rounds = 0
    send_due = outbox.send_due

    async def flaky(limit: int = 50) -> int:
        nonlocal rounds
        rounds += 1
        if rounds == 1:
            raise RuntimeError("database away")
        return await send_due(limit)

    outbox.send_due = flaky  # type: ignore[method-assign]
    stop = asyncio.Event()
    with caplog.at_level(logging.ERROR, logger="bot.outbox"):
        running = asyncio.create_task(outbox.run(stop, interval=3600))
        await outbox.enqueue("matrix", "!annonces", {"text": "x"}, "k")
        await asyncio.wait_for(platform.arrived.wait(), 10)
        stop.set()
        await asyncio.wait_for(running, 10)
    assert rounds >= 2 and platform.sent == [("!annonces", {"text": "x"})]
    assert "outbox round failed" in caplog.messages
