"""The shared calendar in chat: events created, changed and cancelled; the agenda; subscription links."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from bot.app import App
from bot.messages import RoomKind
from storage.db import Database
from storage.ids import parse_readable_id
from storage.repositories import Repos
from tests.circuit import Circuit
from tests.db_fixtures import TEST_START

NEXT_YEAR = TEST_START.year + 1
NOTHING_COMING = "Rien dans l'agenda pour les 60 prochains jours.\nPour en ajouter : `!evenement`"


def in_days(days: int) -> datetime:
    return TEST_START + timedelta(days=days)


@pytest.fixture
async def circuit(app: App) -> Circuit:
    circuit = Circuit(app)
    await circuit.say("!profil departement 03")
    await circuit.say("!profil departement 03", user="onpe")
    return circuit


async def create(circuit: Circuit, *answers: str, user: str = "marie") -> str:
    await circuit.say("!evenement", user=user)
    for answer in answers:
        await circuit.say(answer, user=user)
    text = await circuit.text("oui", user=user)
    match = re.search(r"Événement (E-\d+) ajouté", text)
    assert match, text
    return match.group(1)


async def stored(app: App, rid: str):  # type: ignore[no-untyped-def]
    async with app.db.session() as session:
        readable = parse_readable_id(rid)
        assert readable is not None
        return await Repos(session).events.get(readable)


async def test_a_timed_event_is_stored_in_utc_across_summer_and_winter(circuit: Circuit) -> None:
    summer = await create(circuit, "Comité technique", f"02/07/{NEXT_YEAR}", "14h30", "16h", "Moulins", "-", "2")
    winter = await create(circuit, "Plénière", f"15/01/{NEXT_YEAR}", "9h", "durée 2h", "https://visio.example/odpe",
                          "Ordre du jour à venir", "2")
    july = await stored(circuit.app, summer)
    january = await stored(circuit.app, winter)
    assert july.starts_at == datetime(NEXT_YEAR, 7, 2, 12, 30, tzinfo=UTC)  # CEST = UTC+2
    assert july.ends_at == datetime(NEXT_YEAR, 7, 2, 14, 0, tzinfo=UTC)
    assert january.starts_at == datetime(NEXT_YEAR, 1, 15, 8, 0, tzinfo=UTC)  # CET = UTC+1
    assert january.url == "https://visio.example/odpe" and january.location is None


async def test_the_agenda_lists_what_is_coming_for_the_network_and_the_department(circuit: Circuit) -> None:
    day = in_days(10).strftime("%d/%m/%Y")
    rid = await create(circuit, "Comité technique", day, "14h30", "16h", "Moulins", "-", "2")
    agenda = await circuit.text("!agenda")
    assert f"{rid} — {day} 14:30–16:00 — Comité technique (03 Allier) — Moulins" in agenda
    assert await circuit.text("!agenda", user="paul") == NOTHING_COMING  # another département's referent


async def test_a_whole_day_event_runs_from_midnight_to_midnight(circuit: Circuit) -> None:
    rid = await create(circuit, "Journée d'étude", f"26/03/{NEXT_YEAR}", "journée", "-", "-", "-", "2")
    event = await stored(circuit.app, rid)
    assert event.all_day and (event.ends_at - event.starts_at).days == 1


@pytest.mark.parametrize(
    ("step_answers", "bad", "expected"),
    [
        (("Titre", f"01/02/{NEXT_YEAR}"), "25h", "n'est pas une heure (de 00:00 à 23:59)"),
        (("Titre", f"01/02/{NEXT_YEAR}"), "midi passé", "n'est pas une heure : écrivez par exemple 14h30"),
        (("Titre", f"01/02/{NEXT_YEAR}", "10h"), "bientôt", "donnez l'heure de fin (ex. 16h30) ou la durée"),
    ],
)
async def test_bad_times_are_explained(
    circuit: Circuit, step_answers: tuple[str, ...], bad: str, expected: str
) -> None:
    await circuit.say("!evenement")
    for answer in step_answers:
        await circuit.say(answer)
    assert expected in await circuit.text(bad)


async def test_an_end_before_the_start_is_refused_at_the_summary(circuit: Circuit) -> None:
    await circuit.say("!evenement")
    for answer in ("Réunion", f"01/02/{NEXT_YEAR}", "14h30", "1h30", "-", "-", "2"):
        await circuit.say(answer)
    text = await circuit.text("oui")
    assert "La fin (01:30) est avant le début (14:30)" in text and "Récapitulatif" in text


async def test_only_onpe_creates_network_events(circuit: Circuit) -> None:
    await circuit.say("!evenement")
    for answer in ("Webinaire national", f"01/02/{NEXT_YEAR}", "10h", "-", "-", "-", "1"):
        await circuit.say(answer)
    assert "Les événements de tout le réseau sont créés par l'ONPE" in await circuit.text("oui")
    day = in_days(5).strftime("%d/%m/%Y")
    rid = await create(circuit, "Webinaire national", day, "10h", "-", "-", "-", "1", user="onpe")
    assert rid in await circuit.text("!agenda", user="paul")  # the network sees it, whatever its département


async def test_an_event_is_changed_and_cancelled_by_its_author_only(circuit: Circuit) -> None:
    day = in_days(20).strftime("%d/%m/%Y")
    rid = await create(circuit, "Formation", day, "9h", "12h", "Moulins", "-", "2")
    refused = await circuit.text(f"!evenement annuler {rid}", user="paul")
    assert refused.split("\n")[0] == f"Seuls la personne qui a créé {rid} et l'ONPE peuvent le changer."
    assert not (await stored(circuit.app, rid)).cancelled
    summary = await circuit.text(f"!evenement modifier {rid}")
    assert "Formation" in summary and "Récapitulatif" in summary
    await circuit.say("modifier 1")
    await circuit.say("Formation des référents")
    assert f"Événement {rid} modifié" in await circuit.text("oui")
    event = await stored(circuit.app, rid)
    assert event.title == "Formation des référents" and event.sequence == 1
    cancelled = await circuit.text(f"!evenement annuler {rid}")
    assert cancelled == f"{rid} est annulé ; les agendas abonnés l'afficheront comme tel."
    event = await stored(circuit.app, rid)
    assert event.cancelled and event.sequence == 2
    assert await circuit.text("!agenda") == NOTHING_COMING


async def feed_of(app: App, text: str) -> tuple[str, str | None] | None:
    """The scope and département of the subscription link in `text`; None when the link works no more."""
    link = re.search(r"http://127\.0\.0\.1:8080/ical/([\w-]+)\.ics", text)
    assert link, text
    assert f"webcal://127.0.0.1:8080/ical/{link.group(1)}.ics" in text
    async with app.db.session() as session:
        token = await Repos(session).feeds.resolve(link.group(1))
        return None if token is None else (token.scope, token.department)


async def test_subscription_links_are_personal_revocable_and_given_in_a_dm_only(circuit: Circuit) -> None:
    text = await circuit.text("!abonnement", room=RoomKind.GROUP)
    assert text.split("\n")[0] == "La commande !abonnement ne s'utilise qu'en message direct avec le bot."
    personal = await circuit.text("!abonnement")
    assert await feed_of(circuit.app, personal) == ("personal", None)
    revoked = await circuit.text("!abonnement revoquer")
    assert revoked == "1 lien(s) désactivé(s) : les agendas abonnés ne recevront plus rien."
    assert await feed_of(circuit.app, personal) is None
    assert await feed_of(circuit.app, await circuit.text("!abonnement departement 29")) == ("department", "29")
    # As typed, capital and accent included.
    assert await feed_of(circuit.app, await circuit.text("!abonnement Réseau")) == ("network", None)
    assert await feed_of(circuit.app, await circuit.text("!abonnement Département 2a")) == ("department", "2A")
    # A wrong code is said, rather than a link to the person's own département handed out instead.
    wrong = await circuit.text("!abonnement departement 999")
    assert "« 999 » n'est pas un code de département" in wrong and "/ical/" not in wrong


async def test_reminders_go_once_at_each_offset_follow_edits_and_skip_cancelled(circuit: Circuit) -> None:
    from bot import jobs

    day = in_days(3)
    network = await create(circuit, "Plénière", day.strftime("%d/%m/%Y"), "10h", "-", "Paris", "-", "1", user="onpe")
    local = await create(circuit, "Comité", day.strftime("%d/%m/%Y"), "15h", "-", "-", "-", "2")
    start = (await stored(circuit.app, network)).starts_at
    before = start - timedelta(days=1, minutes=-5)  # within the P1D window
    clock = circuit.app.clock
    clock.set(before)
    assert await jobs.remind_events(circuit.app) == 1  # the network's event, in the announcement rooms
    clock.set(before + timedelta(minutes=30))
    assert await jobs.remind_events(circuit.app) == 0  # never twice
    await circuit.app.outbox.send_due()
    [announced] = [s for s in circuit.to("announce") if "Plénière" in s.text]
    assert "Rappel : Plénière" in announced.text and "Lieu : Paris" in announced.text

    local_start = (await stored(circuit.app, local)).starts_at
    clock.set(local_start - timedelta(minutes=50))  # the PT1H window
    await jobs.remind_events(circuit.app)
    await circuit.app.outbox.send_due()
    assert any("Rappel : Comité" in s.text for s in circuit.to_person("marie"))  # the département's referent
    assert not any("Comité" in s.text for s in circuit.to("announce"))

    await circuit.say(f"!evenement annuler {network}", user="onpe")
    clock.set(start - timedelta(minutes=30))
    assert await jobs.remind_events(circuit.app) == 0  # cancelled: nothing


async def test_the_weekly_digest_lists_the_week_once(circuit: Circuit) -> None:
    from zoneinfo import ZoneInfo

    from bot import jobs

    rid = await circuit.submit(title="Rapport annuel")
    await circuit.say(f"!approuver {rid}", user="onpe", room=RoomKind.REVIEW)
    day = in_days(4).strftime("%d/%m/%Y")
    event = await create(circuit, "Plénière", day, "10h", "-", "-", "-", "1", user="onpe")
    local = TEST_START.astimezone(ZoneInfo("Europe/Paris"))  # a Tuesday: the digest of Monday was missed
    assert local.weekday() == 1
    assert await jobs.weekly_digest(circuit.app)
    circuit.app.clock.advance(timedelta(hours=1))
    assert not await jobs.weekly_digest(circuit.app)  # once a week
    await circuit.app.outbox.send_due()
    [digest] = [s for s in circuit.to("announce") if "La semaine du réseau" in s.text]
    assert f"{rid} — Rapport annuel" in digest.text and event in digest.text


async def test_reminders_survive_a_restart_and_an_edit_that_moves_the_event_recalls_it_again(
    circuit: Circuit,
) -> None:
    from bot import jobs

    day = in_days(3)
    rid = await create(circuit, "Comité", day.strftime("%d/%m/%Y"), "15h", "-", "-", "-", "2")
    start = (await stored(circuit.app, rid)).starts_at
    due = start - timedelta(days=1, minutes=-5)
    clock = circuit.app.clock
    clock.set(due)
    assert await jobs.remind_events(circuit.app) == 2  # the département's two referents
    await circuit.app.close()

    # A new process on the same database (the outbox remembers what was queued): nothing goes out twice.
    restarted = Circuit(App(circuit.app.config, db=Database(circuit.app.config.database.url, clock=clock)))
    clock.set(due + timedelta(minutes=10))
    assert await jobs.remind_events(restarted.app) == 0
    await restarted.app.outbox.send_due()
    assert len([s for s in restarted.to_person("marie") if "Rappel : Comité" in s.text]) == 1

    # Moved to the next day: recalled again, a day before its new start.
    await restarted.say(f"!evenement modifier {rid}")
    await restarted.say("modifier 2")
    await restarted.say((day + timedelta(days=1)).strftime("%d/%m/%Y"))
    changed = await restarted.text("oui")
    assert changed.startswith(f"Événement {rid} modifié : les agendas abonnés le mettront à jour.")
    moved = (await stored(restarted.app, rid)).starts_at
    assert moved == start + timedelta(days=1)
    clock.set(due + timedelta(hours=2))
    assert await jobs.remind_events(restarted.app) == 0  # not yet
    clock.set(moved - timedelta(hours=23))
    assert await jobs.remind_events(restarted.app) == 2
    await restarted.app.outbox.send_due()
    assert len([s for s in restarted.to_person("marie") if "Rappel : Comité" in s.text]) == 2
    await restarted.app.close()
