"""The ODPE directory: contacts by département in order, edits by admins, and a CSV import that replaces."""

from __future__ import annotations

import pytest

from storage.db import Database
from storage.models import Contact
from storage.repositories import Repos


def _names(contacts: dict[str, list[Contact]]) -> dict[str, list[str | None]]:
    return {code: [c.name for c in found] for code, found in contacts.items()}


async def test_every_code_asked_comes_back_in_order_with_its_contacts(repos: Repos) -> None:
    await repos.directory.add("2A", {"name": "Contact de Corse-du-Sud"}, "admin")
    found = await repos.directory.for_departments(["974", "03", "2A"])
    assert list(found) == ["974", "03", "2A"]
    assert _names(found) == {"974": [], "03": ["Mme Blandine AATAR"], "2A": ["Contact de Corse-du-Sud"]}


async def test_contacts_are_ordered_by_position(repos: Repos) -> None:
    await repos.directory.add("03", {"name": "Deuxième"}, "admin")
    await repos.directory.add("03", {"name": "Troisième"}, "admin")
    contacts = (await repos.directory.for_departments(["03"]))["03"]
    assert [(c.position, c.name) for c in contacts] == [
        (1, "Mme Blandine AATAR"),
        (2, "Deuxième"),
        (3, "Troisième"),
    ]


async def test_update_primary_changes_only_the_given_fields(migrated_db: Database) -> None:
    async with migrated_db.repos() as repos:
        await repos.directory.add("03", {"name": "Deuxième", "phone": "01 02 03 04 05"}, "admin")
        updated = await repos.directory.update_primary(
            "03", {"phone": "04 70 00 00 00", "organisation": None}, "@admin:example.org"
        )
        assert updated.name == "Mme Blandine AATAR"
    async with migrated_db.repos() as repos:
        primary, second = (await repos.directory.for_departments(["03"]))["03"]
        assert (primary.phone, primary.organisation, primary.email) == ("04 70 00 00 00", None, "aatar.b@allier.fr")
        assert primary.updated_by == "@admin:example.org"
        assert second.phone == "01 02 03 04 05"


async def test_update_primary_creates_the_first_contact(repos: Repos) -> None:
    contact = await repos.directory.update_primary("971", {"email": "odpe@cg971.fr"}, "admin")
    assert (contact.department, contact.position, contact.email, contact.name) == ("971", 1, "odpe@cg971.fr", None)
    assert _names(await repos.directory.for_departments(["971"])) == {"971": [None]}


async def test_removing_a_contact_closes_the_gap(repos: Repos) -> None:
    await repos.directory.add("03", {"name": "Deuxième"}, "admin")
    await repos.directory.add("03", {"name": "Troisième"}, "admin")
    assert await repos.directory.remove("03", 2)
    contacts = (await repos.directory.for_departments(["03"]))["03"]
    assert [(c.position, c.name) for c in contacts] == [(1, "Mme Blandine AATAR"), (2, "Troisième")]
    assert not await repos.directory.remove("03", 3)
    assert not await repos.directory.remove("01", 1)


async def test_import_replaces_only_the_departments_it_names(repos: Repos) -> None:
    await repos.directory.add("01", {"name": "Contact de l'Ain"}, "admin")
    written = await repos.directory.replace(
        [
            {"department": "03", "name": "Nouvelle animatrice", "email": "odpe@allier.fr"},
            {"department": "2B", "name": "Contact de Haute-Corse"},
            {"department": "03", "name": "Chargé d'études", "address": "1 avenue Victor Hugo\n03000 Moulins"},
        ],
        "import.csv",
    )
    assert written == 3
    found = await repos.directory.for_departments(["01", "03", "2B"])
    assert _names(found) == {
        "01": ["Contact de l'Ain"],
        "03": ["Nouvelle animatrice", "Chargé d'études"],
        "2B": ["Contact de Haute-Corse"],
    }
    assert [c.position for c in found["03"]] == [1, 2]
    assert {c.updated_by for c in found["03"]} == {"import.csv"}
    assert found["03"][1].address == "1 avenue Victor Hugo\n03000 Moulins"


async def test_import_of_nothing_changes_nothing(repos: Repos) -> None:
    assert await repos.directory.replace([], "import.csv") == 0
    assert _names(await repos.directory.for_departments(["03"])) == {"03": ["Mme Blandine AATAR"]}


async def test_blank_values_are_stored_as_missing(repos: Repos) -> None:
    contact = await repos.directory.add("01", {"name": "  Contact  ", "phone": "", "email": "   "}, "admin")
    assert (contact.name, contact.phone, contact.email) == ("Contact", None, None)


@pytest.mark.parametrize(
    "call",
    ["add", "update_primary", "replace-unknown-field", "replace-no-department"],
)
async def test_unknown_fields_and_rows_without_department_are_refused(repos: Repos, call: str) -> None:
    with pytest.raises(ValueError):
        if call == "add":
            await repos.directory.add("03", {"name": "X", "fax": "01"}, "admin")
        elif call == "update_primary":
            await repos.directory.update_primary("03", {"fax": "01"}, "admin")
        elif call == "replace-unknown-field":
            await repos.directory.replace([{"department": "03", "nom": "X"}], "import.csv")
        else:
            await repos.directory.replace([{"name": "X"}], "import.csv")
    assert _names(await repos.directory.for_departments(["03"])) == {"03": ["Mme Blandine AATAR"]}
