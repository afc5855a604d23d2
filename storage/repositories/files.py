"""Stored files, kept once per content (SHA-256)."""

from __future__ import annotations

import re

from sqlalchemy import select

from storage.models import StoredFile
from storage.repositories.base import Repository

_SHA256 = re.compile(r"[0-9a-f]{64}")


def checked_sha256(value: str) -> str:
    digest = value.strip().lower()
    if not _SHA256.fullmatch(digest):
        raise ValueError(f"not a SHA-256 hex digest: {value!r}")
    return digest


class FileRepository(Repository):
    async def get(self, file_id: int) -> StoredFile | None:
        return await self.session.get(StoredFile, file_id)

    async def by_sha256(self, sha256: str) -> StoredFile | None:
        return await self.session.scalar(select(StoredFile).where(StoredFile.sha256 == checked_sha256(sha256)))

    async def add(
        self, *, sha256: str, name: str, mime: str, size: int, path: str, uploaded_by_id: int | None = None
    ) -> StoredFile:
        """The file with this content: a new row, or the one already stored (the same upload twice)."""
        digest = checked_sha256(sha256)
        statement = (
            self.insert(StoredFile)
            .values(sha256=digest, name=name, mime=mime, size=size, path=path, uploaded_by_id=uploaded_by_id)
            .on_conflict_do_nothing(index_elements=[StoredFile.sha256])
        )
        await self.session.execute(statement)
        stored = await self.by_sha256(digest)
        if stored is None:
            raise LookupError(f"file {digest} vanished right after its creation")
        return stored
