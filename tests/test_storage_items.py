"""Documents and practices, questions, events, files, FAQ and feed tokens: numbering, lookup, rules."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from storage.db import Database
from storage.ids import ItemKind, ReadableId, parse_readable_id
from storage.models import FeedToken, Person
from storage.repositories import Repos

SHA = hashlib.sha256(b"rapport").hexdigest()


async def _referent(repos: Repos) -> Person:
    return await repos.people.get_or_create("matrix", "@referente:example.org", "Référente 03")


async def test_items_are_numbered_per_kind(repos: Repos) -> None:
    submitter = await _referent(repos)
    kinds: list[ItemKind] = ["document", "document", "practice", "document"]
    made = [
        await repos.items.create(kind, title=f"{kind} {i}", submitter_id=submitter.id) for i, kind in enumerate(kinds)
    ]
    assert [str(item.readable_id) for item in made] == ["D-1", "D-2", "P-1", "D-3"]
    assert all(item.status == "submitted" for item in made)


async def test_item_is_found_by_its_readable_id(migrated_db: Database) -> None:
    fields = {"type": "Rapports ODPE", "mots_clés": ["placement", "santé"], "date": "12/03/2025"}
    async with migrated_db.repos() as repos:
        submitter = await _referent(repos)
        await repos.items.create("practice", title="Une pratique", submitter_id=submitter.id)
        created = await repos.items.create(
            "document", title="Rapport annuel", submitter_id=submitter.id, department="03", fields=fields
        )
    async with migrated_db.repos() as repos:
        found = await repos.items.get(ReadableId("D", 1))
        assert found is not None
        assert (found.id, found.title, found.department, found.fields) == (created.id, "Rapport annuel", "03", fields)
        assert found.featured is False and found.review_ref is None
        assert await repos.items.get(ReadableId("D", 2)) is None
        practice = await repos.items.get(ReadableId("P", 1))
        assert practice is not None and practice.title == "Une pratique"
        with pytest.raises(ValueError):
            await repos.items.get(ReadableId("Q", 1))


async def test_review_ref_is_kept_for_reactions_after_a_restart(migrated_db: Database) -> None:
    async with migrated_db.repos() as repos:
        item = await repos.items.create("document", title="x", submitter_id=(await _referent(repos)).id)
        item.review_ref = {"matrix": {"room_id": "!revue:example.org", "event_id": "$root"}}
    async with migrated_db.repos() as repos:
        found = await repos.items.get(item.readable_id)
        assert found is not None
        assert found.review_ref == {"matrix": {"room_id": "!revue:example.org", "event_id": "$root"}}


async def test_unknown_item_kind_is_refused(repos: Repos) -> None:
    with pytest.raises(ValueError):
        await repos.items.create("question", title="x", submitter_id=(await _referent(repos)).id)  # type: ignore[arg-type]


async def test_transition_happens_only_from_an_allowed_state(repos: Repos) -> None:
    submitter = await _referent(repos)
    item = await repos.items.create("document", title="x", submitter_id=submitter.id)
    assert not await repos.items.transition(item, {"claimed"}, "approved")
    assert item.status == "submitted"
    claimed_at = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)
    assert await repos.items.transition(
        item, {"submitted", "needs_info"}, "claimed", claimed_by_id=submitter.id, claimed_at=claimed_at
    )
    assert (item.status, item.claimed_by_id, item.claimed_at) == ("claimed", submitter.id, claimed_at)


async def test_two_reviewers_claiming_at_once_one_wins(migrated_db: Database) -> None:
    async with migrated_db.repos() as repos:
        item = await repos.items.create("document", title="x", submitter_id=(await _referent(repos)).id)
        reviewers = [
            (await repos.people.get_or_create("matrix", f"@relecteur{n}:example.org", f"R{n}")).id for n in range(4)
        ]

    async def claim(reviewer_id: int) -> bool:
        async with migrated_db.repos() as repos:
            found = await repos.items.get(item.readable_id)
            assert found is not None
            await asyncio.sleep(0)  # everyone has read "submitted" before anyone writes
            won = await repos.items.transition(found, {"submitted"}, "claimed", claimed_by_id=reviewer_id)
            await asyncio.sleep(0)
            return won

    wins = await asyncio.gather(*(claim(r) for r in reviewers))
    assert sorted(wins) == [False, False, False, True]
    async with migrated_db.repos() as repos:
        found = await repos.items.get(item.readable_id)
        assert found is not None
        assert found.claimed_by_id == reviewers[wins.index(True)]


async def test_questions_are_numbered_and_found(repos: Repos) -> None:
    asker = await _referent(repos)
    first = await repos.questions.create(asker.id, "Comment calculer le taux de placement ?")
    second = await repos.questions.create(asker.id, "Où trouver le guide ?")
    assert (str(first.readable_id), str(second.readable_id)) == ("Q-1", "Q-2")
    found = await repos.questions.get(ReadableId("Q", 2))
    assert found is not None
    assert (found.text, found.status, found.helpful) == ("Où trouver le guide ?", "open", None)
    assert await repos.questions.get(ReadableId("Q", 3)) is None
    with pytest.raises(ValueError):
        await repos.questions.get(ReadableId("E", 1))


async def test_events_are_numbered_and_found_by_id_and_uid(repos: Repos) -> None:
    starts = datetime(2025, 5, 20, 8, 0, tzinfo=UTC)
    network = await repos.events.create(title="Journée nationale", starts_at=starts, all_day=True)
    local = await repos.events.create(
        title="Comité ODPE",
        starts_at=starts,
        scope="department",
        department="03",
        uid="abc@external.example",
        source_url="https://example.org/agenda.ics",
    )
    assert (str(network.readable_id), str(local.readable_id)) == ("E-1", "E-2")
    assert network.uid.endswith("@odpe-bot") and network.uid != local.uid
    assert (network.sequence, network.cancelled, network.scope) == (0, False, "network")
    rid = parse_readable_id("e2")
    assert rid is not None
    found = await repos.events.get(rid)
    assert found is not None and found.id == local.id
    by_uid = await repos.events.by_uid("abc@external.example")
    assert by_uid is not None and by_uid.id == local.id


@pytest.mark.parametrize(("scope", "department"), [("department", None), ("planet", None)])
async def test_event_scope_must_make_sense(repos: Repos, scope: str, department: str | None) -> None:
    with pytest.raises(ValueError):
        await repos.events.create(
            title="x", starts_at=datetime(2025, 5, 20, tzinfo=UTC), scope=scope, department=department
        )


async def test_a_file_is_stored_once_per_content(repos: Repos) -> None:
    uploader = await _referent(repos)
    first = await repos.files.add(
        sha256=SHA,
        name="rapport.pdf",
        mime="application/pdf",
        size=1234,
        path=f"{SHA[:2]}/{SHA}",
        uploaded_by_id=uploader.id,
    )
    again = await repos.files.add(
        sha256=SHA.upper(), name="copie.pdf", mime="application/pdf", size=1234, path="elsewhere"
    )
    assert again.id == first.id and again.name == "rapport.pdf"
    found = await repos.files.by_sha256(SHA)
    assert found is not None and found.id == first.id
    assert await repos.files.by_sha256(hashlib.sha256(b"other").hexdigest()) is None
    with pytest.raises(ValueError):
        await repos.files.by_sha256("not-a-digest")


async def test_faq_entries_are_added_listed_and_removed(repos: Repos) -> None:
    asker = await _referent(repos)
    question = await repos.questions.create(asker.id, "Qu'est-ce qu'un ODPE ?")
    entry = await repos.faq.add(
        "Qu'est-ce qu'un ODPE ?", "Un observatoire départemental…", source_question_id=question.id
    )
    other = await repos.faq.add("Et l'ONPE ?", "L'observatoire national…")
    assert [e.id for e in await repos.faq.entries()] == [entry.id, other.id]
    assert await repos.faq.remove(entry.id)
    assert not await repos.faq.remove(entry.id)
    assert [e.question for e in await repos.faq.entries()] == ["Et l'ONPE ?"]


async def test_feed_token_is_stored_hashed(migrated_db: Database) -> None:
    async with migrated_db.repos() as repos:
        person = await _referent(repos)
        raw = await repos.feeds.issue(person.id, "department", "03")
    assert len(raw) >= 43  # 32 random bytes
    async with migrated_db.session() as session:
        rows = (await session.execute(sa.select(FeedToken.__table__))).mappings().all()
    assert len(rows) == 1
    assert rows[0]["token_hash"] == hashlib.sha256(raw.encode()).hexdigest()
    assert all(raw not in str(value) for value in rows[0].values())


async def test_feed_token_resolves_until_revoked(migrated_db: Database) -> None:
    async with migrated_db.repos() as repos:
        person = await _referent(repos)
        network = await repos.feeds.issue(person.id, "network")
        personal = await repos.feeds.issue(person.id, "personal")
        assert network != personal
    async with migrated_db.repos() as repos:
        token = await repos.feeds.resolve(network)
        assert token is not None
        assert (token.person_id, token.scope, token.department) == (person.id, "network", None)
        assert token.last_used_at is not None
        assert await repos.feeds.resolve(network + "x") is None
        assert await repos.feeds.revoke(person.id, "network") == 1
        assert await repos.feeds.revoke(person.id, "network") == 0
    async with migrated_db.repos() as repos:
        assert await repos.feeds.resolve(network) is None
        assert await repos.feeds.resolve(personal) is not None


@pytest.mark.parametrize(("scope", "department"), [("department", None), ("everything", None)])
async def test_feed_scope_must_make_sense(repos: Repos, scope: str, department: str | None) -> None:
    person = await _referent(repos)
    with pytest.raises(ValueError):
        await repos.feeds.issue(person.id, scope, department)
