"""The directory of ODPE contacts, by département, in the order they are shown (position 1, 2, …)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import delete, select

from storage.models import Contact
from storage.repositories.base import Repository

CONTACT_FIELDS: tuple[str, ...] = ("name", "role", "email", "phone", "organisation", "address")


def contact_values(values: Mapping[str, str | None]) -> dict[str, str | None]:
    """Checked contact fields; blank values become None, so "" and a missing field read the same."""
    unknown = set(values) - set(CONTACT_FIELDS)
    if unknown:
        raise ValueError(f"unknown contact fields: {', '.join(sorted(unknown))}")
    cleaned: dict[str, str | None] = {}
    for field, value in values.items():
        text = value.strip() if value is not None else ""
        cleaned[field] = text or None
    return cleaned


class DirectoryRepository(Repository):
    async def contacts(self, code: str) -> list[Contact]:
        statement = select(Contact).where(Contact.department == code).order_by(Contact.position, Contact.id)
        return list(await self.session.scalars(statement))

    async def for_departments(self, codes: Sequence[str]) -> dict[str, list[Contact]]:
        """Every code asked for, in that order, with its contacts by position (an empty list when none)."""
        found: dict[str, list[Contact]] = {code: [] for code in codes}
        if not found:
            return found
        statement = (
            select(Contact)
            .where(Contact.department.in_(list(found)))
            .order_by(Contact.department, Contact.position, Contact.id)
        )
        for contact in await self.session.scalars(statement):
            found[contact.department].append(contact)
        return found

    async def update_primary(self, code: str, changes: Mapping[str, str | None], actor: str) -> Contact:
        """Change some fields of the first contact of `code` (None empties one); creates it if none."""
        contacts = await self.contacts(code)
        if not contacts:
            return await self.add(code, changes, actor)
        primary = contacts[0]
        for field, value in contact_values(changes).items():
            setattr(primary, field, value)
        primary.updated_by = actor
        primary.updated_at = self.now()
        await self.session.flush()
        return primary

    async def add(self, code: str, values: Mapping[str, str | None], actor: str) -> Contact:
        """A new contact after the existing ones of `code`."""
        contacts = await self.contacts(code)
        position = contacts[-1].position + 1 if contacts else 1
        contact = Contact(department=code, position=position, updated_by=actor, **contact_values(values))
        self.session.add(contact)
        await self.session.flush()
        return contact

    async def remove(self, code: str, position: int) -> bool:
        """Remove contact n° `position` of `code` and close the gap; False when there is no such contact."""
        contacts = await self.contacts(code)
        target = next((contact for contact in contacts if contact.position == position), None)
        if target is None:
            return False
        await self.session.delete(target)
        # Positions stay 1..n so that the number people see is the number they type.
        remaining = [contact for contact in contacts if contact is not target]
        for new_position, contact in enumerate(remaining, start=1):
            if contact.position != new_position:
                contact.position = new_position
        await self.session.flush()
        return True

    async def replace(self, rows: Sequence[Mapping[str, str | None]], actor: str) -> int:
        """Import: each département in `rows` gets exactly its rows, in order; others are left alone.

        A row is {"department": code, and any of CONTACT_FIELDS}. Returns the number of contacts written.
        """
        by_department: dict[str, list[dict[str, str | None]]] = {}
        for index, row in enumerate(rows, start=1):
            values = dict(row)
            code = (values.pop("department", None) or "").strip()
            if not code:
                raise ValueError(f"row {index} has no department")
            by_department.setdefault(code, []).append(contact_values(values))
        if not by_department:
            return 0
        await self.session.execute(
            delete(Contact)
            .where(Contact.department.in_(list(by_department)))
            .execution_options(synchronize_session="fetch")
        )
        now = self.now()
        for code, contacts in by_department.items():
            for position, values in enumerate(contacts, start=1):
                self.session.add(
                    Contact(department=code, position=position, updated_by=actor, updated_at=now, **values)
                )
        await self.session.flush()
        return sum(len(contacts) for contacts in by_department.values())
