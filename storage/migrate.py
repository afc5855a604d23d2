"""Database migrations (Alembic) driven from code: at start-up, by `odpe-bot db upgrade`, and in tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry, NullPool

from storage.db import ensure_sqlite_directory

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


class MigrationError(RuntimeError):
    """The migrations left the database inconsistent; nothing of them was committed."""


def alembic_config(url: str | None = None, connection: Connection | None = None) -> Config:
    """An Alembic configuration without alembic.ini: the scripts ship inside the package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        # Config options go through configparser, where "%" starts an interpolation (e.g. in passwords).
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise MigrationError(f"no migration scripts in {MIGRATIONS_DIR}")
    return head


def _sqlite_connect(dbapi_connection: Any, connection_record: ConnectionPoolEntry) -> None:
    # The driver's own transaction handling would run each DDL statement outside any transaction;
    # turned off, SQLAlchemy's BEGIN (below) makes a whole upgrade commit or roll back as one.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA busy_timeout=5000")
        # Batch migrations rebuild tables (copy, drop, rename): with foreign keys enforced, dropping a
        # parent table would delete or reject its children. They are checked once at the end instead.
        cursor.execute("PRAGMA foreign_keys=OFF")
    finally:
        cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    # IMMEDIATE takes the write lock at once, rather than failing midway if a running bot writes.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def migration_engine(url: str) -> AsyncEngine:
    """An engine for migrations alone: one connection, and on SQLite transactional DDL."""
    ensure_sqlite_directory(url)
    engine = create_async_engine(url, poolclass=NullPool)
    if make_url(url).get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_connect)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
    return engine


def _check_foreign_keys(connection: Connection) -> None:
    if connection.dialect.name != "sqlite":
        return  # PostgreSQL checks them at every statement
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise MigrationError(f"foreign keys broken after migrating: {broken[:10]}")


def _upgrade(connection: Connection, revision: str) -> None:
    command.upgrade(alembic_config(connection=connection), revision)
    _check_foreign_keys(connection)


def _downgrade(connection: Connection, revision: str) -> None:
    command.downgrade(alembic_config(connection=connection), revision)
    _check_foreign_keys(connection)


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at `url` up to `revision`, in one transaction; safe inside a running loop."""
    engine = migration_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade, revision)
    finally:
        await engine.dispose()


async def downgrade(url: str, revision: str) -> None:
    """Migrate the database at `url` down to `revision` ("base" for an empty database)."""
    engine = migration_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_downgrade, revision)
    finally:
        await engine.dispose()


async def current_revision(url: str) -> str | None:
    """The revision the database is at, None when it was never migrated."""
    engine = migration_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_current)
    finally:
        await engine.dispose()


async def pending(url: str) -> bool:
    """Whether migrations remain to be applied to reach the head revision."""
    return await current_revision(url) != head_revision()
