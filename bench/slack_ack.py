"""How soon the bot acknowledges Slack's requests over HTTP, while it does the work they bring.

Slack waits three seconds for the answer to a request to /slack/events, then shows the person an error (a slash
command) or sends the event again. The bot acknowledges first and works after; this prints the median and p95 of the
time from a signed request to its HTTP answer, over N requests sent one after the other to the bot connected to the
tests' fake Slack (slash commands and direct messages, each answered by a post the bot makes meanwhile), on SQLite.
Run by hand: `python bench/slack_ack.py [--requests 300]`; it is a figure, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.slack_fake, outside the package

from storage.db import Database
from storage.migrate import upgrade
from tests.slack_fake import FORM, Workspace, event_body, next_ts, signed_headers, slash_body, workspace

TARGET_P95_MS = 100.0  # on the 2-core reference machine; Slack itself gives up at 3000 ms
KINDS = ("slash command", "direct message")


def request(ws: Workspace, kind: str, n: int) -> tuple[str, str]:
    """The body and content type of the n-th request of `kind`, from a person of its own."""
    user = f"UBENCH{n}"
    if kind == "slash command":
        return slash_body("annuaire allier", user, "D" + user, ws.fake.base_url), FORM
    event = {"type": "message", "channel": "D" + user, "channel_type": "im", "user": user, "text": "aide",
             "ts": next_ts()}
    return event_body(event), "application/json"


async def measure(ws: Workspace, requests: int) -> dict[str, list[float]]:
    """Each request's time to its acknowledgement, by kind, sent one after the other without waiting for the work."""
    times: dict[str, list[float]] = {kind: [] for kind in KINDS}
    async with aiohttp.ClientSession() as session:
        for n in range(requests):
            kind = KINDS[n % len(KINDS)]
            body, content_type = request(ws, kind, n)
            began = time.perf_counter()
            async with session.post(ws.events_url, data=body, headers=signed_headers(body, content_type)) as answer:
                await answer.read()
                if answer.status != 200:
                    raise SystemExit(f"{kind} #{n} answered {answer.status}: the bench would measure nothing")
            times[kind].append(time.perf_counter() - began)
    return times


def line(label: str, seconds: list[float]) -> str:
    ms = sorted(s * 1000 for s in seconds)
    p95 = statistics.quantiles(ms, n=20)[18] if len(ms) > 1 else ms[0]
    return f"  {label:<16} median {statistics.median(ms):6.1f} ms   p95 {p95:6.1f} ms   max {ms[-1]:6.1f} ms"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="signed requests timed (after 20 of warm-up)")
    options = parser.parse_args()
    if options.requests < 2:
        parser.error("--requests must be at least 2")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        await upgrade(url)
        db = Database(url)
        try:
            async with workspace(db, Path(tmp) / "files") as ws:
                await measure(ws, 20)  # warm-up: connections, caches
                await ws.app.idle(timeout=120)
                posted = len(ws.fake.called("chat.postMessage"))
                times = await measure(ws, options.requests)
                await ws.app.idle(timeout=600)
                answered = len(ws.fake.called("chat.postMessage")) - posted
        finally:
            await db.close()
    everything = [t for kind in KINDS for t in times[kind]]
    print(f"Slack over HTTP: time to acknowledge {options.requests} signed requests sent one after the other, "
          f"the bot working meanwhile (SQLite, fake Slack on loopback)")
    for kind in KINDS:
        print(line(kind, times[kind]))
    print(line("all", everything))
    p95 = statistics.quantiles([t * 1000 for t in everything], n=20)[18]
    verdict = "reached" if p95 <= TARGET_P95_MS else f"NOT reached ({p95 / TARGET_P95_MS:.1f} × the target)"
    print(f"  target: p95 ≤ {TARGET_P95_MS:.0f} ms (Slack gives up at 3000 ms): {verdict}")
    print(f"  answered meanwhile: {answered}/{options.requests} requests")


if __name__ == "__main__":
    asyncio.run(main())
