"""The database connection: an async engine, sessions that commit or roll back, and a health check."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from storage.clock import Clock
from storage.models import CLOCK_OPTION
from storage.repositories import Repos
from storage.repositories.base import CLOCK_KEY
from storage.repositories.dialogs import CACHE_KEY, DialogCache

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


class _InlineConnection(aiosqlite.Connection):
    """An aiosqlite connection whose calls run in the event loop's thread once it is open.

    A local SQLite statement takes microseconds; sending it to aiosqlite's thread and waiting to be woken
    costs far more, several times per statement. The sessions of this process already take turns (see
    `Database.session`), so nothing else uses the connection meanwhile. The price: another process writing
    the same file (a CLI import) can hold the loop for up to the busy timeout.
    """

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if self._connection is None:  # opening: aiosqlite's thread creates the connection
            return await super()._execute(fn, *args, **kwargs)
        return fn(*args, **kwargs)


def _inline_sqlite(database: str, **kwargs: Any) -> aiosqlite.Connection:
    kwargs["check_same_thread"] = False  # opened in aiosqlite's thread, used from the loop's
    connection = _InlineConnection(functools.partial(sqlite3.connect, database, **kwargs), iter_chunk_size=64)
    connection._thread.daemon = True
    return connection


class Database:
    """One database for the whole bot: `async with db.session() as session:` is one transaction.

    It holds the app's clock: rows are stamped by it, and repositories read it (`Repository.now`).
    """

    def __init__(self, url: str, *, echo: bool = False, clock: Clock | None = None) -> None:
        self.url = make_url(url)
        self.clock = clock or Clock()
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
            connect_args={"async_creator_fn": _inline_sqlite} if sqlite_file_db else {},
            execution_options={CLOCK_OPTION: self.clock},
        )
        if self.url.get_backend_name() == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _set_sqlite_pragmas)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self.dialog_cache = DialogCache()
        self._turn: contextlib.AbstractAsyncContextManager[Any] = (
            asyncio.Lock() if self.backend == "sqlite" else contextlib.nullcontext()
        )

    @property
    def backend(self) -> str:
        """The engine's name: "sqlite" or "postgresql"."""
        return self.url.get_backend_name()

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session whose work is committed when the block ends normally, rolled back when it raises.

        On SQLite, sessions of this process take turns: SQLite has one writer at a time anyway, and a writer
        kept waiting inside SQLite sleeps in its busy handler (up to 100 ms a try) instead of being woken
        when the other commits. Sessions must not nest, and must not wait on the network.
        """
        async with self._turn, self._sessions() as session:
            session.info[CACHE_KEY] = self.dialog_cache
            session.info[CLOCK_KEY] = self.clock
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
