"""How many complete `soumettre` dialogs per second the core handles, and the memory of many dialogs left open."""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from bot.app import App
from bot.config import Config
from bot.messages import Attachment, EventId, Message, Platform, Reply, RoomId, RoomKind, UserId
from storage.db import sqlite_file

TARGET = 50.0  # complete dialogs per second the team must reach on the 2-core reference machine
OPEN_STEPS = 5  # answers given by each of the dialogs left open (type, title, date, author, keywords)
DONE = "enregistré sous D-"
_MIB = 1024 * 1024


@dataclass(frozen=True)
class Answer:
    """One message of a person in the dialog: a text, or a file sent as an attachment (text "")."""

    text: str
    file: Attachment | None = None


@dataclass
class Tally:
    """What a run measured: complete dialogs, messages handled, and each message's latency in seconds."""

    dialogs: int = 0
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.dialogs / self.seconds if self.seconds else 0.0


def pdf(key: str) -> Attachment:
    """A small but real PDF, distinct for each key (the same file twice is refused as a duplicate)."""
    body = (
        "%PDF-1.4\n"
        "1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
        "2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n"
        f"% bench document {key}\n"
        "trailer << /Root 1 0 R >>\n%%EOF\n"
    )
    return Attachment(f"rapport-{key}.pdf", "application/pdf", body.encode())


def script(key: str) -> list[Answer]:
    """Everything one person sends to submit a document, from the command to the final `oui`."""
    return [
        Answer("!soumettre"),
        Answer("4"),  # type: Rapports ODPE
        Answer(f"Rapport annuel de l'observatoire {key}"),
        Answer("03/11/2025"),
        Answer("DEF de l'Allier"),
        Answer("maltraitance, indicateurs, schéma départemental"),
        Answer("Enquête départementale et données de l'aide sociale à l'enfance"),
        Answer("3"),  # nature: mixte
        Answer("03"),
        Answer("", pdf(key)),
        Answer("Quelques lignes pour présenter le rapport."),
        Answer("oui"),
    ]


def message(sender: str, answer: Answer, dedupe: bool) -> Message:
    user = UserId(f"@{sender}:console")
    return Message(
        platform=Platform("console"),
        event_id=EventId(uuid.uuid4().hex),
        room_id=RoomId(f"dm:{user}"),
        room_kind=RoomKind.DIRECT,
        sender=user,
        sender_name=sender,
        text=answer.text,
        attachments=(answer.file,) if answer.file is not None else (),
        dedupe=dedupe,
    )


def plain(replies: Sequence[Reply]) -> str:
    return "\n".join(r.plain() for r in replies)


async def converse(
    app: App, sender: str, answers: Sequence[Answer], dedupe: bool, tally: Tally | None = None
) -> list[Reply]:
    """Send `answers` one after the other as `sender`; returns the replies to the last one."""
    replies: list[Reply] = []
    for answer in answers:
        t0 = time.perf_counter()
        replies = await app.router.handle(message(sender, answer, dedupe))
        if tally is not None:
            tally.latencies.append(time.perf_counter() - t0)
        if not replies:
            sent = answer.text or (answer.file.name if answer.file else "")
            raise SystemExit(f"{sender}: no reply to {sent!r}: the benchmark would measure nothing")
    return replies


async def dialog(app: App, sender: str, dedupe: bool, tally: Tally) -> None:
    """One person submits one document, start to end; exits if it was not registered."""
    replies = await converse(app, sender, script(sender), dedupe, tally)
    if DONE not in plain(replies):
        raise SystemExit(f"{sender}: the document was not registered; last reply:\n{plain(replies)}")
    tally.dialogs += 1


async def run(app: App, label: str, people: str, dialogs: int, concurrency: int, dedupe: bool) -> Tally:
    """`dialogs` complete dialogs, `concurrency` at a time (1: one after the other), by people named `people-N`."""
    tally = Tally()
    start = time.perf_counter()
    for first in range(0, dialogs, concurrency):
        batch = range(first, min(first + concurrency, dialogs))
        await asyncio.gather(*(dialog(app, f"{people}-{i}", dedupe, tally) for i in batch))
    tally.seconds = time.perf_counter() - start
    p50 = statistics.median(tally.latencies) * 1000
    p99 = statistics.quantiles(tally.latencies, n=100)[98] * 1000
    print(
        f"  {label:<34} {tally.rate:7.1f} dialogs/s {len(tally.latencies) / tally.seconds:7.0f} messages/s"
        f"   p50 {p50:6.2f} ms   p99 {p99:6.2f} ms   ({tally.dialogs} dialogs in {tally.seconds:.1f} s)"
    )
    return tally


def peak_rss_mib() -> float:
    """The process's peak resident set size so far (ru_maxrss is in KiB on Linux, in bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / _MIB if sys.platform == "darwin" else peak / 1024


async def database_size(app: App, url: str) -> str:
    """The size of the database: its SQLite file (and write-ahead log), or what PostgreSQL reports."""
    if app.db.backend == "postgresql":
        async with app.db.session() as session:
            size = (await session.execute(sa.text("SELECT pg_database_size(current_database())"))).scalar_one()
        return f"{size / _MIB:.1f} MiB (pg_database_size)"
    path = sqlite_file(url)
    if path is None:
        return "n/a (not a SQLite file)"
    sizes = {suffix: Path(f"{path}{suffix}").stat().st_size for suffix in ("", "-wal")
             if Path(f"{path}{suffix}").exists()}
    shown = " + ".join(f"{size / _MIB:.1f} MiB{' (WAL)' if suffix else ''}" for suffix, size in sizes.items())
    return f"file {shown} = {sum(sizes.values()) / _MIB:.1f} MiB"


async def open_person(app: App, sender: str) -> None:
    """`sender` starts a dialog and gives its first answers; exits unless the bot then asks the next question."""
    replies = await converse(app, sender, script(sender)[: OPEN_STEPS + 1], True)
    if f"Étape {OPEN_STEPS + 1}/" not in plain(replies):
        raise SystemExit(f"{sender}: the dialog is not at step {OPEN_STEPS + 1}; last reply:\n{plain(replies)}")


async def open_dialogs(app: App, people: str, count: int, concurrency: int, url: str) -> None:
    """Leave `count` dialogs open at step 6, measure memory, then finish one of them."""
    at_once = "one after the other" if concurrency == 1 else f"{concurrency} at a time"
    print(f"{count} dialogs left open after {OPEN_STEPS} answers (started {at_once}, tracemalloc on)")
    rss_before = peak_rss_mib()
    tracemalloc.start()
    start = time.perf_counter()
    for first in range(0, count, concurrency):
        batch = range(first, min(first + concurrency, count))
        await asyncio.gather(*(open_person(app, f"{people}-{i}") for i in batch))
    elapsed = time.perf_counter() - start
    traced_now, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_after = peak_rss_mib()
    async with app.db.session() as session:
        rows = (await session.execute(sa.text("SELECT count(*) FROM dialog_state"))).scalar_one()
    messages = count * (OPEN_STEPS + 1)
    print(f"  opened in {elapsed:.1f} s ({messages / elapsed:.0f} messages/s, slowed down by tracemalloc)")
    print(f"  peak RSS        {rss_before:6.1f} MiB before, {rss_after:6.1f} MiB after")
    print(f"  Python (traced) {traced_peak / _MIB:6.1f} MiB at the peak, {traced_now / _MIB:6.1f} MiB still held after")
    print(f"  database        {app.db.backend}, {rows} rows in dialog_state, {await database_size(app, url)}")
    middle = min(500, count) - 1  # person #500
    sender = f"{people}-{middle}"
    replies = await converse(app, sender, script(sender)[OPEN_STEPS + 1 :], True)
    if DONE not in plain(replies):
        raise SystemExit(f"{sender}: the dialog left open could not be completed; last reply:\n{plain(replies)}")
    print(f"  person #{middle + 1} then finished their dialog: {plain(replies).splitlines()[0]}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dialogs", type=int, default=300, help="complete dialogs per line")
    parser.add_argument("--concurrency", type=int, default=20, help="dialogs running at once on the concurrent line")
    parser.add_argument("--open", type=int, default=1000, help="dialogs left open for the memory figures")
    parser.add_argument("--open-concurrency", type=int, default=1,
                        help="dialogs opened at once (on SQLite, more than 1 only waits on the write lock)")
    parser.add_argument("--database-url", help="another database than a temporary SQLite file (it gets migrated)")
    options = parser.parse_args()
    if min(options.dialogs, options.concurrency, options.open, options.open_concurrency) < 1:
        parser.error("--dialogs, --concurrency, --open and --open-concurrency must be at least 1")
    tag = uuid.uuid4().hex[:6]  # people and files are new on every run, even on a database kept between runs
    with tempfile.TemporaryDirectory() as tmp:
        url = options.database_url or f"sqlite+aiosqlite:///{tmp}/bench.db"
        config = Config(database={"url": url}, files={"dir": f"{tmp}/files"}, rate_limit={"per_minute": 0})
        app = App(config)
        await app.migrate()
        try:
            print(f"odpe-bot core on {app.db.backend}: {options.dialogs} `soumettre` dialogs of {len(script(''))} "
                  f"messages per line (target ≥ {TARGET:.0f} dialogs/s)")
            await run(app, "warm-up", f"warmup-{tag}", min(20, options.dialogs), 1, True)
            began = time.perf_counter()
            sequential = await run(app, "one at a time, event ids recorded", f"seq-{tag}", options.dialogs, 1, True)
            concurrent = await run(app, f"{options.concurrency} at a time, event ids recorded", f"conc-{tag}",
                                   options.dialogs, options.concurrency, True)
            await run(app, "one at a time, console (no ids)", f"console-{tag}", options.dialogs, 1, False)
            best = max(sequential.rate, concurrent.rate)
            verdict = "reached" if best >= TARGET else f"NOT reached ({best / TARGET:.0%} of it)"
            print(f"  target of {TARGET:.0f} complete dialogs/s (event ids recorded): {verdict}")
            await open_dialogs(app, f"open-{tag}", options.open, options.open_concurrency, url)
            print(f"done in {time.perf_counter() - began:.0f} s after the warm-up")
        finally:
            await app.close()


if __name__ == "__main__":
    asyncio.run(main())
