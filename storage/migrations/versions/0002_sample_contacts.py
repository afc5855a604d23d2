"""Sample directory contact: the ODPE of the Allier (seed 003), so the directory is not empty on day one.

Revision ID: 0002
Revises: 0001
Created: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A snapshot of the columns this data needs, so that later changes to the models do not change it.
contact = sa.table(
    "contact",
    sa.column("department", sa.String()),
    sa.column("position", sa.Integer()),
    sa.column("name", sa.String()),
    sa.column("role", sa.String()),
    sa.column("email", sa.String()),
    sa.column("phone", sa.String()),
    sa.column("organisation", sa.String()),
    sa.column("address", sa.Text()),
    sa.column("updated_by", sa.String()),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)

ALLIER = {
    "department": "03",
    "position": 1,
    "name": "Mme Blandine AATAR",
    "role": "animatrice de l'ODPE",
    "email": "aatar.b@allier.fr",
    "phone": "04 70 34 15 30",
    "organisation": "Conseil départemental de l'Allier",
    "address": "1 avenue Victor Hugo\n03000 Moulins",
    "updated_by": None,
}
# When the sample was taken from seed 003: the row says how old its data is, not when it was installed.
SAMPLED_AT = datetime(2026, 11, 26, tzinfo=UTC)


def upgrade() -> None:
    # Aware, so PostgreSQL gets the right instant; SQLite's DATETIME writes its UTC fields as text.
    op.bulk_insert(contact, [{**ALLIER, "updated_at": SAMPLED_AT}])


def downgrade() -> None:
    op.execute(contact.delete().where(contact.c.department == ALLIER["department"], contact.c.email == ALLIER["email"]))
