"""Build time of the iCal feeds, and requests per second for unchanged feeds against aiohttp serving a static file."""

from __future__ import annotations

import argparse
import asyncio
import gzip
import random
import secrets
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web
from support import fresh_postgresql

from bot.app import App
from bot.config import Config
from calendars.feeds import FeedScope, events_for, render, vevent_text
from calendars.http import FEEDS_KEY, add_routes
from integrations.http import make_web_app
from storage import departments
from storage.db import Database
from storage.migrate import upgrade
from storage.repositories import Repos

TARGET_RATIO = 0.8  # unchanged feed (full 200) against the same bytes as a static file, same run
IDENTITY = {"Accept-Encoding": "identity"}
BATCH = 500  # events created per transaction
PARIS = ZoneInfo("Europe/Paris")
TITLES = (
    "Comité technique des ODPE", "Webinaire : les mineurs non accompagnés", "Journée nationale de l'ONPE",
    "Groupe de travail « données de l'ASE »", "Séminaire régional des observatoires", "Réunion du réseau",
    "Présentation du rapport annuel", "Atelier : le projet pour l'enfant", "Conférence des financeurs",
)
PLACES = ("Salle du conseil, hôtel du département", "ONPE, 63 bis boulevard Brune, Paris", "Maison des solidarités")


@dataclass(frozen=True)
class Rates:
    feed: float
    static: float

    @property
    def ratio(self) -> float:
        return self.feed / self.static


@dataclass(frozen=True)
class FeedFigures:
    label: str
    events: int
    size: int
    build_ms: float  # query + copy + render with no VEVENT text kept
    render_ms: float  # render alone
    rebuild_ms: float  # query + copy + render with the VEVENT texts kept, as after a change of one event
    full: Rates  # gzip accepted, as calendar apps do
    identity: Rates  # no compression
    not_modified: Rates


async def fill(db: Database, scope: str, department: str | None, count: int, seed: int) -> None:
    """`count` events around today (a third of them past), some whole-day, some with a video link, a few cancelled."""
    rng = random.Random(seed)
    today = db.clock.now().astimezone(PARIS).replace(hour=0, minute=0, second=0, microsecond=0)
    for start in range(0, count, BATCH):
        async with db.session() as session:
            repos = Repos(session)
            for _ in range(min(BATCH, count - start)):
                day = today + timedelta(days=rng.randint(-60, 300))
                whole_day = rng.random() < 0.15
                if whole_day:
                    starts, ends = day, day + timedelta(days=rng.choice((1, 1, 2)))
                else:
                    starts = day.replace(hour=rng.randint(8, 17), minute=rng.choice((0, 15, 30, 45)))
                    ends = starts + timedelta(minutes=rng.choice((60, 90, 120, 180)))
                video = rng.random() < 0.4
                event = await repos.events.create(
                    title=rng.choice(TITLES), starts_at=starts.astimezone(UTC), ends_at=ends.astimezone(UTC),
                    all_day=whole_day, location=None if video else rng.choice(PLACES),
                    url=f"https://visio.example.org/{secrets.token_hex(6)}" if video else None,
                    description="Ordre du jour : accueil, point d'étape des travaux, échanges ; "
                    "documents envoyés une semaine avant." * rng.randint(1, 3),
                    scope=scope, department=department,
                )
                if rng.random() < 0.05:
                    event.cancelled, event.sequence = True, 1


async def build(db: Database, scope: FeedScope) -> tuple[int, int, float, float, float]:
    """Events, bytes, and in ms the best of three: a cold build (query, copy, render with no VEVENT text kept),
    its render alone, and a rebuild whose VEVENT texts are kept (a feed rebuilt after one change)."""
    builds: list[float] = []
    renders: list[float] = []
    rebuilds: list[float] = []
    body = b""
    count = 0
    for _ in range(3):
        vevent_text.cache_clear()
        began = time.perf_counter()
        async with db.session() as session:
            events = await events_for(session, scope, db.clock.now())
        count = len(events)
        rendered = time.perf_counter()
        body = render(events, "ODPE — bench")
        ended = time.perf_counter()
        builds.append(ended - began)
        renders.append(ended - rendered)
        began = time.perf_counter()
        async with db.session() as session:
            render(await events_for(session, scope, db.clock.now()), "ODPE — bench")
        rebuilds.append(time.perf_counter() - began)
    return count, len(body), min(builds) * 1000, min(renders) * 1000, min(rebuilds) * 1000


async def rate(session: aiohttp.ClientSession, url: str, headers: dict[str, str], requests: int, workers: int,
               expect: int) -> float:
    """Requests per second for `requests` GETs of `url` by `workers` concurrent clients (bodies read in full)."""
    left = requests

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            async with session.get(url, headers=headers) as response:
                await response.read()
                if response.status != expect:
                    raise RuntimeError(f"{url}: {response.status}, expected {expect}")

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    return requests / (time.perf_counter() - began)


async def compare(session: aiohttp.ClientSession, feed_url: str, static_url: str, options: argparse.Namespace,
                  sent: dict[str, str], conditional: bool = False) -> Rates:
    """Median rates over the rounds, the feed and the static file taking turns so that both see the same noise."""
    headers: dict[str, dict[str, str]] = {feed_url: sent, static_url: sent}
    if conditional:
        for url in (feed_url, static_url):
            async with session.get(url, headers=sent) as response:
                headers[url] = {**sent, "If-None-Match": response.headers["ETag"]}
    expect = 304 if conditional else 200
    feed: list[float] = []
    static: list[float] = []
    for _ in range(options.rounds):
        feed.append(await rate(session, feed_url, headers[feed_url], options.requests, options.workers, expect))
        static.append(await rate(session, static_url, headers[static_url], options.requests, options.workers, expect))
    return Rates(statistics.median(feed), statistics.median(static))


@asynccontextmanager
async def serve(app: App, files: dict[str, Path]) -> AsyncIterator[tuple[str, web.Application]]:
    """The bot's HTTP app with the feed routes, and `files` under /static/, on a free port of 127.0.0.1.

    `files` may be filled once the server runs: the bodies to serve are known only after the first requests.
    """
    web_app = make_web_app(app)
    add_routes(web_app, app)

    async def static(request: web.Request) -> web.FileResponse:
        return web.FileResponse(files[request.match_info["name"]])

    web_app.router.add_get("/static/{name}", static)
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}", web_app
    finally:
        await runner.cleanup()


async def measure(url: str, options: argparse.Namespace, tmp: Path) -> tuple[str, list[FeedFigures]]:
    await upgrade(url)
    db = Database(url)
    app = App(Config(database={"url": url}, files={"dir": str(tmp / "files")}), db=db)
    try:
        began = time.perf_counter()
        await fill(db, "network", None, options.events, seed=1)
        await fill(db, "department", "03", options.department_events, seed=2)
        print(f"  {db.backend}: {options.events + options.department_events} events made in "
              f"{time.perf_counter() - began:.1f} s")
        async with db.session() as session:
            repos = Repos(session)
            person = await repos.people.get_or_create("console", "@bench:console", "bench")
            await repos.people.set_department(person, "03")
            tokens = {
                "network": await repos.feeds.issue(person.id, "network"),
                "department": await repos.feeds.issue(person.id, "department", "03"),
            }
        scopes = {"network": FeedScope.of_network(), "department": FeedScope.of_department("03")}
        labels = {"network": "réseau", "department": f"département 03 ({departments.get('03').name})"}  # type: ignore[union-attr]
        files: dict[str, Path] = {}
        async with serve(app, files) as (base, web_app), aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=options.workers)
        ) as session:
            web_app[FEEDS_KEY].cache.renders = 0
            figures: list[FeedFigures] = []
            for kind, token in tokens.items():
                count, size, build_ms, render_ms, rebuild_ms = await build(db, scopes[kind])
                feed_url = f"{base}/ical/{token}.ics"
                async with session.get(feed_url, headers=IDENTITY) as response:  # renders and caches
                    body = await response.read()
                files[kind] = tmp / f"{kind}.ics"
                files[kind].write_bytes(body)
                # aiohttp serves this beside the file to clients that accept gzip, as the feed does.
                files[kind].with_name(files[kind].name + ".gz").write_bytes(gzip.compress(body, 6, mtime=0))
                static_url = f"{base}/static/{kind}"
                full = await compare(session, feed_url, static_url, options, {})
                identity = await compare(session, feed_url, static_url, options, IDENTITY)
                not_modified = await compare(session, feed_url, static_url, options, {}, conditional=True)
                figures.append(FeedFigures(
                    labels[kind], count, size, build_ms, render_ms, rebuild_ms, full, identity, not_modified
                ))
            renders = web_app[FEEDS_KEY].cache.renders
        if renders != len(tokens):
            raise RuntimeError(f"unchanged feeds were rendered {renders} times, expected {len(tokens)}")
        return db.backend, figures
    finally:
        await db.close()


def report(backend: str, figures: list[FeedFigures], options: argparse.Namespace) -> str:
    lines = [f"{backend}: {options.requests} requests × {options.rounds} rounds, {options.workers} concurrent clients"]
    for f in figures:
        lines += [
            f"  feed {f.label}: {f.events} events, {f.size / 1024:.0f} KiB, built in {f.build_ms:.0f} ms "
            f"(render {f.render_ms:.0f} ms, {f.render_ms * 1000 / max(f.events, 1):.0f} µs an event); "
            f"rebuilt with its VEVENT texts kept in {f.rebuild_ms:.0f} ms",
            f"    unchanged, 200 gzip:     {f.full.feed:7.0f} req/s   static file: {f.full.static:7.0f} req/s   "
            f"ratio {f.full.ratio:.2f}",
            f"    unchanged, 200 identity: {f.identity.feed:7.0f} req/s   static file: {f.identity.static:7.0f} req/s"
            f"   ratio {f.identity.ratio:.2f}",
            f"    unchanged, 304:          {f.not_modified.feed:7.0f} req/s   static file: "
            f"{f.not_modified.static:7.0f} req/s   ratio {f.not_modified.ratio:.2f}",
        ]
    worst = min(min(f.full.ratio, f.identity.ratio) for f in figures)
    verdict = "reached" if worst >= TARGET_RATIO else "NOT reached"
    lines.append(f"  target: unchanged feed ≥ {TARGET_RATIO} × the static file rate: {verdict} (lowest {worst:.2f})")
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=5_000, help="events of the network feed")
    parser.add_argument("--department-events", type=int, default=150, help="events of a département's feed")
    parser.add_argument("--requests", type=int, default=2_000, help="requests per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="measurements of each kind (the median is shown)")
    parser.add_argument("--workers", type=int, default=10, help="concurrent clients")
    parser.add_argument("--database-url",
                        help="a PostgreSQL server (postgresql+asyncpg://…) to measure too, in a database made there")
    options = parser.parse_args()
    if min(options.events, options.department_events, options.requests, options.rounds, options.workers) < 1:
        parser.error("every count must be at least 1")
    print(f"iCal feeds: {options.events} network events, {options.department_events} in one département")
    with tempfile.TemporaryDirectory() as tmp:
        backend, figures = await measure(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}", options, Path(tmp))
        print(report(backend, figures, options))
        if options.database_url:
            async with fresh_postgresql(options.database_url) as url:
                backend, figures = await measure(url, options, Path(tmp))
            print(report(backend, figures, options))


if __name__ == "__main__":
    asyncio.run(main())
