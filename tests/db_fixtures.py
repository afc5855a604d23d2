"""Database fixtures for the test suite, on SQLite and on PostgreSQL (a pytest plugin).

Enabled by `pytest_plugins = ["tests.db_fixtures"]` in tests/conftest.py. A test that uses any of these
fixtures runs twice, `[sqlite]` and `[postgresql]`. The PostgreSQL variants run only when
ODPE_BOT_TEST_DATABASE_URL names a server (e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/test, a
user allowed to CREATE DATABASE); without it they are skipped. Every database these fixtures make is
new (a file under pytest's temporary directory, or a PostgreSQL database named odpe_test_<hex>) and is
removed at the end of the session.

- `database_server` (session scope, parametrized "sqlite" | "postgresql"): `.backend` is the engine's
  name; `await database_server.create()` makes another empty database and returns its URL (removed at
  the end of the session, or earlier with `await database_server.drop(url)`).
- `database_url` (session scope): the URL of one empty database made for the session. These fixtures
  never migrate it; it is shared by every test that asks for it, so whoever writes to it does so for all.
- `fresh_database_url` (function scope): the URL of a new empty database for this test alone.
- `migrated_db` (function scope): a `storage.db.Database` on a database migrated to head, so with the
  sample Allier contact. The database is made and migrated once per test module; after each test, every
  table is put back to its just-migrated rows (generated-id sequences are not reset: ids keep growing).
  Its clock, the app's, is set to `TEST_START` and runs on from there: a test that needs another day sets it.
- `repos`: a `storage.repositories.Repos` on one session of `migrated_db`, committed after the test
  (rolled back if the test raised).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy.engine import URL, make_url

from storage.db import Database
from storage.migrate import upgrade
from storage.models import Base
from storage.repositories import Repos
from storage.repositories.dialogs import DialogCache
from storage.search import SearchIndex

POSTGRESQL_URL_VARIABLE = "ODPE_BOT_TEST_DATABASE_URL"
BACKENDS = ("sqlite", "postgresql")
# The moment every test starts at unless it sets the clock itself: Tuesday 24/11/2026, 10:00 in Paris, far from a
# change of hour. Tests reckon their dates from it, so that none depends on the day the suite runs.
TEST_START = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


class DatabaseServer:
    """Makes and removes test databases: files in a temporary directory, or databases on a PostgreSQL server."""

    def __init__(self, backend: str, directory: Path | None = None, server_url: URL | None = None) -> None:
        self.backend = backend
        self._directory = directory
        self._server_url = server_url
        self._made: list[str] = []

    async def create(self) -> str:
        name = f"odpe_test_{secrets.token_hex(6)}"
        if self._server_url is None:
            assert self._directory is not None
            url = f"sqlite+aiosqlite:///{self._directory / (name + '.db')}"
        else:
            await self._admin(f'CREATE DATABASE "{name}"')
            url = self._server_url.set(database=name).render_as_string(hide_password=False)
        self._made.append(url)
        return url

    async def drop(self, url: str) -> None:
        if url in self._made:
            self._made.remove(url)
        parsed = make_url(url)
        if self._server_url is None:
            database = Path(parsed.database or "")
            for suffix in ("", "-wal", "-shm", "-journal"):
                database.with_name(database.name + suffix).unlink(missing_ok=True)
        else:
            # FORCE: a test that failed may have left a connection open; it must not keep the database.
            await self._admin(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')

    async def drop_all(self) -> None:
        for url in list(self._made):
            await self.drop(url)

    async def _admin(self, sql: str) -> None:
        assert self._server_url is not None
        dsn = self._server_url.set(drivername="postgresql").render_as_string(hide_password=False)
        connection = await asyncpg.connect(dsn)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()


@pytest.fixture(scope="session", params=BACKENDS)
async def database_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[DatabaseServer]:
    backend: str = request.param
    if backend == "sqlite":
        server = DatabaseServer(backend, directory=tmp_path_factory.mktemp("databases"))
    else:
        raw = os.environ.get(POSTGRESQL_URL_VARIABLE)
        if not raw:
            pytest.skip(
                f"PostgreSQL tests need {POSTGRESQL_URL_VARIABLE}, "
                "e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/test"
            )
        server = DatabaseServer(backend, server_url=make_url(raw))
    try:
        yield server
    finally:
        await server.drop_all()


@pytest.fixture(scope="session")
async def database_url(database_server: DatabaseServer) -> str:
    return await database_server.create()


@pytest.fixture
async def fresh_database_url(database_server: DatabaseServer) -> AsyncIterator[str]:
    url = await database_server.create()
    yield url
    await database_server.drop(url)


Rows = dict[str, list[dict[str, Any]]]


async def _rows(db: Database) -> Rows:
    async with db.engine.connect() as connection:
        return {
            table.name: [dict(row) for row in (await connection.execute(table.select())).mappings()]
            for table in Base.metadata.sorted_tables
        }


async def _restore(db: Database, rows: Rows) -> None:
    # Core statements on a bare connection: the audit trail's append-only guard is a Session event.
    db.dialog_cache = DialogCache()  # what it remembers of the dialogs is gone with them
    async with db.session() as session:
        await SearchIndex(session).clear()  # not a mapped table, but it indexes the rows put back below
    async with db.engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            await connection.execute(table.delete())
        for table in Base.metadata.sorted_tables:
            if rows[table.name]:
                await connection.execute(table.insert(), rows[table.name])


@pytest.fixture(scope="module")
async def _module_database(database_server: DatabaseServer) -> AsyncIterator[tuple[Database, Rows]]:
    url = await database_server.create()
    await upgrade(url)
    db = Database(url)
    try:
        yield db, await _rows(db)
    finally:
        await db.close()
        await database_server.drop(url)


@pytest.fixture
async def migrated_db(_module_database: tuple[Database, Rows]) -> AsyncIterator[Database]:
    db, migrated_rows = _module_database
    db.clock.set(TEST_START)
    yield db
    await _restore(db, migrated_rows)


@pytest.fixture
async def repos(migrated_db: Database) -> AsyncIterator[Repos]:
    async with migrated_db.session() as session:
        yield Repos(session)
