"""Time to read an external calendar: the first import, an unchanged one (304), and one after a single change.

The app's clock is stopped at START and moved on five minutes a step, as the scheduler would run the job; the
calendar's events are placed around that day, so that every run reads the same calendar.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp import web

from bot import jobs
from bot.app import App
from bot.config import Config
from storage.db import Database
from storage.migrate import upgrade
from storage.repositories import Repos

# A Monday of winter, far from a change of hour.
START = datetime(2027, 1, 11, 8, 0, tzinfo=UTC)
# Outlook names zones by their Windows names, each described by a VTIMEZONE: the reading compares it with Paris's.
OUTLOOK_ZONE = [
    "BEGIN:VTIMEZONE", "TZID:Romance Standard Time",
    "BEGIN:STANDARD", "DTSTART:16011028T030000", "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10", "TZOFFSETFROM:+0200",
    "TZOFFSETTO:+0100", "END:STANDARD",
    "BEGIN:DAYLIGHT", "DTSTART:16010325T020000", "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3", "TZOFFSETFROM:+0100",
    "TZOFFSETTO:+0200", "END:DAYLIGHT",
    "END:VTIMEZONE",
]


def calendar_text(events: int, series: int, changed: bool, outlook: bool = False) -> bytes:
    rng = random.Random(7)
    today = START.replace(hour=0, minute=0, second=0, microsecond=0)
    tzid = 'TZID="Romance Standard Time"' if outlook else "TZID=Europe/Paris"
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Bench//Agenda//FR", *(OUTLOOK_ZONE if outlook else [])]
    for n in range(events):
        start = today + timedelta(days=rng.randint(-60, 300), hours=rng.randint(8, 17))
        title = "Réunion déplacée" if changed and n == 0 else f"Réunion de service n° {n}"
        lines += ["BEGIN:VEVENT", f"UID:bench-{n}@exemple.fr", "DTSTAMP:20260101T000000Z", f"SUMMARY:{title}",
                  f"DTSTART;{tzid}:{start:%Y%m%dT%H%M%S}", f"DTEND;{tzid}:{start + timedelta(hours=2):%Y%m%dT%H%M%S}",
                  "LOCATION:Salle du conseil, hôtel du département", "END:VEVENT"]
    for n in range(series):
        start = today + timedelta(days=rng.randint(-30, 30), hours=10)
        lines += ["BEGIN:VEVENT", f"UID:bench-series-{n}@exemple.fr", "DTSTAMP:20260101T000000Z",
                  f"SUMMARY:Permanence {n}", f"DTSTART;{tzid}:{start:%Y%m%dT%H%M%S}", "DURATION:PT1H",
                  "RRULE:FREQ=WEEKLY;COUNT=52", "END:VEVENT"]
    lines.append("END:VCALENDAR")
    return "".join(line + "\r\n" for line in lines).encode()


async def main(events: int, series: int, outlook: bool) -> None:
    bodies = {"v1": calendar_text(events, series, False, outlook), "v2": calendar_text(events, series, True, outlook)}
    current = {"etag": "v1", "validators": "yes"}

    async def serve(request: web.Request) -> web.Response:
        etag = f'"{current["etag"]}"'
        if current["validators"] != "yes":
            return web.Response(body=bodies[current["etag"]], content_type="text/calendar")
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304)
        return web.Response(body=bodies[current["etag"]], content_type="text/calendar", headers={"ETag": etag})

    web_app = web.Application()
    web_app.router.add_get("/agenda.ics", serve)
    runner = web.AppRunner(web_app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/agenda.ics"
    with tempfile.TemporaryDirectory() as work:
        database_url = f"sqlite+aiosqlite:///{Path(work) / 'bench.db'}"
        await upgrade(database_url)
        config = Config(database={"url": database_url}, files={"dir": work},
                        calendar={"external_feeds": [{"url": url, "department": "03", "refresh_minutes": 5}],
                                  "import_max_events": events + series})
        app = App(config, db=Database(database_url))
        app.clock.freeze(START)  # stopped: a source read at one step is due again five minutes later, to the second
        figures = []
        steps = (("first import", "v1", "yes"), ("unchanged (304)", "v1", "yes"), ("one event changed", "v2", "yes"),
                 ("same body, no ETag", "v2", "no"))
        for label, etag, validators in steps:
            current["etag"], current["validators"] = etag, validators
            started = time.perf_counter()
            read = await jobs.refresh_calendars(app)
            figures.append((label, (time.perf_counter() - started) * 1000))
            if read != 1:
                raise RuntimeError(f"{label}: {read} source(s) read, not 1")
            app.clock.advance(timedelta(minutes=5))
        async with app.db.session() as session:
            [source] = await Repos(session).calendar_sources.all()
            kept, skipped = source.events, source.skipped
        await app.close()
    await runner.cleanup()
    size = len(bodies["v1"]) / 1024 / 1024
    zone = "Outlook's Romance Standard Time" if outlook else "Europe/Paris"
    print(f"external calendar of {events} events and {series} weekly series in {zone} ({size:.1f} MiB), SQLite,"
          f" read at {START:%Y-%m-%d %H:%M} UTC: {kept} imported, {skipped} skipped")
    for label, ms in figures:
        print(f"  {label:<20} {ms:8.0f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--series", type=int, default=50)
    parser.add_argument("--outlook", action="store_true", help="zones named and described as Outlook exports them")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.events, arguments.series, arguments.outlook))
