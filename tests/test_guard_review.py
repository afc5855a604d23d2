"""The review as a state machine, as reviewers and submitters meet it: who may take which action, from which
state, what each person is told and what is sent."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot import review
from bot.app import App
from bot.messages import EventId, Platform, Prompt, Reaction, Reply, RoomId, RoomKind, Tone, UserId
from bot.people_cache import PeopleCache
from commands.calendar import send_digest
from storage.ids import parse_readable_id
from storage.models import Item
from storage.repositories import Repos
from tests.circuit import PLATFORM, Circuit

REVIEW = RoomKind.REVIEW


@pytest.fixture
def circuit(app: App) -> Circuit:
    return Circuit(app)


async def react_in(circuit: Circuit, key: str, subject: str, user: str, room: RoomKind) -> str:
    """A reaction to the review card of `subject`, made in `room` (a card forwarded there, a client's quirk)."""
    replies = await circuit.app.router.handle_reaction(Reaction(
        platform=Platform(PLATFORM), event_id=EventId(uuid.uuid4().hex), room_id=RoomId(room.value),
        room_kind=room, sender=UserId(f"@{user}:console"), sender_name=user, key=key,
        prompt=Prompt("review", subject),
    ))
    await circuit.app.outbox.send_due()
    return "\n".join(r.plain() for r in replies)


async def test_a_referents_reaction_outside_the_review_room_is_reserved_to_reviewers(circuit: Circuit) -> None:
    rid = await circuit.submit(user="marie")
    text = await react_in(circuit, "✅", rid, user="paul", room=RoomKind.GROUP)
    assert text == "Cette action est réservée aux relecteurs de l'ONPE."
    assert f"{rid} — Rapport annuel 2025 : soumis, en attente de relecture" in await circuit.text("!statut")
    assert circuit.to("announce") == []


async def test_a_reviewers_reaction_outside_the_review_room_points_to_it(circuit: Circuit) -> None:
    rid = await circuit.submit(user="marie")
    text = await react_in(circuit, "✅", rid, user="onpe", room=RoomKind.DIRECT)
    assert text.startswith("Les actions de relecture se font dans le salon de revue.")
    assert circuit.to("announce") == []


async def reviewer(app: App, name: str) -> None:
    """`name` becomes a reviewer, granted in the database (the configuration names only @onpe)."""
    async with app.db.session() as session:
        people = Repos(session).people
        await people.add_role(await people.get_or_create(PLATFORM, f"@{name}:console", name), "reviewer")


@pytest.fixture
async def two_reviewers(circuit: Circuit) -> Circuit:
    circuit.app.clock.freeze()  # each step at an exact moment: the days below are exact
    await reviewer(circuit.app, "claire")
    return circuit


async def refused(circuit: Circuit, text: str, user: str, room: RoomKind = REVIEW) -> str:
    """The sentence saying why `text` was refused (the command's help line follows it)."""
    [reply] = await circuit.say(text, user=user, room=room)
    assert reply.tone is Tone.ERROR, reply.plain()
    return reply.plain().split("\n")[0]


async def test_a_claimed_item_says_who_took_it_and_since_when(two_reviewers: Circuit) -> None:
    circuit = two_reviewers
    rid = await circuit.submit()
    circuit.app.clock.advance(timedelta(days=1))
    assert f"✋ {rid} est pris en charge par onpe." in await circuit.text(f"!prendre {rid}", user="onpe", room=REVIEW)
    circuit.app.clock.advance(timedelta(days=1))
    assert await refused(circuit, f"!prendre {rid}", "claire") == (
        f"{rid} est déjà pris en charge par onpe depuis le 25/11/2026.")
    assert f"{rid} — Rapport annuel 2025 — en cours de relecture — 2 j — pris par onpe" in await circuit.text(
        "!file", user="claire", room=REVIEW)


async def test_a_request_for_more_says_who_asked_it_and_when(two_reviewers: Circuit) -> None:
    circuit = two_reviewers
    rid = await circuit.submit()
    await circuit.say(f"!prendre {rid}", user="onpe", room=REVIEW)
    circuit.app.clock.advance(timedelta(days=2))
    await circuit.say(f"!complement {rid} Quelles sources ?", user="claire", room=REVIEW)
    circuit.app.clock.advance(timedelta(days=1))
    assert await refused(circuit, f"!prendre {rid}", "onpe") == (
        f"{rid} attend le complément demandé par claire le 26/11/2026.")
    assert await refused(circuit, f"!complement {rid} Et la date ?", "onpe") == (
        f"{rid} attend le complément demandé par claire le 26/11/2026.")


async def test_a_rejected_item_says_who_rejected_it_and_when(two_reviewers: Circuit) -> None:
    circuit = two_reviewers
    rid = await circuit.submit()
    circuit.app.clock.advance(timedelta(days=3))
    await circuit.say(f"!refuser {rid} Hors du champ", user="onpe", room=REVIEW)
    for command in (f"!approuver {rid}", f"!refuser {rid} Doublon", f"!complement {rid} Sources ?"):
        assert await refused(circuit, command, "claire") == f"{rid} a déjà été refusé par onpe le 27/11/2026."
    assert await refused(circuit, f"!annuler {rid}", "marie", RoomKind.DIRECT) == (
        f"{rid} a déjà été refusé par onpe le 27/11/2026.")


async def test_a_withdrawn_item_says_its_submitter_withdrew_it_and_when(two_reviewers: Circuit) -> None:
    circuit = two_reviewers
    rid = await circuit.submit()
    await circuit.say(f"!prendre {rid}", user="onpe", room=REVIEW)
    circuit.app.clock.advance(timedelta(days=1))
    assert f"{rid} est retiré" in await circuit.text(f"!annuler {rid}")
    assert await refused(circuit, f"!approuver {rid}", "onpe") == (
        f"{rid} a été retiré par la personne qui l'avait soumis, le 25/11/2026.")


async def test_a_published_practice_says_who_published_it_and_when(two_reviewers: Circuit) -> None:
    circuit = two_reviewers
    await circuit.say("!pratique")
    for answer in ("oui", "15/09/2023", "Association Les Liens", "Café des parents", "Un lieu d'accueil.",
                   "départementale", "Autre : médiation familiale", "3", "2", "association", "allier"):
        await circuit.say(answer)
    [done] = await circuit.say("oui")
    rid = done.plain().split("enregistrée sous ")[1].split(".")[0]
    circuit.app.clock.advance(timedelta(days=1))
    assert f"✅ {rid} publié par claire" in await circuit.text(f"!approuver {rid}", user="claire", room=REVIEW)
    assert await refused(circuit, f"!approuver {rid}", "onpe") == f"{rid} a déjà été publié par claire le 25/11/2026."


async def test_every_pending_state_may_be_decided_and_withdrawn(two_reviewers: Circuit) -> None:
    circuit = two_reviewers
    submitted, claimed, asked = [await circuit.submit(title=f"Rapport {n}") for n in range(3)]
    await circuit.say(f"!prendre {claimed}", user="onpe", room=REVIEW)
    await circuit.say(f"!complement {asked} Sources ?", user="onpe", room=REVIEW)
    await circuit.text("annuler")  # marie leaves the answer for later: her item still waits for it
    for rid in (submitted, claimed, asked):
        assert f"✅ {rid} archivé par claire" in await circuit.text(f"!approuver {rid}", user="claire", room=REVIEW)
    submitted, claimed, asked = [await circuit.submit(title=f"Étude {n}") for n in range(3)]
    await circuit.say(f"!prendre {claimed}", user="onpe", room=REVIEW)
    await circuit.say(f"!complement {asked} Sources ?", user="onpe", room=REVIEW)
    await circuit.text("annuler")
    assert f"❌ {submitted} refusé par claire" in await circuit.text(f"!refuser {submitted} Non", user="claire",
                                                                   room=REVIEW)
    assert f"❌ {asked} refusé par claire" in await circuit.text(f"!refuser {asked} Non", user="claire", room=REVIEW)
    assert f"{claimed} est retiré" in await circuit.text(f"!annuler {claimed}")


async def test_a_reviewer_cannot_decide_on_their_own_submission(two_reviewers: Circuit) -> None:
    circuit = two_reviewers
    rid = await circuit.submit(user="onpe")
    assert await refused(circuit, f"!approuver {rid}", "onpe") == (
        f"Vous ne pouvez pas relire votre propre soumission {rid} : un autre relecteur s'en chargera.")
    assert f"✅ {rid} archivé par claire" in await circuit.text(f"!approuver {rid}", user="claire", room=REVIEW)


async def test_only_the_submitter_withdraws(two_reviewers: Circuit) -> None:
    circuit = two_reviewers
    rid = await circuit.submit()
    for user in ("paul", "onpe"):
        assert await refused(circuit, f"!annuler {rid}", user, RoomKind.DIRECT) == (
            f"Seule la personne qui a soumis {rid} peut faire cela.")
    assert f"{rid} — Rapport annuel 2025 : soumis, en attente de relecture" in await circuit.text("!statut")


async def test_the_state_line_says_the_state_and_its_last_step(two_reviewers: Circuit) -> None:
    circuit = two_reviewers
    rid = await circuit.submit()
    item = await item_of(circuit, rid)
    async with circuit.app.db.session() as session:
        line = await review.state_line(Repos(session), item, circuit.app.config.tz)
    assert line == "État : soumis, en attente de relecture — soumis par marie le 24/11/2026"
    circuit.app.clock.freeze(datetime(2026, 11, 24, 23, 30, tzinfo=UTC))  # already the 25th in Paris
    await circuit.say(f"!approuver {rid}", user="onpe", room=REVIEW)
    item = await item_of(circuit, rid)
    async with circuit.app.db.session() as session:
        line = await review.state_line(Repos(session), item, circuit.app.config.tz)
    assert line == "État : archivé — accepté par onpe le 25/11/2026"


async def item_of(circuit: Circuit, rid: str) -> Item:
    readable = parse_readable_id(rid)
    assert readable is not None
    async with circuit.app.db.session() as session:
        item = await Repos(session).items.get(readable)
    assert item is not None
    return item


async def test_a_decision_is_told_once_in_the_other_platforms_review_rooms(app: App) -> None:
    circuit = Circuit(app)
    elsewhere: list[tuple[str, str, str | None]] = []

    async def deliver(message_id: int, target: str, payload: dict[str, Any]) -> None:
        reply = Reply.from_json(payload["reply"])
        elsewhere.append((target, reply.plain(), reply.topic))

    app.router.platforms[:] = [PLATFORM, "slack"]
    app.outbox.register("slack", deliver)
    first, second = await circuit.submit(), await circuit.submit(title="Autre rapport")
    elsewhere.clear()
    await circuit.say(f"!refuser {first} Hors du champ", user="onpe", room=REVIEW)
    await circuit.say(f"!approuver {second}", user="onpe", room=REVIEW)
    assert [e for e in elsewhere if e[0] == "review"] == [
        ("review", f"{first} : refusé par onpe.\nNote : Hors du champ", first),
        ("review", f"{second} : accepté par onpe.", second),
    ]
    assert not any("par onpe." in s.text for s in circuit.to("review"))  # the reviewer's room has the answer


async def test_an_id_that_is_none_says_what_an_id_looks_like(two_reviewers: Circuit) -> None:
    assert await refused(two_reviewers, "!approuver rapport", "onpe") == (
        "« rapport » n'est pas un identifiant de document ou de pratique (ex. D-12, P-7).")


async def test_the_history_keeps_each_step_and_its_note(two_reviewers: Circuit) -> None:
    circuit = two_reviewers
    rid = await circuit.submit()
    await circuit.say(f"!prendre {rid}", user="onpe", room=REVIEW)
    await circuit.say(f"!complement {rid} Quelles sources ?", user="claire", room=REVIEW)
    await circuit.say("Les données ASE.")
    await circuit.say(f"!approuver {rid} Merci", user="onpe", room=REVIEW)
    assert await circuit.text(f"!statut {rid}") == (
        f"{rid} — Rapport annuel 2025 : archivé\n"
        "  • 24/11/2026 10:00 — soumis\n"
        "  • 24/11/2026 10:00 — pris en charge\n"
        "  • 24/11/2026 10:00 — complément demandé : Quelles sources ?\n"
        "  • 24/11/2026 10:00 — complément apporté : Les données ASE.\n"
        "  • 24/11/2026 10:00 — accepté : Merci")


async def test_the_queue_keeps_who_took_an_item_when_another_reviewer_asks_for_more(two_reviewers: Circuit) -> None:
    circuit = two_reviewers
    rid = await circuit.submit()
    await circuit.say(f"!prendre {rid}", user="onpe", room=REVIEW)
    await circuit.say(f"!complement {rid} Quelles sources ?", user="claire", room=REVIEW)
    assert f"{rid} — Rapport annuel 2025 — complément demandé — 0 h — pris par onpe" in await circuit.text(
        "!file", user="claire", room=REVIEW)


async def test_the_review_card_names_the_submitter(circuit: Circuit) -> None:
    rid = await circuit.submit(user="paul")
    [card] = circuit.to("review")
    assert card.text.startswith(f"Nouveau document {rid} à relire\nSoumis par paul\n")


async def test_the_weekly_digest_lists_what_was_accepted_in_the_last_seven_days(two_reviewers: Circuit) -> None:
    circuit = two_reviewers
    old, rejected, recent = [await circuit.submit(title=f"Rapport {n}") for n in range(3)]
    await circuit.say(f"!approuver {old}", user="onpe", room=REVIEW)
    circuit.app.clock.advance(timedelta(days=3))
    await circuit.say(f"!refuser {rejected} Hors du champ", user="onpe", room=REVIEW)
    await circuit.say(f"!approuver {recent}", user="onpe", room=REVIEW)
    circuit.app.clock.advance(timedelta(days=5))  # `old` was accepted 8 days ago, `recent` 5
    async with circuit.app.db.session() as session:
        assert await send_digest(Repos(session), (PLATFORM,), circuit.app.clock.now(), circuit.app.config.tz, "fr",
                                 weekday=0, hour=0)
    await circuit.app.outbox.send_due()
    digest = circuit.to("announce")[-1].text
    assert digest.startswith(f"La semaine du réseau\nNouveaux documents et pratiques :\n  • {recent} — Rapport 2")
    assert old not in digest and rejected not in digest


async def test_a_reviewer_whose_role_was_withdrawn_cannot_finish_a_rejection(two_reviewers: Circuit) -> None:
    circuit = two_reviewers
    await reviewer(circuit.app, "lucie")  # a reviewer by the database alone
    rid = await circuit.submit()
    [ask] = await circuit.react("❌", rid, user="lucie")
    assert ask.plain() == f"Motif du refus de {rid} ? Écrivez-le ici (ou « annuler »)."
    async with circuit.app.db.session() as session:
        people = Repos(session).people
        await people.remove_role(await people.get_or_create(PLATFORM, "@lucie:console", "lucie"), "reviewer")
    circuit.app.router.people = PeopleCache()  # as after a restart: the role is read again
    assert await circuit.text("Hors du champ", user="lucie") == (  # in her DM, where her dialog goes on too
        "Cette action est réservée aux relecteurs de l'ONPE.")
    assert f"{rid} — Rapport annuel 2025 : soumis, en attente de relecture" in await circuit.text("!statut")
    assert circuit.to_person("marie") == []
