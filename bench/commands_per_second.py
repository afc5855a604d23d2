"""How many commands per second the core handles on SQLite, profile lookups included (run by hand or in CI)."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass

from bot.app import App
from bot.config import Config
from bot.messages import EventId, Message, Platform, RoomId, RoomKind, UserId


@dataclass(frozen=True)
class Run:
    text: str
    dedupe: bool = False  # record the event id, as for Matrix and Slack, which may deliver an event twice
    cold: bool = False  # forget the people cache before each message: the profile is read from the database

    @property
    def label(self) -> str:
        extras = [" + event id" if self.dedupe else "", " + profile from db" if self.cold else ""]
        return self.text + "".join(extras)


RUNS = (
    Run("!aide"),
    Run("!profil"),
    Run("!annuaire allier"),
    Run("!aidee"),
    Run("!aide", cold=True),
    Run("!aide", dedupe=True),
    Run("!aide", dedupe=True, cold=True),
)


def message(run: Run, user: int) -> Message:
    sender = UserId(f"@referent{user}:console")
    return Message(
        platform=Platform("console"),
        event_id=EventId(uuid.uuid4().hex),
        room_id=RoomId(f"dm:{sender}"),
        room_kind=RoomKind.DIRECT,
        sender=sender,
        sender_name=f"referent{user}",
        text=run.text,
        dedupe=run.dedupe,
    )


async def measure(app: App, run: Run, seconds: float, users: int) -> tuple[float, list[float]]:
    """Commands handled one after the other for `seconds`; returns the rate and each latency."""
    latencies: list[float] = []
    start = time.perf_counter()
    n = 0
    while time.perf_counter() - start < seconds:
        msg = message(run, n % users)
        if run.cold:
            app.router.people.drop(f"{msg.platform}:{msg.sender}")
        t0 = time.perf_counter()
        replies = await app.router.handle(msg)
        latencies.append(time.perf_counter() - t0)
        if not replies:
            raise SystemExit(f"no reply to {run.text!r}: the benchmark would measure nothing")
        n += 1
    return n / (time.perf_counter() - start), latencies


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0, help="measuring time per line")
    parser.add_argument("--users", type=int, default=200, help="distinct people sending (profiles looked up)")
    parser.add_argument("--database-url", help="another database than a temporary SQLite file (it gets migrated)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = Config(
            database={"url": options.database_url or f"sqlite+aiosqlite:///{tmp}/bench.db"},
            files={"dir": f"{tmp}/files"},
            rate_limit={"per_minute": 0},
        )
        app = App(config)
        await app.migrate()
        await measure(app, Run("!aide"), 1.0, options.users)  # warm-up: people created
        print(f"odpe-bot core on {app.db.backend}, {options.users} people, {options.seconds:.0f} s per line")
        for run in RUNS:
            rate, latencies = await measure(app, run, options.seconds, options.users)
            p50 = statistics.median(latencies) * 1000
            p99 = statistics.quantiles(latencies, n=100)[98] * 1000
            print(f"  {run.label:<42} {rate:8.0f} commands/s   p50 {p50:5.2f} ms   p99 {p99:5.2f} ms")
        await app.close()


if __name__ == "__main__":
    asyncio.run(main())
