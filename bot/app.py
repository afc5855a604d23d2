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
from bot.activity import Activity
from bot.config import Config
from bot.metrics import Metrics
from bot.outbox import Outbox
from bot.ratelimit import RateLimiter
from bot.registry import Registry
from bot.router import Router
from storage import migrate
from storage.clock import Clock
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
IDLE_POLL = 0.02  # seconds between two looks at the outbox while waiting for the bot to be idle


@dataclass(frozen=True)
class Health:
    healthy: bool
    parts: dict[str, dict[str, Any]]


class App:
    def __init__(self, config: Config, registry: Registry | None = None, db: Database | None = None) -> None:
        self.config = config
        self.db = db or Database(config.database.url)
        # The one clock of the program is the database's, which stamps the rows (tests set it).
        self.clock: Clock = self.db.clock
        self.registry = registry or commands.load()
        self.metrics = Metrics()
        # Integrations mark their work on it too (a sync read, a Slack listener), see `idle`.
        self.activity = Activity()
        self.limiter = RateLimiter(config.rate_limit.per_minute, config.rate_limit.burst)
        self.router = Router(config, self.db, self.registry, self.metrics, self.limiter, self.activity)
        self.outbox = Outbox(self.db, self.activity)
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

    async def idle(self, timeout: float = 30.0) -> None:
        """Return once the bot has nothing left to do: no message, sync or event being handled, no delivery under
        way, and nothing in the outbox for the platforms this process delivers to. What was received before is
        then answered, once; tests wait for it before checking that nothing more was sent. Raises TimeoutError,
        saying what is left, after `timeout` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            try:
                await asyncio.wait_for(self.activity.quiet(), max(0.0, deadline - loop.time()))
                waiting = await self.outbox.waiting()
            except TimeoutError:
                waiting = []
            if not waiting and self.activity.running == 0:
                return
            if loop.time() >= deadline:
                left = ", ".join(f"{m.platform}:{m.room_id} ({m.attempts} tries)" for m in waiting) or "nothing queued"
                raise TimeoutError(f"the bot is still busy after {timeout} s: {self.activity.running} piece(s) of "
                                   f"work under way; outbox: {left}")
            if waiting:
                self.outbox.wake()
            await asyncio.sleep(IDLE_POLL)

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
