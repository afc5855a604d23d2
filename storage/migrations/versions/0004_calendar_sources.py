"""External calendar feeds, and what an imported repeating event needs.

Revision ID: 0004
Revises: 0003
Created: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _at(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "calendar_source",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(), nullable=False),
        sa.Column("department", sa.String(), nullable=True),
        sa.Column("refresh_minutes", sa.Integer(), nullable=False),
        sa.Column("from_config", sa.Boolean(), nullable=False),
        sa.Column("added_by_id", sa.Integer(), nullable=True),
        sa.Column("etag", sa.String(), nullable=True),
        sa.Column("last_modified", sa.String(), nullable=True),
        sa.Column("body_digest", sa.String(), nullable=True),
        _at("checked_at"),
        _at("succeeded_at"),
        _at("failing_since"),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        _at("created_at", nullable=False),
        sa.ForeignKeyConstraint(["added_by_id"], ["person.id"], name="fk_calendar_source_added_by_id_person",
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_calendar_source"),
        sa.UniqueConstraint("url", name="uq_calendar_source_url"),
    )
    with op.batch_alter_table("event") as batch:
        batch.add_column(sa.Column("recurrence", sa.Text(), nullable=True))
        batch.add_column(_at("series_ends_at"))
        batch.create_index("ix_event_source_url", ["source_url"])


def downgrade() -> None:
    with op.batch_alter_table("event") as batch:
        batch.drop_index("ix_event_source_url")
        batch.drop_column("series_ends_at")
        batch.drop_column("recurrence")
    op.drop_table("calendar_source")
