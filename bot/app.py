"""The bot's wiring: configuration, database, commands, router, metrics and health, shared by every integration."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

import commands
from bot import indexing
from bot.config import Config
from bot.metrics import Metrics
from bot.outbox import Outbox
from bot.ratelimit import RateLimiter
from bot.registry import Registry
from bot.router import Router
from storage import migrate
from storage.db import Database
from storage.repositories import Repos

log = logging.getLogger(__name__)

# A probe raises when its part is unwell; it may return details worth showing (e.g. the age of a sync).
FAQ_SEEDED = "faq:seeded"


def seed_faq() -> list[dict[str, str]]:
    """The FAQ the network starts with (storage/data/faq.yaml, drawn from the seed documents)."""
    text = resources.files("storage").joinpath("data/faq.yaml").read_text(encoding="utf-8")
    return list(yaml.safe_load(text) or [])


HealthCheck = Callable[[], Awaitable[dict[str, Any] | None]]
HEALTH_TIMEOUT = 5.0


@dataclass(frozen=True)
class Health:
    healthy: bool
    parts: dict[str, dict[str, Any]]


class App:
    def __init__(self, config: Config, registry: Registry | None = None, db: Database | None = None) -> None:
        self.config = config
        self.db = db or Database(config.database.url)
        self.registry = registry or commands.load()
        self.metrics = Metrics()
        self.limiter = RateLimiter(config.rate_limit.per_minute, config.rate_limit.burst)
        self.router = Router(config, self.db, self.registry, self.metrics, self.limiter)
        self.outbox = Outbox(self.db)
        self.started = time.monotonic()
        # Integrations add their own (e.g. "matrix": age of the last sync).
        self.health_checks: dict[str, HealthCheck] = {"database": self.db.ping}

    async def migrate(self) -> None:
        """Migrations to head, then the data the bot needs: the seed FAQ, a search index in step."""
        await migrate.upgrade(self.config.database.url)
        await self.prepare()

    async def prepare(self) -> None:
        async with self.db.session() as session:
            repo = Repos(session)
            if await repo.kv.get(FAQ_SEEDED) is None:
                for entry in seed_faq():
                    await repo.faq.add(entry["question"], entry["answer"])
                await repo.kv.set(FAQ_SEEDED, True)
            if not await indexing.in_step(repo):
                log.info("search index rebuilt: %d entries", await indexing.rebuild(repo))

    async def health(self) -> Health:
        parts: dict[str, dict[str, Any]] = {}
        for name, probe in self.health_checks.items():
            try:
                details = await asyncio.wait_for(probe(), HEALTH_TIMEOUT)
            except Exception as exc:  # a health probe reports failures, it never raises
                parts[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
            else:
                parts[name] = {"ok": True, **(details or {})}
        return Health(all(p["ok"] for p in parts.values()), parts)

    async def close(self) -> None:
        await self.db.close()
