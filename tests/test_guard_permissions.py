"""Who is heard, who may run the review commands, and where: the permission rules as people meet them."""

from __future__ import annotations

import dataclasses

import pytest

from bot.app import App
from bot.messages import Message, Platform, RoomId, RoomKind, Tone, UserId
from storage.repositories import Repos
from tests.chat import message, say
from tests.circuit import Circuit


@pytest.fixture
def circuit(app: App) -> Circuit:
    return Circuit(app)


@pytest.mark.parametrize("room", [RoomKind.DIRECT, RoomKind.GROUP, RoomKind.ANNOUNCEMENT])
async def test_a_referent_is_told_the_review_commands_are_for_reviewers(circuit: Circuit, room: RoomKind) -> None:
    rid = await circuit.submit(user="marie")
    [reply] = await circuit.say(f"!approuver {rid}", user="paul", room=room)
    assert reply.tone is Tone.ERROR
    assert reply.plain().startswith("La commande !approuver est réservée aux relecteurs de l'ONPE.\n")
    assert f"{rid} — Rapport annuel 2025 : soumis, en attente de relecture" in await circuit.text("!statut")
    assert circuit.to("announce") == []


@pytest.mark.parametrize("room", [RoomKind.DIRECT, RoomKind.GROUP, RoomKind.ANNOUNCEMENT])
async def test_a_reviewer_is_told_the_review_commands_work_in_the_review_room_only(
    circuit: Circuit, room: RoomKind
) -> None:
    rid = await circuit.submit(user="marie")
    [reply] = await circuit.say(f"!refuser {rid} hors sujet", user="onpe", room=room)
    assert reply.tone is Tone.ERROR
    assert reply.plain().startswith("La commande !refuser ne s'utilise que dans le salon de revue de l'ONPE.\n")
    assert f"{rid} — Rapport annuel 2025 : soumis, en attente de relecture" in await circuit.text("!statut")
    assert circuit.to_person("marie") == []


def from_account(text: str, platform: str, sender: str) -> Message:
    return dataclasses.replace(message(text), platform=Platform(platform), sender=UserId(sender),
                               room_id=RoomId(f"dm:{sender}"))


async def test_matrix_accounts_of_the_bots_own_server_are_heard_by_default(app: App) -> None:
    app.config.matrix.user_id = "@odpe-bot:odpe.test"
    assert await app.router.handle(from_account("!aide", "matrix", "@marie:odpe.test")) != []
    assert await app.router.handle(from_account("!aide", "matrix", "@intrus:ailleurs.test")) == []
    assert await app.router.handle(from_account("!aide", "matrix", "@sans-serveur")) == []


async def test_a_server_name_with_a_port_is_the_whole_server_name(app: App) -> None:
    app.config.matrix.user_id = "@odpe-bot:odpe.test:8448"
    assert await app.router.handle(from_account("!aide", "matrix", "@marie:odpe.test:8448")) != []
    assert await app.router.handle(from_account("!aide", "matrix", "@intrus:ailleurs.test:8448")) == []
    app.config.matrix.allowed_servers = ["odpe.test:8448"]
    assert await app.router.handle(from_account("!aide", "matrix", "@paul:odpe.test:8448")) != []
    assert await app.router.handle(from_account("!aide", "matrix", "@intrus:ailleurs.test:8448")) == []


async def test_matrix_accounts_of_the_allowed_servers_only_are_heard(app: App) -> None:
    app.config.matrix.user_id = "@odpe-bot:odpe.test"
    app.config.matrix.allowed_servers = ["agent.tchap.gouv.fr", "odpe.test"]
    assert await app.router.handle(from_account("!aide", "matrix", "@claire:agent.tchap.gouv.fr")) != []
    assert await app.router.handle(from_account("!aide", "matrix", "@marie:odpe.test")) != []
    assert await app.router.handle(from_account("!aide", "matrix", "@intrus:tchap.gouv.fr")) == []


async def test_slack_accounts_are_heard_only_while_slack_is_on_and_only_when_well_formed(app: App) -> None:
    app.config.slack.enabled = True
    assert await app.router.handle(from_account("!aide", "slack", "slack:U024BE7LH")) != []
    assert await app.router.handle(from_account("!aide", "slack", "slack:W0123ABCD")) != []
    assert await app.router.handle(from_account("!aide", "slack", "slack:B01")) == []
    assert await app.router.handle(from_account("!aide", "slack", "slack:u024be7lh")) == []
    app.config.slack.enabled = False
    assert await app.router.handle(from_account("!aide", "slack", "slack:U024BE7LH")) == []


async def test_the_console_is_one_person_at_a_keyboard_and_always_heard(app: App) -> None:
    app.config.matrix.allowed_servers = ["odpe.test"]
    assert await app.router.handle(from_account("!aide", "console", "@anyone:console")) != []


async def grant(app: App, name: str, role: str) -> None:
    async with app.db.session() as session:
        people = Repos(session).people
        await people.add_role(await people.get_or_create("console", f"@{name}:console", name), role)


@pytest.mark.parametrize(
    ("name", "granted", "shown"),
    [("paul", None, "référent"), ("claire", "reviewer", "relecteur ONPE"), ("alain", "admin", "administrateur"),
     ("onpe", None, "relecteur ONPE"), ("admin", None, "administrateur")],
)
async def test_the_profile_shows_the_roles_granted_in_the_database_or_the_configuration(
    app: App, name: str, granted: str | None, shown: str
) -> None:
    if granted:
        await grant(app, name, granted)
    assert f"Rôles : {shown}\n" in await say(app, "!profil", user=name) + "\n"


async def test_a_reviewer_granted_in_the_database_runs_the_review_commands(circuit: Circuit) -> None:
    await grant(circuit.app, "claire", "reviewer")
    rid = await circuit.submit()
    assert f"✅ {rid} archivé par claire" in await circuit.text(f"!approuver {rid}", user="claire",
                                                                room=RoomKind.REVIEW)


async def test_an_administrator_is_no_reviewer_unless_named_one(circuit: Circuit) -> None:
    rid = await circuit.submit()
    [reply] = await circuit.say(f"!approuver {rid}", user="admin", room=RoomKind.GROUP)
    assert reply.plain().startswith("La commande !approuver est réservée aux relecteurs de l'ONPE.\n")


async def test_a_reviewer_is_no_administrator(app: App) -> None:
    text = await say(app, "!annuaire modifier 03 email=x@y.fr", user="onpe")
    assert text.startswith("Cette action de !annuaire est réservée aux administrateurs du bot.")
