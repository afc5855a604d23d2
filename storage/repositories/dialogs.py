"""The guided dialog in progress for each person (one at most), kept across restarts.

Every answer to a dialog reads and writes this row, so the process keeps a copy of each person's dialog:
reads come from it, and it learns each change only once its transaction has committed (a rollback leaves
it as it was). It assumes one bot process per database, as the bot is run.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, event, insert, select, update
from sqlalchemy.orm import Session

from storage.models import DialogState
from storage.repositories.base import Repository

CACHE_KEY = "dialog_cache"
PENDING_KEY = "dialog_pending"


@dataclass
class Dialog:
    """A snapshot of a dialog_state row; changed by the engine, then given back to `save`."""

    person_id: int
    form: str
    step: int
    data: dict[str, Any]
    origin_room: str
    platform: str
    expires_at: datetime
    started_at: datetime
    updated_at: datetime | None = None  # set by `save`
    id: int | None = None

    def copy(self) -> Dialog:
        return copy.deepcopy(self)


_COLUMNS = ("person_id", "form", "step", "data", "origin_room", "platform", "expires_at", "started_at",
            "updated_at", "id")


_TABLE = cast(Table, DialogState.__table__)
# Plain rows, not mapped objects: the engine works on snapshots, and this runs for every answer.
_SELECT = select(*(_TABLE.c[name] for name in _COLUMNS))
_SELECT_ONE = _SELECT.where(_TABLE.c.person_id == bindparam("person"))
_UPDATE = update(_TABLE).where(_TABLE.c.id == bindparam("dialog_id"))


def _snapshot(row: Any) -> Dialog:
    return Dialog(**{name: getattr(row, name) for name in _COLUMNS})


class DialogCache:
    """Committed dialogs by person (None: known to have none)."""

    def __init__(self, size: int = 20_000) -> None:
        self.size = size
        self._dialogs: dict[int, Dialog | None] = {}
        self._versions: dict[int, int] = {}

    def get(self, person_id: int) -> tuple[bool, Dialog | None]:
        if person_id in self._dialogs:
            found = self._dialogs[person_id]
            return True, found.copy() if found else None
        return False, None

    def version(self, person_id: int) -> int:
        return self._versions.get(person_id, 0)

    def remember(self, person_id: int, dialog: Dialog | None, read_at_version: int) -> None:
        """What a read found, unless a commit changed the dialog meanwhile."""
        if self.version(person_id) == read_at_version:
            self._store(person_id, dialog)

    def commit(self, changes: dict[int, Dialog | None]) -> None:
        for person_id, dialog in changes.items():
            self._versions[person_id] = self.version(person_id) + 1
            self._store(person_id, dialog)

    def _store(self, person_id: int, dialog: Dialog | None) -> None:
        if len(self._dialogs) >= self.size and person_id not in self._dialogs:
            self._dialogs.clear()  # rare; simpler than LRU bookkeeping on every answer
        self._dialogs[person_id] = dialog.copy() if dialog else None


@event.listens_for(Session, "after_commit")
def _publish(session: Session) -> None:
    changes = session.info.pop(PENDING_KEY, None)
    cache = session.info.get(CACHE_KEY)
    if changes and cache is not None:
        cache.commit(changes)


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(PENDING_KEY, None)


class DialogRepository(Repository):
    @property
    def _cache(self) -> DialogCache | None:
        return self.session.info.get(CACHE_KEY)  # type: ignore[no-any-return]

    def _pending(self) -> dict[int, Dialog | None]:
        return self.session.info.setdefault(PENDING_KEY, {})  # type: ignore[no-any-return]

    async def get(self, person_id: int) -> Dialog | None:
        pending = self.session.info.get(PENDING_KEY, {})
        if person_id in pending:
            found = pending[person_id]
            return found.copy() if found else None
        cache = self._cache
        if cache is not None:
            known, dialog = cache.get(person_id)
            if known:
                return dialog
        version = cache.version(person_id) if cache is not None else 0
        connection = await self.session.connection()
        row = (await connection.execute(_SELECT_ONE, {"person": person_id})).first()
        dialog = _snapshot(row) if row is not None else None
        if cache is not None:
            cache.remember(person_id, dialog, version)
        return dialog

    async def save(self, state: Any) -> Dialog:
        """Store `state` (a Dialog, or any object with its fields); a new one replaces the dialog the person had."""
        dialog = state if isinstance(state, Dialog) else _snapshot_of_new(state, self.now())
        dialog.updated_at = self.now()
        values = {name: getattr(dialog, name) for name in _COLUMNS if name != "id"}
        if dialog.id is None:
            await self.session.execute(delete(DialogState).where(DialogState.person_id == dialog.person_id))
            result = await self.session.execute(insert(DialogState).values(**values).returning(DialogState.id))
            dialog.id = result.scalar_one()
        else:
            # One prepared statement with parameters: compiled once, not rebuilt for every answer.
            connection = await self.session.connection()  # Core, past the ORM's execution machinery
            await connection.execute(_UPDATE, {**values, "dialog_id": dialog.id})
        self._pending()[dialog.person_id] = dialog.copy()
        return dialog

    async def delete(self, person_id: int) -> bool:
        result = await self.session.execute(delete(DialogState).where(DialogState.person_id == person_id))
        self._pending()[person_id] = None
        return bool(getattr(result, "rowcount", 0))

    async def expired(self, now: datetime) -> list[Dialog]:
        """The dialogs idle past their expiry, the longest expired first."""
        statement = _SELECT.where(_TABLE.c.expires_at <= now).order_by(_TABLE.c.expires_at)
        return [_snapshot(row) for row in await self.session.execute(statement)]


def _snapshot_of_new(state: Any, now: datetime) -> Dialog:
    """A Dialog from another object with the same fields (e.g. a DialogState built by hand)."""
    return Dialog(
        person_id=state.person_id,
        form=state.form,
        step=state.step or 0,
        data=dict(state.data or {}),
        origin_room=state.origin_room,
        platform=state.platform,
        expires_at=state.expires_at,
        started_at=getattr(state, "started_at", None) or now,
        id=getattr(state, "id", None),
    )
