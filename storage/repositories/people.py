"""People who talk to the bot: found or created on first contact, with their department, language and roles."""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect, select, update
from sqlalchemy.orm.attributes import set_committed_value

from storage.models import Person
from storage.repositories.base import Repository


class PeopleRepository(Repository):
    async def get(self, person_id: int) -> Person | None:
        return await self.session.get(Person, person_id)

    async def find(self, platform: str, platform_user_id: str) -> Person | None:
        statement = select(Person).where(Person.platform == platform, Person.platform_user_id == platform_user_id)
        return await self.session.scalar(statement)

    async def get_or_create(self, platform: str, platform_user_id: str, display_name: str | None) -> Person:
        """The person behind a platform account, created on first contact; keeps the display name current.

        Without a display name (some platforms send none) the account id stands in for it.
        """
        person = await self.find(platform, platform_user_id)
        if person is None:
            # Two first messages at once must not fail on the unique constraint, nor make two people:
            # the loser's insert does nothing and it reads the winner's row.
            statement = (
                self.insert(Person)
                .values(
                    platform=platform,
                    platform_user_id=platform_user_id,
                    display_name=display_name or platform_user_id,
                )
                .on_conflict_do_nothing(index_elements=[Person.platform, Person.platform_user_id])
            )
            await self.session.execute(statement)
            person = await self.find(platform, platform_user_id)
            if person is None:
                raise LookupError(f"{platform}:{platform_user_id} vanished right after its creation")
        if display_name and person.display_name != display_name:
            person.display_name = display_name
            await self.session.flush()
        return person

    async def set_department(self, person: Person, code: str | None) -> None:
        await self._change(person, department=code)

    async def set_language(self, person: Person, language: str | None) -> None:
        await self._change(person, language=language)

    async def add_role(self, person: Person, role: str) -> None:
        if role not in person.roles:
            await self._change(person, roles=[*person.roles, role])

    async def remove_role(self, person: Person, role: str) -> None:
        if role in person.roles:
            await self._change(person, roles=[r for r in person.roles if r != role])

    async def _change(self, person: Person, **values: Any) -> None:
        """Write the change by id and show it on `person`, whether it belongs to this session or is a copy
        kept between messages (the router's people cache), so that both stay true."""
        await self.session.execute(
            update(Person).where(Person.id == person.id).values(**values, updated_at=self.now())
            .execution_options(synchronize_session=False)
        )
        state = inspect(person)
        for name, value in values.items():
            if state.detached or state.transient:
                setattr(person, name, value)
            else:
                set_committed_value(person, name, value)

    async def in_department(self, code: str) -> list[Person]:
        """The people who gave `code` as their département in their profile."""
        return list(await self.session.scalars(select(Person).where(Person.department == code).order_by(Person.id)))
