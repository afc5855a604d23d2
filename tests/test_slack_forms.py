"""The practice and event forms as Slack modals (consent, « Autre : … », times), and the App Home."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot import jobs
from bot.glossary import INTERVENTION_TYPES, PUBLICS, THEMES
from storage.db import Database
from tests.db_fixtures import TEST_START
from tests.slack_fake import (
    Call,
    Workspace,
    blocks_by_id,
    option,
    submit,
    submit_document_by_modal,
    typed,
    workspace,
)


@pytest.fixture
async def ws(migrated_db: Database, tmp_path: Path) -> AsyncIterator[Workspace]:
    async with workspace(migrated_db, tmp_path / "files") as connected:
        yield connected


def text(value: str | None) -> dict[str, Any]:
    return {"value": {"type": "plain_text_input", "value": value}}


def select(block: dict[str, Any], label: str) -> dict[str, Any]:
    return {"value": {"type": "static_select", "selected_option": option(block, label)}}


async def opened_view(ws: Workspace, command: str, user: str = "UMARIE") -> dict[str, Any]:
    before = len(ws.fake.called("views.open"))
    await ws.slash(command, user=user)
    calls = await ws.fake.wait_for(lambda: ws.fake.called("views.open")[before:])
    view: dict[str, Any] = calls[0]["view"]
    return view


async def test_practice_modal_needs_the_conditions_accepted_and_keeps_the_precision_of_other(ws: Workspace) -> None:
    view = await opened_view(ws, "pratique")
    blocks = blocks_by_id(view)
    assert blocks["conditions"]["element"]["type"] == "checkboxes"
    assert blocks["description"]["element"]["max_length"] == 1000 and blocks["entity"]["element"]["max_length"] == 100
    assert "intervention__other" in blocks
    state = {
        "conditions": {"value": {"type": "checkboxes", "selected_options": []}},
        "date": {"value": {"type": "datepicker", "selected_date": "2024-09-01"}},
        "entity": text("Association Les Liens"), "title": text("Médiation animale en foyer"),
        "description": text("Des animaux accompagnent les jeunes accueillis."),
        "scale": select(blocks["scale"], "Départementale"),
        "intervention": select(blocks["intervention"], "Autre"), "intervention__other": text(None),
        "theme": select(blocks["theme"], "Éducation"), "public": select(blocks["public"], "Adolescents"),
        "relay": select(blocks["relay"], "Association"), "department": text("03"),
    }
    refused = await submit(ws, view, state)
    assert refused["response_action"] == "errors"
    assert set(refused["errors"]) == {"conditions", "intervention"}
    assert "Précisez votre réponse après « Autre »" in refused["errors"]["intervention"]

    state["conditions"] = {"value": {"type": "checkboxes", "selected_options": [{"value": "yes"}]}}
    state["intervention__other"] = text("médiation animale")
    answer = await submit(ws, view, state)
    assert answer["response_action"] == "update"
    assert "Autre (médiation animale)" in Call("view", {"view": answer["view"]}).text
    await submit(ws, answer["view"], {})
    [card] = await ws.fake.wait_for(lambda: ws.fake.posted("CREVIEW"))
    assert "Nouvelle pratique inspirante P-1 à examiner" in card.text


async def test_the_practice_modal_with_all_its_options_and_longest_texts_reaches_reviewers_whole(
    ws: Workspace,
) -> None:
    view = await opened_view(ws, "pratique")  # every list's options in a select Slack takes (the fake checks)
    blocks = blocks_by_id(view)
    for name, terms in (("theme", THEMES), ("public", PUBLICS), ("intervention", INTERVENTION_TYPES)):
        assert [o["value"] for o in blocks[name]["element"]["options"]] == [term.key for term in terms]
    longest = {"entity": typed(100, "Association & maison d'enfants "), "title": typed(100),
               "description": typed(1000), "intervention__other": typed(100, "médiation animale & équitation ")}
    state = {
        "conditions": {"value": {"type": "checkboxes", "selected_options": [{"value": "yes"}]}},
        "date": {"value": {"type": "datepicker", "selected_date": "2024-09-01"}},
        **{name: text(value) for name, value in longest.items()},
        "scale": select(blocks["scale"], "Départementale"), "intervention": select(blocks["intervention"], "Autre"),
        "theme": select(blocks["theme"], "Éducation"), "public": select(blocks["public"], "Adolescents"),
        "relay": select(blocks["relay"], "Association"), "department": text("03"),
    }
    answer = await submit(ws, view, state)
    assert answer["response_action"] == "update", answer
    summary = Call("view", {"view": answer["view"]}).words
    assert all(value in summary for value in longest.values())
    await submit(ws, answer["view"], {})
    [card] = await ws.fake.wait_for(lambda: ws.fake.posted("CREVIEW"))
    assert all(value in card.words for value in longest.values())
    await ws.app.idle()


async def test_event_modal_then_app_home_shows_items_and_coming_events(ws: Workspace) -> None:
    await ws.slash("profil departement 03")
    await ws.fake.wait_for(lambda: ws.fake.posted("DUMARIE"))
    view = await opened_view(ws, "evenement")
    blocks = blocks_by_id(view)
    day = (TEST_START + timedelta(days=10)).date().isoformat()
    state = {
        "title": text("Réunion des référents"), "date": {"value": {"type": "datepicker", "selected_date": day}},
        "start": text("25h"), "end": text("2h"), "place": text("Moulins"), "description": text(None),
        "scope": select(blocks["scope"], "Mon département"),
    }
    refused = await submit(ws, view, state)
    assert refused["errors"] == {"start": "« 25h » n'est pas une heure (de 00:00 à 23:59)."}
    state["start"] = text("14h30")
    answer = await submit(ws, view, state)
    await submit(ws, answer["view"], {})
    await ws.fake.wait_for(lambda: [c for c in ws.fake.posted("DUMARIE") if "E-1 ajouté" in c.text])

    await ws.event({"type": "app_home_opened", "user": "UMARIE", "channel": "DUMARIE", "tab": "home"})
    [home] = await ws.fake.wait_for(lambda: ws.fake.called("views.publish", user_id="UMARIE"))
    assert home["view"]["type"] == "home"
    assert "Vous n'avez encore rien soumis" in home.text
    assert "E-1" in home.text and "14:30–16:30 — Réunion des référents" in home.text


async def test_app_home_lists_the_persons_submissions_with_their_state(ws: Workspace) -> None:
    await submit_document_by_modal(ws)
    await ws.event({"type": "app_home_opened", "user": "UMARIE", "channel": "DUMARIE", "tab": "home"})
    [home] = await ws.fake.wait_for(lambda: ws.fake.called("views.publish", user_id="UMARIE"))
    assert "D-1" in home.text and "Rapport annuel 2025 : soumis, en attente de relecture" in home.text


async def sixty_long_events(ws: Workspace) -> list[str]:
    """Sixty events on sixty days from TEST_START, each with a 200-character title and a 300-character place."""
    from storage.repositories import Repos

    titles = [typed(200, f"Réunion {n} des référents & de l'observatoire ") for n in range(60)]
    async with ws.app.db.session() as session:
        for day, title in enumerate(titles):
            starts = TEST_START + timedelta(days=day, hours=1)
            await Repos(session).events.create(title=title, starts_at=starts, ends_at=starts + timedelta(hours=2),
                                               location=typed(300, "Salle du conseil <bâtiment B> & visio "))
    return titles


async def test_an_app_home_with_many_long_events_shows_every_one_whole(ws: Workspace) -> None:
    titles = await sixty_long_events(ws)
    await ws.event({"type": "app_home_opened", "user": "UMARIE", "channel": "DUMARIE", "tab": "home"})
    await ws.app.idle()
    [home] = ws.fake.called("views.publish", user_id="UMARIE")  # a Home Slack takes (the fake checks every view)
    assert all(title in home.words for title in titles)
    assert "Tapez /odpe aide pour la liste des commandes." in home.words


async def test_an_agenda_too_long_for_one_message_goes_on_in_the_next_and_every_event_is_there(
    ws: Workspace,
) -> None:
    titles = await sixty_long_events(ws)
    await ws.slash("agenda")
    await ws.app.idle()
    posts = ws.fake.posted("DUMARIE")  # each one a message Slack takes (the fake checks)
    assert len(posts) > 1 and all(post.get("thread_ts") is None for post in posts)
    assert "Agenda des 60 prochains jours" in posts[0].words
    shown = " ".join(post.words for post in posts)
    assert all(title in shown for title in titles)


async def test_app_home_shows_each_coming_occurrence_of_a_series(ws: Workspace) -> None:
    from calendars.imports import FOREVER
    from storage.repositories import Repos

    first = (TEST_START + timedelta(days=2)).replace(hour=8, minute=0, second=0, microsecond=0)
    series = ("BEGIN:VEVENT\r\nUID:hebdo@allier.fr\r\nSUMMARY:Point hebdomadaire\r\n"
              f"DTSTART:{first:%Y%m%dT%H%M%SZ}\r\nDURATION:PT1H\r\nRRULE:FREQ=WEEKLY\r\nEND:VEVENT\r\n")
    async with ws.app.db.session() as session:
        event = await Repos(session).events.create(title="Point hebdomadaire", starts_at=first,
                                                   ends_at=first + timedelta(hours=1), uid="hebdo@allier.fr",
                                                   source_url="https://exemple.fr/a.ics")
        event.recurrence, event.series_ends_at = series, FOREVER
    await ws.event({"type": "app_home_opened", "user": "UMARIE", "channel": "DUMARIE", "tab": "home"})
    [home] = await ws.fake.wait_for(lambda: ws.fake.called("views.publish", user_id="UMARIE"))
    assert home.text.count("Point hebdomadaire") >= 8  # weekly over the agenda's 60 days, not once
    assert (first + timedelta(days=7)).astimezone(ZoneInfo("Europe/Paris")).strftime("%d/%m/%Y") in home.text


async def test_reminders_and_the_weekly_digest_reach_the_announcement_channels_once(ws: Workspace) -> None:
    view = await opened_view(ws, "evenement", user="UADMIN")
    blocks = blocks_by_id(view)
    start = (TEST_START + timedelta(days=3)).astimezone(ZoneInfo("Europe/Paris"))
    state = {
        "title": text("Séminaire du réseau"), "date": {"value": {"type": "datepicker", "selected_date":
                                                                  start.date().isoformat()}},
        "start": text("10h"), "end": text(None), "place": text("https://visio.example/seminaire"),
        "description": text(None), "scope": select(blocks["scope"], "Tout le réseau"),
    }
    answer = await submit(ws, view, state, user="UADMIN")
    await submit(ws, answer["view"], {}, user="UADMIN")
    await ws.fake.wait_for(lambda: [c for c in ws.fake.posted("DUADMIN") if "E-1 ajouté" in c.text])

    begins = start.replace(hour=10, minute=0, second=0, microsecond=0).astimezone(UTC)
    for _ in range(2):  # the scheduler runs every minute: the day-before reminder goes once
        ws.app.clock.set(begins - timedelta(hours=2))
        await jobs.remind_events(ws.app)
    [reminder] = await ws.fake.wait_for(lambda: ws.fake.posted("CANNOUNCE"))
    assert "Rappel : Séminaire du réseau" in reminder.text and "https://visio.example/seminaire" in reminder.text

    monday = begins - timedelta(days=begins.weekday(), hours=begins.hour - 12)
    for _ in range(2):
        ws.app.clock.set(monday)
        await jobs.weekly_digest(ws.app)
    await ws.app.idle()
    digests = [c for c in ws.fake.posted("CANNOUNCE") if "La semaine du réseau" in c.text]
    assert len(digests) == 1 and len(ws.fake.posted("CANNOUNCE")) == 2


async def test_opening_modals_counts_against_the_persons_rate_limit(migrated_db: Database, tmp_path: Path) -> None:
    async with workspace(migrated_db, tmp_path / "files", rate_limit={"per_minute": 1, "burst": 2}) as ws:
        for _ in range(2):
            await ws.slash("soumettre")
        await ws.fake.wait_for(lambda: len(ws.fake.called("views.open")) == 2)
        await ws.slash("soumettre")
        [limited] = await ws.fake.wait_for(lambda: ws.fake.responses)
        assert limited["response_type"] == "ephemeral" and "patientez" in limited["text"]
        assert len(ws.fake.called("views.open")) == 2
