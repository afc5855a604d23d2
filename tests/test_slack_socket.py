"""The bot on Slack in Socket Mode: apps.connections.open gives a WebSocket where Slack's envelopes arrive, each
acknowledged by its envelope id; the answers go through the Web API as in HTTP mode."""

from __future__ import annotations

import asyncio
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


async def test_slash_command_envelope_is_acknowledged_and_answered(ws: Workspace) -> None:
    started = time.monotonic()
    envelope = await ws.fake.push("slash_commands", {
        "team_id": TEAM, "channel_id": "DUMARIE", "user_id": "UMARIE", "user_name": "marie", "command": "/odpe",
        "text": "annuaire allier", "response_url": f"{ws.fake.base_url}/response/1", "trigger_id": uuid.uuid4().hex,
    }, accepts_response_payload=True)
    await ws.fake.wait_for(lambda: [a for a in ws.fake.acks if a.get("envelope_id") == envelope])
    assert time.monotonic() - started < 3
    [post] = await ws.fake.wait_for(lambda: ws.fake.posted("DUMARIE"))
    assert "Allier" in post.text


async def test_event_envelope_delivered_twice_is_answered_once(ws: Workspace) -> None:
    event = {"type": "message", "channel": "DUMARIE", "channel_type": "im", "user": "UMARIE", "text": "aide",
             "ts": next_ts()}
    payload = {"team_id": TEAM, "api_app_id": "A0DPE", "type": "event_callback", "event_id": "Ev42",
               "event_time": int(time.time()), "event": event}
    first = await ws.fake.push("events_api", payload)
    second = await ws.fake.push("events_api", payload)
    await ws.fake.wait_for(lambda: {a.get("envelope_id") for a in ws.fake.acks} >= {first, second})
    [post] = await ws.fake.wait_for(lambda: ws.fake.posted("DUMARIE"))
    assert "soumettre" in post.text
    await asyncio.sleep(0.3)
    await ws.app.outbox.send_due()
    assert len(ws.fake.posted("DUMARIE")) == 1


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
        for _ in range(50):
            health = await app.health()
            if "app_token" in str(health.parts["slack"]):
                break
            await asyncio.sleep(0.05)
        assert health.parts["slack"]["error"] == "ConnectionError: slack.app_token is refused: invalid_auth"
    finally:
        await slack.stop()
        await fake.stop()
