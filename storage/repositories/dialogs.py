"""The guided dialog in progress for each person (one at most), kept across restarts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import inspect, select
from sqlalchemy.orm.attributes import flag_modified

from storage.models import DialogState, utcnow
from storage.repositories.base import Repository


class DialogRepository(Repository):
    async def get(self, person_id: int) -> DialogState | None:
        return await self.session.scalar(select(DialogState).where(DialogState.person_id == person_id))

    async def save(self, state: DialogState) -> DialogState:
        """Store `state`; a new state replaces the dialog its person had in progress, if any."""
        status = inspect(state)
        if status.transient:
            current = await self.get(state.person_id)
            if current is not None:
                await self.session.delete(current)
                await self.session.flush()
            self.session.add(state)
        elif status.detached:
            state = await self.session.merge(state)
        elif "data" in status.dict:
            # Edits deep inside `data` (a list in a field) are invisible to change tracking.
            flag_modified(state, "data")
        state.updated_at = utcnow()
        await self.session.flush()
        return state

    async def delete(self, person_id: int) -> bool:
        state = await self.get(person_id)
        if state is None:
            return False
        await self.session.delete(state)
        await self.session.flush()
        return True

    async def expired(self, now: datetime) -> list[DialogState]:
        """The dialogs idle past their expiry, the longest expired first."""
        statement = select(DialogState).where(DialogState.expires_at <= now).order_by(DialogState.expires_at)
        return list(await self.session.scalars(statement))
