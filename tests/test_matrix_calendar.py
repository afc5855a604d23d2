"""The shared calendar on a real Synapse: an event made in an encrypted DM, its reminder, and the feed link that
a calendar app then reads from the bot's HTTP server."""

from __future__ import annotations

import re
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import httpx
import icalendar
import pytest

from bot import jobs
from tests.db_fixtures import TEST_START
from tests.matrix_people import BotSetup, Person, Running
from tests.synapse import Synapse

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
async def setup(synapse: Synapse, tmp_path: Path) -> BotSetup:
    user = await synapse.register(synapse.unique("odpe-bot"))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return BotSetup(synapse, user, tmp_path, f"sqlite+aiosqlite:///{tmp_path}/bot.db", overrides={
        "http": {"port": port, "public_url": f"http://127.0.0.1:{port}"},
        "calendar": {"reminders": ["P3D"]},
    })


@pytest.fixture
async def bot(setup: BotSetup) -> AsyncIterator[Running]:
    running = await setup.start(http=True)
    yield running
    await running.stop()


@pytest.fixture
async def marie(synapse: Synapse, tmp_path: Path) -> AsyncIterator[Person]:
    person = await Person.login(synapse, await synapse.register(synapse.unique("marie")), tmp_path / "marie")
    yield person
    await person.close()


async def test_an_event_made_in_a_dm_is_recalled_and_reaches_the_subscribed_calendar(
    bot: Running, marie: Person
) -> None:
    bot_id = bot.bot.config.user_id
    # The test sends the reminders itself: the runtime's run every minute would race it.
    bot.runtime.scheduler.pause_job("event-reminders")
    dm = await marie.dm(bot_id, encrypted=True)
    day = (TEST_START.astimezone(PARIS) + timedelta(days=2)).date()
    for answer in ("!profil departement 03", "!evenement", "Commission enfance", day.strftime("%d/%m/%Y"), "14h30",
                   "2h", "Moulins", "-", "2", "oui"):
        await marie.say(dm, answer)
    [done] = await marie.wait_for(bot_id, dm, where=lambda s: "ajouté à l'agenda" in s.body)
    rid = re.search(r"E-\d+", done.body)
    assert rid, done.body

    # Its reminder (three days before, so due now) reaches the département's referent in her DM, once.
    assert await jobs.remind_events(bot.app) == 1
    assert await jobs.remind_events(bot.app) == 0
    [reminder] = await marie.wait_for(bot_id, dm, where=lambda s: s.body.startswith("Rappel"))
    assert f"Commission enfance, le {day.strftime('%d/%m/%Y')} 14:30" in reminder.body
    await bot.app.idle()
    await marie.sync(0)
    assert [s.event.event_id for s in marie.from_bot(bot_id, dm) if s.body.startswith("Rappel")] == [
        reminder.event.event_id
    ]

    await marie.say(dm, "!abonnement")
    [card] = await marie.wait_for(bot_id, dm, where=lambda s: "/ical/" in s.body)
    link = re.search(r"http://\S+\.ics", card.body)
    assert link and f"webcal://{link[0].split('://')[1]}" in card.body
    async with httpx.AsyncClient() as http:
        response = await http.get(link[0])
        assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/calendar")
        [event] = cast(list[Any], icalendar.Calendar.from_ical(response.content).walk("VEVENT"))
        assert str(event["SUMMARY"]) == "Commission enfance"
        start = datetime.combine(day, datetime.min.time().replace(hour=14, minute=30), PARIS)
        assert event["DTSTART"].dt.astimezone(UTC) == start.astimezone(UTC)
        assert event["DTEND"].dt - event["DTSTART"].dt == timedelta(hours=2)

        await marie.say(dm, f"!evenement annuler {rid[0]}")
        await marie.wait_for(bot_id, dm, where=lambda s: "est annulé" in s.body)
        again = await http.get(link[0], headers={"If-None-Match": response.headers["ETag"]})
        assert again.status_code == 200  # changed: a new body, not a 304
        [cancelled] = cast(list[Any], icalendar.Calendar.from_ical(again.content).walk("VEVENT"))
        assert cancelled["STATUS"] == "CANCELLED" and cancelled["SEQUENCE"] == event["SEQUENCE"] + 1
        unchanged = await http.get(link[0], headers={"If-None-Match": again.headers["ETag"]})
        assert unchanged.status_code == 304
