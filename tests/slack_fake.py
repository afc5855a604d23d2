"""A fake Slack for the tests: the Web API methods the bot uses on a loopback port (every call recorded, answered
as Slack does, a 429 with Retry-After or a slow answer on demand), files to download (or that fail to), upload URLs,
response URLs, a Socket Mode WebSocket speaking its envelope protocol, and requests to /slack/events signed as Slack
signs them. Every message, modal and Home the bot sends is checked against Block Kit's limits and refused as Slack
refuses it; a workspace whose bot sent one such payload fails its test."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import html
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
REVIEWERS = ("slack:UONPE", "slack:UBOB")  # the ONPE's reviewers, named in `roles` as the configuration does


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


    @property
    def words(self) -> str:
        """What a person sees of a message or view, spacing aside: its blocks (the top-level text of a message with
        blocks is only its notification), entities decoded, every run of spaces and line breaks one space (a text
        that goes on in the next section reads on)."""
        blocks = self.args.get("blocks") or (self.args.get("view") or {}).get("blocks")
        shown = "\n".join(_texts(blocks)) if blocks else str(self.args.get("text") or "")
        return " ".join(html.unescape(shown).split())


def typed(length: int, sample: str = "Protection de l'enfance & prévention <précoce>, ") -> str:
    """`length` characters a person could type (with what Slack writes as entities), ending with a word."""
    text = (sample * (length // len(sample) + 1))[: length - 1].rstrip()
    return text + "x" * (length - len(text))


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
class Gate:
    """Calls of one Web API method held until released: a Slack slow to answer."""

    opened: asyncio.Event = field(default_factory=asyncio.Event)
    waiting: int = 0  # calls that came and wait

    def release(self) -> None:
        self.opened.set()


@dataclass
class FakeSlack:
    calls: list[Call] = field(default_factory=list)
    uploads: dict[str, bytes] = field(default_factory=dict)
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    file_failures: dict[str, int] = field(default_factory=dict)  # file id: the status its download gets
    responses: list[dict[str, Any]] = field(default_factory=list)  # what was posted to response URLs
    acks: list[dict[str, Any]] = field(default_factory=list)  # what the Socket Mode client acknowledged
    failures: dict[str, list[tuple[int, dict[str, str], str | None, str]]] = field(default_factory=dict)
    gates: dict[str, Gate] = field(default_factory=dict)
    invalid: list[Call] = field(default_factory=list)  # what Slack would have refused, with its answer
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
        for gate in self.gates.values():  # what the bot still waits for is answered: it can stop
            gate.release()
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

    def share_file(self, name: str, data: bytes, status: int = 200) -> dict[str, Any]:
        """A file as Slack describes it in an event or a file input, downloadable with the bot's token (its file
        host answers `status`: 500 for a file Slack fails to hand over)."""
        file_id = "F" + uuid.uuid4().hex[:8].upper()
        self.files[file_id] = (name, data)
        if status != 200:
            self.file_failures[file_id] = status
        return {"id": file_id, "name": name, "size": len(data), "mimetype": "application/octet-stream",
                "url_private_download": f"{self.base_url}/files/{file_id}"}

    def hold(self, method: str) -> Gate:
        """Every call of `method` waits, unanswered, until the gate returned is released."""
        gate = self.gates[method] = Gate()
        return gate

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
        gate = self.gates.get(method)
        if gate is not None:
            gate.waiting += 1
            await gate.opened.wait()
        pending = self.failures.get(method, [])
        failure = next((f for f in pending if f[2] in (None, args.get("channel"))), None)
        if failure is not None:
            pending.remove(failure)
            status, headers, _channel, error = failure
            self.calls.append(Call(method + ":refused", args))
            return web.json_response({"ok": False, "error": error}, status=status, headers=headers)
        refused = refusal(method, args)
        if refused is not None:
            self.invalid.append(Call(method, args, refused))
            self.calls.append(Call(method + ":invalid", args, refused))
            return web.json_response(refused)
        answer = self._answer(method, args)
        if method == "views.open":
            args["view"]["id"] = answer["view"]["id"]  # the view as Slack holds it, named
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
        if request.match_info["file"] in self.file_failures:
            return web.Response(status=self.file_failures[request.match_info["file"]])
        name, data = self.files[request.match_info["file"]]
        return web.Response(body=data, headers={"Content-Disposition": f"attachment; filename={name}"})

    async def _response(self, request: web.Request) -> web.Response:
        posted = await request.json()
        refused = refusal("response_url", posted)
        if refused is not None:
            self.invalid.append(Call("response_url", posted, refused))
            return web.json_response(refused, status=400)
        self.responses.append(posted)
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


# -- Block Kit as Slack checks it ---------------------------------------------------------------------------------
# Slack refuses a payload that breaks one of these rules (chat.*: `invalid_blocks`; views.*: `invalid_arguments`),
# each named by a JSON pointer. The limits are those of Slack's reference (docs.slack.dev/reference/block-kit,
# /reference/views/modal-views, /reference/methods/chat.postMessage); the fake knows the blocks and elements the bot
# may use, and refuses the others rather than guess their rules.

MESSAGE_BLOCKS = 50  # blocks in a message
# The text of all a message's blocks together: Slack answers `msg_blocks_too_long` past about 13,200 characters, a
# limit it does not document (slackapi/bolt-js#2509 measured 13,172 to 13,297); the fake refuses past 13,000.
MESSAGE_BLOCKS_TEXT = 13_000
VIEW_BLOCKS = 100  # blocks in a modal or a Home tab
MESSAGE_TEXT = 40_000  # a message's top-level text
TEXT = 3000  # any text object
BLOCK_ID = ACTION_ID = CALLBACK_ID = 255
# What each element type may hold, and where an element may go.
ELEMENT_KEYS = {
    "button": {"type", "text", "action_id", "url", "value", "style", "confirm", "accessibility_label"},
    "static_select": {"type", "action_id", "placeholder", "options", "option_groups", "initial_option", "confirm",
                      "focus_on_load"},
    "checkboxes": {"type", "action_id", "options", "initial_options", "confirm", "focus_on_load"},
    "radio_buttons": {"type", "action_id", "options", "initial_option", "confirm", "focus_on_load"},
    "datepicker": {"type", "action_id", "initial_date", "confirm", "focus_on_load", "placeholder"},
    "timepicker": {"type", "action_id", "initial_time", "confirm", "focus_on_load", "placeholder", "timezone"},
    "plain_text_input": {"type", "action_id", "initial_value", "multiline", "min_length", "max_length",
                         "dispatch_action_config", "focus_on_load", "placeholder"},
    "file_input": {"type", "action_id", "filetypes", "max_files"},
    "image": {"type", "image_url", "slack_file", "alt_text"},
}
ACCESSORIES = {"button", "static_select", "checkboxes", "radio_buttons", "datepicker", "timepicker", "image"}
ACTIONS = {"button", "static_select", "checkboxes", "radio_buttons", "datepicker", "timepicker"}
INPUTS = {"plain_text_input", "static_select", "checkboxes", "radio_buttons", "datepicker", "timepicker",
          "file_input"}
BLOCK_KEYS = {
    "section": {"type", "block_id", "text", "fields", "accessory", "expand"},
    "header": {"type", "block_id", "text"},
    "context": {"type", "block_id", "elements"},
    "actions": {"type", "block_id", "elements"},
    "divider": {"type", "block_id"},
    "input": {"type", "block_id", "label", "element", "hint", "optional", "dispatch_action"},
    "image": {"type", "block_id", "image_url", "slack_file", "alt_text", "title"},
}
MODAL_KEYS = {"type", "title", "blocks", "close", "submit", "private_metadata", "callback_id", "clear_on_close",
              "notify_on_close", "external_id", "submit_disabled"}
HOME_KEYS = {"type", "blocks", "private_metadata", "callback_id", "external_id"}


class BlockKit:
    """The errors Slack would find in one payload, as Slack words them: `<why> [json-pointer:/blocks/3/text]`."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self._block_ids: set[str] = set()

    def fail(self, path: str, why: str) -> None:
        self.errors.append(f"{why} [json-pointer:{path}]")

    def keys(self, node: dict[str, Any], path: str, allowed: set[str]) -> None:
        for key in sorted(set(node) - allowed):
            self.fail(f"{path}/{key}", "unknown field")

    def string(self, node: dict[str, Any], key: str, path: str, limit: int, required: bool = False,
               least: int = 1) -> None:
        value = node.get(key)
        if value is None:
            if required:
                self.fail(f"{path}/{key}", "missing required field")
        elif not isinstance(value, str):
            self.fail(f"{path}/{key}", "must be a string")
        elif not least <= len(value) <= limit:
            self.fail(f"{path}/{key}", f"must be {least} to {limit} characters long, is {len(value)}")

    def number(self, node: dict[str, Any], key: str, path: str, least: int, most: int) -> None:
        value = node.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or not least <= value <= most):
            self.fail(f"{path}/{key}", f"must be a whole number from {least} to {most}")

    def text(self, node: Any, path: str, limit: int = TEXT, plain: bool = False, required: bool = True) -> None:
        """A text object: plain_text or mrkdwn, 1 to `limit` characters (Slack's text objects hold at most 3000)."""
        if node is None:
            if required:
                self.fail(path, "missing required field")
            return
        if not isinstance(node, dict) or node.get("type") not in ("plain_text", "mrkdwn"):
            self.fail(path, "must be a text object (plain_text or mrkdwn)")
            return
        if plain and node["type"] != "plain_text":
            self.fail(f"{path}/type", "must be plain_text")
        extra = "emoji" if node["type"] == "plain_text" else "verbatim"
        self.keys(node, path, {"type", "text", extra})
        self.string(node, "text", path, min(limit, TEXT), required=True)

    def items(self, node: dict[str, Any], key: str, path: str, least: int, most: int) -> list[Any]:
        value = node.get(key)
        if not isinstance(value, list):
            self.fail(f"{path}/{key}", "must be an array")
            return []
        if not least <= len(value) <= most:
            self.fail(f"{path}/{key}", f"must hold {least} to {most} items, holds {len(value)}")
        return value

    def blocks(self, blocks: Any, path: str, most: int) -> None:
        if not isinstance(blocks, list):
            self.fail(path, "must be an array")
            return
        if len(blocks) > most:
            self.fail(path, f"no more than {most} items allowed, {len(blocks)} given")
        for index, block in enumerate(blocks):
            self.block(block, f"{path}/{index}")

    def block(self, block: Any, path: str) -> None:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind not in BLOCK_KEYS:
            self.fail(f"{path}/type", f"unknown block type {kind!r}")
            return
        self.keys(block, path, BLOCK_KEYS[kind])
        self.string(block, "block_id", path, BLOCK_ID)
        if isinstance(block.get("block_id"), str):
            if block["block_id"] in self._block_ids:
                self.fail(f"{path}/block_id", f"duplicate block_id {block['block_id']!r}")
            self._block_ids.add(block["block_id"])
        if kind == "section":
            if "text" not in block and "fields" not in block:
                self.fail(path, "a section needs a text or fields")
            if "text" in block:
                self.text(block["text"], f"{path}/text")
            if "fields" in block:
                for index, item in enumerate(self.items(block, "fields", path, 1, 10)):
                    self.text(item, f"{path}/fields/{index}", limit=2000)
            if "accessory" in block:
                self.element(block["accessory"], f"{path}/accessory", ACCESSORIES)
        elif kind == "header":
            self.text(block.get("text"), f"{path}/text", limit=150, plain=True)
        elif kind == "context":
            for index, item in enumerate(self.items(block, "elements", path, 1, 10)):
                if isinstance(item, dict) and item.get("type") == "image":
                    self.element(item, f"{path}/elements/{index}", {"image"})
                else:
                    self.text(item, f"{path}/elements/{index}")
        elif kind == "actions":
            action_ids: set[str] = set()
            for index, item in enumerate(self.items(block, "elements", path, 1, 25)):
                self.element(item, f"{path}/elements/{index}", ACTIONS)
                action_id = item.get("action_id") if isinstance(item, dict) else None
                if isinstance(action_id, str):
                    if action_id in action_ids:
                        self.fail(f"{path}/elements/{index}/action_id", f"duplicate action_id {action_id!r}")
                    action_ids.add(action_id)
        elif kind == "input":
            self.text(block.get("label"), f"{path}/label", limit=2000, plain=True)
            self.text(block.get("hint"), f"{path}/hint", limit=2000, plain=True, required=False)
            if "element" not in block:
                self.fail(f"{path}/element", "missing required field")
            else:
                self.element(block["element"], f"{path}/element", INPUTS)
        elif kind == "image":
            self.string(block, "image_url", path, 3000)
            self.string(block, "alt_text", path, 2000, required=True)
            self.text(block.get("title"), f"{path}/title", limit=2000, plain=True, required=False)

    def element(self, element: Any, path: str, allowed: set[str]) -> None:
        kind = element.get("type") if isinstance(element, dict) else None
        if kind not in allowed:
            self.fail(f"{path}/type", f"an element of type {kind!r} is not allowed here (allowed: "
                                      f"{', '.join(sorted(allowed))})")
            return
        self.keys(element, path, ELEMENT_KEYS[kind])
        self.string(element, "action_id", path, ACTION_ID)
        self.text(element.get("placeholder"), f"{path}/placeholder", limit=150, plain=True, required=False)
        if kind == "button":
            self.text(element.get("text"), f"{path}/text", limit=75, plain=True)
            self.string(element, "value", path, 2000)
            self.string(element, "url", path, 3000)
            self.string(element, "accessibility_label", path, 75)
            if element.get("style") not in (None, "primary", "danger"):
                self.fail(f"{path}/style", "must be primary or danger")
        elif kind == "static_select":
            if "option_groups" in element:
                self.fail(f"{path}/option_groups", "the fake does not check option groups: teach it Slack's rules")
            for index, item in enumerate(self.items(element, "options", path, 1, 100)):
                self.option(item, f"{path}/options/{index}", plain=True)
        elif kind in ("checkboxes", "radio_buttons"):
            for index, item in enumerate(self.items(element, "options", path, 1, 10)):
                self.option(item, f"{path}/options/{index}", plain=False)
        elif kind == "plain_text_input":
            self.number(element, "max_length", path, 1, 3000)
            self.number(element, "min_length", path, 0, 3000)
        elif kind == "file_input":
            self.number(element, "max_files", path, 1, 10)
            filetypes = element.get("filetypes")
            if filetypes is not None and not (isinstance(filetypes, list)
                                              and all(isinstance(t, str) for t in filetypes)):
                self.fail(f"{path}/filetypes", "must be an array of file extensions")
        elif kind == "image":
            self.string(element, "alt_text", path, 2000, required=True)

    def option(self, option: Any, path: str, plain: bool) -> None:
        if not isinstance(option, dict):
            self.fail(path, "must be an option object")
            return
        self.keys(option, path, {"text", "value", "description"})
        self.text(option.get("text"), f"{path}/text", limit=75, plain=plain)
        self.text(option.get("description"), f"{path}/description", limit=75, plain=plain, required=False)
        self.string(option, "value", path, 150, required=True)


def message_errors(args: dict[str, Any]) -> list[str]:
    """What Slack finds wrong in the blocks of a message (chat.postMessage, chat.update, chat.postEphemeral, a
    response URL's post)."""
    check = BlockKit()
    if "blocks" in args and args["blocks"] is not None:
        check.blocks(args["blocks"], "/blocks", MESSAGE_BLOCKS)
    return check.errors


def view_errors(view: Any) -> list[str]:
    """What Slack finds wrong in a view (views.open, views.update, views.push, views.publish, a submission's
    `response_action` update or push)."""
    check = BlockKit()
    if not isinstance(view, dict) or view.get("type") not in ("modal", "home"):
        check.fail("/view/type", "must be modal or home")
        return check.errors
    path = "/view"
    check.keys(view, path, MODAL_KEYS if view["type"] == "modal" else HOME_KEYS)
    check.blocks(view.get("blocks"), f"{path}/blocks", VIEW_BLOCKS)
    check.string(view, "private_metadata", path, 3000, least=0)
    check.string(view, "callback_id", path, CALLBACK_ID)
    if view["type"] == "modal":
        check.text(view.get("title"), f"{path}/title", limit=24, plain=True)
        check.text(view.get("close"), f"{path}/close", limit=24, plain=True, required=False)
        has_input = any(isinstance(b, dict) and b.get("type") == "input" for b in view.get("blocks") or [])
        check.text(view.get("submit"), f"{path}/submit", limit=24, plain=True, required=has_input)
    return check.errors


def refusal(method: str, args: dict[str, Any]) -> dict[str, Any] | None:
    """Slack's answer to a call whose payload it would refuse; None when it would take it."""
    if method.startswith("views."):
        errors = view_errors(args.get("view"))
        if errors:
            return {"ok": False, "error": "invalid_arguments", "response_metadata": {"messages": errors}}
        return None
    errors = message_errors(args)
    if errors:
        return {"ok": False, "error": "invalid_blocks", "errors": errors, "response_metadata": {"messages": errors}}
    if len("".join(_texts(args.get("blocks") or []))) > MESSAGE_BLOCKS_TEXT:
        return {"ok": False, "error": "msg_blocks_too_long"}
    if len(str(args.get("text") or "")) > MESSAGE_TEXT:
        return {"ok": False, "error": "msg_too_long"}
    if method == "chat.postMessage" and not args.get("text") and not args.get("blocks"):
        return {"ok": False, "error": "no_text"}
    return None


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
        rate_limit=rate_limit or {"per_minute": 0}, slack=slack,
        roles={"admins": ["slack:UADMIN"], "reviewers": list(REVIEWERS)},
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
        # Whatever the test looked at, nothing the bot sent may be what Slack refuses.
        assert not fake.invalid, "Slack would refuse: " + "; ".join(
            f"{call.method}: {call.result.get('error')} {call.result.get('errors') or ''}" for call in fake.invalid)
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
    """`view` submitted with `state`; returns what the bot answered (the view it updates to keeps its id)."""
    view_id = view.get("id") or "V" + uuid.uuid4().hex[:8].upper()
    status, answer = await ws.interact({
        "type": "view_submission", "user": {"id": user, "team_id": "T0DPE"},
        "view": {"id": view_id, "type": "modal", "callback_id": view["callback_id"],
                 "private_metadata": view["private_metadata"], "state": {"values": state}, "hash": "h"},
    })
    assert status == 200
    if answer.get("response_action") in ("update", "push"):
        assert view_errors(answer["view"]) == [], "Slack would refuse the view the submission answered"
        if answer["response_action"] == "update":
            answer["view"] = {**answer["view"], "id": view_id}
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
