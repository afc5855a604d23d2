"""The bot on Slack: slash command, DMs and mentions, forms as modals, review buttons, App Home, and the outbox's
way out to channels — Slack's events translated to and from the core's neutral model, on Bolt's AsyncApp.

Slack people are `slack:U…` for the core (the id the `roles` configuration names them by). Every listener
acknowledges first and works after, within Slack's three seconds; a retried event has the same message ts or
event id, which the router's record of handled events answers once.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import html
import inspect
import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.kwargs_injection.async_args import AsyncArgs
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.web.async_client import AsyncWebClient

from bot import notify, review
from bot.app import App
from bot.dialogs import form_context, in_progress
from bot.forms import Answer
from bot.i18n import _, language
from bot.messages import (
    Attachment,
    EventId,
    Message,
    Platform,
    Prompt,
    Reaction,
    Reply,
    RoomId,
    RoomKind,
    Tone,
    UserId,
)
from bot.outbox import PermanentDeliveryError
from commands.review import REACTIONS
from integrations import connecting, http
from integrations.slack import modals, render
from integrations.slack.home import home_view
from storage.files import FileStore
from storage.ids import parse_readable_id
from storage.models import Person
from storage.repositories import Repos

log = logging.getLogger(__name__)

PLATFORM = Platform("slack")
SLASH_COMMAND = "/odpe"
# Commands whose dialog opens as a modal when run as `/odpe <command>` without arguments.
MODAL_FORMS = {"soumettre": "document", "pratique": "practice", "evenement": "event"}
# Errors that retrying will not cure.
PERMANENT_ERRORS = {
    "channel_not_found", "not_in_channel", "is_archived", "invalid_auth", "account_inactive", "user_not_found",
    "cannot_dm_bot", "msg_too_long", "invalid_blocks", "no_text", "restricted_action", "missing_scope",
}
REVIEW_ACTIONS = tuple(action for action, _style in render.REVIEW_BUTTONS)
REACTION_KEYS = {action: key for key, action in REACTIONS.items()}  # a button does what its emoji does
# Slack names its emoji: the review card's ✅ ❌ ❓ ✋ work as reactions too, as on Matrix.
EMOJI = {"white_check_mark": "✅", "x": "❌", "question": "❓", "grey_question": "❓", "raised_hand": "✋",
         "hand": "✋"}
_LINK = re.compile(r"<(https?://[^|>]+)(?:\|[^>]*)?>")
# Where a listener's mark of work under way waits in Bolt's context, from Bolt's choice of the listener to its end.
_WORK = "odpe_work"

Listener = Callable[..., Awaitable[None]]


class SlackError(Exception):
    """Something the bot cannot go on without on Slack (a refused token)."""


def person_id(user: str) -> UserId:
    return UserId(render.SLACK_USER_PREFIX + user)


def incoming_text(text: str) -> str:
    """Slack's markup back to what the person typed: links unwrapped, entities decoded."""
    return html.unescape(_LINK.sub(r"\1", text))


class SlackIntegration:
    name: str = PLATFORM

    def __init__(self, app: App) -> None:
        self.app = app
        self.config = app.config.slack
        token = self.config.bot_token.get_secret_value() if self.config.bot_token else ""
        base_url = self.config.api_url or AsyncWebClient.BASE_URL
        self.client = AsyncWebClient(token=token, base_url=base_url.rstrip("/") + "/")
        self._file_hosts = {"files.slack.com", urlsplit(base_url).hostname}
        # Slack's 429 says how long to wait: the client waits that long and tries again.
        self.client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=3))
        http_mode = self.config.mode == "http"
        secret = self.config.signing_secret.get_secret_value() if self.config.signing_secret else ""
        self.bolt = AsyncApp(
            client=self.client,
            signing_secret=secret,
            request_verification_enabled=http_mode,
            process_before_response=False,
            logger=logging.getLogger("slack_bolt"),
        )
        self.renderer = render.Renderer(prefix=app.config.command_prefix, slash=SLASH_COMMAND)
        self.socket: AsyncSocketModeHandler | None = None
        self.team_id: str | None = None
        self.bot_user_id: str | None = None
        self.failure: str | None = None
        self.ready = asyncio.Event()
        self._names: dict[str, str] = {}
        # One person's messages are handled in the order they came, as the dialogs they answer expect.
        self._turns: collections.defaultdict[str, asyncio.Lock] = collections.defaultdict(asyncio.Lock)
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # Socket Mode envelopes received and not yet acknowledged, by envelope id: work under way.
        self._envelopes: collections.defaultdict[str, list[contextlib.ExitStack]] = collections.defaultdict(list)
        self._listen()
        app.health_checks["slack"] = self.health

    def _listen(self) -> None:
        bolt, work, listener = self.bolt, [self._work_begins], self._as_work
        bolt.command(SLASH_COMMAND, middleware=work)(listener(self.on_command))
        bolt.event("message", middleware=work)(listener(self.on_message))
        bolt.event("app_mention", middleware=work)(listener(self.on_mention))
        bolt.event("app_home_opened", middleware=work)(listener(self.on_home))
        bolt.event("reaction_added", middleware=work)(listener(self.on_reaction))
        bolt.action(re.compile(r"^review:"), middleware=work)(listener(self.on_review_button))
        bolt.view(modals.FORM_CALLBACK, middleware=work)(listener(self.on_form))
        bolt.view(modals.CONFIRM_CALLBACK, middleware=work)(listener(self.on_confirm))
        bolt.view(modals.REASON_CALLBACK, middleware=work)(listener(self.on_reason))
        bolt.error(self.on_error)

    # -- work under way ------------------------------------------------------------------------------------------
    # Bolt acknowledges and answers Slack's request, then runs the listener in a task of its own: the request (or
    # the envelope) holds a mark of work under way until Bolt has chosen its listener, which holds its own from
    # that moment (a listener middleware runs while the request is still being dispatched) to its last reply.
    # So the app never looks idle while an event is about to be handled (`App.idle`, a clean stop).

    async def _work_begins(self, context: AsyncBoltContext, next_: Callable[[], Awaitable[None]]) -> None:
        held = contextlib.ExitStack()
        held.enter_context(self.app.activity.busy())
        context.setdefault(_WORK, []).append(held)
        await next_()

    def _as_work(self, listener: Listener) -> Listener:
        """`listener`, releasing the mark `_work_begins` took for it once it is done, whatever happened."""
        names = list(inspect.signature(listener).parameters)

        async def run(args: AsyncArgs) -> None:
            try:
                await listener(**{name: getattr(args, name) for name in names})
            finally:
                args.context[_WORK].pop().close()

        run.__name__ = listener.__name__  # Bolt names the listener so in its log
        return run

    async def _envelope_arrives(self, frame: aiohttp.WSMessage) -> None:
        """A Socket Mode frame has come: an envelope is work under way until it is acknowledged."""
        try:
            envelope = json.loads(frame.data) if frame.type == aiohttp.WSMsgType.TEXT else {}
        except ValueError:
            return
        # The envelopes the Socket Mode client hands to its request listeners (the others never reach them).
        if isinstance(envelope, dict) and all(key in envelope for key in ("type", "envelope_id", "payload")):
            held = contextlib.ExitStack()
            held.enter_context(self.app.activity.busy())
            self._envelopes[str(envelope["envelope_id"])].append(held)

    async def _envelope_done(self, client: Any, request: SocketModeRequest) -> None:
        """After Bolt's own request listener: the envelope is acknowledged, its listener (if any) holds its mark."""
        held = self._envelopes.get(request.envelope_id)
        if held:
            held.pop().close()
            if not held:
                del self._envelopes[request.envelope_id]

    # -- start and stop ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect in the background: a Slack that cannot be reached yet is waited for, the rest of the bot runs."""
        self._stop.clear()
        self._task = asyncio.create_task(self._run(), name="slack")

    async def _run(self) -> None:
        if await connecting.keep_trying(self._connect, self._stop, name="Slack", fatal=SlackError,
                                        unreachable="Slack unreachable", report=self._failed):
            self.ready.set()

    def _failed(self, reason: str) -> None:
        self.failure = reason

    async def _connect(self) -> None:
        try:
            auth = await self.client.auth_test()
        except SlackApiError as exc:
            raise _refused("slack.bot_token", exc) from None
        self.team_id = auth.get("team_id")
        self.bot_user_id = auth.get("user_id")
        self.app.outbox.register(PLATFORM, self.deliver)
        if self.config.mode == "http":
            http.serve_slack(self.app, self.handle_http)
        else:
            app_token = self.config.app_token.get_secret_value() if self.config.app_token else ""
            try:
                # The Socket Mode client retries a refused token for ever: ask once ourselves, to say so.
                await self.client.apps_connections_open(app_token=app_token)
            except SlackApiError as exc:
                raise _refused("slack.app_token", exc) from None
            self.socket = AsyncSocketModeHandler(self.bolt, app_token, web_client=self.client)
            self.socket.client.on_message_listeners.append(self._envelope_arrives)
            self.socket.client.socket_mode_request_listeners.append(self._envelope_done)  # after Bolt's own
            await self.socket.connect_async()
        self.failure = None
        log.info("Slack: connected to workspace %s as %s (%s mode)", self.team_id, self.bot_user_id, self.config.mode)

    async def stop(self) -> None:
        self._stop.set()
        http.serve_slack(self.app, None)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.socket is not None:
            await self.socket.close_async()
        for held in self._envelopes.values():  # received, never to be handled now
            for mark in held:
                mark.close()
        self._envelopes.clear()

    async def health(self) -> dict[str, Any]:
        if self.failure is not None:
            raise ConnectionError(self.failure)
        if not self.ready.is_set():
            raise ConnectionError("not connected yet")
        if self.socket is not None and not await self.socket.client.is_connected():
            raise ConnectionError("socket mode connection lost")
        return {"mode": self.config.mode, "team": self.team_id}

    async def handle_http(self, request: web.Request) -> web.StreamResponse:
        """POST /slack/events: Bolt checks the signature and its age, acknowledges, and runs the listener after."""
        with self.app.activity.busy():  # until Bolt has chosen the listener, which then holds its own mark
            response = await self.bolt.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(response)

    async def on_error(self, error: Exception, body: dict[str, Any]) -> None:
        log.error("Slack: a listener failed on %s: %s: %s", body.get("type"), type(error).__name__, error)

    # -- who and where ----------------------------------------------------------------------------------

    def _foreign(self, body: dict[str, Any], event: dict[str, Any] | None = None) -> bool:
        """From another workspace than the bot's (a Slack Connect channel shares people of other organisations)."""
        teams = {
            body.get("team_id"),
            (body.get("team") or {}).get("id"),
            (event or {}).get("user_team"),
        } - {None}
        foreign = self.team_id is not None and any(team != self.team_id for team in teams)
        if foreign:
            log.info("Slack: refused an event from workspace(s) %s", ", ".join(sorted(str(t) for t in teams)))
        return foreign

    def room_kind(self, channel: str, channel_type: str | None = None) -> RoomKind:
        if channel == self.config.review_channel:
            return RoomKind.REVIEW
        if channel in self.config.announcement_channels:
            return RoomKind.ANNOUNCEMENT
        if channel_type == "im" or channel.startswith("D"):
            return RoomKind.DIRECT
        return RoomKind.GROUP

    async def _name(self, user: str) -> str:
        if user not in self._names:
            try:
                info = (await self.client.users_info(user=user)).get("user") or {}
            except SlackApiError:
                return user
            profile = info.get("profile") or {}
            self._names[user] = profile.get("display_name") or profile.get("real_name") or info.get("name") or user
        return self._names[user]

    async def _person(self, user: str) -> Person:
        async with self.app.db.session() as session:
            return await Repos(session).people.get_or_create(PLATFORM, person_id(user), await self._name(user))

    def _language(self, person: Person) -> str:
        return person.language or self.app.config.language

    async def _dm_channel(self, user: str) -> str:
        """The bot's direct conversation with `user`, opened once and remembered."""
        key = f"slack:dm:{user}"
        async with self.app.db.session() as session:
            known = await Repos(session).kv.get(key)
        if isinstance(known, str):
            return known
        response = await self._call("conversations_open", users=user)
        channel = str(response["channel"]["id"])
        async with self.app.db.session() as session:
            await Repos(session).kv.set(key, channel)
        return channel

    def _message(self, user: str, name: str, channel: str, kind: RoomKind, text: str, event_id: str,
                 thread: str | None = None, attachments: tuple[Attachment, ...] = (), edited: bool = False,
                 unreadable: tuple[str, ...] = ()) -> Message:
        return Message(
            platform=PLATFORM, event_id=EventId(event_id), room_id=RoomId(channel), room_kind=kind,
            sender=person_id(user), sender_name=name, text=text, attachments=attachments,
            thread_id=EventId(thread) if thread else None, edited=edited, unreadable=unreadable,
        )

    # -- messages, mentions and the slash command ------------------------------------------------------------

    async def on_message(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        edit: str | None = None
        if event.get("subtype") == "message_changed":
            # A message the person changed, as it is now (the bot read it as it was): Slack says so the same way
            # when it adds a link's preview, without a change of text.
            changed, before = event.get("message") or {}, event.get("previous_message") or {}
            if changed.get("text") == before.get("text"):
                return
            edit = str((changed.get("edited") or {}).get("ts") or event.get("event_ts") or event.get("ts"))
            event = {**changed, "channel": event.get("channel"), "channel_type": event.get("channel_type")}
        if event.get("subtype") not in (None, "file_share", "thread_broadcast") or event.get("bot_id"):
            return  # what bots say (the bot itself included) and Slack's notices about a conversation
        user, channel, text = event.get("user"), event.get("channel"), event.get("text") or ""
        if not user or not channel or user == self.bot_user_id or self._foreign(body, event):
            return
        kind = self.room_kind(channel, event.get("channel_type"))
        if kind is not RoomKind.DIRECT and f"<@{self.bot_user_id}>" in text:
            return  # a mention: app_mention brings it
        if kind in (RoomKind.GROUP, RoomKind.ANNOUNCEMENT) and not text.startswith(self.app.config.command_prefix):
            return  # chatter
        await self._on_text(event, incoming_text(text), kind, edit)

    async def on_mention(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        if not event.get("user") or event.get("bot_id") or self._foreign(body, event):
            return
        text = incoming_text(re.sub(r"<@[A-Z0-9]+>", "", event.get("text") or "").strip())
        prefix = self.app.config.command_prefix
        # Naming the bot is calling it: "@odpe-bot aide" is a command without its prefix.
        command = text if text.startswith(prefix) else prefix + text
        await self._on_text(event, command, self.room_kind(event["channel"], event.get("channel_type")))

    async def _on_text(self, event: dict[str, Any], text: str, kind: RoomKind, edit: str | None = None) -> None:
        async with self._turns[event["user"]]:
            await self._handle_text(event, text, kind, edit)

    async def _handle_text(self, event: dict[str, Any], text: str, kind: RoomKind, edit: str | None) -> None:
        """`edit`: the moment the person changed the message, when this is the message changed (never an answer,
        so its files are not fetched)."""
        user, channel, ts = event["user"], event["channel"], event["ts"]
        files = [] if edit else event.get("files") or []
        attachments, unreadable = await self._files(files)
        thread = event.get("thread_ts")
        # The message's ts names it in its channel: a retried event, or the same message seen as a mention and
        # as a message, is one; each change of it is another.
        event_id = f"{channel}:{ts}" + (f":edited:{edit}" if edit else "")
        message = self._message(user, await self._name(user), channel, kind, text, event_id, thread, attachments,
                                edited=edit is not None, unreadable=unreadable)
        if thread:
            async with self.app.db.session() as session:
                topic = await Repos(session).kv.get(_topic_of_key(channel, thread))
            if isinstance(topic, str):
                message = dataclasses.replace(message, topic=topic)
        replies = await self.app.router.handle(message)
        await self._reply(message, channel, replies, thread or (None if kind is RoomKind.DIRECT else ts))

    async def on_command(self, ack: Any, body: dict[str, Any], respond: Any) -> None:
        await ack()
        if self._foreign(body):
            return
        user, channel = body["user_id"], body["channel_id"]
        text = (body.get("text") or "").strip() or "aide"
        kind = self.room_kind(channel)
        if kind is RoomKind.DIRECT and channel != await self._dm_channel(user):
            kind = RoomKind.GROUP  # a conversation between people, where the bot does not write
        words = text.split()
        found = self.app.registry.find(words[0])
        if found is not None and found.name in MODAL_FORMS and len(words) == 1:
            await self._open_form(body, MODAL_FORMS[found.name], respond)
            return
        line = self.app.config.command_prefix + text
        message = self._message(user, await self._name(user), channel, kind, line, f"command:{body['trigger_id']}")
        async with self._turns[user]:
            replies = await self.app.router.handle(message)
            if kind in (RoomKind.DIRECT, RoomKind.REVIEW):
                await self._reply(message, channel, replies, None)
                return
        for reply in replies:  # elsewhere the bot may not be in the channel: only the person sees its answers
            for text, blocks in self.renderer.messages(reply):
                await respond(text=text, blocks=blocks, response_type="ephemeral")

    async def _reply(self, message: Message, channel: str, replies: list[Reply], thread: str | None) -> None:
        """Send now; what Slack cannot take now waits in the outbox."""
        for index, reply in enumerate(replies):
            try:
                await self._post(channel, reply, thread)
            except PermanentDeliveryError as exc:
                log.warning("Slack: reply in %s refused: %s", channel, exc)
            except Exception as exc:
                log.info("Slack: reply in %s queued (%s)", channel, type(exc).__name__)
                payload = {"reply": reply.to_json(), "thread_ts": thread}
                await self.app.outbox.enqueue(PLATFORM, channel, payload, f"slack:{message.event_id}:{index}")

    async def _files(self, files: list[dict[str, Any]]) -> tuple[tuple[Attachment, ...], tuple[str, ...]]:
        """The files shared with a message, downloaded; and the names of those Slack would not hand over (the core
        asks for them again)."""
        downloaded: list[Attachment] = []
        unreadable: list[str] = []
        for file in files:
            attachment = await self._download(file)
            if attachment is None:
                unreadable.append(_file_name(file))
            else:
                downloaded.append(attachment)
        return tuple(downloaded), tuple(unreadable)

    async def _download(self, file: dict[str, Any]) -> Attachment | None:
        """A file shared with the bot, read with the bot's token (a little past the size limit at most); None when
        it cannot be had."""
        url = file.get("url_private_download") or file.get("url_private")
        if not url or urlsplit(url).hostname not in self._file_hosts:
            log.warning("Slack: file %s is not on Slack's file servers: not downloaded", file.get("id"))
            return None  # the bot's token goes to Slack's own file servers only
        limit = self.app.config.files.max_size_mb * 1024 * 1024 + 1
        token = self.config.bot_token.get_secret_value() if self.config.bot_token else ""
        try:
            async with aiohttp.ClientSession() as session, session.get(
                url, headers={"Authorization": f"Bearer {token}"}
            ) as response:
                response.raise_for_status()
                data = await response.content.read(limit)
        except aiohttp.ClientError as exc:
            log.warning("Slack: could not download file %s: %s", file.get("id"), type(exc).__name__)
            return None
        return Attachment(name=_file_name(file), mime=file.get("mimetype") or "application/octet-stream", data=data)

    # -- App Home -----------------------------------------------------------------------------------------

    async def on_home(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        if event.get("tab", "home") != "home" or self._foreign(body, event):
            return
        await self._publish_home(event["user"])

    async def _publish_home(self, user: str) -> None:
        name = await self._name(user)
        async with self.app.db.session() as session:
            repo = Repos(session)
            person = await repo.people.get_or_create(PLATFORM, person_id(user), name)
            with language(self._language(person)):
                view = await home_view(repo, person, self.app.config, self.app.clock.now(), self.renderer)
        await self._call("views_publish", user_id=user, view=view)

    # -- forms as modals --------------------------------------------------------------------------------------

    async def _open_form(self, body: dict[str, Any], form: str, respond: Any) -> None:
        person = await self._person(body["user_id"])
        async with self.app.db.session() as session:
            current = await Repos(session).dialogs.get(person.id)
        with language(self._language(person)):
            paced = self.app.router.paced(PLATFORM, person_id(body["user_id"]))
            if paced is not None:
                for text, blocks in self.renderer.messages(paced):
                    await respond(text=text, blocks=blocks, response_type="ephemeral")
                return
            busy = in_progress(self.app.router.dialogs.flows, current)
            if busy is not None:
                await respond(text=render.escape(busy), response_type="ephemeral")
                return
            view = modals.form_view(self.app.router.dialogs.flows[form].form, modals.FORM_CALLBACK, {"form": form})
        await self._call("views_open", trigger_id=body["trigger_id"], view=view)

    async def on_form(self, ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        """A filled form: checked field by field by the dialogs' parse functions; when all is well it is kept as
        a dialog at its summary (as if typed in the DM), and the modal shows that summary to confirm."""
        metadata = json.loads(view.get("private_metadata") or "{}")
        flow = self.app.router.dialogs.flows.get(metadata.get("form", ""))
        user = body["user"]["id"]
        if flow is None or self._foreign(body):
            await ack()
            return
        person = await self._person(user)
        with language(self._language(person)):
            answers: dict[str, Answer | None] = {}
            lost: dict[str, str] = {}  # a file Slack would not hand over, said next to its field
            for name, given in modals.submitted(flow.form, view["state"]["values"]).items():
                if isinstance(given, list):
                    files, unreadable = await self._files(given)
                    answers[name] = Answer("", files)
                    if unreadable:
                        lost[name] = str(_("Je n'ai pas pu récupérer le fichier « {name} » : envoyez-le de nouveau, "
                                           "s'il vous plaît.")).format(name=unreadable[0])
                else:
                    answers[name] = Answer(given) if given is not None else None
            dm = await self._dm_channel(user)
            message = self._message(user, person.display_name, dm, RoomKind.DIRECT, "", f"view:{view['id']}")
            async with self.app.db.session() as session:
                repo = Repos(session)
                ctx = self.app.router.context(message, person, repo)
                values, errors = modals.validate(flow.form, answers, form_context(self.app.config, ctx.now))
                errors.update(lost)
                busy = in_progress(self.app.router.dialogs.flows, await repo.dialogs.get(person.id))
                if not errors and busy is not None:
                    errors[flow.form.fields[0].name] = busy  # started in the DM while the modal was open
                if errors:
                    await ack(response_action="errors", errors=errors)
                    return
                await self.app.router.dialogs.start_for(ctx, person, metadata["form"], room=dm, answers=values)
            await ack(response_action="update", view=modals.confirmation(flow.form, values, metadata))

    async def on_confirm(self, ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        """Sent from the summary: the dialog kept at its summary takes « oui », as in the DM, and ends in the
        same item as the text dialog would."""
        await ack()
        if self._foreign(body):
            return
        metadata = json.loads(view.get("private_metadata") or "{}")
        user = body["user"]["id"]
        person = await self._person(user)
        dm = await self._dm_channel(user)
        async with self._turns[user]:
            async with self.app.db.session() as session:
                repo = Repos(session)
                # A double click, or Slack trying again, sends the same view twice: it is sent once, said once.
                if not await repo.processed.mark(PLATFORM, f"view:{view['id']}:confirm"):
                    return
                current = await repo.dialogs.get(person.id)
            if current is None or current.form != metadata.get("form") or current.data.get("mode") != "summary":
                with language(self._language(person)):
                    gone = Reply.error(str(_("Cette saisie n'est plus en cours : rien n'a été envoyé.")))
                await self._post(dm, gone, None)
                return
            message = self._message(user, person.display_name, dm, RoomKind.DIRECT, "oui", f"view:{view['id']}:send")
            await self._reply(message, dm, await self.app.router.handle(message), None)

    # -- review buttons -----------------------------------------------------------------------------------------

    def _reaction(self, user: str, name: str, channel: str, action: str, subject: str, event_id: str) -> Reaction:
        return Reaction(
            platform=PLATFORM, event_id=EventId(event_id), room_id=RoomId(channel),
            room_kind=self.room_kind(channel), sender=person_id(user), sender_name=name,
            key=REACTION_KEYS[action], prompt=Prompt("review", subject),
        )

    async def on_review_button(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        if self._foreign(body):
            return
        name = action["action_id"].removeprefix("review:")
        subject, user = action["value"], body["user"]["id"]
        channel, ts = body["channel"]["id"], body["message"]["ts"]
        if name not in REVIEW_ACTIONS:
            return
        if name in ("reject", "request_info"):
            person = await self._person(user)
            too_late = await self._too_late(user, person, subject, name)
            if too_late is not None:  # no reason to ask for: say why, show the card as it is now
                await self._answer_action(channel, ts, user, [Reply.error(too_late)])
                return
            form = self.app.router.dialogs.flows["review_reason"].form
            metadata = {"subject": subject, "action": name, "channel": channel, "ts": ts}
            with language(self._language(person)):
                view = modals.form_view(form, modals.REASON_CALLBACK, metadata)
                view["blocks"].insert(0, render.section(render.escape(
                    (_("Motif du refus de {id} :") if name == "reject" else _("Complément à demander pour {id} :"))
                    .format(id=subject))))
            await self._call("views_open", trigger_id=body["trigger_id"], view=view)
            return
        reaction = self._reaction(user, await self._name(user), channel, name, subject, body["trigger_id"])
        await self._answer_action(channel, ts, user, await self.app.router.handle_reaction(reaction))

    async def _too_late(self, user: str, person: Person, subject: str, action: str) -> str | None:
        """Why `action` can no longer be taken on `subject` (e.g. it was archived meanwhile), in the core's words."""
        rid = parse_readable_id(subject)
        async with self.app.db.session() as session:
            repo = Repos(session)
            item = await repo.items.get(rid) if rid is not None else None
            if item is None or review.allowed(item, action):
                return None
            channel = self.config.review_channel or ""
            message = self._message(user, person.display_name, channel, RoomKind.REVIEW, "", f"too-late:{subject}")
            with language(self._language(person)):
                return await review.why_not(self.app.router.context(message, person, repo), item, action)

    async def on_reaction(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        item, user = event.get("item") or {}, event.get("user")
        key = EMOJI.get(str(event.get("reaction")).split("::")[0])
        if key is None or not user or item.get("type") != "message" or self._foreign(body, event):
            return
        channel, ts = item["channel"], item["ts"]
        async with self.app.db.session() as session:
            stored = await Repos(session).kv.get(_prompt_key(channel, ts))
        if not isinstance(stored, dict):
            return  # not one of the bot's prompts
        reaction = Reaction(
            platform=PLATFORM, event_id=EventId(f"reaction:{channel}:{ts}:{user}:{key}"), room_id=RoomId(channel),
            room_kind=self.room_kind(channel), sender=person_id(user), sender_name=await self._name(user), key=key,
            prompt=Prompt(stored["kind"], stored["subject"]),
        )
        async with self._turns[user]:
            await self._answer_action(channel, ts, user, await self.app.router.handle_reaction(reaction))

    async def on_reason(self, ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        """The reason of a refusal or the question of a request for information: the core asks for it after ❌
        or ❓ in the review room, and it is given there, as on Matrix."""
        metadata = json.loads(view.get("private_metadata") or "{}")
        user = body["user"]["id"]
        form = self.app.router.dialogs.flows["review_reason"].form
        person = await self._person(user)
        with language(self._language(person)):
            given = modals.submitted(form, view["state"]["values"])
            answers = {k: Answer(v) if isinstance(v, str) else None for k, v in given.items()}
            values, errors = modals.validate(form, answers, form_context(self.app.config, self.app.clock.now()))
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        await ack()
        channel, ts, action, subject = metadata["channel"], metadata["ts"], metadata["action"], metadata["subject"]
        asked = await self.app.router.handle_reaction(
            self._reaction(user, person.display_name, channel, action, subject, f"view:{view['id']}:{action}")
        )
        refused = [reply for reply in asked if reply.tone is Tone.ERROR]
        if refused or not asked:
            await self._answer_action(channel, ts, user, refused)
            return
        text = str(values[form.fields[0].name])
        message = self._message(user, person.display_name, channel, self.room_kind(channel), text,
                                f"view:{view['id']}:reason")
        await self._answer_action(channel, ts, user, await self.app.router.handle(message))

    async def _answer_action(self, channel: str, ts: str, user: str, replies: list[Reply]) -> None:
        """In the item's thread (which shows the card's new state); a refusal only to the person who clicked,
        and the card shown as it is now, in case that person acted on an old state."""
        posted = False
        for reply in replies:
            if reply.tone is Tone.ERROR:
                for text, blocks in self.renderer.messages(reply):
                    await self._call("chat_postEphemeral", channel=channel, user=user, thread_ts=ts, text=text,
                                     blocks=blocks)
            else:
                await self._post(channel, reply, ts)
                posted = True
        if not posted:
            await self._refresh_card(channel, ts)

    async def _review_card(self, reply: Reply, subject: str) -> list[dict[str, Any]]:
        """The card with its current state and the buttons of the actions that state allows."""
        rid = parse_readable_id(subject)
        async with self.app.db.session() as session:
            repo = Repos(session)
            item = await repo.items.get(rid) if rid is not None else None
            if item is None:
                return self.renderer.messages(reply)[0][1]
            with language(self.app.config.language):
                state = await review.state_line(repo, item, self.app.config.tz)
        actions = [a for a in REVIEW_ACTIONS if review.allowed(item, a)]
        return self.renderer.review_blocks(reply, subject, state, actions)

    async def _refresh_card(self, channel: str, ts: str) -> None:
        """The review message shows the item's new state: updated in place."""
        async with self.app.db.session() as session:
            stored = await Repos(session).kv.get(_prompt_key(channel, ts))
        if not isinstance(stored, dict):
            return
        reply = Reply.from_json(stored["reply"])
        blocks = await self._review_card(reply, stored["subject"])
        await self._call("chat_update", channel=channel, ts=ts, text=render.fallback(reply), blocks=blocks)

    # -- sending ----------------------------------------------------------------------------------------------

    async def deliver(self, message_id: int, target: str, payload: dict[str, Any]) -> None:
        """The outbox's way out to Slack: the review channel, every announcement channel, a person's DM, or a
        channel. What went out to a channel is noted as soon as it did: a retry sends there only what is missing
        (another channel, or a file whose upload failed), never the message twice."""
        reply = Reply.from_json(payload["reply"])
        for channel in await self._channels(target):
            key = f"slack:delivered:{message_id}:{channel}"  # the channel's id: the list may change between tries
            async with self.app.db.session() as session:
                note = await Repos(session).kv.get(key)
            if note is None:
                await self._post(channel, reply, payload.get("thread_ts"), delivered=key)
            elif isinstance(note, dict):  # posted, its file not yet
                await self._upload(channel, reply, note.get("file_thread"), key)
        if target.startswith("dm:"):
            # What the bot tells a person is mostly news of their items: their App Home shows it too.
            user = target.removeprefix("dm:").removeprefix(render.SLACK_USER_PREFIX)
            try:
                await self._publish_home(user)
            except Exception as exc:  # the message went out; the Home is refreshed at its next opening anyway
                log.info("Slack: App Home of %s not refreshed (%s)", user, type(exc).__name__)

    async def _channels(self, target: str) -> list[str]:
        if target == notify.REVIEW:
            if not self.config.review_channel:
                raise PermanentDeliveryError("no review channel is configured (slack.review_channel)")
            return [self.config.review_channel]
        if target == notify.ANNOUNCE:
            return list(self.config.announcement_channels)
        if target.startswith("dm:"):
            return [await self._dm_channel(target.removeprefix("dm:").removeprefix(render.SLACK_USER_PREFIX))]
        return [target]

    async def _post(self, channel: str, reply: Reply, thread: str | None, delivered: str | None = None) -> str:
        """Post `reply` in `channel`; the first message about a subject roots its thread, the rest goes there.
        `delivered` is the outbox's note of what went out: written once the message is, then once its file is."""
        topic_key = f"slack:topic:{channel}:{reply.topic}" if reply.topic else None
        thread = thread or reply.thread_id
        if thread is None and topic_key:
            async with self.app.db.session() as session:
                root = await Repos(session).kv.get(topic_key)
            thread = root if isinstance(root, str) else None
        prompt = reply.prompt if reply.prompt and reply.prompt.kind == "review" else None
        if prompt is not None and channel == self.config.review_channel:
            messages = [(render.fallback(reply), await self._review_card(reply, prompt.subject))]
        else:
            prompt = None
            messages = self.renderer.messages(reply)
        text, blocks = messages[0]
        response = await self._call("chat_postMessage", channel=channel, text=text, blocks=blocks or None,
                                    thread_ts=thread, unfurl_links=False, unfurl_media=False)
        ts = str(response["ts"])
        file_thread = thread or (ts if topic_key else None)
        async with self.app.db.session() as session:
            kv = Repos(session).kv
            if delivered is not None:
                await kv.set(delivered, {"file_thread": file_thread})
            if topic_key and thread is None:
                await kv.set(topic_key, ts)
                await kv.set(_topic_of_key(channel, ts), reply.topic)
            if prompt is not None:
                await kv.set(_prompt_key(channel, ts), {"kind": prompt.kind, "subject": prompt.subject,
                                                        "reply": reply.to_json()})
        for text, blocks in messages[1:]:  # what one message cannot hold follows it, where its file goes
            await self._call("chat_postMessage", channel=channel, text=text, blocks=blocks, thread_ts=file_thread,
                             unfurl_links=False, unfurl_media=False)
        await self._upload(channel, reply, file_thread, delivered)
        if thread is not None and channel == self.config.review_channel:
            # Said in an item's thread (a decision, by button or command): its card shows the new state.
            await self._refresh_card(channel, thread)
        return ts

    async def _upload(self, channel: str, reply: Reply, thread: str | None, delivered: str | None) -> None:
        """The reply's file, if it has one, with the current upload API; then the delivery is complete."""
        file = reply.file or await self._stored(reply)
        if file is not None:
            await self._call("files_upload_v2", channel=channel, content=file.data, filename=file.name,
                             title=file.name, thread_ts=thread)
        if delivered is not None:
            async with self.app.db.session() as session:
                await Repos(session).kv.set(delivered, True)

    async def _stored(self, reply: Reply) -> Attachment | None:
        ref = reply.stored_file
        if ref is None:
            return None
        data = await asyncio.to_thread(FileStore(self.app.config.files.dir).open, ref.sha256)
        return Attachment(ref.name, ref.mime, data)

    async def _call(self, method: str, **arguments: Any) -> Any:
        """A Web API call; Slack's refusals become PermanentDeliveryError (retrying cannot help) or
        ConnectionError (the outbox tries again later)."""
        arguments = {k: v for k, v in arguments.items() if v is not None}
        try:
            return await getattr(self.client, method)(**arguments)
        except SlackApiError as exc:
            error = str(exc.response.get("error"))
            if error in PERMANENT_ERRORS:
                raise PermanentDeliveryError(f"{method}: {error}") from None
            raise ConnectionError(f"{method}: {error}") from None


TOKEN_REFUSALS = {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "not_allowed_token_type"}


def _refused(key: str, exc: SlackApiError) -> Exception:
    """A token Slack refuses is a configuration error (said once); any other failure is retried."""
    error = str(exc.response.get("error"))
    if error in TOKEN_REFUSALS:
        return SlackError(f"{key} is refused: {error}")
    return ConnectionError(f"{key}: {error}")


def _file_name(file: dict[str, Any]) -> str:
    return str(file.get("name") or file.get("title") or file.get("id") or "?")


def _topic_of_key(channel: str, ts: str) -> str:
    return f"slack:topic-of:{channel}:{ts}"


def _prompt_key(channel: str, ts: str) -> str:
    return f"slack:prompt:{channel}:{ts}"
