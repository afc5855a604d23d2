"""People who talk to the bot: found or created on first contact, with their department, language and roles."""

from __future__ import annotations

from sqlalchemy import select

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
        person.department = code
        await self.session.flush()

    async def set_language(self, person: Person, language: str | None) -> None:
        person.language = language
        await self.session.flush()

    async def add_role(self, person: Person, role: str) -> None:
        if role not in person.roles:
            person.roles = [*person.roles, role]
            await self.session.flush()

    async def remove_role(self, person: Person, role: str) -> None:
        if role in person.roles:
            person.roles = [r for r in person.roles if r != role]
            await self.session.flush()
