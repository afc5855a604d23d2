"""Full-text search index: entries with their filters, and the terms as FTS5 (SQLite) or a tsvector (PostgreSQL).

Revision ID: 0003
Revises: 0002
Created: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Spelled out rather than imported from storage.search, so that later changes there do not change this.
ENTRY_TABLE = "search_entry"
BODY_TABLE = "search_body"
FTS_TABLE = "search_fts"


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    # What filters and rankings read, kept small (a scan of 25,000 entries reads a few MiB); the bodies, read
    # only for the excerpts of the hits, are apart.
    columns: list[sa.Column[object]] = [
        # Not generated: made from the key so that ids sort as keys do (storage.search.entry_id). On SQLite,
        # INTEGER makes it the rowid, which the FTS5 table shares.
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=False, nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("department", sa.String(), nullable=True),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("theme", sa.String(), nullable=True),
        sa.Column("public", sa.String(), nullable=True),
        sa.Column("doc_type", sa.String(), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
    ]
    if dialect == "postgresql":
        # The Python-stemmed terms: the title's alone, and title (weight A) and body (weight B) together.
        columns.append(sa.Column("title_terms", postgresql.TSVECTOR(), nullable=False))
        columns.append(sa.Column("terms", postgresql.TSVECTOR(), nullable=False))
    op.create_table(ENTRY_TABLE, *columns, sa.PrimaryKeyConstraint("id", name=f"pk_{ENTRY_TABLE}"))
    # Listing by département alone (`chercher dept:03`) reads its entries only.
    op.create_index(f"ix_{ENTRY_TABLE}_department", ENTRY_TABLE, ["department"])
    op.create_table(
        BODY_TABLE,
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=False, nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=f"pk_{BODY_TABLE}"),
    )
    if dialect == "postgresql":
        op.create_index(f"ix_{ENTRY_TABLE}_title_terms", ENTRY_TABLE, ["title_terms"], postgresql_using="gin")
        op.create_index(f"ix_{ENTRY_TABLE}_terms", ENTRY_TABLE, ["terms"], postgresql_using="gin")
    else:
        # The Python-stemmed terms, which hold only [a-z0-9] and spaces: the ascii tokenizer splits them as
        # PostgreSQL's parser does. Its rowid is the entry's id.
        op.execute(f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(title, body, tokenize = 'ascii')")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.execute(f"DROP TABLE {FTS_TABLE}")
    op.drop_table(BODY_TABLE)
    op.drop_table(ENTRY_TABLE)
