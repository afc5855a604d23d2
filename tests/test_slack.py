"""The bot on Slack over HTTP: signed requests to /slack/events, a fake Web API that records every call."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from bot import indexing
from bot.app import App
from bot.config import Config
from integrations.cli import main
from integrations.runtime import enabled_platforms
from integrations.slack import SlackIntegration
from storage.db import Database
from storage.ids import ReadableId
from storage.repositories import Repos
from storage.search import Indexed, SearchIndex
from tests.circuit import pdf
from tests.slack_fake import (
    BOT_USER,
    FORM,
    Call,
    FakeSlack,
    Workspace,
    click,
    document_state,
    next_ts,
    slash_body,
    submit,
    typed,
    workspace,
    workspace_config,
)


@pytest.fixture
async def ws(migrated_db: Database, tmp_path: Path) -> AsyncIterator[Workspace]:
    async with workspace(migrated_db, tmp_path / "files") as connected:
        yield connected


async def test_slash_command_in_the_bots_dm_is_answered_there(ws: Workspace) -> None:
    status, _body = await ws.slash("aide")
    assert status == 200
    [post] = await ws.fake.wait_for(lambda: ws.fake.posted("DUMARIE"))
    # The help names the commands as Slack users type them.
    assert "`/odpe soumettre`" in post.text and "`/odpe annuaire &lt;departement…&gt;`" in post.text


async def test_slack_gets_its_acknowledgement_while_the_answer_is_still_being_worked_out(ws: Workspace) -> None:
    # Slack is slow to say who the person is: the answer cannot be written before it does.
    slow = ws.fake.hold("users.info")
    request = asyncio.create_task(ws.slash("annuaire allier"))
    await ws.fake.wait_for(lambda: slow.waiting)
    # The acknowledgement does not wait for the work (Slack would give up after three seconds and show an error).
    status, body = await ws.fake.wait_for(lambda: request.done() and request.result())
    assert (status, body) == (200, "")
    assert ws.fake.posted("DUMARIE") == []
    slow.release()
    await ws.app.idle()
    [post] = ws.fake.posted("DUMARIE")
    assert "Allier" in post.text


# Six ways in, each by a person the bot has not met (it asks Slack their name first), and what each brings back.
ENTRIES: dict[str, tuple[Callable[[Workspace], Awaitable[Any]], str, dict[str, str]]] = {
    "slash command": (lambda ws: ws.slash("aide", user="UPAUL"), "chat.postMessage", {"channel": "DUPAUL"}),
    "direct message": (lambda ws: ws.dm("aide", user="UPAUL"), "chat.postMessage", {"channel": "DUPAUL"}),
    "mention": (lambda ws: ws.event({"type": "app_mention", "channel": "CGENERAL", "user": "UPAUL",
                                     "text": f"<@{BOT_USER}> aide", "ts": next_ts()}),
                "chat.postMessage", {"channel": "CGENERAL"}),
    "App Home": (lambda ws: ws.event({"type": "app_home_opened", "user": "UPAUL", "channel": "DUPAUL",
                                      "tab": "home"}), "views.publish", {"user_id": "UPAUL"}),
    "review button": (lambda ws: click(ws, Call("chat.postMessage", {"channel": "CREVIEW"}, {"ts": "1.000100"}),
                                       "reject", user="UPAUL"), "views.open", {}),
    "modal": (lambda ws: submit(ws, {"callback_id": "odpe_confirm", "private_metadata": '{"form": "document"}'}, {},
                                user="UPAUL"), "chat.postMessage", {"channel": "DUPAUL"}),
}


@pytest.mark.parametrize("entry", ENTRIES)
async def test_the_bot_is_busy_from_slacks_request_to_its_last_answer(ws: Workspace, entry: str) -> None:
    send, method, where = ENTRIES[entry]
    slow = ws.fake.hold("users.info")
    await send(ws)  # Slack has had its acknowledgement
    await ws.fake.wait_for(lambda: slow.waiting)
    # Acknowledged, and still at work: whoever waits for the bot to be idle (a test, a clean stop) waits on.
    assert ws.app.activity.running > 0
    slow.release()
    await ws.app.idle()
    assert len(ws.fake.called(method, **where)) == 1


async def test_slash_command_elsewhere_answers_only_the_person(ws: Workspace) -> None:
    status, _body = await ws.slash("annuaire allier", channel="CGENERAL")
    assert status == 200
    [answer] = await ws.fake.wait_for(lambda: ws.fake.responses)
    assert answer["response_type"] == "ephemeral" and "Allier" in str(answer["blocks"])
    assert ws.fake.posted("CGENERAL") == []


async def test_unknown_command_gets_the_nearest_one(ws: Workspace) -> None:
    await ws.slash("aidee")
    [post] = await ws.fake.wait_for(lambda: ws.fake.posted("DUMARIE"))
    assert "Je ne connais pas la commande « aidee »" in post.text and "aide" in post.text


async def test_bad_signature_and_stale_timestamp_are_refused_and_nothing_is_done(ws: Workspace) -> None:
    body = slash_body("aide", "UMARIE", "DUMARIE", ws.fake.base_url)
    status, _text = await ws.post(body, FORM, secret="not-the-signing-secret")
    assert status == 401
    status, _text = await ws.post(body, FORM, timestamp=int(time.time()) - 10 * 60)
    assert status == 401
    await ws.app.idle()
    assert [call.method for call in ws.fake.calls] == ["auth.test"] and ws.fake.responses == []


async def test_dm_retried_by_slack_is_answered_once(ws: Workspace) -> None:
    event = {"type": "message", "channel": "DUMARIE", "channel_type": "im", "user": "UMARIE", "text": "aide",
             "ts": next_ts()}
    assert (await ws.event(event, event_id="Ev0001"))[0] == 200
    await ws.fake.wait_for(lambda: ws.fake.posted("DUMARIE"))
    retried = await ws.event(event, event_id="Ev0001", headers={"X-Slack-Retry-Num": "1",
                                                                 "X-Slack-Retry-Reason": "http_timeout"})
    assert retried[0] == 200
    await ws.app.idle()
    assert len(ws.fake.posted("DUMARIE")) == 1


async def test_mention_in_a_channel_is_a_command_answered_in_its_thread(ws: Workspace) -> None:
    ts = next_ts()
    text = f"<@{BOT_USER}> annuaire allier"
    mention = {"type": "app_mention", "channel": "CGENERAL", "user": "UMARIE", "text": text, "ts": ts}
    # Slack sends the same message as a message event too: it is answered once.
    message = {"type": "message", "channel": "CGENERAL", "channel_type": "channel", "user": "UMARIE",
               "text": text, "ts": ts}
    await ws.event(mention)
    await ws.event(message)
    [post] = await ws.fake.wait_for(lambda: ws.fake.posted("CGENERAL"))
    assert post["thread_ts"] == ts and "Allier" in post.text
    await ws.app.idle()
    assert len(ws.fake.posted("CGENERAL")) == 1


async def test_chatter_in_a_channel_is_left_alone(ws: Workspace) -> None:
    await ws.event({"type": "message", "channel": "CGENERAL", "channel_type": "channel", "user": "UMARIE",
                    "text": "bonjour à tous, la réunion est à 14h", "ts": next_ts()})
    await ws.app.idle()
    assert ws.fake.posted("CGENERAL") == [] and ws.fake.called("chat.postEphemeral") == []


async def test_user_text_is_escaped_in_what_the_bot_writes(ws: Workspace) -> None:
    await ws.slash("annuaire <!channel> & co")
    [post] = await ws.fake.wait_for(lambda: ws.fake.posted("DUMARIE"))
    assert "<!channel>" not in post.text and "&lt;!channel&gt; &amp; co" in post.text


async def test_events_from_another_workspace_are_refused(ws: Workspace) -> None:
    await ws.event({"type": "message", "channel": "DUMARIE", "channel_type": "im", "user": "UMARIE",
                    "text": "aide", "ts": next_ts()}, team="TOTHER")
    await ws.app.idle()
    assert ws.fake.posted("DUMARIE") == []


async def test_admins_are_named_as_slack_ids_in_roles(ws: Workspace) -> None:
    await ws.slash("annuaire retirer 03 9", user="UMARIE")
    [refused] = await ws.fake.wait_for(lambda: ws.fake.posted("DUMARIE"))
    assert "réservée aux administrateurs" in refused.text
    await ws.slash("annuaire retirer 03 9", user="UADMIN")
    [allowed] = await ws.fake.wait_for(lambda: ws.fake.posted("DUADMIN"))
    assert "réservée" not in allowed.text and "n° 9" in allowed.text


async def test_a_rate_limited_post_is_sent_after_retry_after(ws: Workspace) -> None:
    ws.fake.fail_next("chat.postMessage", 429, {"Retry-After": "1"}, error="ratelimited")
    await ws.slash("aide")
    [post] = await ws.fake.wait_for(lambda: ws.fake.posted("DUMARIE"))
    assert "soumettre" in post.text
    assert len(ws.fake.called("chat.postMessage:refused")) == 1
    await ws.app.idle()
    assert len(ws.fake.posted("DUMARIE")) == 1


EDITED = ("Vous avez modifié un message : je ne lis que les nouveaux messages. Envoyez la version corrigée dans un "
          "nouveau message. Votre saisie en cours est conservée.")


def changed(ts: str, before: str, after: str, user: str = "UMARIE", **inner: Any) -> dict[str, Any]:
    """Slack's event for a DM message changed from `before` to `after`."""
    return {"type": "message", "subtype": "message_changed", "hidden": True, "channel": "D" + user,
            "channel_type": "im", "ts": next_ts(), "event_ts": next_ts(),
            "message": {"type": "message", "user": user, "text": after, "ts": ts,
                        "edited": {"user": user, "ts": next_ts()}, **inner},
            "previous_message": {"type": "message", "user": user, "text": before, "ts": ts}}


async def test_a_message_edited_mid_dialog_is_said_once_and_the_dialog_waits_for_a_new_one(ws: Workspace) -> None:
    await ws.dm("soumettre")
    answered = next_ts()
    await ws.event({"type": "message", "channel": "DUMARIE", "channel_type": "im", "user": "UMARIE", "text": "4",
                    "ts": answered})
    await ws.app.idle()
    asked = ws.fake.posted("DUMARIE")
    assert "Étape 2/10 — Titre du document" in asked[-1].words
    edit = changed(answered, "4", "Rapport annuel 2025")
    await ws.event(edit, event_id="EvEdit1")
    await ws.event(edit, event_id="EvEdit1", headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
    await ws.app.idle()
    [told] = ws.fake.posted("DUMARIE")[len(asked):]
    assert told.words == ":warning: " + EDITED

    await ws.dm("Rapport annuel 2025")  # the title, sent anew: the dialog goes on from where it was
    await ws.app.idle()
    [next_step] = ws.fake.posted("DUMARIE")[len(asked) + 1:]
    assert "Étape 3/10 — Date du document" in next_step.words


async def test_a_link_preview_added_by_slack_is_no_edit(ws: Workspace) -> None:
    ts = next_ts()
    await ws.event(changed(ts, "voir https://onpe.example", "voir https://onpe.example",
                           attachments=[{"title": "ONPE", "from_url": "https://onpe.example"}]))
    await ws.app.idle()
    assert ws.fake.posted("DUMARIE") == []


async def test_what_bots_say_is_left_alone(ws: Workspace) -> None:
    for event in (
        # another app's bot user, which has a user id too
        {"type": "message", "channel": "DUMARIE", "channel_type": "im", "user": "UOTHER", "bot_id": "B0OTHER",
         "text": "aide", "ts": next_ts()},
        # a message posted through a webhook or by an app without a bot user
        {"type": "message", "subtype": "bot_message", "channel": "DUMARIE", "channel_type": "im",
         "bot_id": "B0OTHER", "username": "rappels", "text": "aide", "ts": next_ts()},
        # the bot's own message, as Slack echoes it in the DM
        {"type": "message", "channel": "DUMARIE", "channel_type": "im", "user": BOT_USER, "bot_id": "B0DPE",
         "text": "Bonjour", "ts": next_ts()},
        # a bot's command in the review channel, and a bot naming the bot
        {"type": "message", "channel": "CREVIEW", "channel_type": "group", "user": "UOTHER", "bot_id": "B0OTHER",
         "text": "!file", "ts": next_ts()},
        {"type": "app_mention", "channel": "CGENERAL", "user": "UOTHER", "bot_id": "B0OTHER",
         "text": f"<@{BOT_USER}> aide", "ts": next_ts()},
        # a bot changing its own message
        changed(next_ts(), "aide", "annuaire 03", user="UOTHER", bot_id="B0OTHER"),
    ):
        assert (await ws.event(event))[0] == 200
    await ws.app.idle()
    # Bolt asks once who the bot is (auth.test), and nothing more is said or asked.
    assert {call.method for call in ws.fake.calls} == {"auth.test"} and ws.fake.responses == []


async def test_a_file_slack_fails_to_hand_over_is_asked_again_and_the_dialog_stays_at_the_file(
    ws: Workspace,
) -> None:
    for answer in ("soumettre", "4", "Rapport annuel 2025", "03/11/2025", "Service ODPE", "maltraitance",
                   "Données du département", "mixte", "03"):
        await ws.dm(answer)
    await ws.app.idle()
    asked = len(ws.fake.posted("DUMARIE"))
    assert "Étape 9/10 — Fichier" in ws.fake.posted("DUMARIE")[-1].words
    with socket.socket() as closed:  # a port nothing listens on: the connection is refused
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    refused = {**ws.fake.share_file("annexe.pdf", pdf().data),
               "url_private_download": f"http://127.0.0.1:{port}/files/F0REFUSED"}
    await ws.dm("", files=[ws.fake.share_file("rapport.pdf", pdf().data, status=500)])
    await ws.dm("", files=[refused])
    await ws.app.idle()
    first, second = ws.fake.posted("DUMARIE")[asked:]
    assert first.words == (":warning: Je n'ai pas pu récupérer le fichier « rapport.pdf » : envoyez-le de nouveau, "
                           "s'il vous plaît. Votre saisie en cours est conservée.")
    assert "« annexe.pdf »" in second.words and "Votre saisie en cours est conservée." in second.words

    await ws.dm("", files=[ws.fake.share_file("rapport.pdf", pdf().data)])  # sent again, it is taken
    await ws.app.idle()
    assert "Étape 10/10 — Résumé" in ws.fake.posted("DUMARIE")[-1].words


async def test_a_nul_character_is_left_out_of_what_is_answered_and_kept(ws: Workspace) -> None:
    await ws.dm("Quels indicateurs\x00 suivre pour le rapport annuel de l'observatoire ?")
    await ws.slash("annuaire all\x00ier")
    await ws.app.idle()
    asked, directory = ws.fake.posted("DUMARIE")
    assert "votre question Q-1 est transmise à l'ONPE" in asked.words
    assert "Allier" in directory.words
    async with ws.app.db.session() as session:
        question = await Repos(session).questions.get(ReadableId("Q", 1))
    assert question is not None
    assert question.text == "Quels indicateurs suivre pour le rapport annuel de l'observatoire ?"
    [card] = ws.fake.posted("CREVIEW")
    assert "Quels indicateurs suivre pour le rapport annuel de l'observatoire ?" in card.words

    # And in a form, where the modal's answers go to the dialog without passing through a message.
    await ws.slash("soumettre")
    [opened] = await ws.fake.wait_for(lambda: ws.fake.called("views.open"))
    file = ws.fake.share_file("rapport.pdf", pdf().data)
    answer = await submit(ws, opened["view"], document_state(opened["view"], "03", [file], title="Rapport\x00 annuel"))
    await submit(ws, answer["view"], {})
    await ws.app.idle()
    async with ws.app.db.session() as session:
        item = await Repos(session).items.get(ReadableId("D", 1))
    assert item is not None and item.title == "Rapport annuel"
    assert "\x00" not in "".join(call.text for call in ws.fake.calls)


async def test_a_search_with_many_long_results_shows_each_of_them_whole(ws: Workspace) -> None:
    titles = [typed(200, f"Observatoire {n} & protection de l'enfance <rapport> ") for n in range(12)]
    async with ws.app.db.session() as session:
        await SearchIndex(session).put_many(
            Indexed(f"D-{n + 1}", "document", title, typed(2000, "L'observatoire départemental & ses indicateurs "),
                    department="03", year=2024)
            for n, title in enumerate(titles))
    await ws.slash("chercher observatoire")
    await ws.app.idle()
    [post] = ws.fake.posted("DUMARIE")
    assert "8 résultat(s) pour « observatoire »" in post.words
    assert len([title for title in titles if title in post.words]) == 8


async def test_the_longest_faq_answer_reaches_the_person_whole(ws: Workspace) -> None:
    answer = typed(3000, "La cellule départementale <CRIP> & le parquet reçoivent l'information préoccupante. ")
    async with ws.app.db.session() as session:
        entry = await Repos(session).faq.add("Comment saisir la cellule de recueil des informations préoccupantes ?",
                                             answer)
        await SearchIndex(session).put(indexing.faq_entry(entry))
    await ws.dm("Comment saisir la cellule de recueil des informations préoccupantes ?")
    await ws.app.idle()
    posts = ws.fake.posted("DUMARIE")
    assert "Réponse à votre question Q-1" in posts[0].words and answer in posts[0].words
    assert "Cela répond-il à votre question ?" in posts[1].words


async def test_a_refused_token_is_said_in_healthz(migrated_db: Database, tmp_path: Path) -> None:
    fake = FakeSlack()
    await fake.start()
    fake.fail_next("auth.test", 200, error="invalid_auth")
    app = App(workspace_config(migrated_db.url.render_as_string(hide_password=False), tmp_path, fake), db=migrated_db)
    slack = SlackIntegration(app)
    await slack.start()
    try:
        await fake.wait_for(lambda: fake.called("auth.test:refused"))
        await fake.wait_for(lambda: slack.failure)  # the refusal is reported once its answer is read
        health = await app.health()
        assert not health.healthy
        assert health.parts["slack"]["error"] == "ConnectionError: slack.bot_token is refused: invalid_auth"
        assert "xoxb-fake-token" not in str(health.parts)
    finally:
        await slack.stop()
        await fake.stop()


async def test_healthz_reports_slack_in_http_mode(ws: Workspace) -> None:
    health = await ws.app.health()
    assert health.parts["slack"] == {"ok": True, "mode": "http", "team": "T0DPE"}


def test_check_config_accepts_slack_and_masks_its_secrets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("slack:\n  enabled: true\n  mode: http\n  bot_token: xoxb-secret-1\n  signing_secret: s3cr3t\n"
                    "  review_channel: C1\n", encoding="utf-8")
    assert main(["check-config", "-c", str(path)]) == 0
    printed = capsys.readouterr().out
    assert "Configuration valide" in printed and "xoxb-secret-1" not in printed and "s3cr3t" not in printed


def test_a_run_with_slack_enabled_serves_it(migrated_db: Database, tmp_path: Path) -> None:
    config = Config(database={"url": migrated_db.url.render_as_string(hide_password=False)},
                    slack={"enabled": True, "mode": "socket", "bot_token": "xoxb-1", "app_token": "xapp-1"})
    [platform] = enabled_platforms(App(config, db=migrated_db))
    assert isinstance(platform, SlackIntegration) and platform.name == "slack"
