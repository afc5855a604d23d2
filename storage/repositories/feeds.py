"""Calendar subscription tokens: handed out once in the clear, kept only as a SHA-256."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, select, update

from storage.models import FeedToken
from storage.repositories.base import Repository

FEED_SCOPES: tuple[str, ...] = ("network", "department", "personal")
# Calendar apps poll often; recording every fetch would be one write per poll for no extra insight.
LAST_USED_PRECISION = timedelta(minutes=5)


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class FeedRepository(Repository):
    async def issue(self, person_id: int, scope: str, department: str | None = None) -> str:
        """A new random token for a feed of `scope`; the caller shows it once, it cannot be read back."""
        if scope not in FEED_SCOPES:
            raise ValueError(f"unknown feed scope {scope!r}")
        if scope == "department" and not department:
            raise ValueError("a department feed needs its department")
        raw = secrets.token_urlsafe(32)
        self.session.add(FeedToken(token_hash=hash_token(raw), person_id=person_id, scope=scope, department=department))
        await self.session.flush()
        return raw

    async def resolve(self, raw: str) -> FeedToken | None:
        """The live token whose raw value is `raw` (None when unknown or revoked); notes its use."""
        statement = select(FeedToken).where(FeedToken.token_hash == hash_token(raw), FeedToken.revoked_at.is_(None))
        token = await self.session.scalar(statement)
        if token is not None:
            now = self.now()
            if token.last_used_at is None or now - token.last_used_at >= LAST_USED_PRECISION:
                token.last_used_at = now
                await self.session.flush()
        return token

    async def revoke(self, person_id: int, scope: str) -> int:
        """Revoke every live token of `person_id` for `scope`; returns how many were revoked."""
        statement = (
            update(FeedToken)
            .where(FeedToken.person_id == person_id, FeedToken.scope == scope, FeedToken.revoked_at.is_(None))
            .values(revoked_at=self.now())
            .execution_options(synchronize_session="fetch")
        )
        result = cast(CursorResult[Any], await self.session.execute(statement))
        return result.rowcount
