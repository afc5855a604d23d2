"""The audit trail: entries read back oldest first, and no entry can be changed or removed."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from storage.db import Database
from storage.models import AppendOnlyError, AuditEntry, Base
from storage.repositories import Repos


async def _one_entry(db: Database) -> int:
    async with db.repos() as repos:
        reviewer = await repos.people.get_or_create("matrix", "@relectrice:example.org", "Relectrice")
        entry = await repos.audit.append(
            "D-12",
            "approve",
            actor_id=reviewer.id,
            from_state="claimed",
            to_state="approved",
            detail={"note": "conforme aux critères"},
        )
        return entry.id


async def test_audit_entries_come_back_oldest_first(repos: Repos) -> None:
    await repos.audit.append("D-1", "submit", to_state="submitted")
    await repos.audit.append("P-1", "submit", to_state="submitted")
    await repos.audit.append("D-1", "claim", from_state="submitted", to_state="claimed")
    await repos.audit.append("D-1", "approve", from_state="claimed", to_state="approved", detail={"note": "ok"})
    entries = await repos.audit.for_subject("D-1")
    assert [(e.action, e.from_state, e.to_state) for e in entries] == [
        ("submit", None, "submitted"),
        ("claim", "submitted", "claimed"),
        ("approve", "claimed", "approved"),
    ]
    assert entries[0].actor_id is None
    assert entries[-1].detail == {"note": "ok"}
    assert entries[0].at <= entries[-1].at


async def test_audit_trail_rejects_updates(migrated_db: Database) -> None:
    entry_id = await _one_entry(migrated_db)
    with pytest.raises(AppendOnlyError):
        async with migrated_db.session() as session:
            entry = await session.get(AuditEntry, entry_id)
            assert entry is not None
            entry.to_state = "rejected"
            await session.flush()
    async with migrated_db.repos() as repos:
        assert [e.to_state for e in await repos.audit.for_subject("D-12")] == ["approved"]


async def test_audit_trail_rejects_deletes(migrated_db: Database) -> None:
    entry_id = await _one_entry(migrated_db)
    with pytest.raises(AppendOnlyError):
        async with migrated_db.session() as session:
            entry = await session.get(AuditEntry, entry_id)
            await session.delete(entry)
            await session.flush()
    async with migrated_db.repos() as repos:
        assert len(await repos.audit.for_subject("D-12")) == 1


@pytest.mark.parametrize(
    "statement",
    [
        sa.update(AuditEntry).values(action="forged"),
        sa.delete(AuditEntry),
        sa.update(Base.metadata.tables["audit_entry"]).values(action="forged"),
        sa.delete(Base.metadata.tables["audit_entry"]),
    ],
    ids=["orm-update", "orm-delete", "table-update", "table-delete"],
)
async def test_audit_trail_rejects_bulk_statements(migrated_db: Database, statement: sa.Executable) -> None:
    await _one_entry(migrated_db)
    with pytest.raises(AppendOnlyError):
        async with migrated_db.session() as session:
            await session.execute(statement)
    async with migrated_db.repos() as repos:
        assert [e.action for e in await repos.audit.for_subject("D-12")] == ["approve"]


async def test_reading_an_entry_without_changing_it_is_fine(migrated_db: Database) -> None:
    entry_id = await _one_entry(migrated_db)
    async with migrated_db.session() as session:
        entry = await session.get(AuditEntry, entry_id)
        assert entry is not None
        entry.to_state = entry.to_state  # same value: not a change
        await session.flush()
