"""The bot's HTTP server (aiohttp): health, metrics and Slack's events; other parts (feeds) add their routes."""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.app import App
from calendars.http import add_routes as calendar_routes

log = logging.getLogger(__name__)

APP_KEY: web.AppKey[App] = web.AppKey("odpe_app", App)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# The Slack integration in HTTP mode answers POST /slack/events once it is connected.
_slack_receivers: weakref.WeakKeyDictionary[App, Handler] = weakref.WeakKeyDictionary()


def serve_slack(app: App, handler: Handler | None) -> None:
    """Hand Slack's requests to `handler` (None: stop, POST /slack/events answers 503 again)."""
    if handler is None:
        _slack_receivers.pop(app, None)
    else:
        _slack_receivers[app] = handler


async def slack_events(request: web.Request) -> web.StreamResponse:
    handler = _slack_receivers.get(request.app[APP_KEY])
    if handler is None:
        # Not connected yet (or Slack in socket mode): Slack retries what it could not deliver.
        return web.json_response({"error": "slack is not serving over HTTP"}, status=503)
    return await handler(request)


async def healthz(request: web.Request) -> web.Response:
    app = request.app[APP_KEY]
    health = await app.health()
    body: dict[str, Any] = {
        "status": "ok" if health.healthy else "unhealthy",
        "uptime_seconds": round(time.monotonic() - app.started, 1),
        "checks": health.parts,
    }
    if not health.healthy:
        body["failing"] = [name for name, part in health.parts.items() if not part["ok"]]
    return web.json_response(body, status=200 if health.healthy else 503)


async def metrics(request: web.Request) -> web.Response:
    payload, content_type = request.app[APP_KEY].metrics.render()
    response = web.Response(body=payload)
    response.headers["Content-Type"] = content_type
    return response


def make_web_app(app: App) -> web.Application:
    web_app = web.Application()
    web_app[APP_KEY] = app
    web_app.router.add_get("/healthz", healthz)
    web_app.router.add_get("/metrics", metrics)
    web_app.router.add_post("/slack/events", slack_events)
    return web_app


class HttpServer:
    def __init__(self, app: App, web_app: web.Application | None = None) -> None:
        self.app = app
        if web_app is None:
            web_app = make_web_app(app)
            calendar_routes(web_app, app)  # the iCal feeds
        self.web_app = web_app
        self.runner = web.AppRunner(self.web_app, access_log=None)
        self.port: int | None = None

    async def start(self) -> None:
        config = self.app.config.http
        await self.runner.setup()
        site = web.TCPSite(self.runner, config.host, config.port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else config.port
        log.info("HTTP server listening on http://%s:%s", config.host, self.port)

    async def stop(self) -> None:
        await self.runner.cleanup()
