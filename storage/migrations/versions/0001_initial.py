"""Initial schema: people, directory, items and files, audit trail, questions and FAQ, calendar, bot state.

Revision ID: 0001
Revises:
Created: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# In creation order (referenced tables first); dropped in the reverse order.
TABLES = (
    "person",
    "contact",
    "stored_file",
    "item",
    "audit_entry",
    "question",
    "faq_entry",
    "event",
    "feed_token",
    "dialog_state",
    "outbox_message",
    "processed_event",
    "key_value",
    "counter",
)


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.Integer(), nullable=False)


def _at(name: str, *, nullable: bool = False) -> sa.Column[object]:
    # Stored in UTC; on SQLite as naive text, which the models turn back into aware datetimes.
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _person_fk(column: str, table: str, *, ondelete: str | None = None) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], ["person.id"], name=f"fk_{table}_{column}_person", ondelete=ondelete)


def upgrade() -> None:
    op.create_table(
        "person",
        _id(),
        sa.Column("platform", sa.String(), nullable=False),
        sa.Column("platform_user_id", sa.String(), nullable=False),
        sa.Column("display_name", sa.String(), nullable=False),
        sa.Column("department", sa.String(), nullable=True),
        sa.Column("language", sa.String(), nullable=True),
        sa.Column("roles", sa.JSON(), nullable=False),
        _at("created_at"),
        _at("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_person"),
        sa.UniqueConstraint("platform", "platform_user_id", name="uq_person_platform_platform_user_id"),
    )

    op.create_table(
        "contact",
        _id(),
        sa.Column("department", sa.String(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("role", sa.String(), nullable=True),
        sa.Column("email", sa.String(), nullable=True),
        sa.Column("phone", sa.String(), nullable=True),
        sa.Column("organisation", sa.String(), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("updated_by", sa.String(), nullable=True),
        _at("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_contact"),
    )
    op.create_index("ix_contact_department", "contact", ["department"])

    op.create_table(
        "stored_file",
        _id(),
        sa.Column("sha256", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("mime", sa.String(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(), nullable=False),
        sa.Column("uploaded_by_id", sa.Integer(), nullable=True),
        _at("created_at"),
        _person_fk("uploaded_by_id", "stored_file"),
        sa.PrimaryKeyConstraint("id", name="pk_stored_file"),
        sa.UniqueConstraint("sha256", name="uq_stored_file_sha256"),
    )

    op.create_table(
        "item",
        _id(),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("department", sa.String(), nullable=True),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("submitter_id", sa.Integer(), nullable=False),
        sa.Column("file_id", sa.Integer(), nullable=True),
        sa.Column("claimed_by_id", sa.Integer(), nullable=True),
        _at("claimed_at", nullable=True),
        sa.Column("decision", sa.String(), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        _at("decided_at", nullable=True),
        sa.Column("featured", sa.Boolean(), nullable=False),
        sa.Column("feature_consent", sa.String(), nullable=True),
        sa.Column("review_ref", sa.JSON(), nullable=True),
        _at("created_at"),
        _at("updated_at"),
        _person_fk("submitter_id", "item"),
        _person_fk("claimed_by_id", "item"),
        _person_fk("decided_by_id", "item"),
        sa.ForeignKeyConstraint(["file_id"], ["stored_file.id"], name="fk_item_file_id_stored_file"),
        sa.PrimaryKeyConstraint("id", name="pk_item"),
        sa.UniqueConstraint("kind", "number", name="uq_item_kind_number"),
    )
    op.create_index("ix_item_status", "item", ["status"])
    op.create_index("ix_item_submitter_id", "item", ["submitter_id"])

    op.create_table(
        "audit_entry",
        _id(),
        _at("at"),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("subject", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("from_state", sa.String(), nullable=True),
        sa.Column("to_state", sa.String(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        _person_fk("actor_id", "audit_entry"),
        sa.PrimaryKeyConstraint("id", name="pk_audit_entry"),
    )
    op.create_index("ix_audit_entry_subject", "audit_entry", ["subject"])

    op.create_table(
        "question",
        _id(),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("asker_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("answered_by_id", sa.Integer(), nullable=True),
        sa.Column("helpful", sa.Boolean(), nullable=True),
        sa.Column("review_ref", sa.JSON(), nullable=True),
        _at("created_at"),
        _at("answered_at", nullable=True),
        _person_fk("asker_id", "question"),
        _person_fk("answered_by_id", "question"),
        sa.PrimaryKeyConstraint("id", name="pk_question"),
        sa.UniqueConstraint("number", name="uq_question_number"),
    )
    op.create_index("ix_question_status", "question", ["status"])

    op.create_table(
        "faq_entry",
        _id(),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("source_question_id", sa.Integer(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        _at("created_at"),
        _at("updated_at"),
        sa.ForeignKeyConstraint(
            ["source_question_id"], ["question.id"], name="fk_faq_entry_source_question_id_question"
        ),
        _person_fk("created_by_id", "faq_entry"),
        sa.PrimaryKeyConstraint("id", name="pk_faq_entry"),
    )

    op.create_table(
        "event",
        _id(),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        _at("starts_at"),
        _at("ends_at", nullable=True),
        sa.Column("all_day", sa.Boolean(), nullable=False),
        sa.Column("location", sa.Text(), nullable=True),
        sa.Column("url", sa.String(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("scope", sa.String(), nullable=False),
        sa.Column("department", sa.String(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("source_url", sa.String(), nullable=True),
        sa.Column("cancelled", sa.Boolean(), nullable=False),
        _at("created_at"),
        _at("updated_at"),
        _person_fk("created_by_id", "event"),
        sa.PrimaryKeyConstraint("id", name="pk_event"),
        sa.UniqueConstraint("number", name="uq_event_number"),
        sa.UniqueConstraint("uid", name="uq_event_uid"),
    )
    op.create_index("ix_event_starts_at", "event", ["starts_at"])

    op.create_table(
        "feed_token",
        _id(),
        sa.Column("token_hash", sa.String(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(), nullable=False),
        sa.Column("department", sa.String(), nullable=True),
        _at("created_at"),
        _at("revoked_at", nullable=True),
        _at("last_used_at", nullable=True),
        _person_fk("person_id", "feed_token", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_feed_token"),
        sa.UniqueConstraint("token_hash", name="uq_feed_token_token_hash"),
    )
    op.create_index("ix_feed_token_person_id", "feed_token", ["person_id"])

    op.create_table(
        "dialog_state",
        _id(),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("form", sa.String(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("origin_room", sa.String(), nullable=False),
        sa.Column("platform", sa.String(), nullable=False),
        _at("started_at"),
        _at("updated_at"),
        _at("expires_at"),
        _person_fk("person_id", "dialog_state", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_dialog_state"),
        sa.UniqueConstraint("person_id", name="uq_dialog_state_person_id"),
    )
    op.create_index("ix_dialog_state_expires_at", "dialog_state", ["expires_at"])

    op.create_table(
        "outbox_message",
        _id(),
        sa.Column("platform", sa.String(), nullable=False),
        sa.Column("room_id", sa.String(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("dedupe_key", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _at("next_attempt_at"),
        sa.Column("last_error", sa.Text(), nullable=True),
        _at("created_at"),
        _at("sent_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_outbox_message"),
        sa.UniqueConstraint("dedupe_key", name="uq_outbox_message_dedupe_key"),
    )
    op.create_index("ix_outbox_message_status_next_attempt_at", "outbox_message", ["status", "next_attempt_at"])

    op.create_table(
        "processed_event",
        sa.Column("platform", sa.String(), nullable=False),
        sa.Column("event_id", sa.String(), nullable=False),
        _at("processed_at"),
        sa.PrimaryKeyConstraint("platform", "event_id", name="pk_processed_event"),
    )
    op.create_index("ix_processed_event_processed_at", "processed_event", ["processed_at"])

    op.create_table(
        "key_value",
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        _at("updated_at"),
        sa.PrimaryKeyConstraint("key", name="pk_key_value"),
    )

    op.create_table(
        "counter",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_counter"),
    )


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
