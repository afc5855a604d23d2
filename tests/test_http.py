"""The HTTP server: health for the supervisor, metrics for Prometheus."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import App
from integrations.http import make_web_app
from tests.chat import say, unique_user


@pytest.fixture
async def client(app: App) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(make_web_app(app))) as test_client:
        yield test_client


async def test_healthz_is_ok_when_the_database_answers(client: TestClient) -> None:
    response = await client.get("/healthz")
    assert response.status == 200
    body = await response.json()
    assert body["status"] == "ok" and body["checks"]["database"] == {"ok": True}


async def test_healthz_names_the_failing_part(app: App, client: TestClient) -> None:
    async def matrix_down() -> None:
        raise ConnectionError("last sync 900 s ago")

    app.health_checks["matrix"] = matrix_down
    response = await client.get("/healthz")
    assert response.status == 503
    body = await response.json()
    assert body["failing"] == ["matrix"]
    assert "last sync 900 s ago" in body["checks"]["matrix"]["error"]


async def test_metrics_count_commands_by_name_and_outcome(app: App, client: TestClient) -> None:
    await say(app, "!aide", user=unique_user())
    await say(app, "!aidee", user=unique_user())
    response = await client.get("/metrics")
    assert response.status == 200 and response.headers["Content-Type"].startswith("text/plain")
    text = await response.text()
    assert 'odpe_bot_commands_total{command="aide",outcome="ok"} 1.0' in text
    assert 'odpe_bot_commands_total{command="-",outcome="unknown"} 1.0' in text
    assert 'odpe_bot_command_duration_seconds_count{command="aide"} 1.0' in text
