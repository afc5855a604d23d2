"""The Database wrapper: SQLite pragmas, commit and rollback, health check, foreign keys and UTC datetimes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, IntegrityError, StatementError

from storage.db import Database
from storage.models import Event, Item
from storage.repositories import Repos


async def test_sqlite_file_gets_its_directory_and_pragmas(tmp_path: Path) -> None:
    path = tmp_path / "not" / "yet" / "there" / "bot.db"
    db = Database(f"sqlite+aiosqlite:///{path}")
    try:
        assert path.parent.is_dir()
        async with db.engine.connect() as connection:
            values = {
                pragma: (await connection.exec_driver_sql(f"PRAGMA {pragma}")).scalar()
                for pragma in ("foreign_keys", "journal_mode", "busy_timeout", "synchronous")
            }
        assert values == {"foreign_keys": 1, "journal_mode": "wal", "busy_timeout": 5000, "synchronous": 1}
    finally:
        await db.close()


async def test_session_commits_when_the_block_ends(migrated_db: Database) -> None:
    async with migrated_db.session() as session:
        await Repos(session).kv.set("greeting", {"fr": "bonjour"})
    async with migrated_db.session() as session:
        assert await Repos(session).kv.get("greeting") == {"fr": "bonjour"}


async def test_session_rolls_back_when_the_block_raises(migrated_db: Database) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        async with migrated_db.session() as session:
            await Repos(session).kv.set("greeting", "bonjour")
            raise RuntimeError("boom")
    async with migrated_db.session() as session:
        assert await Repos(session).kv.get("greeting", "absent") == "absent"


async def test_repos_shortcut_shares_one_transaction(migrated_db: Database) -> None:
    async with migrated_db.repos() as repos:
        await repos.kv.set("a", 1)
        assert await repos.kv.get("a") == 1
    async with migrated_db.repos() as repos:
        assert await repos.kv.get("a") == 1


async def test_ping_succeeds_on_a_live_database(migrated_db: Database) -> None:
    await migrated_db.ping()


@pytest.mark.parametrize("where", ["postgresql server not listening", "sqlite file that is a directory"])
async def test_ping_raises_when_the_database_is_unreachable(where: str, tmp_path: Path) -> None:
    if where.startswith("postgresql"):
        url = "postgresql+asyncpg://postgres@127.0.0.1:9/nothing"  # port 9: discard, nobody listens
    else:
        url = f"sqlite+aiosqlite:///{tmp_path}"
    db = Database(url)
    try:
        with pytest.raises((OSError, DBAPIError)):
            await db.ping()
    finally:
        await db.close()


async def test_foreign_keys_are_enforced(migrated_db: Database) -> None:
    with pytest.raises(IntegrityError):
        async with migrated_db.session() as session:
            session.add(Item(kind="document", number=1, status="submitted", title="x", submitter_id=987654))
            await session.flush()


async def test_datetimes_come_back_as_the_same_instant_in_utc(migrated_db: Database) -> None:
    paris_summer = timezone(timedelta(hours=2))
    starts = datetime(2025, 6, 12, 14, 30, tzinfo=paris_summer)
    async with migrated_db.repos() as repos:
        event = await repos.events.create(title="Réunion du réseau", starts_at=starts)
        event_id = event.id
    async with migrated_db.session() as session:
        stored = await session.get(Event, event_id)
        assert stored is not None
        assert stored.starts_at == starts
        assert stored.starts_at.utcoffset() == timedelta(0)
        assert stored.starts_at.hour == 12


async def test_datetimes_compare_as_instants_whatever_their_zone(migrated_db: Database) -> None:
    async with migrated_db.repos() as repos:
        await repos.events.create(title="à midi UTC", starts_at=datetime(2025, 6, 12, 12, 0, tzinfo=UTC))
    later_in_paris = datetime(2025, 6, 12, 13, 30, tzinfo=timezone(timedelta(hours=2)))  # 11:30 UTC
    async with migrated_db.session() as session:
        found = (await session.scalars(sa.select(Event).where(Event.starts_at > later_in_paris))).all()
        assert [event.title for event in found] == ["à midi UTC"]


async def test_naive_datetimes_are_refused(migrated_db: Database) -> None:
    with pytest.raises(StatementError, match="naive datetime"):
        async with migrated_db.repos() as repos:
            await repos.events.create(title="quand ?", starts_at=datetime(2025, 6, 12, 14, 30))
