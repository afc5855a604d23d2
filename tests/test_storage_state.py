"""Bot state: readable-number counters, handled events, key-value pairs, the outbox and dialogs in progress."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from storage.db import Database
from storage.models import DialogState
from storage.repositories import Repos

NOW = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)


async def test_counters_start_at_one_and_count_per_name(repos: Repos) -> None:
    assert [await repos.counters.next("document") for _ in range(3)] == [1, 2, 3]
    assert await repos.counters.next("practice") == 1
    assert await repos.counters.next("document") == 4


async def test_counter_never_repeats_under_concurrency(migrated_db: Database) -> None:
    async def worker() -> list[int]:
        taken = []
        for _ in range(15):
            async with migrated_db.repos() as repos:
                taken.append(await repos.counters.next("document"))
                await asyncio.sleep(0)  # the others run while this number is uncommitted
        return taken

    results = await asyncio.gather(*(worker() for _ in range(4)))
    numbers = [number for taken in results for number in taken]
    assert sorted(numbers) == list(range(1, 61))


async def test_a_number_given_in_a_rolled_back_transaction_is_given_again(migrated_db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with migrated_db.repos() as repos:
            assert await repos.counters.next("question") == 1
            raise RuntimeError("the question could not be saved")
    async with migrated_db.repos() as repos:
        assert await repos.counters.next("question") == 1


async def test_processed_event_marked_once(migrated_db: Database) -> None:
    async with migrated_db.repos() as repos:
        assert await repos.processed.mark("matrix", "$event1")
        assert not await repos.processed.mark("matrix", "$event1")
    async with migrated_db.repos() as repos:
        assert not await repos.processed.mark("matrix", "$event1")
        assert await repos.processed.mark("slack", "$event1")
        assert await repos.processed.mark("matrix", "$event2")


async def test_simultaneous_deliveries_of_one_event_let_one_through(migrated_db: Database) -> None:
    async def deliver() -> bool:
        async with migrated_db.repos() as repos:
            fresh = await repos.processed.mark("slack", "Ev0123")
            await asyncio.sleep(0)
            return fresh

    assert sorted(await asyncio.gather(*(deliver() for _ in range(4)))) == [False, False, False, True]


async def test_pruning_forgets_only_old_events(migrated_db: Database) -> None:
    async with migrated_db.repos() as repos:
        assert await repos.processed.mark("matrix", "$old")
    cutoff = migrated_db.clock.now() + timedelta(seconds=1)
    async with migrated_db.repos() as repos:
        assert await repos.processed.prune(cutoff - timedelta(days=1)) == 0
        assert await repos.processed.prune(cutoff) == 1
        assert await repos.processed.mark("matrix", "$old")


async def test_pruning_key_values_forgets_only_old_keys_of_the_prefix(migrated_db: Database) -> None:
    async with migrated_db.repos() as repos:
        await repos.kv.set("slack:delivered:1:0", True)
        await repos.kv.set("slack_delivered_x", True)  # `_` is no wildcard
        await repos.kv.set("matrix.next_batch", "s1")
    cutoff = migrated_db.clock.now() + timedelta(seconds=1)
    async with migrated_db.repos() as repos:
        assert await repos.kv.prune("slack:delivered:", cutoff - timedelta(days=1)) == 0
        assert await repos.kv.prune("slack:delivered:", cutoff) == 1
        assert await repos.kv.get("slack:delivered:1:0") is None
        assert await repos.kv.get("slack_delivered_x") and await repos.kv.get("matrix.next_batch") == "s1"


async def test_key_values_default_then_hold_the_last_value(migrated_db: Database) -> None:
    async with migrated_db.repos() as repos:
        assert await repos.kv.get("matrix.next_batch") is None
        assert await repos.kv.get("matrix.next_batch", "s0") == "s0"
        await repos.kv.set("matrix.next_batch", "s1_2_3")
        await repos.kv.set("digest", {"last": "2025-03-10", "items": ["D-1", "P-2"]})
        await repos.kv.set("matrix.next_batch", "s4_5_6")
        assert await repos.kv.get("matrix.next_batch") == "s4_5_6"
    async with migrated_db.repos() as repos:
        assert await repos.kv.get("matrix.next_batch") == "s4_5_6"
        assert await repos.kv.get("digest") == {"last": "2025-03-10", "items": ["D-1", "P-2"]}


async def test_outbox_enqueues_once_per_dedupe_key(migrated_db: Database) -> None:
    payload = {"text": "Nouveau document archivé : D-12"}
    async with migrated_db.repos() as repos:
        message = await repos.outbox.enqueue("matrix", "!annonces:example.org", payload, "announce:D-12:!annonces")
        assert message is not None
        assert (message.status, message.attempts, message.payload) == ("pending", 0, payload)
        assert await repos.outbox.enqueue("matrix", "!annonces:example.org", payload, "announce:D-12:!annonces") is None
    async with migrated_db.repos() as repos:
        # After a restart, the same decision replayed still does not announce twice.
        assert await repos.outbox.enqueue("matrix", "!annonces:example.org", payload, "announce:D-12:!annonces") is None
        assert [m.dedupe_key for m in await repos.outbox.due(repos.outbox.now(), 10)] == ["announce:D-12:!annonces"]


async def test_outbox_due_lists_pending_messages_whose_time_has_come(repos: Repos) -> None:
    first = await repos.outbox.enqueue("slack", "C1", {"text": "1"}, "k1")
    second = await repos.outbox.enqueue("slack", "C1", {"text": "2"}, "k2")
    third = await repos.outbox.enqueue("slack", "C1", {"text": "3"}, "k3")
    assert first is not None and second is not None and third is not None
    now = repos.outbox.now()
    await repos.outbox.mark_failed(first.id, "timeout", retry_at=now + timedelta(minutes=5))
    await repos.outbox.mark_sent(third.id, now)
    assert [m.id for m in await repos.outbox.due(now, 10)] == [second.id]
    assert [m.id for m in await repos.outbox.due(now + timedelta(minutes=6), 10)] == [second.id, first.id]
    assert [m.id for m in await repos.outbox.due(now + timedelta(minutes=6), 1)] == [second.id]


async def test_outbox_failures_are_counted_then_given_up(migrated_db: Database) -> None:
    async with migrated_db.repos() as repos:
        message = await repos.outbox.enqueue("matrix", "!r:example.org", {"text": "x"}, "k")
        assert message is not None
        await repos.outbox.mark_failed(message.id, "M_FORBIDDEN", retry_at=NOW)
        await repos.outbox.mark_failed(message.id, "M_FORBIDDEN again", retry_at=None)
    async with migrated_db.repos() as repos:
        stored = await repos.outbox.get(message.id)
        assert stored is not None
        assert (stored.status, stored.attempts, stored.last_error) == ("failed", 2, "M_FORBIDDEN again")
        assert await repos.outbox.due(NOW + timedelta(days=1), 10) == []


async def test_outbox_sent_message_records_when(migrated_db: Database) -> None:
    async with migrated_db.repos() as repos:
        message = await repos.outbox.enqueue("console", "dm", {"text": "x"}, "k")
        assert message is not None
        await repos.outbox.mark_sent(message.id, NOW)
    async with migrated_db.repos() as repos:
        stored = await repos.outbox.get(message.id)
        assert stored is not None
        assert (stored.status, stored.attempts, stored.sent_at) == ("sent", 1, NOW)
        with pytest.raises(LookupError):
            await repos.outbox.mark_sent(stored.id + 1000, NOW)


async def _dialog(repos: Repos, person_id: int, form: str, expires_at: datetime) -> DialogState:
    return await repos.dialogs.save(
        DialogState(
            person_id=person_id,
            form=form,
            step=0,
            data={},
            origin_room="!revue:example.org",
            platform="matrix",
            expires_at=expires_at,
        )
    )


async def test_dialog_state_survives_a_new_session(migrated_db: Database) -> None:
    async with migrated_db.repos() as repos:
        person = await repos.people.get_or_create("matrix", "@referente:example.org", "Référente")
        state = await _dialog(repos, person.id, "document", NOW + timedelta(hours=24))
    async with migrated_db.repos() as repos:
        loaded = await repos.dialogs.get(person.id)
        assert loaded is not None
        loaded.step = 2
        loaded.data["title"] = "Rapport annuel 2024"
        loaded.data.setdefault("keywords", []).append("placement")
        await repos.dialogs.save(loaded)
    async with migrated_db.repos() as repos:
        loaded = await repos.dialogs.get(person.id)
        assert loaded is not None
        assert loaded.id == state.id
        assert (loaded.form, loaded.step) == ("document", 2)
        assert loaded.data == {"title": "Rapport annuel 2024", "keywords": ["placement"]}
        assert loaded.origin_room == "!revue:example.org"


async def test_nested_dialog_data_edits_are_saved(migrated_db: Database) -> None:
    async with migrated_db.repos() as repos:
        person = await repos.people.get_or_create("console", "camille", "Camille")
        await _dialog(repos, person.id, "practice", NOW)
    async with migrated_db.repos() as repos:
        loaded = await repos.dialogs.get(person.id)
        assert loaded is not None
        loaded.data["answers"] = {"scale": "départementale"}
        await repos.dialogs.save(loaded)
    async with migrated_db.repos() as repos:
        loaded = await repos.dialogs.get(person.id)
        assert loaded is not None
        loaded.data["answers"]["theme"] = "santé"
        await repos.dialogs.save(loaded)
    async with migrated_db.repos() as repos:
        loaded = await repos.dialogs.get(person.id)
        assert loaded is not None
        assert loaded.data == {"answers": {"scale": "départementale", "theme": "santé"}}


async def test_a_new_dialog_replaces_the_one_in_progress(repos: Repos) -> None:
    person = await repos.people.get_or_create("console", "camille", "Camille")
    await _dialog(repos, person.id, "document", NOW)
    await _dialog(repos, person.id, "event", NOW)
    loaded = await repos.dialogs.get(person.id)
    assert loaded is not None
    assert loaded.form == "event"


async def test_expired_dialogs_are_listed_and_deleted(repos: Repos) -> None:
    early = await repos.people.get_or_create("console", "early", "Early")
    late = await repos.people.get_or_create("console", "late", "Late")
    await _dialog(repos, early.id, "document", NOW - timedelta(hours=1))
    await _dialog(repos, late.id, "document", NOW + timedelta(hours=1))
    assert [d.person_id for d in await repos.dialogs.expired(NOW)] == [early.id]
    assert await repos.dialogs.delete(early.id)
    assert not await repos.dialogs.delete(early.id)
    assert await repos.dialogs.expired(NOW) == []
    assert await repos.dialogs.get(late.id) is not None


async def test_a_dialog_change_rolled_back_is_not_remembered(migrated_db: Database) -> None:
    async with migrated_db.repos() as repos:
        person = await repos.people.get_or_create("console", "rollback", "Rollback")
        await _dialog(repos, person.id, "document", NOW + timedelta(hours=1))
    with pytest.raises(RuntimeError):
        async with migrated_db.repos() as repos:
            loaded = await repos.dialogs.get(person.id)
            assert loaded is not None
            loaded.step = 7
            await repos.dialogs.save(loaded)
            assert (await repos.dialogs.get(person.id)).step == 7  # type: ignore[union-attr]
            raise RuntimeError("the command failed")
    async with migrated_db.repos() as repos:
        loaded = await repos.dialogs.get(person.id)
        assert loaded is not None and loaded.step == 0


async def test_a_dialog_deleted_elsewhere_is_gone_for_every_session(migrated_db: Database) -> None:
    async with migrated_db.repos() as repos:
        person = await repos.people.get_or_create("console", "gone", "Gone")
        await _dialog(repos, person.id, "document", NOW + timedelta(hours=1))
    async with migrated_db.repos() as repos:
        assert await repos.dialogs.get(person.id) is not None
        assert await repos.dialogs.delete(person.id)
    async with migrated_db.repos() as repos:
        assert await repos.dialogs.get(person.id) is None
