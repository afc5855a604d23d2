"""A fake Slack for the tests: the Web API methods the bot uses on a loopback port (every call recorded, answered
as Slack does, a 429 with Retry-After on demand), files to download, upload URLs, response URLs, a Socket Mode
WebSocket speaking its envelope protocol, and requests to /slack/events signed as Slack signs them."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import WSMsgType, web

from bot.app import App
from bot.config import Config
from integrations.http import HttpServer
from integrations.slack import SlackIntegration
from storage.db import Database
from tests.circuit import pdf

TEAM = "T0DPE"
BOT_USER = "UBOT"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    result: dict[str, Any] = field(default_factory=dict)  # what the fake answered

    def __getitem__(self, key: str) -> Any:
        return self.args[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.args.get(key, default)

    @property
    def text(self) -> str:
        """Everything a person reads in a posted message: its text and its blocks' texts."""
        parts = [str(self.args.get("text") or "")]
        for block in self.args.get("blocks") or (self.args.get("view") or {}).get("blocks") or []:
            parts.extend(_texts(block))
        return "\n".join(parts)


def _texts(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["text"]] if isinstance(node.get("text"), str) else []
        for value in node.values():
            if isinstance(value, dict | list):
                found.extend(_texts(value))
        return found
    if isinstance(node, list):
        return [text for item in node for text in _texts(item)]
    return []


@dataclass
class FakeSlack:
    calls: list[Call] = field(default_factory=list)
    uploads: dict[str, bytes] = field(default_factory=dict)
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    responses: list[dict[str, Any]] = field(default_factory=list)  # what was posted to response URLs
    acks: list[dict[str, Any]] = field(default_factory=list)  # what the Socket Mode client acknowledged
    failures: dict[str, list[tuple[int, dict[str, str], str | None, str]]] = field(default_factory=dict)
    base_url: str = ""
    _ts: Any = field(default_factory=lambda: itertools.count(1))
    _sockets: list[web.WebSocketResponse] = field(default_factory=list)
    _runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)
        app.router.add_post("/upload/{file}", self._upload)
        app.router.add_get("/files/{file}", self._file)
        app.router.add_post("/response/{id}", self._response)
        app.router.add_get("/socket", self._socket)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        for socket in self._sockets:
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        return self.base_url + "/api/"

    # -- what the tests look at ----------------------------------------------------------------------------

    def called(self, method: str, **where: Any) -> list[Call]:
        return [c for c in self.calls if c.method == method and all(c.get(k) == v for k, v in where.items())]

    def posted(self, channel: str) -> list[Call]:
        return self.called("chat.postMessage", channel=channel)

    async def wait_for(self, check: Callable[[], Any], timeout: float = 10.0) -> Any:
        """Until `check()` gives something true (what the bot does after acknowledging takes a moment)."""
        deadline = time.monotonic() + timeout
        while True:
            found = check()
            if found:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"not seen within {timeout} s; calls: {[c.method for c in self.calls]}")
            await asyncio.sleep(0.02)

    def share_file(self, name: str, data: bytes) -> dict[str, Any]:
        """A file as Slack describes it in an event or a file input, downloadable with the bot's token."""
        file_id = "F" + uuid.uuid4().hex[:8].upper()
        self.files[file_id] = (name, data)
        return {"id": file_id, "name": name, "size": len(data), "mimetype": "application/octet-stream",
                "url_private_download": f"{self.base_url}/files/{file_id}"}

    def fail_next(self, method: str, status: int, headers: dict[str, str] | None = None,
                  channel: str | None = None, error: str = "internal_error") -> None:
        """The next call of `method` (to `channel`, if given) is refused with `status` and `error`."""
        self.failures.setdefault(method, []).append((status, headers or {}, channel, error))

    # -- the Web API -------------------------------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args: dict[str, Any] = {k: _decoded(v) for k, v in request.query.items()}
        if request.content_type == "application/json":
            args.update(await request.json())
        elif request.method == "POST":
            args.update({k: _decoded(v) for k, v in (await request.post()).items() if isinstance(v, str)})
        pending = self.failures.get(method, [])
        failure = next((f for f in pending if f[2] in (None, args.get("channel"))), None)
        if failure is not None:
            pending.remove(failure)
            status, headers, _channel, error = failure
            self.calls.append(Call(method + ":refused", args))
            return web.json_response({"ok": False, "error": error}, status=status, headers=headers)
        answer = self._answer(method, args)
        self.calls.append(Call(method, args, answer))
        return web.json_response(answer)

    def _answer(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        ok: dict[str, Any] = {"ok": True}
        if method == "auth.test":
            return {**ok, "team_id": TEAM, "user_id": BOT_USER, "bot_id": "B0DPE", "team": "ODPE", "user": "odpe-bot"}
        if method in ("chat.postMessage", "chat.update"):
            ts = args.get("ts") or f"{1700000000 + next(self._ts)}.000100"
            return {**ok, "channel": args.get("channel"), "ts": ts, "message": {"text": args.get("text")}}
        if method == "chat.postEphemeral":
            return {**ok, "message_ts": f"{1700000000 + next(self._ts)}.000200"}
        if method == "conversations.open":
            return {**ok, "channel": {"id": "D" + str(args.get("users"))}}
        if method == "users.info":
            user = str(args.get("user"))
            return {**ok, "user": {"id": user, "name": user.lower(),
                                   "profile": {"display_name": user.lower()}}}
        if method in ("views.open", "views.publish"):
            return {**ok, "view": {"id": "V" + uuid.uuid4().hex[:8].upper(), **(args.get("view") or {})}}
        if method == "files.getUploadURLExternal":
            file_id = "F" + uuid.uuid4().hex[:8].upper()
            return {**ok, "upload_url": f"{self.base_url}/upload/{file_id}", "file_id": file_id}
        if method == "files.completeUploadExternal":
            return {**ok, "files": [{"id": f["id"], "title": f.get("title")} for f in args.get("files") or []]}
        if method == "files.info":
            return {**ok, "file": {"id": args.get("file")}}
        if method == "apps.connections.open":
            return {**ok, "url": self.base_url.replace("http://", "ws://") + "/socket"}
        return {"ok": False, "error": "unknown_method"}

    async def _upload(self, request: web.Request) -> web.Response:
        self.uploads[request.match_info["file"]] = await request.read()
        return web.Response(text="OK - uploaded")

    async def _file(self, request: web.Request) -> web.Response:
        if not request.headers.get("Authorization", "").startswith("Bearer xoxb-"):
            return web.Response(status=403)
        name, data = self.files[request.match_info["file"]]
        return web.Response(body=data, headers={"Content-Disposition": f"attachment; filename={name}"})

    async def _response(self, request: web.Request) -> web.Response:
        self.responses.append(await request.json())
        return web.Response(text="ok")

    # -- Socket Mode -------------------------------------------------------------------------------------------

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self._sockets.append(socket)
        await socket.send_json({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0DPE"}})
        async for frame in socket:
            if frame.type == WSMsgType.TEXT:
                self.acks.append(json.loads(frame.data))
        return socket

    async def push(self, kind: str, payload: dict[str, Any], accepts_response_payload: bool = False) -> str:
        """Send an envelope to the connected Socket Mode client; returns its envelope id."""
        await self.wait_for(lambda: self._sockets)
        envelope_id = uuid.uuid4().hex
        await self._sockets[-1].send_json({
            "envelope_id": envelope_id, "type": kind, "payload": payload,
            "accepts_response_payload": accepts_response_payload, "retry_attempt": 0, "retry_reason": "",
        })
        return envelope_id


def _decoded(value: str) -> Any:
    if value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


# -- signed requests to /slack/events ----------------------------------------------------------------------------


def signature(body: str, timestamp: str, secret: str = SIGNING_SECRET) -> str:
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(body: str, content_type: str, timestamp: int | None = None,
                   secret: str = SIGNING_SECRET) -> dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature(body, stamp, secret),
            "Content-Type": content_type}


def slash_body(text: str, user: str, channel: str, base_url: str, team: str = TEAM) -> str:
    return urlencode({
        "token": "unused", "team_id": team, "team_domain": "odpe", "channel_id": channel, "channel_name": "x",
        "user_id": user, "user_name": user.lower(), "command": "/odpe", "text": text,
        "response_url": f"{base_url}/response/{uuid.uuid4().hex}", "trigger_id": uuid.uuid4().hex,
        "api_app_id": "A0DPE",
    })


def event_body(event: dict[str, Any], event_id: str | None = None, team: str = TEAM) -> str:
    return json.dumps({
        "token": "unused", "team_id": team, "api_app_id": "A0DPE", "type": "event_callback",
        "event_id": event_id or "Ev" + uuid.uuid4().hex[:10].upper(), "event_time": int(time.time()), "event": event,
    })


def interaction_body(payload: dict[str, Any]) -> str:
    return urlencode({"payload": json.dumps({"team": {"id": TEAM}, "api_app_id": "A0DPE",
                                             "trigger_id": uuid.uuid4().hex, **payload})})


# -- the bot on the fake workspace --------------------------------------------------------------------------------


@dataclass
class Workspace:
    """The bot connected to a fake Slack, its HTTP server on a free port, its outbox running."""

    app: App
    fake: FakeSlack
    slack: SlackIntegration
    server: HttpServer

    @property
    def events_url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}/slack/events"

    async def post(self, body: str, content_type: str, headers: dict[str, str] | None = None,
                   timestamp: int | None = None, secret: str = SIGNING_SECRET) -> tuple[int, str]:
        sent = {**signed_headers(body, content_type, timestamp, secret), **(headers or {})}
        async with aiohttp.ClientSession() as session, session.post(self.events_url, data=body, headers=sent) as r:
            return r.status, await r.text()

    async def slash(self, text: str, user: str = "UMARIE", channel: str | None = None) -> tuple[int, str]:
        body = slash_body(text, user, channel or "D" + user, self.fake.base_url)
        return await self.post(body, FORM)

    async def event(self, event: dict[str, Any], event_id: str | None = None, team: str = TEAM,
                    headers: dict[str, str] | None = None) -> tuple[int, str]:
        return await self.post(event_body(event, event_id, team), "application/json", headers)

    async def interact(self, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        status, text = await self.post(interaction_body(payload), FORM)
        return status, json.loads(text) if text.strip() else {}

    async def dm(self, text: str, user: str = "UMARIE", files: list[dict[str, Any]] | None = None) -> None:
        event: dict[str, Any] = {"type": "message", "channel": "D" + user, "channel_type": "im", "user": user,
                                 "text": text, "ts": next_ts()}
        if files:
            event.update(subtype="file_share", files=files)
        status, _text = await self.event(event)
        assert status == 200


FORM = "application/x-www-form-urlencoded"
_stamps = itertools.count(1)


def next_ts() -> str:
    return f"{int(time.time())}.{next(_stamps):06d}"


def workspace_config(database_url: str, files: Path, fake: FakeSlack, mode: str = "http",
                     announcement_channels: tuple[str, ...] = ("CANNOUNCE",),
                     rate_limit: dict[str, int] | None = None) -> Config:
    slack: dict[str, Any] = {
        "enabled": True, "mode": mode, "bot_token": "xoxb-fake-token", "api_url": fake.api_url,
        "review_channel": "CREVIEW", "announcement_channels": list(announcement_channels),
    }
    if mode == "http":
        slack["signing_secret"] = SIGNING_SECRET
    else:
        slack["app_token"] = "xapp-fake-token"
    return Config(
        database={"url": database_url}, files={"dir": str(files)}, http={"port": 0},
        rate_limit=rate_limit or {"per_minute": 0}, slack=slack, roles={"admins": ["slack:UADMIN"]},
    )


@asynccontextmanager
async def workspace(db: Database, files: Path, mode: str = "http",
                    announcement_channels: tuple[str, ...] = ("CANNOUNCE",),
                    rate_limit: dict[str, int] | None = None) -> AsyncIterator[Workspace]:
    fake = FakeSlack()
    await fake.start()
    url = db.url.render_as_string(hide_password=False)
    app = App(workspace_config(url, files, fake, mode, announcement_channels, rate_limit), db=db)
    slack = SlackIntegration(app)
    app.router.platforms[:] = [slack.name]
    server = HttpServer(app)
    await server.start()
    await slack.start()
    stop = asyncio.Event()
    outbox = asyncio.create_task(app.outbox.run(stop, interval=0.05))
    try:
        await asyncio.wait_for(slack.ready.wait(), 10)
        yield Workspace(app, fake, slack, server)
    finally:
        stop.set()
        await outbox
        await slack.stop()
        await server.stop()
        await fake.stop()


# -- what people do in Slack's interface --------------------------------------------------------------------------


def blocks_by_id(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {b["block_id"]: b for b in view["blocks"] if "block_id" in b}


def option(block: dict[str, Any], label_start: str) -> dict[str, Any]:
    return next(o for o in block["element"]["options"] if o["text"]["text"].startswith(label_start))


def document_state(view: dict[str, Any], department: str, files: list[dict[str, Any]],
                   title: str = "Rapport annuel 2025") -> dict[str, Any]:
    """What a person fills in the document modal, as Slack sends it back."""
    blocks = blocks_by_id(view)
    return {
        "type": {"value": {"type": "static_select", "selected_option": option(blocks["type"], "Rapports ODPE")}},
        "title": {"value": {"type": "plain_text_input", "value": title}},
        "date": {"value": {"type": "datepicker", "selected_date": "2025-11-03"}},
        "author": {"value": {"type": "plain_text_input", "value": "Service ODPE"}},
        "keywords": {"value": {"type": "plain_text_input", "value": "maltraitance, indicateurs"}},
        "sources": {"value": {"type": "plain_text_input", "value": "Données du département"}},
        "nature": {"value": {"type": "static_select", "selected_option": option(blocks["nature"], "Mixte")}},
        "department": {"value": {"type": "plain_text_input", "value": department}},
        "file": {"value": {"type": "file_input", "files": files}},
        "summary": {"value": {"type": "plain_text_input", "value": None}},
    }


async def submit(ws: Workspace, view: dict[str, Any], state: dict[str, Any], user: str = "UMARIE",
                 ) -> dict[str, Any]:
    status, answer = await ws.interact({
        "type": "view_submission", "user": {"id": user, "team_id": "T0DPE"},
        "view": {"id": "V" + view["callback_id"], "type": "modal", "callback_id": view["callback_id"],
                 "private_metadata": view["private_metadata"], "state": {"values": state}, "hash": "h"},
    })
    assert status == 200
    return answer


async def click(ws: Workspace, card: Call, action: str, user: str = "UONPE") -> None:
    status, _answer = await ws.interact({
        "type": "block_actions", "user": {"id": user, "team_id": "T0DPE"},
        "channel": {"id": card["channel"]}, "message": {"ts": card.result["ts"]},
        "actions": [{"action_id": f"review:{action}", "value": "D-1", "type": "button", "action_ts": "1"}],
    })
    assert status == 200


def buttons(call: Call) -> list[str]:
    return [e["action_id"] for b in call["blocks"] if b["type"] == "actions" for e in b["elements"]]


async def submit_document_by_modal(ws: Workspace) -> Call:
    """A referent sends a document through the modal; returns the review card posted in the review channel."""
    await ws.slash("soumettre")
    [opened] = await ws.fake.wait_for(lambda: ws.fake.called("views.open"))
    form = opened["view"]
    file = ws.fake.share_file("rapport.pdf", pdf().data)
    answer = await submit(ws, form, document_state(form, "03", [file]))
    assert answer["response_action"] == "update", answer
    await submit(ws, answer["view"], {})
    [card] = await ws.fake.wait_for(lambda: ws.fake.posted("CREVIEW"))
    # The card is complete, as reviewers see it, once its file is in its thread (the bot notes the card first).
    await ws.fake.wait_for(lambda: ws.fake.called("files.completeUploadExternal"))
    return card
