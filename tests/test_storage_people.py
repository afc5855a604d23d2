"""People: found or created on first contact (even two at once), with department, language and roles."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa

from storage.db import Database
from storage.models import Person
from storage.repositories import Repos


async def test_first_contact_creates_a_person_with_bot_defaults(repos: Repos) -> None:
    person = await repos.people.get_or_create("matrix", "@referente:example.org", "Référente 03")
    assert person.id is not None
    assert (person.platform, person.platform_user_id, person.display_name) == (
        "matrix",
        "@referente:example.org",
        "Référente 03",
    )
    assert (person.department, person.language, person.roles) == (None, None, [])
    assert person.created_at.tzinfo is not None


async def test_the_same_account_is_the_same_person_with_its_new_name(migrated_db: Database) -> None:
    async with migrated_db.repos() as repos:
        first = await repos.people.get_or_create("slack", "U123", "Ancien nom")
    async with migrated_db.repos() as repos:
        again = await repos.people.get_or_create("slack", "U123", "Nouveau nom")
        assert again.id == first.id
    async with migrated_db.repos() as repos:
        stored = await repos.people.get(first.id)
        assert stored is not None
        assert stored.display_name == "Nouveau nom"


async def test_the_same_user_id_on_another_platform_is_another_person(repos: Repos) -> None:
    on_slack = await repos.people.get_or_create("slack", "alice", "Alice")
    on_console = await repos.people.get_or_create("console", "alice", "Alice")
    assert on_slack.id != on_console.id


async def test_simultaneous_first_contacts_make_one_person(migrated_db: Database) -> None:
    async def first_contact() -> int:
        async with migrated_db.repos() as repos:
            person = await repos.people.get_or_create("matrix", "@nouvelle:example.org", "Nouvelle")
            await asyncio.sleep(0)  # let the others reach their insert while this one is uncommitted
            return person.id

    ids = await asyncio.gather(*(first_contact() for _ in range(5)))
    assert len(set(ids)) == 1
    async with migrated_db.session() as session:
        count = await session.scalar(
            sa.select(sa.func.count()).select_from(Person).where(Person.platform_user_id == "@nouvelle:example.org")
        )
    assert count == 1


async def test_department_and_language_are_kept(migrated_db: Database) -> None:
    async with migrated_db.repos() as repos:
        person = await repos.people.get_or_create("console", "camille", "Camille")
        await repos.people.set_department(person, "2A")
        await repos.people.set_language(person, "en")
    async with migrated_db.repos() as repos:
        stored = await repos.people.get(person.id)
        assert stored is not None
        assert (stored.department, stored.language) == ("2A", "en")
        await repos.people.set_department(stored, None)
        await repos.people.set_language(stored, None)
    async with migrated_db.repos() as repos:
        stored = await repos.people.get(person.id)
        assert stored is not None
        assert (stored.department, stored.language) == (None, None)


async def test_roles_are_added_once_and_removed(migrated_db: Database) -> None:
    async with migrated_db.repos() as repos:
        person = await repos.people.get_or_create("matrix", "@onpe:example.org", "ONPE")
        await repos.people.add_role(person, "reviewer")
        await repos.people.add_role(person, "admin")
        await repos.people.add_role(person, "reviewer")
    async with migrated_db.repos() as repos:
        stored = await repos.people.get(person.id)
        assert stored is not None
        assert stored.roles == ["reviewer", "admin"]
        await repos.people.remove_role(stored, "reviewer")
        await repos.people.remove_role(stored, "absent")
    async with migrated_db.repos() as repos:
        stored = await repos.people.get(person.id)
        assert stored is not None
        assert stored.roles == ["admin"]


async def test_roles_edited_in_place_are_saved_too(migrated_db: Database) -> None:
    async with migrated_db.repos() as repos:
        person = await repos.people.get_or_create("matrix", "@onpe:example.org", "ONPE")
        person.roles.append("reviewer")
    async with migrated_db.repos() as repos:
        stored = await repos.people.get(person.id)
        assert stored is not None
        assert stored.roles == ["reviewer"]


async def test_an_account_without_display_name_is_named_by_its_id(repos: Repos) -> None:
    person = await repos.people.get_or_create("slack", "U999", None)
    assert person.display_name == "U999"
    again = await repos.people.get_or_create("slack", "U999", "")
    assert again.display_name == "U999"
