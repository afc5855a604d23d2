"""Migrations: reach head from nothing, match the models exactly, ship the sample contact, go down and up."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from storage import migrate
from storage.db import Database
from storage.models import Base
from storage.repositories import Repos
from storage.search import is_search_table

ALLIER = {
    "department": "03",
    "position": 1,
    "name": "Mme Blandine AATAR",
    "role": "animatrice de l'ODPE",
    "email": "aatar.b@allier.fr",
    "phone": "04 70 34 15 30",
    "organisation": "Conseil départemental de l'Allier",
    "address": "1 avenue Victor Hugo\n03000 Moulins",
}


async def _schema_differences(url: str, metadata: sa.MetaData) -> list[Any]:
    def compare(connection: Connection) -> list[Any]:
        # The search index's tables (FTS5 on SQLite) are not models: migration 0003 alone defines them.
        def include_name(name: str | None, type_: str, parent_names: object) -> bool:
            return not (type_ == "table" and name is not None and is_search_table(name))

        opts = {"compare_type": True, "include_name": include_name}
        context = MigrationContext.configure(connection, opts=opts)
        return list(compare_metadata(context, metadata))

    db = Database(url)
    try:
        async with db.engine.connect() as connection:
            return await connection.run_sync(compare)
    finally:
        await db.close()


async def _tables(url: str) -> set[str]:
    db = Database(url)
    try:
        async with db.engine.connect() as connection:
            return set(await connection.run_sync(lambda sync: sa.inspect(sync).get_table_names()))
    finally:
        await db.close()


async def _allier_contacts(url: str) -> int:
    db = Database(url)
    try:
        async with db.repos() as repos:
            return len((await repos.directory.for_departments(["03"]))["03"])
    finally:
        await db.close()


def test_head_is_the_last_migration_script() -> None:
    assert migrate.head_revision() == "0004"


async def test_migrations_reach_head_on_a_fresh_database(fresh_database_url: str) -> None:
    # Awaited from a running event loop, as `odpe-bot run` does before starting the bot.
    assert await migrate.current_revision(fresh_database_url) is None
    assert await migrate.pending(fresh_database_url)
    await migrate.upgrade(fresh_database_url)
    assert await migrate.current_revision(fresh_database_url) == migrate.head_revision()
    assert not await migrate.pending(fresh_database_url)
    tables = await _tables(fresh_database_url)
    assert {t for t in tables if not is_search_table(t)} == {*Base.metadata.tables, "alembic_version"}
    assert "search_entry" in tables


async def test_schema_matches_models(fresh_database_url: str) -> None:
    await migrate.upgrade(fresh_database_url)
    assert await _schema_differences(fresh_database_url, Base.metadata) == []


async def test_schema_comparison_notices_a_column_the_migrations_lack(fresh_database_url: str) -> None:
    await migrate.upgrade(fresh_database_url)
    drifted = sa.MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.sorted_tables:
        table.to_metadata(drifted)
    drifted.tables["person"].append_column(sa.Column("nickname", sa.String(), nullable=True))
    differences = await _schema_differences(fresh_database_url, drifted)
    assert [(d[0], d[2], d[3].name) for d in differences] == [("add_column", "person", "nickname")]


async def test_sample_allier_contact_is_shipped(repos: Repos) -> None:
    contacts = (await repos.directory.for_departments(["03"]))["03"]
    assert len(contacts) == 1
    assert {field: getattr(contacts[0], field) for field in ALLIER} == ALLIER


async def test_upgrading_twice_changes_nothing(fresh_database_url: str) -> None:
    await migrate.upgrade(fresh_database_url)
    await migrate.upgrade(fresh_database_url)
    assert await _allier_contacts(fresh_database_url) == 1


async def test_downgrading_the_sample_removes_only_it(fresh_database_url: str) -> None:
    await migrate.upgrade(fresh_database_url)
    db = Database(fresh_database_url)
    try:
        async with db.repos() as repos:
            await repos.directory.add("01", {"name": "Contact de l'Ain"}, "test")
    finally:
        await db.close()
    await migrate.downgrade(fresh_database_url, "0001")
    assert await migrate.current_revision(fresh_database_url) == "0001"
    assert await _allier_contacts(fresh_database_url) == 0
    db = Database(fresh_database_url)
    try:
        async with db.repos() as repos:
            assert [c.name for c in (await repos.directory.for_departments(["01"]))["01"]] == ["Contact de l'Ain"]
    finally:
        await db.close()
    await migrate.upgrade(fresh_database_url)
    assert await _allier_contacts(fresh_database_url) == 1


async def test_migrations_go_down_to_nothing_and_up_again(fresh_database_url: str) -> None:
    await migrate.upgrade(fresh_database_url)
    await migrate.downgrade(fresh_database_url, "base")
    assert await migrate.current_revision(fresh_database_url) is None
    assert await _tables(fresh_database_url) <= {"alembic_version"}
    await migrate.upgrade(fresh_database_url)
    assert await _schema_differences(fresh_database_url, Base.metadata) == []
