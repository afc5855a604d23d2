"""The repositories, one per aggregate, gathered on one session: `Repos(session).items.get(...)`."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from storage.repositories.audit import AuditRepository
from storage.repositories.calendar_sources import CalendarSourceRepository
from storage.repositories.counters import CounterRepository
from storage.repositories.dialogs import DialogRepository
from storage.repositories.directory import DirectoryRepository
from storage.repositories.events import EventRepository
from storage.repositories.faq import FaqRepository
from storage.repositories.feeds import FeedRepository
from storage.repositories.files import FileRepository
from storage.repositories.items import ItemRepository
from storage.repositories.kv import KeyValueRepository
from storage.repositories.outbox import OutboxRepository
from storage.repositories.people import PeopleRepository
from storage.repositories.processed import ProcessedEventRepository
from storage.repositories.questions import QuestionRepository

__all__ = ["Repos"]


class Repos:
    """Every repository, sharing one session (one transaction): the caller commits, through `Database.session`."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.counters = CounterRepository(session)
        self.people = PeopleRepository(session)
        self.directory = DirectoryRepository(session)
        self.items = ItemRepository(session, self.counters)
        self.files = FileRepository(session)
        self.audit = AuditRepository(session)
        self.questions = QuestionRepository(session, self.counters)
        self.faq = FaqRepository(session)
        self.events = EventRepository(session, self.counters)
        self.feeds = FeedRepository(session)
        self.calendar_sources = CalendarSourceRepository(session)
        self.dialogs = DialogRepository(session)
        self.outbox = OutboxRepository(session)
        self.processed = ProcessedEventRepository(session)
        self.kv = KeyValueRepository(session)
