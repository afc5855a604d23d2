"""Alembic environment: runs the migrations on the connection that storage.migrate hands over."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from storage.migrate import migration_engine
from storage.models import Base

config = context.config


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite alters tables by rebuilding them: batch mode does that behind `op.alter_column` & co.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_on_own_engine(url: str) -> None:
    engine = migration_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(run_migrations)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("odpe-bot migrations run against a database: use `odpe-bot db upgrade`")

given = config.attributes.get("connection")
if given is not None:
    run_migrations(given)
else:
    # Only when Alembic's own command line is used, with sqlalchemy.url in its ini file.
    asyncio.run(run_on_own_engine(config.get_main_option("sqlalchemy.url") or ""))
