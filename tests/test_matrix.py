"""The bot on a real Synapse, as referents and ONPE staff meet it from their Matrix clients."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from nio import UploadResponse

from bot.app import App
from bot.context import Context
from bot.i18n import _
from bot.messages import Message, Prompt, Reaction, Reply
from bot.registry import Registry
from bot.router import Router
from integrations.matrix import MatrixIntegration
from integrations.matrix.adapter import MAX_SYNC_AGE
from integrations.matrix.cross_signing import verify_device_chain
from integrations.runtime import Runtime
from storage.db import Database
from storage.ids import parse_readable_id
from storage.migrate import upgrade
from storage.repositories import Repos
from tests.matrix_people import (
    ENCRYPTION_STATE,
    BotSetup,
    Person,
    Running,
    decrypted,
    eventually,
    keys_query,
    registry_with,
    send_raw,
)
from tests.synapse import Synapse


@pytest.fixture
async def setup(synapse: Synapse, tmp_path: Path) -> BotSetup:
    user = await synapse.register(synapse.unique("odpe-bot"))
    return BotSetup(synapse, user, tmp_path, f"sqlite+aiosqlite:///{tmp_path}/bot.db")


@pytest.fixture
async def marie(synapse: Synapse, tmp_path: Path) -> AsyncIterator[Person]:
    person = await Person.login(synapse, await synapse.register(synapse.unique("marie")), tmp_path / "marie")
    yield person
    await person.close()


@pytest.fixture
async def bot(setup: BotSetup) -> AsyncIterator[Running]:
    running = await setup.start()
    yield running
    await running.stop()


def bot_id(setup: BotSetup | Running) -> str:
    return setup.bot.config.user_id if isinstance(setup, Running) else setup.user.user_id


async def test_a_referents_dm_gets_aide_answered(bot: Running, marie: Person) -> None:
    room = await marie.dm(bot_id(bot), encrypted=False)
    await marie.say(room, "!aide")
    [reply] = await marie.wait_for(bot_id(bot), room)
    assert reply.content["msgtype"] == "m.notice"
    assert "Commandes d'odpe-bot" in reply.body
    assert "<code>!annuaire &lt;departement…&gt;</code>" in reply.content["formatted_body"]


async def test_an_encrypted_dm_works_both_ways(bot: Running, marie: Person) -> None:
    room = await marie.dm(bot_id(bot), encrypted=True)
    await marie.say(room, "!annuaire allier")
    [reply] = await marie.wait_for(bot_id(bot), room)
    assert decrypted(reply), "the bot's answer in an encrypted DM must be readable by the person"
    assert reply.event.source["type"] == "m.room.message"  # after decryption
    assert "Mme Blandine AATAR" in reply.body


async def test_user_text_is_escaped_in_the_formatted_body(bot: Running, marie: Person) -> None:
    room = await marie.dm(bot_id(bot), encrypted=False)
    await marie.say(room, "!annuaire <b>x</b>")
    [reply] = await marie.wait_for(bot_id(bot), room)
    assert "<b>x</b>" not in reply.content["formatted_body"]
    assert "&lt;b&gt;x&lt;/b&gt;" in reply.content["formatted_body"]


async def test_an_invite_from_a_server_not_allowed_is_refused(setup: BotSetup, marie: Person) -> None:
    setup.overrides["matrix"] = {"allowed_servers": ["ailleurs.example"]}
    bot = await setup.start()
    try:
        room = await marie.room(invite=[bot_id(setup)])

        async def bot_left() -> bool:
            async with httpx.AsyncClient(base_url=setup.synapse.url) as http:
                response = await http.get(
                    f"/_matrix/client/v3/rooms/{room}/members",
                    headers={"Authorization": f"Bearer {marie.client.access_token}"},
                )
            memberships = {e["state_key"]: e["content"]["membership"] for e in response.json()["chunk"]}
            return memberships.get(bot_id(setup)) == "leave"

        await eventually(bot_left)
    finally:
        await bot.stop()


@pytest.fixture
async def shared_room(bot: Running, marie: Person, synapse: Synapse, tmp_path: Path) -> AsyncIterator[str]:
    """A room of three: marie, paul and the bot."""
    paul = await Person.login(synapse, await synapse.register(synapse.unique("paul")), tmp_path / "paul")
    try:
        room = await marie.room(invite=[bot_id(bot), paul.user_id])
        await paul.join(room)
        await marie.wait_for_member(room, bot_id(bot))
        yield room
    finally:
        await paul.close()


async def test_chatter_in_a_shared_room_gets_no_answer(bot: Running, marie: Person, shared_room: str) -> None:
    room = shared_room
    await marie.say(room, "bonjour à tous")
    await marie.say(room, "aide")  # a command word without the prefix, in a shared room: chatter
    asking = await marie.say(room, "!aide")
    [reply] = await marie.wait_for(bot_id(bot), room)
    assert "Commandes d'odpe-bot" in reply.body
    assert reply.content["m.relates_to"]["m.in_reply_to"]["event_id"] == asking
    await bot.app.idle()
    await marie.sync(0)
    assert [s.event.event_id for s in marie.from_bot(bot_id(bot), room)] == [reply.event.event_id]


async def test_a_message_sent_while_the_bot_was_down_is_answered_once(setup: BotSetup, marie: Person) -> None:
    bot = await setup.start()
    room = await marie.dm(bot_id(setup), encrypted=True)
    await marie.say(room, "!aide")
    await marie.wait_for(bot_id(setup), room, count=1)
    await bot.stop()

    await marie.say(room, "!profil")  # while the bot is down
    bot = await setup.start()
    try:
        replies = await marie.wait_for(bot_id(setup), room, count=2)
        assert "Votre profil" in replies[1].body
        await bot.app.idle()  # whatever it had to answer is answered: a second answer would be there
        await marie.sync(0)
        bodies = [s.body for s in marie.from_bot(bot_id(setup), room)]
        assert len(bodies) == 2, bodies
    finally:
        await bot.stop()


def failing_command(registry: Registry) -> None:
    @registry.command("panne", help=_("Échoue"), family="test")
    async def broken(ctx: Context) -> Reply:
        raise RuntimeError("boom")


async def test_a_handler_that_raises_does_not_stop_the_sync(setup: BotSetup, marie: Person) -> None:
    bot = await setup.start(registry_with(failing_command))
    try:
        room = await marie.dm(bot_id(setup), encrypted=False)
        await marie.say(room, "!panne")
        [error] = await marie.wait_for(bot_id(setup), room)
        assert "erreur interne" in error.body and "référence" in error.body
        await marie.say(room, "!aide")
        replies = await marie.wait_for(bot_id(setup), room, count=2)
        assert "Commandes d'odpe-bot" in replies[1].body
    finally:
        await bot.stop()


async def test_the_bots_device_is_cross_signed(bot: Running, marie: Person, synapse: Synapse) -> None:
    response = await keys_query(synapse, marie.client.access_token, bot_id(bot))
    assert verify_device_chain(response, bot_id(bot), bot.bot.client.device_id)


async def test_the_bot_reuses_its_device_across_starts(setup: BotSetup) -> None:
    bot = await setup.start()
    first = bot.bot.client.device_id
    await bot.stop()
    bot = await setup.start()
    try:
        assert bot.bot.client.device_id == first
    finally:
        await bot.stop()
    stored = (setup.workdir / "matrix-store" / "credentials.json").stat()
    assert stored.st_mode & 0o777 == 0o600


async def matrix_unwell(app: App) -> dict[str, Any] | None:
    """The health of the Matrix part when it is reported failing, else None."""
    part = (await app.health()).parts["matrix"]
    return None if part["ok"] else part


async def test_the_bot_recovers_when_synapse_restarts(bot: Running, marie: Person, synapse: Synapse) -> None:
    app = bot.app
    room = await marie.dm(bot_id(bot), encrypted=True)
    bot.bot.max_sync_age = 1.5
    await synapse.stop()
    unwell = await eventually(lambda: matrix_unwell(app))
    assert set(unwell) == {"ok", "error"}
    assert re.fullmatch(r"ConnectionError: last successful sync \d+ s ago", unwell["error"]), unwell
    bot.bot.max_sync_age = MAX_SYNC_AGE
    await synapse.start()
    await marie.say(room, "!aide")
    [reply] = await marie.wait_for(bot_id(bot), room, timeout=90)
    assert "Commandes d'odpe-bot" in reply.body
    health = await app.health()
    assert health.healthy, health.parts
    await app.idle()
    await marie.sync(0)
    assert [s.event.event_id for s in marie.from_bot(bot_id(bot), room)] == [reply.event.event_id]


class RecordingRouter(Router):
    """Keeps what reaches the core, to compare it with what was sent."""

    seen: list[Message]

    async def handle(self, message: Message) -> list[Reply]:
        self.seen.append(message)
        return await super().handle(message)


async def test_a_file_reaches_the_core_byte_for_byte(bot: Running, marie: Person) -> None:
    app = bot.app
    app.router.__class__ = RecordingRouter
    app.router.seen = []
    room = await marie.dm(bot_id(bot), encrypted=True)
    data = os.urandom(200_000) + "é€".encode()
    response, keys = await marie.client.upload(
        lambda *_: data, content_type="application/pdf", filename="rapport.pdf", encrypt=True, filesize=len(data)
    )
    assert isinstance(response, UploadResponse)
    await marie.say(room, "", content={
        "msgtype": "m.file", "body": "rapport.pdf", "filename": "rapport.pdf",
        "info": {"mimetype": "application/pdf", "size": len(data)},
        "file": {**keys, "url": response.content_uri},
    })

    def received() -> list[Message]:
        return [m for m in app.router.seen if m.attachments]

    [message] = await eventually(received, timeout=30)
    [attachment] = message.attachments
    assert attachment.name == "rapport.pdf" and attachment.mime == "application/pdf"
    assert hashlib.sha256(attachment.data).hexdigest() == hashlib.sha256(data).hexdigest()


def prompt_and_reaction(registry: Registry) -> None:
    @registry.command("demande", help=_("Demande"), family="test")
    async def ask(ctx: Context) -> Reply:
        return Reply(Reply.text("Réagissez à ce message.").body, prompt=Prompt("test", "X-1"))

    @registry.on_reaction("test")
    async def reacted(ctx: Context, reaction: Reaction) -> Reply:
        return Reply.text(f"{reaction.key} reçu de {ctx.message.sender} pour {reaction.prompt.subject}")


async def test_a_reaction_to_the_bots_prompt_reaches_the_core_even_after_a_restart(
    setup: BotSetup, marie: Person
) -> None:
    bot = await setup.start(registry_with(prompt_and_reaction))
    room = await marie.dm(bot_id(setup), encrypted=True)
    await marie.say(room, "!demande")
    [prompt] = await marie.wait_for(bot_id(setup), room)
    await bot.stop()  # the prompt's context must survive a restart
    bot = await setup.start(registry_with(prompt_and_reaction))
    try:
        await marie.client.room_send(
            room, "m.reaction",
            {"m.relates_to": {"rel_type": "m.annotation", "event_id": prompt.event.event_id, "key": "✅"}},
            ignore_unverified_devices=True,
        )
        replies = await marie.wait_for(bot_id(setup), room, count=2)
        assert replies[1].body == f"✅ reçu de {marie.user_id} pour X-1"
    finally:
        await bot.stop()


async def test_a_message_the_bot_cannot_decrypt_gets_a_notice(bot: Running, marie: Person, synapse: Synapse) -> None:
    room = await marie.dm(bot_id(bot), encrypted=True)
    await send_raw(synapse, marie.client.access_token, room, "m.room.encrypted", {
        "algorithm": "m.megolm.v1.aes-sha2",
        "ciphertext": "AwgAEnACgAkLmt6qF84IK++J7UDH2Za1YVchHyprqTqsg",
        "device_id": marie.client.device_id,
        "sender_key": marie.client.olm.account.identity_keys["curve25519"],
        "session_id": "inconnue",
    })
    [notice] = await marie.wait_for(bot_id(bot), room)
    assert notice.body == ("Je n'ai pas pu déchiffrer votre message (clé de chiffrement manquante ; je l'ai "
                           "redemandée). Pouvez-vous le renvoyer ?")
    await bot.app.idle()
    await marie.sync(0)
    assert [s.event.event_id for s in marie.from_bot(bot_id(bot), room)] == [notice.event.event_id]


async def test_a_rate_limited_homeserver_still_gets_every_reply(strict_synapse: Synapse, tmp_path: Path) -> None:
    user = await strict_synapse.register(strict_synapse.unique("odpe-bot"))
    setup = BotSetup(strict_synapse, user, tmp_path, f"sqlite+aiosqlite:///{tmp_path}/bot.db")
    person = await Person.login(
        strict_synapse, await strict_synapse.register(strict_synapse.unique("marie")), tmp_path / "marie"
    )
    bot = await setup.start()
    try:
        room = await person.dm(user.user_id, encrypted=False)
        for n in range(5):
            await person.say(room, f"!aide {'annuaire' if n % 2 else 'profil'}")
        await person.wait_for(user.user_id, room, count=5, timeout=120)
        await bot.app.idle(timeout=120)  # replies the homeserver refused are retried by the outbox
        await person.sync(0)
        # Retried replies may come after later ones: which came, and how many times, is what matters.
        firsts = sorted(s.body.splitlines()[0] for s in person.from_bot(user.user_id, room))
        assert firsts == ["!annuaire, !directory"] * 2 + ["!profil, !profile"] * 3, firsts
    finally:
        await bot.stop()
        await person.close()


async def test_replies_held_while_the_homeserver_is_away_go_out_once_it_is_back(
    bot: Running, marie: Person, synapse: Synapse
) -> None:
    room = await marie.dm(bot_id(bot), encrypted=False)
    await synapse.stop()
    await bot.bot.send(room, Reply.text("Nouveau document archivé : D-1"), None, "test.held.1")
    await synapse.start()
    [held] = await marie.wait_for(bot_id(bot), room, timeout=90)
    assert held.body == "Nouveau document archivé : D-1"
    await bot.app.idle()
    await marie.sync(0)
    # Sent once, however many tries it took.
    assert [s.event.event_id for s in marie.from_bot(bot_id(bot), room)] == [held.event.event_id]


async def test_health_reports_the_age_of_the_last_sync_and_fails_when_synapse_is_gone(
    bot: Running, synapse: Synapse
) -> None:
    async def healthy() -> bool:
        return (await bot.app.health()).healthy

    await eventually(healthy)  # after the first sync
    assert "last_sync_seconds_ago" in (await bot.app.health()).parts["matrix"]
    bot.bot.max_sync_age = 1.5
    await synapse.stop()
    unwell = await eventually(lambda: matrix_unwell(bot.app))
    assert not (await bot.app.health()).healthy
    assert re.fullmatch(r"ConnectionError: last successful sync \d+ s ago", unwell["error"]), unwell


async def test_odpe_bot_run_serves_matrix(setup: BotSetup, marie: Person, tmp_path: Path) -> None:
    """`odpe-bot run` with Matrix enabled: the command line wires everything, and a DM gets its answer."""
    import signal
    import socket
    import subprocess
    import sys

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    (tmp_path / "config.yaml").write_text(
        "matrix:\n"
        "  enabled: true\n"
        f"  homeserver: {setup.synapse.url}\n"
        f"  user_id: '{setup.user.user_id}'\n"
        f"  allowed_servers: [{setup.synapse.server_name}]\n"
        f"http: {{port: {port}}}\n"
        "logging: {level: DEBUG}\n",
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("ODPE_BOT_")}
    env.update(
        PYTHONPATH=str(Path(__file__).resolve().parent.parent),
        ODPE_BOT_MATRIX__PASSWORD=setup.user.password,
        ODPE_BOT_MATRIX__PICKLE_KEY="cle-de-test",
    )
    log_file = tmp_path / "run.log"  # a file, not a pipe: DEBUG output would fill a pipe nobody reads yet
    process = subprocess.Popen(
        [sys.executable, "-m", "integrations.cli", "run"], cwd=tmp_path, env=env,
        stdout=log_file.open("w"), stderr=subprocess.STDOUT,
    )
    try:
        async def matrix_healthy() -> bool:
            try:
                async with httpx.AsyncClient() as http:
                    response = await http.get(f"http://127.0.0.1:{port}/healthz")
            except httpx.TransportError:
                return False
            return response.status_code == 200 and response.json()["checks"]["matrix"]["ok"]

        await eventually(matrix_healthy, timeout=60)
        room = await marie.dm(setup.user.user_id, encrypted=True)
        await marie.say(room, "!aide")
        [reply] = await marie.wait_for(setup.user.user_id, room)
        assert "Commandes d'odpe-bot" in reply.body
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    output = log_file.read_text(encoding="utf-8")
    assert process.returncode == 0, output[-3000:]
    token = json.loads((tmp_path / "data" / "matrix" / "credentials.json").read_text())["access_token"]
    assert "DEBUG" in output
    assert setup.user.password not in output and token not in output


async def test_the_bot_joins_its_review_room_given_by_alias_where_speaking_makes_no_reviewer(
    setup: BotSetup, marie: Person
) -> None:
    alias_name = setup.synapse.unique("revue")
    created = await marie.client.room_create(alias=alias_name, invite=[bot_id(setup)])
    room = created.room_id
    setup.overrides["matrix"] = {"review_room": f"#{alias_name}:{setup.synapse.server_name}"}
    bot = await setup.start()
    try:
        assert bot.bot.review_room == room
        await marie.wait_for_member(room, bot_id(setup))
        asking = await marie.say(room, "!profil")
        [reply] = await marie.wait_for(bot_id(setup), room)
        assert reply.content["m.relates_to"]["m.in_reply_to"]["event_id"] == asking
        # Reviewers are configured: a member of the review room who is not one is a référent there too.
        assert reply.body.splitlines()[-1] == "  Rôles : référent", reply.body
    finally:
        await bot.stop()


async def test_an_answer_stays_in_the_thread_of_the_question(bot: Running, marie: Person) -> None:
    room = await marie.dm(bot_id(bot), encrypted=False)
    root = await marie.say(room, "!aide")
    asking = await marie.say(room, "", content={
        "msgtype": "m.text", "body": "!annuaire allier",
        "m.relates_to": {"rel_type": "m.thread", "event_id": root, "is_falling_back": True,
                         "m.in_reply_to": {"event_id": root}},
    })
    _first, reply = await marie.wait_for(bot_id(bot), room, count=2)
    relates = reply.content["m.relates_to"]
    assert relates["rel_type"] == "m.thread" and relates["event_id"] == root
    assert relates["m.in_reply_to"]["event_id"] == asking


def file_and_mention(registry: Registry) -> None:
    @registry.command("piece", help=_("Pièce jointe"), family="test")
    async def attach(ctx: Context) -> Reply:
        from bot.messages import Attachment
        from bot.rich import Para, mention

        body = Reply.text("").body.__class__((Para.of(["Voici le fichier, ", mention(ctx.message.sender, "Marie")]),))
        return Reply(body, file=Attachment("bilan.csv", "text/csv", "département;nombre\n03;12\n".encode()))


async def test_the_bot_sends_a_file_and_mentions_people(setup: BotSetup, marie: Person) -> None:
    bot = await setup.start(registry_with(file_and_mention))
    try:
        room = await marie.dm(bot_id(setup), encrypted=True)
        await marie.say(room, "!piece")
        notice, file_message = await marie.wait_for(bot_id(setup), room, count=2)
        assert notice.content["m.mentions"] == {"user_ids": [marie.user_id]}
        assert f'<a href="https://matrix.to/#/{marie.user_id}">Marie</a>' in notice.content["formatted_body"]
        content = file_message.content
        assert content["msgtype"] == "m.file" and content["body"] == "bilan.csv"
        encrypted = content["file"]  # encrypted room: an encrypted attachment
        downloaded = await marie.client.download(mxc=encrypted["url"])
        from nio.crypto.attachments import decrypt_attachment

        key, digest = encrypted["key"]["k"], encrypted["hashes"]["sha256"]
        data = decrypt_attachment(downloaded.body, key, digest, encrypted["iv"])
        assert data == "département;nombre\n03;12\n".encode()
    finally:
        await bot.stop()


def slow_command(release: asyncio.Event) -> Callable[[Registry], None]:
    """`!lent`, whose work lasts until the test releases it."""

    def add(registry: Registry) -> None:
        @registry.command("lent", help=_("Lent"), family="test")
        async def slow(ctx: Context) -> Reply:
            await release.wait()
            return Reply.text("fini")

    return add


async def test_long_work_shows_the_bot_typing_until_it_answers(setup: BotSetup, marie: Person) -> None:
    release = asyncio.Event()
    bot = await setup.start(registry_with(slow_command(release)))
    try:
        room = await marie.dm(bot_id(setup), encrypted=False)
        await marie.say(room, "!lent")

        async def typing_shown() -> bool:
            await marie.sync(500)
            return (room, [bot_id(setup)]) in marie.typing

        await eventually(typing_shown, timeout=30)
        assert marie.from_bot(bot_id(setup), room) == []  # still at work
        release.set()
        [done] = await marie.wait_for(bot_id(setup), room)
        assert done.body == "fini"

        async def typing_stopped() -> bool:
            await marie.sync(500)
            return marie.typing[-1] == (room, [])

        await eventually(typing_stopped, timeout=10)  # well before the 30 s the typing notice would last
    finally:
        release.set()
        await bot.stop()


async def test_a_bot_started_before_its_homeserver_waits_for_it(
    setup: BotSetup, marie: Person, synapse: Synapse
) -> None:
    await synapse.stop()
    app = App(setup.config(), db=Database(setup.database_url, clock=setup.clock))
    await upgrade(setup.database_url)
    integration = MatrixIntegration(app)
    runtime = Runtime(app, [integration], http=False)
    await runtime.start()  # returns at once: the homeserver is not there yet
    try:
        async def unreachable() -> dict[str, Any] | None:
            part = await matrix_unwell(app)
            return part if part and "unreachable" in part["error"] else None

        unwell = await eventually(unreachable)
        assert re.fullmatch(r"ConnectionError: homeserver unreachable \(\w+\)", unwell["error"]), unwell
        await synapse.start()
        await asyncio.wait_for(integration.ready.wait(), 90)
        room = await marie.dm(bot_id(setup), encrypted=False)
        await marie.say(room, "!aide")
        [reply] = await marie.wait_for(bot_id(setup), room)
        assert "Commandes d'odpe-bot" in reply.body
    finally:
        await runtime.stop()


@dataclass
class Network:
    """ONPE's side of a running bot: a reviewer (configured as one), the (encrypted) review room, an announcement
    room."""

    onpe: Person
    review_room: str
    announce_room: str


@pytest.fixture
async def network(setup: BotSetup, marie: Person, synapse: Synapse, tmp_path: Path) -> AsyncIterator[Network]:
    onpe = await Person.login(synapse, await synapse.register(synapse.unique("onpe")), tmp_path / "onpe")
    try:
        review_room = (await onpe.client.room_create(invite=[bot_id(setup)], initial_state=[ENCRYPTION_STATE])).room_id
        announce_room = (await onpe.client.room_create(invite=[bot_id(setup), marie.user_id])).room_id
        await marie.join(announce_room)
        setup.overrides["matrix"] = {"review_room": review_room, "announcement_rooms": [announce_room]}
        setup.overrides["roles"] = {"admins": [], "reviewers": [onpe.user_id]}
        bot = await setup.start()
        try:
            await onpe.wait_for_member(review_room, bot_id(setup))
            yield Network(onpe, review_room, announce_room)
        finally:
            await bot.stop()
    finally:
        await onpe.close()


async def test_the_document_circuit_on_matrix(setup: BotSetup, marie: Person, network: Network) -> None:
    """A referent submits in an encrypted DM, ONPE approves with ✅ in the review room's thread, the announcement
    room gets the card and the file, the referent gets the decision in her DM."""
    dm = await marie.dm(bot_id(setup), encrypted=True)
    for answer in ("!soumettre", "4", "Rapport de l'ODPE 2025", "03/11/2025", "Service ODPE",
                   "maltraitance", "Données ASE", "3", "03"):
        await marie.say(dm, answer)
    data = b"%PDF-1.4\n1 0 obj<< /Title (ODPE 2025) >>endobj\ntrailer<<>>\n%%EOF\n"
    response, keys = await marie.client.upload(
        lambda *_: data, content_type="application/pdf", filename="rapport-2025.pdf", encrypt=True,
        filesize=len(data),
    )
    await marie.say(dm, "", content={"msgtype": "m.file", "body": "rapport-2025.pdf",
                                      "info": {"mimetype": "application/pdf", "size": len(data)},
                                      "file": {**keys, "url": response.content_uri}})
    await marie.say(dm, "-")
    await marie.say(dm, "oui")
    done = await marie.wait_for(bot_id(setup), dm, where=lambda s: "enregistré sous D-" in s.body)
    rid = done[0].body.split("enregistré sous ")[1].split(".")[0]

    [card] = await network.onpe.wait_for(bot_id(setup), network.review_room, where=lambda s: "à relire" in s.body)
    assert decrypted(card) and "Rapport de l'ODPE 2025" in card.body
    [file] = await network.onpe.wait_for(
        bot_id(setup), network.review_room, where=lambda s: s.content.get("msgtype") == "m.file"
    )
    assert file.content["m.relates_to"]["event_id"] == card.event.event_id  # in the item's thread
    await network.onpe.client.room_send(network.review_room, "m.reaction", {"m.relates_to": {
        "rel_type": "m.annotation", "event_id": card.event.event_id, "key": "✅"}},
        ignore_unverified_devices=True)

    [announce] = await marie.wait_for(bot_id(setup), network.announce_room,
                                      where=lambda s: "Nouveau document archivé" in s.body, timeout=60)
    assert rid in announce.body
    await marie.wait_for(bot_id(setup), network.announce_room, where=lambda s: s.content.get("msgtype") == "m.file")
    [decision] = await marie.wait_for(bot_id(setup), dm, where=lambda s: "Bonne nouvelle" in s.body)
    assert rid in decision.body
    [confirmation] = await network.onpe.wait_for(
        bot_id(setup), network.review_room, where=lambda s: "archivé par" in s.body
    )
    assert confirmation.content["m.relates_to"]["event_id"] == card.event.event_id


async def test_a_dialog_started_in_a_shared_room_goes_on_in_a_dm_the_bot_opens(
    bot: Running, marie: Person, shared_room: str
) -> None:
    await marie.say(shared_room, "!soumettre")
    [moved] = await marie.wait_for(bot_id(bot), shared_room)
    assert moved.body == "Je vous écris en message direct pour la suite."

    async def invited() -> list[str]:
        await marie.sync(500)
        return marie.invites

    [dm] = await eventually(invited, timeout=30)
    await marie.join(dm)
    [first] = await marie.wait_for(bot_id(bot), dm, timeout=60)
    assert decrypted(first) and "Étape 1/10 — Type de document" in first.body
    await marie.say(dm, "2")
    [_first, second] = await marie.wait_for(bot_id(bot), dm, count=2)
    assert "Étape 2/10" in second.body


class FlakyRouter(Router):
    """The core fails once around a command, as when the database is briefly unreachable."""

    failed: bool

    async def handle(self, message: Message) -> list[Reply]:
        if not self.failed and message.text.startswith("!"):
            self.failed = True
            raise ConnectionError("database unreachable")
        return await super().handle(message)


async def test_a_message_whose_handling_failed_around_the_command_is_answered_on_the_next_pass(
    bot: Running, marie: Person
) -> None:
    bot.app.router.__class__ = FlakyRouter
    bot.app.router.failed = False
    room = await marie.dm(bot_id(bot), encrypted=False)
    await marie.say(room, "!aide")
    await eventually(lambda: bot.app.router.failed)
    # The failed sync is handled again after a pause: the bot is not idle before the answer is sent, once.
    await bot.app.idle()
    await marie.sync(0)
    [reply] = marie.from_bot(bot_id(bot), room)
    assert "Commandes d'odpe-bot" in reply.body


async def test_practices_and_questions_on_matrix(setup: BotSetup, marie: Person, network: Network) -> None:
    """A practice declared in a DM and published with ✅; a question escalated, answered in its thread,
    relayed to the asker signed by ONPE, and followed up."""
    dm = await marie.dm(bot_id(setup), encrypted=True)
    for answer in ("!pratique", "oui", "15/09/2023", "Association Les Liens", "Café des parents",
                   "Un lieu d'accueil pour les parents.", "2", "3", "1", "3", "1", "03", "oui"):
        await marie.say(dm, answer)
    await marie.wait_for(bot_id(setup), dm, where=lambda s: "enregistrée sous P-" in s.body)
    [card] = await network.onpe.wait_for(bot_id(setup), network.review_room, where=lambda s: "à examiner" in s.body)
    await network.onpe.client.room_send(network.review_room, "m.reaction", {"m.relates_to": {
        "rel_type": "m.annotation", "event_id": card.event.event_id, "key": "✅"}},
        ignore_unverified_devices=True)
    await marie.wait_for(bot_id(setup), network.announce_room, timeout=60,
                         where=lambda s: "Nouvelle pratique inspirante publiée" in s.body)

    await marie.say(dm, "!question Quel logiciel de tableur utilise l'équipe de Mayotte ?")
    await marie.wait_for(bot_id(setup), dm, where=lambda s: "transmise à l'ONPE" in s.body)
    [asked] = await network.onpe.wait_for(bot_id(setup), network.review_room, where=lambda s: "Question Q-1" in s.body)
    await network.onpe.say(network.review_room, "", content={
        "msgtype": "m.text", "body": "LibreOffice Calc.",
        "m.relates_to": {"rel_type": "m.thread", "event_id": asked.event.event_id, "is_falling_back": True,
                         "m.in_reply_to": {"event_id": asked.event.event_id}},
    })
    [relayed] = await marie.wait_for(bot_id(setup), dm, where=lambda s: "Réponse de l'ONPE" in s.body)
    assert "LibreOffice Calc." in relayed.body and "— L'équipe de l'ONPE" in relayed.body
    await marie.say(dm, "Et la version ?")
    [follow] = await network.onpe.wait_for(bot_id(setup), network.review_room, where=lambda s: "Suite de" in s.body)
    assert follow.content["m.relates_to"]["event_id"] == asked.event.event_id


PDF = b"%PDF-1.4\n1 0 obj<< /Title (ODPE 2025) >>endobj\ntrailer<<>>\n%%EOF\n"
# The answers of `!soumettre` up to the file: type, title, date, author, keywords, sources, nature, département.
UP_TO_THE_FILE = ("4", "Rapport de l'ODPE 2025", "03/11/2025", "Service ODPE", "maltraitance", "Données ASE", "3",
                  "03")
EDITED = ("Vous avez modifié un message : je ne lis que les nouveaux messages. Envoyez la version corrigée dans un "
          "nouveau message. Votre saisie en cours est conservée.")


async def send_file(person: Person, room: str, name: str, data: bytes, **tamper: Any) -> str:
    """Send `data` as an encrypted file, as Element does; `tamper` replaces keys of the file's description (its
    url, its hashes) to make a file the bot cannot get."""
    response, keys = await person.client.upload(
        lambda *_: data, content_type="application/pdf", filename=name, encrypt=True, filesize=len(data)
    )
    assert isinstance(response, UploadResponse), response
    return await person.say(room, "", content={
        "msgtype": "m.file", "body": name, "filename": name, "info": {"mimetype": "application/pdf", "size": len(data)},
        "file": {**keys, "url": response.content_uri, **tamper},
    })


async def test_an_edit_in_a_dialog_is_said_once_and_not_taken_as_the_answer(bot: Running, marie: Person) -> None:
    dm = await marie.dm(bot_id(bot), encrypted=True)
    for answer in ("!soumettre", "4"):
        await marie.say(dm, answer)
    title = await marie.say(dm, "Rapport de l'ODPE 2025")
    await marie.say(dm, "03/11/2025")
    *_before, author = await marie.wait_for(bot_id(bot), dm, count=4)
    assert author.body.startswith("Étape 4/10 — Auteur\n"), author.body
    # Element's edit of the title, while the dialog asks for the author (a free text that would take anything).
    await marie.say(dm, "", content={
        "msgtype": "m.text", "body": "* Rapport de l'ODPE 2024",
        "m.new_content": {"msgtype": "m.text", "body": "Rapport de l'ODPE 2024"},
        "m.relates_to": {"rel_type": "m.replace", "event_id": title},
    })
    *_before, told = await marie.wait_for(bot_id(bot), dm, count=5)
    assert decrypted(told) and told.body == EDITED
    await marie.say(dm, "Service ODPE")
    *_before, keywords = await marie.wait_for(bot_id(bot), dm, count=6)
    assert keywords.body.startswith("Étape 5/10 — Mots-clés\n"), keywords.body  # the author came after the edit
    await bot.app.idle()
    await marie.sync(0)
    bodies = [s.body for s in marie.from_bot(bot_id(bot), dm)]
    assert len(bodies) == 6 and bodies.count(EDITED) == 1, bodies


async def test_a_file_the_bot_cannot_get_is_asked_again_and_the_dialog_waits_for_it(
    bot: Running, marie: Person, synapse: Synapse
) -> None:
    dm = await marie.dm(bot_id(bot), encrypted=True)
    for answer in ("!soumettre", *UP_TO_THE_FILE):
        await marie.say(dm, answer)
    *_before, asked = await marie.wait_for(bot_id(bot), dm, count=9)
    assert asked.body.startswith("Étape 9/10 — Fichier\n"), asked.body

    # The homeserver has no such media (404), then a file whose content is not the one described (its hash).
    await send_file(marie, dm, "absent.pdf", PDF, url=f"mxc://{synapse.server_name}/absent{os.urandom(6).hex()}")
    altered = hashlib.sha256(b"another file").digest()
    sha256 = base64.b64encode(altered).decode().rstrip("=")
    await send_file(marie, dm, "altere.pdf", PDF, hashes={"sha256": sha256})
    *_before, absent, mismatched = await marie.wait_for(bot_id(bot), dm, count=11)
    kept = "Votre saisie en cours est conservée."
    assert absent.body == (f"Je n'ai pas pu récupérer le fichier « absent.pdf » : envoyez-le de nouveau, s'il vous "
                           f"plaît. {kept}")
    assert mismatched.body == (f"Je n'ai pas pu récupérer le fichier « altere.pdf » : envoyez-le de nouveau, s'il "
                               f"vous plaît. {kept}")

    await send_file(marie, dm, "rapport-2025.pdf", PDF)
    *_before, summary = await marie.wait_for(bot_id(bot), dm, count=12)
    assert summary.body.startswith("Étape 10/10 — Résumé\n"), summary.body  # still at the file step until then
    await bot.app.idle()
    await marie.sync(0)
    assert len(marie.from_bot(bot_id(bot), dm)) == 12


async def test_a_nul_in_an_answer_is_dropped_and_the_dialog_goes_on(bot: Running, marie: Person) -> None:
    dm = await marie.dm(bot_id(bot), encrypted=True)
    for answer in ("!soumettre", "4", "Rapport\x00 de l'ODPE\x00 2025"):
        await marie.say(dm, answer)
    *_before, asked = await marie.wait_for(bot_id(bot), dm, count=3)
    assert asked.body.startswith("Étape 3/10 — Date du document\n"), asked.body
    for answer in UP_TO_THE_FILE[2:]:
        await marie.say(dm, answer)
    await send_file(marie, dm, "rapport-2025.pdf", PDF)
    await marie.say(dm, "-")
    [recap] = await marie.wait_for(bot_id(bot), dm, where=lambda s: s.body.startswith("Récapitulatif"))
    assert "\n  2. Titre du document : Rapport de l'ODPE 2025\n" in recap.body
    await marie.say(dm, "oui")
    [done] = await marie.wait_for(bot_id(bot), dm, where=lambda s: "enregistré sous D-" in s.body)
    rid = parse_readable_id(done.body.split("enregistré sous ")[1].split(".")[0])
    assert rid is not None, done.body
    async with bot.app.db.session() as session:
        item = await Repos(session).items.get(rid)
    assert item is not None and item.title == "Rapport de l'ODPE 2025"
    assert not [s.body for s in marie.from_bot(bot_id(bot), dm) if "\x00" in s.body]
