"""The database connection: an async engine, sessions that commit or roll back, and a health check."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from storage.repositories import Repos

SQLITE_PRAGMAS: tuple[str, ...] = (
    # busy_timeout first: the pragmas after it may have to wait for another connection.
    "PRAGMA busy_timeout=5000",
    "PRAGMA foreign_keys=ON",
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
)


def sqlite_file(url: str | URL) -> Path | None:
    """The file of a SQLite URL, or None for another engine or an in-memory database."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)


def ensure_sqlite_directory(url: str | URL) -> None:
    """Create the directory of a SQLite file, since SQLite creates the file but not its folders."""
    path = sqlite_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)


def _set_sqlite_pragmas(dbapi_connection: Any, connection_record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    try:
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


class Database:
    """One database for the whole bot: `async with db.session() as session:` is one transaction."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = make_url(url)
        ensure_sqlite_directory(self.url)
        # A SQLite file cannot drop a connection the way a server can: pinging it would only cost a round trip.
        # Sessions always end in a commit or a rollback, so the pool's extra rollback on return is a
        # wasted round trip to the SQLite thread.
        sqlite_file_db = self.url.get_backend_name() == "sqlite"
        self.engine: AsyncEngine = create_async_engine(
            self.url,
            echo=echo,
            pool_pre_ping=not sqlite_file_db,
            pool_reset_on_return=None if sqlite_file_db else "rollback",
        )
        if self.url.get_backend_name() == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _set_sqlite_pragmas)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def backend(self) -> str:
        """The engine's name: "sqlite" or "postgresql"."""
        return self.url.get_backend_name()

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session whose work is committed when the block ends normally, rolled back when it raises."""
        async with self._sessions() as session:
            try:
                yield session
            except BaseException:
                await session.rollback()
                raise
            await session.commit()

    @asynccontextmanager
    async def repos(self) -> AsyncIterator[Repos]:
        """`session()`, with the repositories around it."""
        async with self.session() as session:
            yield Repos(session)

    async def ping(self) -> None:
        """Raise if the database cannot run a query (for /healthz)."""
        async with self.engine.connect() as connection:
            await connection.execute(sa.text("SELECT 1"))

    async def close(self) -> None:
        await self.engine.dispose()
