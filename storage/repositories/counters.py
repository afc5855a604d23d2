"""Sequences of readable numbers (D-n, P-n, Q-n, E-n), one named counter per sequence."""

from __future__ import annotations

from storage.models import Counter
from storage.repositories.base import Repository


class CounterRepository(Repository):
    async def next(self, name: str) -> int:
        """The next number of `name`, from 1; two transactions never get the same one.

        A single upsert, so the row is locked from the read to the write; it stays locked until the
        caller commits, which keeps numbers without gaps when the caller rolls back.
        """
        return (await self.take(name, 1))[0]

    async def take(self, name: str, count: int) -> range:
        """The next `count` numbers of `name` at once, as `next` gives one."""
        statement = (
            self.insert(Counter)
            .values(name=name, value=count)
            .on_conflict_do_update(index_elements=[Counter.name], set_={"value": Counter.value + count})
            .returning(Counter.value)
        )
        last = (await self.session.execute(statement)).scalar_one()
        return range(last - count + 1, last + 1)
