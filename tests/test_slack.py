"""The bot on Slack over HTTP: signed requests to /slack/events, a fake Web API that records every call."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import App
from bot.config import Config
from integrations.cli import main
from integrations.runtime import enabled_platforms
from integrations.slack import SlackIntegration
from storage.db import Database
from tests.slack_fake import BOT_USER, FORM, FakeSlack, Workspace, next_ts, slash_body, workspace, workspace_config


@pytest.fixture
async def ws(migrated_db: Database, tmp_path: Path) -> AsyncIterator[Workspace]:
    async with workspace(migrated_db, tmp_path / "files") as connected:
        yield connected


async def test_slash_command_in_the_bots_dm_is_answered_there(ws: Workspace) -> None:
    started = time.monotonic()
    status, _body = await ws.slash("aide")
    assert status == 200 and time.monotonic() - started < 3
    [post] = await ws.fake.wait_for(lambda: ws.fake.posted("DUMARIE"))
    # The help names the commands as Slack users type them.
    assert "`/odpe soumettre`" in post.text and "`/odpe annuaire &lt;departement…&gt;`" in post.text


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
    await asyncio.sleep(0.5)
    assert ws.fake.posted("DUMARIE") == [] and ws.fake.responses == []


async def test_dm_retried_by_slack_is_answered_once(ws: Workspace) -> None:
    event = {"type": "message", "channel": "DUMARIE", "channel_type": "im", "user": "UMARIE", "text": "aide",
             "ts": next_ts()}
    assert (await ws.event(event, event_id="Ev0001"))[0] == 200
    await ws.fake.wait_for(lambda: ws.fake.posted("DUMARIE"))
    retried = await ws.event(event, event_id="Ev0001", headers={"X-Slack-Retry-Num": "1",
                                                                 "X-Slack-Retry-Reason": "http_timeout"})
    assert retried[0] == 200
    await asyncio.sleep(0.5)
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
    await asyncio.sleep(0.3)
    assert len(ws.fake.posted("CGENERAL")) == 1


async def test_chatter_in_a_channel_is_left_alone(ws: Workspace) -> None:
    await ws.event({"type": "message", "channel": "CGENERAL", "channel_type": "channel", "user": "UMARIE",
                    "text": "bonjour à tous, la réunion est à 14h", "ts": next_ts()})
    await asyncio.sleep(0.5)
    assert ws.fake.posted("CGENERAL") == []


async def test_user_text_is_escaped_in_what_the_bot_writes(ws: Workspace) -> None:
    await ws.slash("annuaire <!channel> & co")
    [post] = await ws.fake.wait_for(lambda: ws.fake.posted("DUMARIE"))
    assert "<!channel>" not in post.text and "&lt;!channel&gt; &amp; co" in post.text


async def test_events_from_another_workspace_are_refused(ws: Workspace) -> None:
    await ws.event({"type": "message", "channel": "DUMARIE", "channel_type": "im", "user": "UMARIE",
                    "text": "aide", "ts": next_ts()}, team="TOTHER")
    await asyncio.sleep(0.5)
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
    await asyncio.sleep(0.3)
    assert len(ws.fake.posted("DUMARIE")) == 1


async def test_a_refused_token_is_said_in_healthz(migrated_db: Database, tmp_path: Path) -> None:
    fake = FakeSlack()
    await fake.start()
    fake.fail_next("auth.test", 200, error="invalid_auth")
    app = App(workspace_config(migrated_db.url.render_as_string(hide_password=False), tmp_path, fake), db=migrated_db)
    slack = SlackIntegration(app)
    await slack.start()
    try:
        await fake.wait_for(lambda: fake.called("auth.test:refused"))
        for _ in range(50):
            health = await app.health()
            if "invalid_auth" in str(health.parts["slack"]):
                break
            await asyncio.sleep(0.05)
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
