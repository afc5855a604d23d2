"""The database tables of odpe-bot, as SQLAlchemy 2 models portable between SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.ext.mutable import MutableDict, MutableList
from sqlalchemy.orm import DeclarativeBase, Mapped, ORMExecuteState, Session, UOWTransaction, mapped_column

from storage.clock import Clock
from storage.ids import Prefix, ReadableId

# Stable constraint names, so that Alembic can alter or drop them by name on both engines.
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ITEM_PREFIXES: dict[str, Prefix] = {"document": "D", "practice": "P"}


# The execution option under which the database's engine carries the app's clock (see storage.db).
CLOCK_OPTION = "odpe_clock"


def stamp(context: Any) -> datetime:
    """The default of the time columns: now, by the clock of the database the row is written to, so that
    rows stamped by the ORM and by Core statements alike follow the clock tests set."""
    clock = context.execution_options.get(CLOCK_OPTION)
    if not isinstance(clock, Clock):
        raise LookupError("no clock on this connection: rows are written through storage.db.Database")
    return clock.now()


def _empty_dict() -> dict[str, Any]:
    return {}


def _empty_list() -> list[str]:
    return []


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out: SQLite keeps no time zone, so everything is stored as UTC."""

    impl = sa.DateTime
    cache_ok = True

    def __init__(self) -> None:
        super().__init__(timezone=True)

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            # A naive datetime is ambiguous (local? UTC?): refusing it finds the bug where it is made.
            raise ValueError(f"naive datetime {value!r}: pass an aware datetime, e.g. clock.now()")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            # SQLite compares datetimes as text: they must all be written in the same zone, without offset.
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# Mutable wrappers make in-place edits (`state.data["title"] = ...`) visible to the session.
JsonDict = MutableDict.as_mutable(sa.JSON())
JsonList = MutableList.as_mutable(sa.JSON())
# SQL NULL rather than JSON 'null' for absent values, so `IS NULL` works.
NullableJson = sa.JSON(none_as_null=True)


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


class Person(Base):
    """Someone who talks to the bot, on one platform."""

    __tablename__ = "person"
    __table_args__ = (sa.UniqueConstraint("platform", "platform_user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str]  # "matrix" | "slack" | "console"
    platform_user_id: Mapped[str]
    display_name: Mapped[str]
    department: Mapped[str | None]  # code: "03", "2A", "971"
    language: Mapped[str | None]  # "fr" | "en"; None follows the bot's default
    roles: Mapped[list[str]] = mapped_column(JsonList, default=_empty_list)
    created_at: Mapped[datetime] = mapped_column(default=stamp)
    updated_at: Mapped[datetime] = mapped_column(default=stamp, onupdate=stamp)


class Contact(Base):
    """A contact of a département's ODPE in the directory; `position` orders them, from 1."""

    __tablename__ = "contact"

    id: Mapped[int] = mapped_column(primary_key=True)
    department: Mapped[str] = mapped_column(index=True)
    position: Mapped[int]
    name: Mapped[str | None]
    role: Mapped[str | None]
    email: Mapped[str | None]
    phone: Mapped[str | None]
    organisation: Mapped[str | None]
    address: Mapped[str | None] = mapped_column(sa.Text)
    updated_by: Mapped[str | None]
    updated_at: Mapped[datetime] = mapped_column(default=stamp, onupdate=stamp)


class StoredFile(Base):
    """A file kept by the bot, once per content (sha256); `path` is relative to the files directory."""

    __tablename__ = "stored_file"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(unique=True)
    name: Mapped[str]
    mime: Mapped[str]
    size: Mapped[int]
    path: Mapped[str]
    uploaded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("person.id"))
    created_at: Mapped[datetime] = mapped_column(default=stamp)


class Item(Base):
    """A submitted document (D-n) or inspiring practice (P-n), and where it stands in review."""

    __tablename__ = "item"
    __table_args__ = (sa.UniqueConstraint("kind", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str]  # "document" | "practice"
    number: Mapped[int]
    status: Mapped[str] = mapped_column(index=True)
    title: Mapped[str] = mapped_column(sa.Text)
    department: Mapped[str | None]
    fields: Mapped[dict[str, Any]] = mapped_column(JsonDict, default=_empty_dict)
    submitter_id: Mapped[int] = mapped_column(sa.ForeignKey("person.id"), index=True)
    file_id: Mapped[int | None] = mapped_column(sa.ForeignKey("stored_file.id"))
    claimed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("person.id"))
    claimed_at: Mapped[datetime | None]
    decision: Mapped[str | None]
    decision_note: Mapped[str | None] = mapped_column(sa.Text)
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("person.id"))
    decided_at: Mapped[datetime | None]
    featured: Mapped[bool] = mapped_column(default=False)
    feature_consent: Mapped[str | None]  # "asked" | "given" | "refused"
    # Platform ids of the review-room root message, so a reaction can be traced back after a restart.
    review_ref: Mapped[dict[str, Any] | None] = mapped_column(NullableJson)
    created_at: Mapped[datetime] = mapped_column(default=stamp)
    updated_at: Mapped[datetime] = mapped_column(default=stamp, onupdate=stamp)

    @property
    def readable_id(self) -> ReadableId:
        return ReadableId(ITEM_PREFIXES[self.kind], self.number)


class AuditEntry(Base):
    """One decision or change, kept for good: entries are only ever added (see the session events below)."""

    __tablename__ = "audit_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=stamp)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("person.id"))  # None: the bot itself
    subject: Mapped[str] = mapped_column(index=True)  # "D-12", "annuaire:03", …
    action: Mapped[str]
    from_state: Mapped[str | None]
    to_state: Mapped[str | None]
    detail: Mapped[dict[str, Any]] = mapped_column(sa.JSON(), default=_empty_dict)


class Question(Base):
    """A question asked to the network (Q-n), answered from the FAQ or by ONPE."""

    __tablename__ = "question"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(unique=True)
    asker_id: Mapped[int] = mapped_column(sa.ForeignKey("person.id"))
    text: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(index=True)  # open|answered_auto|escalated|answered|closed
    answer: Mapped[str | None] = mapped_column(sa.Text)
    answered_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("person.id"))
    helpful: Mapped[bool | None]
    review_ref: Mapped[dict[str, Any] | None] = mapped_column(NullableJson)
    created_at: Mapped[datetime] = mapped_column(default=stamp)
    answered_at: Mapped[datetime | None]

    @property
    def readable_id(self) -> ReadableId:
        return ReadableId("Q", self.number)


class FaqEntry(Base):
    """A curated question and its answer, searched before a question is escalated."""

    __tablename__ = "faq_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    question: Mapped[str] = mapped_column(sa.Text)
    answer: Mapped[str] = mapped_column(sa.Text)
    source_question_id: Mapped[int | None] = mapped_column(sa.ForeignKey("question.id"))
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("person.id"))
    created_at: Mapped[datetime] = mapped_column(default=stamp)
    updated_at: Mapped[datetime] = mapped_column(default=stamp, onupdate=stamp)


class Event(Base):
    """A calendar event (E-n) of the network or of a département, as published in the iCal feeds."""

    __tablename__ = "event"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(unique=True)
    uid: Mapped[str] = mapped_column(unique=True)  # iCal UID, stable across edits
    sequence: Mapped[int] = mapped_column(default=0)  # iCal SEQUENCE, bumped on every published change
    title: Mapped[str] = mapped_column(sa.Text)
    starts_at: Mapped[datetime] = mapped_column(index=True)
    ends_at: Mapped[datetime | None]
    all_day: Mapped[bool] = mapped_column(default=False)
    location: Mapped[str | None] = mapped_column(sa.Text)
    url: Mapped[str | None]
    description: Mapped[str | None] = mapped_column(sa.Text)
    scope: Mapped[str]  # "network" | "department"
    department: Mapped[str | None]
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("person.id"))
    source_url: Mapped[str | None] = mapped_column(index=True)  # the external feed it was imported from
    # An imported event that repeats: its VEVENT and the changed occurrences, as the bot publishes them (RFC
    # 5545 text), and the end of its last occurrence (far in the future when it repeats forever).
    recurrence: Mapped[str | None] = mapped_column(sa.Text)
    series_ends_at: Mapped[datetime | None]
    cancelled: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=stamp)
    updated_at: Mapped[datetime] = mapped_column(default=stamp, onupdate=stamp)

    @property
    def readable_id(self) -> ReadableId:
        return ReadableId("E", self.number)

    @hybrid_property
    def last_moment(self) -> datetime:
        """When it is over: the end of its last occurrence for a series, its start when it has no end (RFC 5545
        reads a DTSTART alone that way)."""
        return self.series_ends_at or self.ends_at or self.starts_at

    @last_moment.inplace.expression
    @classmethod
    def _last_moment(cls) -> sa.ColumnElement[datetime]:
        return sa.type_coerce(sa.func.coalesce(cls.series_ends_at, cls.ends_at, cls.starts_at), UTCDateTime())

    def changed(self, now: datetime, at_least: int = 0) -> None:
        """Note a change subscribers must see: calendar apps take it only with a higher SEQUENCE."""
        self.sequence = max(self.sequence + 1, at_least)
        self.updated_at = now

    def cancel(self, now: datetime) -> None:
        """Cancelled, it stays in the feeds with STATUS:CANCELLED, so that calendar apps remove it."""
        self.cancelled = True
        self.changed(now)


class CalendarSource(Base):
    """An external iCalendar feed whose events join the shared calendar, and how its last readings went."""

    __tablename__ = "calendar_source"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(unique=True)
    department: Mapped[str | None]  # None: the events are the network's
    refresh_minutes: Mapped[int] = mapped_column(default=60)
    from_config: Mapped[bool] = mapped_column(default=False)  # listed in `calendar.external_feeds`
    added_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("person.id", ondelete="SET NULL"))
    etag: Mapped[str | None]
    last_modified: Mapped[str | None]  # as the server wrote it, sent back in If-Modified-Since
    # SHA-256 of the last body read and of its day: an unchanged body from a server that gives neither ETag nor
    # Last-Modified is not read again the same day (the next day it is, as events enter the reading window).
    body_digest: Mapped[str | None]
    checked_at: Mapped[datetime | None]
    succeeded_at: Mapped[datetime | None]
    failing_since: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(sa.Text)
    events: Mapped[int] = mapped_column(default=0)  # how many events the last reading gave
    skipped: Mapped[int] = mapped_column(default=0)  # how many it could not take (no date, UID taken...)
    created_at: Mapped[datetime] = mapped_column(default=stamp)


class FeedToken(Base):
    """The secret of a calendar subscription URL; only its SHA-256 is kept."""

    __tablename__ = "feed_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(unique=True)
    person_id: Mapped[int] = mapped_column(sa.ForeignKey("person.id", ondelete="CASCADE"), index=True)
    scope: Mapped[str]  # "network" | "department" | "personal"
    department: Mapped[str | None]
    created_at: Mapped[datetime] = mapped_column(default=stamp)
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class DialogState(Base):
    """Where someone is in a guided dialog; kept in the database so it survives a restart."""

    __tablename__ = "dialog_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(sa.ForeignKey("person.id", ondelete="CASCADE"), unique=True)
    form: Mapped[str]
    step: Mapped[int] = mapped_column(default=0)
    data: Mapped[dict[str, Any]] = mapped_column(JsonDict, default=_empty_dict)
    origin_room: Mapped[str]
    platform: Mapped[str]
    started_at: Mapped[datetime] = mapped_column(default=stamp)
    updated_at: Mapped[datetime] = mapped_column(default=stamp, onupdate=stamp)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class OutboxMessage(Base):
    """A message to send, written in the same transaction as what caused it; `dedupe_key` makes it unique."""

    __tablename__ = "outbox_message"
    __table_args__ = (sa.Index("ix_outbox_message_status_next_attempt_at", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str]
    room_id: Mapped[str]
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON())
    dedupe_key: Mapped[str] = mapped_column(unique=True)
    status: Mapped[str] = mapped_column(default="pending")  # "pending" | "sent" | "failed"
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=stamp)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=stamp)
    sent_at: Mapped[datetime | None]


class ProcessedEvent(Base):
    """A platform event already handled, so that a redelivery after a restart is not handled twice."""

    __tablename__ = "processed_event"

    platform: Mapped[str] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(default=stamp, index=True)


class KeyValue(Base):
    """Small pieces of bot state (sync tokens, last digest date…), as JSON."""

    __tablename__ = "key_value"

    key: Mapped[str] = mapped_column(primary_key=True)
    value: Mapped[Any] = mapped_column(sa.JSON())
    updated_at: Mapped[datetime] = mapped_column(default=stamp, onupdate=stamp)


class Counter(Base):
    """The last number given out in a sequence of readable ids ("document", "question"…)."""

    __tablename__ = "counter"

    name: Mapped[str] = mapped_column(primary_key=True)
    value: Mapped[int]


class AppendOnlyError(RuntimeError):
    """Raised when code tries to change or delete an audit entry."""


@event.listens_for(Session, "before_flush")
def _audit_entries_are_never_changed(session: Session, flush_context: UOWTransaction, instances: object) -> None:
    for instance in session.deleted:
        if isinstance(instance, AuditEntry):
            raise AppendOnlyError(f"audit entry {instance.id} cannot be deleted: the audit trail is append-only")
    for instance in session.dirty:
        if isinstance(instance, AuditEntry) and session.is_modified(instance):
            raise AppendOnlyError(f"audit entry {instance.id} cannot be changed: the audit trail is append-only")


@event.listens_for(Session, "do_orm_execute")
def _audit_entries_are_never_bulk_changed(state: ORMExecuteState) -> None:
    # `update(AuditEntry)` and `delete(AuditEntry)` bypass the flush, so they are stopped here.
    if not (state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    if getattr(table, "name", None) == AuditEntry.__tablename__:
        raise AppendOnlyError("audit entries cannot be updated or deleted: the audit trail is append-only")
