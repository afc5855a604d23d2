"""What the search index holds: archived documents, published practices and the FAQ, kept in step with them."""

from __future__ import annotations

from datetime import date
from typing import Any

from bot.forms import OTHER, OTHER_PREFIX
from storage.models import FaqEntry, Item
from storage.repositories import Repos
from storage.search import Indexed, SearchIndex, analysis_version

SEARCHABLE = ("archived", "published")


def faq_key(entry_id: int) -> str:
    return f"F-{entry_id}"


def _year(value: Any) -> int | None:
    try:
        return date.fromisoformat(value).year if value else None
    except (TypeError, ValueError):
        return None


def _key(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    return OTHER if value.startswith(OTHER_PREFIX) else value


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, str):
        return value.removeprefix(OTHER_PREFIX)
    return ""


def item_entry(item: Item) -> Indexed:
    fields = item.fields
    words = [_text(v) for k, v in fields.items() if k not in ("file", "department", "date", "events")]
    if fields.get("file"):
        words.append(fields["file"].get("name", ""))
    return Indexed(
        key=str(item.readable_id),
        kind="document" if item.kind == "document" else "practice",
        title=item.title,
        body="\n".join(w for w in words if w),
        department=item.department,
        year=_year(fields.get("date")),
        theme=_key(fields.get("theme")),
        public=_key(fields.get("public")),
        doc_type=_key(fields.get("type")),
    )


def faq_entry(entry: FaqEntry) -> Indexed:
    return Indexed(key=faq_key(entry.id), kind="faq", title=entry.question, body=entry.answer)


async def follow(repo: Repos, item: Item) -> None:
    """After a decision: a published item is found by search, any other state is not."""
    index = SearchIndex(repo.session)
    if item.status in SEARCHABLE:
        await index.put(item_entry(item))
    else:
        await index.remove(str(item.readable_id))


async def rebuild(repo: Repos) -> int:
    """Everything searchable, indexed anew (at start when the index lags behind, e.g. after an upgrade)."""
    index = SearchIndex(repo.session)
    await index.clear()
    items = await repo.items.in_statuses(SEARCHABLE)
    faq = await repo.faq.entries()
    await index.put_many([*(item_entry(i) for i in items), *(faq_entry(e) for e in faq)])
    await repo.kv.set(ANALYSIS_KEY, analysis_version())
    return len(items) + len(faq)


ANALYSIS_KEY = "search:analysis"


async def in_step(repo: Repos) -> bool:
    """The index was built with today's analysis (stemmer, stopwords) and holds as many entries as there are
    searchable things."""
    if await repo.kv.get(ANALYSIS_KEY) != analysis_version():
        return False
    items = await repo.items.in_statuses(SEARCHABLE)
    faq = await repo.faq.entries()
    return await SearchIndex(repo.session).count() == len(items) + len(faq)
