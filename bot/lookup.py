"""Finding what a person names by its readable id (D-12, P-7, Q-3, E-4), with the sentence for a wrong one."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from typing import TypeVar

from bot.errors import UserError
from bot.i18n import LazyText, _
from storage.ids import ReadableId, parse_readable_id

T = TypeVar("T")


async def find(
    text: str, prefixes: Collection[str], not_an_id: LazyText, fetch: Callable[[ReadableId], Awaitable[T | None]]
) -> T:
    """What `text` names, or UserError: `not_an_id` (with `{v}`) when it is no id of these kinds, "Je ne trouve
    pas …" when nothing has that id."""
    rid = parse_readable_id(text)
    if rid is None or rid.prefix not in prefixes:
        raise UserError(not_an_id.format(v=text))
    found = await fetch(rid)
    if found is None:
        raise UserError(_("Je ne trouve pas {id}.").format(id=rid))
    return found
