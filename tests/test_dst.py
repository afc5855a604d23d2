"""Events typed on the nights Paris changes the hour: 28/03/2027 goes from 02:00 to 03:00 (02:30 never happens),
31/10/2027 goes from 03:00 back to 02:00 (02:30 happens twice, and an event there is the first, as RFC 5545
reads a local time)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.app import App
from bot.forms import Invalid
from commands.calendar import times
from storage.ids import parse_readable_id
from storage.models import Event
from storage.repositories import Repos
from tests.circuit import Circuit

SPRING_FORWARD = "28/03/2027"
FALL_BACK = "31/10/2027"
SKIPPED = (
    "Le 28/03/2027 à 02:30 n'existe pas : cette nuit-là, les horloges avancent de 1 h (passage à l'heure d'été). "
    "Changez l'heure (par exemple 03:30) ou la date."
)


@pytest.fixture
async def circuit(app: App) -> Circuit:
    app.clock.set(datetime(2027, 3, 20, 9, 0, tzinfo=UTC))  # a week before: both nights are in the agenda's reach
    circuit = Circuit(app)
    await circuit.say("!profil departement 03")
    return circuit


async def stored(app: App, rid: str) -> Event:
    async with app.db.session() as session:
        readable = parse_readable_id(rid)
        assert readable is not None
        event = await Repos(session).events.get(readable)
        assert event is not None
        return event


async def finish(circuit: Circuit, *answers: str) -> tuple[str, str]:
    """The rest of the dialog, then « oui »: the event's id and the confirmation."""
    for answer in answers:
        await circuit.say(answer)
    done = await circuit.text("oui")
    match = re.match(r"Événement (E-\d+) ajouté à l'agenda\.\n", done)
    assert match, done
    return match.group(1), done


async def test_a_start_time_skipped_by_the_change_to_summer_time_is_asked_again(circuit: Circuit) -> None:
    for answer in ("!evenement", "Permanence", SPRING_FORWARD):
        await circuit.say(answer)
    [reply] = await circuit.say("2h30")
    assert reply.plain().split("\n")[:2] == [SKIPPED, "Étape 3/7 — Heure de début"]
    [reply] = await circuit.say("3h30")
    assert reply.plain().startswith("Étape 4/7 — Fin\n")
    rid, done = await finish(circuit, "-", "-", "-", "2")
    assert done == f"Événement {rid} ajouté à l'agenda.\n28/03/2027 03:30–04:30 — Permanence"
    event = await stored(circuit.app, rid)
    assert (event.starts_at, event.ends_at) == (datetime(2027, 3, 28, 1, 30, tzinfo=UTC),
                                                datetime(2027, 3, 28, 2, 30, tzinfo=UTC))
    assert f"\n  • {rid} — 28/03/2027 03:30–04:30 — Permanence (03 Allier)" in await circuit.text("!agenda")


async def test_an_end_time_skipped_by_the_change_to_summer_time_is_asked_again(circuit: Circuit) -> None:
    for answer in ("!evenement", "Veille de nuit", SPRING_FORWARD, "1h30"):
        await circuit.say(answer)
    [reply] = await circuit.say("2h30")
    assert reply.plain().split("\n")[:2] == [SKIPPED, "Étape 4/7 — Fin"]
    rid, done = await finish(circuit, "3h15", "-", "-", "2")
    assert done == f"Événement {rid} ajouté à l'agenda.\n28/03/2027 01:30–03:15 — Veille de nuit"
    event = await stored(circuit.app, rid)
    assert event.ends_at - event.starts_at == timedelta(minutes=45)  # 01:30 CET to 03:15 CEST


async def test_a_date_changed_onto_the_skipped_hour_is_asked_again(circuit: Circuit) -> None:
    rid, _done = await finish(circuit, "!evenement", "Permanence", "21/03/2027", "2h30", "-", "-", "-", "2")
    await circuit.say(f"!evenement modifier {rid}")
    await circuit.say("modifier 2")
    [reply] = await circuit.say(SPRING_FORWARD)
    assert reply.plain().split("\n")[:2] == [SKIPPED, "Étape 2/7 — Date"]
    summary = await circuit.text("29/03/2027")
    assert "\n  2. Date : 29/03/2027\n" in summary
    assert await circuit.text("oui") == (f"Événement {rid} modifié : les agendas abonnés le mettront à jour.\n"
                                         "29/03/2027 02:30–03:30 — Permanence")
    assert (await stored(circuit.app, rid)).starts_at == datetime(2027, 3, 29, 0, 30, tzinfo=UTC)


async def test_a_time_the_change_to_winter_time_repeats_is_its_first_occurrence(circuit: Circuit) -> None:
    circuit.app.clock.set(datetime(2027, 10, 25, 9, 0, tzinfo=UTC))
    rid, done = await finish(circuit, "!evenement", "Permanence", FALL_BACK, "2h30", "-", "-", "-", "2")
    # One hour long: from the first 02:30 (summer time, UTC+2) to the second (winter time, UTC+1).
    line = "31/10/2027 02:30 (heure d'été)–02:30 (heure d'hiver)"
    assert done == f"Événement {rid} ajouté à l'agenda.\n{line} — Permanence"
    event = await stored(circuit.app, rid)
    assert (event.starts_at, event.ends_at) == (datetime(2027, 10, 31, 0, 30, tzinfo=UTC),
                                                datetime(2027, 10, 31, 1, 30, tzinfo=UTC))
    assert f"\n  • {rid} — {line} — Permanence (03 Allier)" in await circuit.text("!agenda")


@pytest.mark.parametrize(
    ("end", "ends_at", "shown"),
    [
        ("durée 2h", datetime(2027, 10, 31, 2, 30, tzinfo=UTC), "02:30 (heure d'été)–03:30"),
        ("90 min", datetime(2027, 10, 31, 2, 0, tzinfo=UTC), "02:30 (heure d'été)–03:00"),
        ("3h", datetime(2027, 10, 31, 3, 30, tzinfo=UTC), "02:30 (heure d'été)–04:30"),  # « 3h » alone: a duration
        ("2h45", datetime(2027, 10, 31, 0, 45, tzinfo=UTC), "02:30 (heure d'été)–02:45 (heure d'été)"),
        ("3h30", datetime(2027, 10, 31, 2, 30, tzinfo=UTC), "02:30 (heure d'été)–03:30"),  # an end time, on the clock
    ],
)
async def test_a_duration_across_the_change_to_winter_time_lasts_what_was_said(
    circuit: Circuit, end: str, ends_at: datetime, shown: str
) -> None:
    circuit.app.clock.set(datetime(2027, 10, 25, 9, 0, tzinfo=UTC))
    rid, done = await finish(circuit, "!evenement", "Veille de nuit", FALL_BACK, "2h30", end, "-", "-", "2")
    assert done == f"Événement {rid} ajouté à l'agenda.\n31/10/2027 {shown} — Veille de nuit"
    event = await stored(circuit.app, rid)
    assert (event.starts_at, event.ends_at) == (datetime(2027, 10, 31, 0, 30, tzinfo=UTC), ends_at)


def test_the_form_submitted_elsewhere_refuses_a_skipped_time_too() -> None:
    # Slack's modal submits the same answers without the dialog's steps: the check is in the times themselves.
    paris = ZoneInfo("Europe/Paris")
    with pytest.raises(Invalid) as refused:
        times({"date": "2027-03-28", "start": "02:30", "end": None}, paris)
    assert refused.value.message == SKIPPED
    start, end, all_day = times({"date": "2027-10-31", "start": "02:30", "end": "duration:60"}, paris)
    assert (start, end, all_day) == (datetime(2027, 10, 31, 0, 30, tzinfo=UTC),
                                     datetime(2027, 10, 31, 1, 30, tzinfo=UTC), False)


async def test_the_reminder_of_an_event_in_the_repeated_hour_says_which_one(circuit: Circuit) -> None:
    from bot import jobs

    circuit.app.clock.set(datetime(2027, 10, 25, 9, 0, tzinfo=UTC))
    await finish(circuit, "!evenement", "Permanence", FALL_BACK, "2h30", "-", "Moulins", "-", "2")
    circuit.app.clock.set(datetime(2027, 10, 30, 0, 35, tzinfo=UTC))  # within a day of its start
    assert await jobs.remind_events(circuit.app) == 1
    await circuit.app.outbox.send_due()
    [reminder] = circuit.to_person("marie")
    assert reminder.text == "Rappel : Permanence, le 31/10/2027 02:30 (heure d'été).\nLieu : Moulins"
