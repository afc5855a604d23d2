"""The bot on Slack in Socket Mode: apps.connections.open gives a WebSocket where Slack's envelopes arrive, each
acknowledged by its envelope id; the answers go through the Web API as in HTTP mode."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import App
from integrations.slack import SlackIntegration
from storage.db import Database
from tests.slack_fake import TEAM, FakeSlack, Workspace, next_ts, workspace, workspace_config


@pytest.fixture
async def ws(migrated_db: Database, tmp_path: Path) -> AsyncIterator[Workspace]:
    async with workspace(migrated_db, tmp_path / "files", mode="socket") as connected:
        yield connected


async def test_socket_mode_connects_with_the_app_token_and_reports_healthy(ws: Workspace) -> None:
    assert ws.fake.called("apps.connections.open")
    health = await ws.app.health()
    assert health.parts["slack"] == {"ok": True, "mode": "socket", "team": TEAM}


async def test_slash_command_envelope_is_acknowledged_before_its_answer_is_worked_out(ws: Workspace) -> None:
    # Slack is slow to say who the person is: the answer cannot be written before it does.
    slow = ws.fake.hold("users.info")
    envelope = await ws.fake.push("slash_commands", {
        "team_id": TEAM, "channel_id": "DUMARIE", "user_id": "UMARIE", "user_name": "marie", "command": "/odpe",
        "text": "annuaire allier", "response_url": f"{ws.fake.base_url}/response/1", "trigger_id": uuid.uuid4().hex,
    }, accepts_response_payload=True)
    [ack] = await ws.fake.wait_for(lambda: [a for a in ws.fake.acks if a.get("envelope_id") == envelope])
    assert ack == {"envelope_id": envelope}
    await ws.fake.wait_for(lambda: slow.waiting)
    # Acknowledged, and still at work: whoever waits for the bot to be idle (a test, a clean stop) waits on.
    assert ws.app.activity.running > 0 and ws.fake.posted("DUMARIE") == []
    slow.release()
    await ws.app.idle()
    [post] = ws.fake.posted("DUMARIE")
    assert "Allier" in post.text


async def test_event_envelope_delivered_twice_is_answered_once(ws: Workspace) -> None:
    event = {"type": "message", "channel": "DUMARIE", "channel_type": "im", "user": "UMARIE", "text": "aide",
             "ts": next_ts()}
    payload = {"team_id": TEAM, "api_app_id": "A0DPE", "type": "event_callback", "event_id": "Ev42",
               "event_time": int(time.time()), "event": event}
    first = await ws.fake.push("events_api", payload)
    second = await ws.fake.push("events_api", payload)
    await ws.fake.wait_for(lambda: {a.get("envelope_id") for a in ws.fake.acks} >= {first, second})
    await ws.app.idle()
    [post] = ws.fake.posted("DUMARIE")
    assert "soumettre" in post.text


async def test_a_message_envelope_keeps_the_bot_busy_until_it_is_answered(ws: Workspace) -> None:
    slow = ws.fake.hold("users.info")
    event = {"type": "message", "channel": "DUMARIE", "channel_type": "im", "user": "UMARIE", "text": "aide",
             "ts": next_ts()}
    envelope = await ws.fake.push("events_api", {"team_id": TEAM, "api_app_id": "A0DPE", "type": "event_callback",
                                                 "event_id": "Ev43", "event_time": int(time.time()), "event": event})
    await ws.fake.wait_for(lambda: [a for a in ws.fake.acks if a.get("envelope_id") == envelope])
    await ws.fake.wait_for(lambda: slow.waiting)
    assert ws.app.activity.running > 0
    slow.release()
    await ws.app.idle()
    [post] = ws.fake.posted("DUMARIE")
    assert "soumettre" in post.text


async def test_a_refused_app_token_is_said_in_healthz(migrated_db: Database, tmp_path: Path) -> None:
    fake = FakeSlack()
    await fake.start()
    fake.fail_next("apps.connections.open", 200, error="invalid_auth")
    url = migrated_db.url.render_as_string(hide_password=False)
    app = App(workspace_config(url, tmp_path, fake, mode="socket"), db=migrated_db)
    slack = SlackIntegration(app)
    await slack.start()
    try:
        await fake.wait_for(lambda: fake.called("apps.connections.open:refused"))
        await fake.wait_for(lambda: slack.failure)  # the refusal is reported once its answer is read
        health = await app.health()
        assert health.parts["slack"]["error"] == "ConnectionError: slack.app_token is refused: invalid_auth"
    finally:
        await slack.stop()
        await fake.stop()
