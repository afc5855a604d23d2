"""The bot on Matrix (Tchap): one device kept across starts, encryption, sync without loss or replay, rooms,
messages, files and reactions, translated to and from the core's neutral model."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, TypeVar

from nio import (
    AsyncClient,
    AsyncClientConfig,
    InviteMemberEvent,
    JoinError,
    LocalProtocolError,
    LoginResponse,
    MatrixRoom,
    MegolmEvent,
    ReactionEvent,
    RoomCreateResponse,
    RoomEncryptedFile,
    RoomEncryptedImage,
    RoomMemberEvent,
    RoomMessage,
    RoomMessageFile,
    RoomMessageImage,
    RoomMessageText,
    RoomResolveAliasResponse,
    RoomSendResponse,
    SyncResponse,
    UploadResponse,
    WhoamiResponse,
)
from nio.crypto.attachments import decrypt_attachment
from nio.exceptions import EncryptionError

from bot import notify
from bot.app import App
from bot.i18n import _, language
from bot.logs import hide
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
    UserId,
)
from bot.outbox import PermanentDeliveryError
from integrations import connecting
from integrations.matrix import credentials, render
from integrations.matrix.cross_signing import CrossSigning, CrossSigningError
from storage.files import FileStore
from storage.repositories import Repos

log = logging.getLogger(__name__)

PLATFORM = Platform("matrix")
SYNC_TIMEOUT_MS = 30_000
SYNC_FILTER = {"room": {"timeline": {"limit": 100}}}
MAX_EVENT_ATTEMPTS = 3
TYPING_AFTER = 0.5  # seconds of work before "the bot is typing" shows
MAX_SYNC_AGE = 3 * SYNC_TIMEOUT_MS / 1000  # an idle long poll returns every 30 s: three missed is unwell
PERMANENT_ERRORS = {"M_FORBIDDEN", "M_NOT_FOUND", "M_UNKNOWN_ROOM", "M_TOO_LARGE", "M_BAD_JSON"}

T = TypeVar("T")


class MatrixError(Exception):
    """Something the bot cannot go on without (a refused login, an unknown room alias)."""


class UnreadableFile(Exception):
    """The homeserver would not hand over a file a person sent, or not the one they sent."""


def server_of(user_id: str) -> str:
    return user_id.partition(":")[2]


class MatrixIntegration:
    name: str = PLATFORM

    def __init__(self, app: App) -> None:
        self.app = app
        self.config = app.config.matrix
        self.store_dir = Path(self.config.store_dir)
        self.client: AsyncClient | None = None
        self.review_room: str | None = None
        self.announcement_rooms: set[str] = set()
        self.last_sync: float | None = None
        self.max_sync_age = MAX_SYNC_AGE
        self._stop = asyncio.Event()
        self._sync_task: asyncio.Task[None] | None = None
        self._saving: asyncio.Future[None] | None = None
        self._notified_undecryptable: set[tuple[str, str]] = set()
        self._failures: dict[str, int] = {}
        self.ready = asyncio.Event()
        self.failure: str | None = None
        self.allowed_servers = set(self.config.allowed_servers or [server_of(self.config.user_id)])
        # Reported from the start: /healthz says "no successful sync yet" while the bot logs in.
        app.health_checks["matrix"] = self.health

    # -- start and stop ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect and sync in the background: a homeserver that is not there yet is waited for, while the
        rest of the bot (HTTP server, health, outbox) runs. `ready` is set once the bot is logged in."""
        self._stop.clear()
        self._sync_task = asyncio.create_task(self._run(), name="matrix")

    async def _run(self) -> None:
        # A refused login or an unknown room will not fix itself: it is said, in the log and in /healthz.
        if not await connecting.keep_trying(self._connect, self._stop, name="Matrix", fatal=MatrixError,
                                            unreachable="homeserver unreachable", report=self._failed):
            return
        self.failure = None
        self.ready.set()
        await self._sync_forever()

    def _failed(self, reason: str) -> None:
        self.failure = reason

    async def _connect(self) -> None:
        """Log in (or reuse the stored device), set up encryption and rooms."""
        if self.client is None:
            self.client = await self._login()
            hide(self.client.access_token)
        await self._prepare_encryption()
        await self._resolve_rooms()
        self.app.outbox.register(PLATFORM, self.deliver)

    async def stop(self) -> None:
        """Stop syncing and close the connection. Never log out: that would destroy the device and its keys."""
        self._stop.set()
        if self._sync_task is not None:
            self._sync_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sync_task
        if self._saving is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._saving
        if self.client is not None:
            await self.client.close()

    def _new_client(self, device_id: str | None) -> AsyncClient:
        pickle_key = self.config.pickle_key.get_secret_value() if self.config.pickle_key else None
        config = AsyncClientConfig(
            encryption_enabled=self.config.encryption,
            pickle_key=pickle_key or "",
            store_sync_tokens=False,  # our own token, saved after the events are handled
            max_timeouts=2,
            max_timeout_retry_wait_time=5,
            request_timeout=40,
        )
        self.store_dir.mkdir(parents=True, exist_ok=True)
        return AsyncClient(
            self.config.homeserver,
            self.config.user_id,
            device_id=device_id,
            store_path=str(self.store_dir),
            config=config,
        )

    async def _login(self) -> AsyncClient:
        """The stored device if its token still works, else the configured token, else a password login."""
        stored = credentials.load(self.store_dir)
        if stored is not None and stored.user_id == self.config.user_id:
            client = await self._restored(stored.device_id, stored.access_token)
            if client is not None:
                log.info("Matrix: reusing device %s", stored.device_id)
                return client
            log.warning("Matrix: the stored access token is no longer valid; logging in again")
        if self.config.access_token is not None and self.config.device_id:
            client = await self._restored(self.config.device_id, self.config.access_token.get_secret_value())
            if client is None:
                raise MatrixError("matrix.access_token is refused by the homeserver")
            return client
        if self.config.password is None:
            raise MatrixError("no usable Matrix session: set matrix.password (or access_token and device_id)")
        client = self._new_client(None)
        try:
            response = await client.login(self.config.password.get_secret_value(), device_name=self.config.device_name)
        except BaseException:
            await client.close()
            raise
        if not isinstance(response, LoginResponse):
            await client.close()
            raise MatrixError(f"Matrix login refused: {getattr(response, 'status_code', '')} {response.message}")
        session = credentials.Credentials(response.user_id, response.device_id, response.access_token)
        credentials.save(self.store_dir, session)
        log.info("Matrix: logged in as %s, new device %s", response.user_id, response.device_id)
        return client

    async def _restored(self, device_id: str, token: str) -> AsyncClient | None:
        """A client on an existing device, or None when the homeserver no longer knows the token."""
        client = self._new_client(device_id)
        client.restore_login(self.config.user_id, device_id, token)
        try:
            works = await self._token_works(client)
        except BaseException:
            await client.close()
            raise
        if not works:
            await client.close()
            return None
        return client

    @staticmethod
    async def _token_works(client: AsyncClient) -> bool:
        response = await client.whoami()
        if isinstance(response, WhoamiResponse):
            return True
        if getattr(response, "status_code", None) in ("M_UNKNOWN_TOKEN", "M_MISSING_TOKEN"):
            return False
        raise ConnectionError(f"homeserver check failed: {response.message}")

    async def _prepare_encryption(self) -> None:
        client = self._require_client()
        if not self.config.encryption:
            return
        if client.should_upload_keys:
            await client.keys_upload()
        signing = CrossSigning(
            homeserver=self.config.homeserver,
            user_id=client.user_id,
            device_id=client.device_id,
            access_token=client.access_token,
            password=self.config.password.get_secret_value() if self.config.password else None,
            store_dir=self.store_dir,
            device_signer=client.olm.sign_json if client.olm else None,
        )
        try:
            status = await signing.ensure()
            log.info("Matrix: cross-signing %s", status)
        except CrossSigningError as exc:
            # Element-based clients will hide this device until it is signed: say so loudly, keep serving.
            log.error("Matrix: cross-signing failed, clients such as Tchap may ignore the bot's device: %s", exc)

    async def _resolve_rooms(self) -> None:
        self.review_room = await self._room_id(self.config.review_room) if self.config.review_room else None
        self.announcement_rooms = {await self._room_id(room) for room in self.config.announcement_rooms}
        for room_id in filter(None, [self.review_room, *self.announcement_rooms]):
            response = await self._require_client().join(room_id)
            if isinstance(response, JoinError):
                log.error("Matrix: cannot join %s: %s", room_id, response.message)

    async def _room_id(self, room: str) -> str:
        if not room.startswith("#"):
            return room
        response = await self._require_client().room_resolve_alias(room)
        if not isinstance(response, RoomResolveAliasResponse):
            raise MatrixError(f"room alias {room} cannot be resolved: {response.message}")
        return response.room_id

    def _require_client(self) -> AsyncClient:
        if self.client is None:
            raise MatrixError("the Matrix integration is not started")
        return self.client

    # -- health ---------------------------------------------------------------------------------------

    async def health(self) -> dict[str, Any]:
        if self.failure is not None:
            raise ConnectionError(self.failure)
        if self.last_sync is None:
            raise ConnectionError("no successful sync yet")
        age = time.monotonic() - self.last_sync
        if age > self.max_sync_age:
            raise ConnectionError(f"last successful sync {age:.0f} s ago")
        return {"last_sync_seconds_ago": round(age, 1)}

    # -- sync -----------------------------------------------------------------------------------------

    @property
    def _token_key(self) -> str:
        return f"matrix:{self.config.user_id}:next_batch"

    async def _load_token(self) -> str | None:
        async with self.app.db.session() as session:
            value = await Repos(session).kv.get(self._token_key)
        return value if isinstance(value, str) else None

    async def _save_token(self, token: str) -> None:
        async with self.app.db.session() as session:
            await Repos(session).kv.set(self._token_key, token)

    async def _sync_forever(self) -> None:
        """Sync until stopped. A sync's token is saved only once its events are handled: a crash in between
        replays them, and the processed-events table answers each once. Errors back off, never end the loop."""
        token = await self._load_token()
        while (response := await self._next_sync(token)) is not None:
            # From its arrival to its last answer a sync is work under way; so is one whose handling failed
            # half-way (the database away): it is fetched and handled again until it goes through, what was
            # answered being skipped by its event id.
            with self.app.activity.busy():
                backoff = 1.0
                while True:
                    try:
                        await self._after_sync()
                        # The first sync of a new bot is history: accept invites, answer nothing older than now.
                        await self._handle_sync(response, answer=token is not None)
                        break
                    except Exception as exc:
                        log.warning("Matrix: handling a sync failed (%s: %s); handled again in %.0f s",
                                    type(exc).__name__, exc, backoff)
                    await connecting.pause(self._stop, backoff)
                    backoff = connecting.longer(backoff)
                    if (response := await self._next_sync(token)) is None:
                        return
                token = response.next_batch
                await self._save_token_soon(token)

    async def _next_sync(self, token: str | None) -> SyncResponse | None:
        """What happened since `token`, waiting longer each time while the homeserver fails; None once stopped."""
        client = self._require_client()
        backoff = 1.0
        while not self._stop.is_set():
            try:
                response = await client.sync(
                    timeout=0 if token is None else SYNC_TIMEOUT_MS,
                    since=token,
                    sync_filter=SYNC_FILTER,
                    full_state=token is None,
                )
                if not isinstance(response, SyncResponse):
                    raise ConnectionError(f"sync refused: {getattr(response, 'status_code', '')} {response.message}")
            except Exception as exc:
                log.warning("Matrix sync failed (%s: %s); retrying in %.0f s", type(exc).__name__, exc, backoff)
                await connecting.pause(self._stop, backoff)
                backoff = connecting.longer(backoff)
            else:
                self.last_sync = time.monotonic()
                return response
        return None

    async def _save_token_soon(self, token: str) -> None:
        """Save while the next sync waits, so that answers are not held up; one save at a time keeps them in
        order."""
        if self._saving is not None:
            try:
                # Shielded: stopping the sync loop must not cancel a save half-way.
                await asyncio.shield(self._saving)
            except Exception:  # a save lost (the database away) only makes a restart replay a little more
                log.warning("Matrix: the sync token could not be saved", exc_info=True)
        self._saving = asyncio.ensure_future(self._save_token(token))

    async def _after_sync(self) -> None:
        """Keep the encryption state current: our keys uploaded, others' devices known and trusted, keys sent."""
        client = self._require_client()
        if not self.config.encryption:
            return
        if client.should_upload_keys:
            await client.keys_upload()
        if client.should_query_keys:
            await client.keys_query()
            self._trust_allowed_devices()
        if client.should_claim_keys:
            await client.keys_claim(client.get_users_for_key_claiming())
        await client.send_to_device_messages()

    def _trust_allowed_devices(self) -> None:
        """Trust on first use the devices of people from allowed servers (the bot cannot verify interactively)."""
        client = self._require_client()
        for user_id in list(client.device_store.users):
            if server_of(user_id) not in self.allowed_servers:
                continue
            for device in client.device_store.active_user_devices(user_id):
                if not device.verified and not device.blacklisted:
                    client.verify_device(device)

    async def _handle_sync(self, response: SyncResponse, answer: bool) -> None:
        client = self._require_client()
        for room_id, invite in response.rooms.invite.items():
            await self._on_invite(room_id, invite.invite_state)
        if not answer:
            return
        # Rooms are handled side by side; within a room, in order.
        work = []
        for room_id, joined in response.rooms.join.items():
            room = client.rooms.get(room_id)
            if room is not None and joined.timeline.events:
                work.append(self._handle_room_events(room, list(joined.timeline.events)))
        failures = [r for r in await asyncio.gather(*work, return_exceptions=True) if isinstance(r, BaseException)]
        if failures:
            raise failures[0]

    async def _handle_room_events(self, room: MatrixRoom, events: list[Any]) -> None:
        """In order. A command's own failure is answered by the core; a failure around it (the database away)
        makes the whole sync be handled again — the sync token is not saved, and what was already answered is
        skipped by its event id — except for an event that failed MAX_EVENT_ATTEMPTS times, which is dropped
        with an error in the log so that it cannot block the room for good."""
        for event in events:
            event_id = getattr(event, "event_id", "?")
            try:
                await self._on_event(room, event)
            except Exception:
                attempts = self._failures[event_id] = self._failures.get(event_id, 0) + 1
                if attempts < MAX_EVENT_ATTEMPTS:
                    log.warning("Matrix: event %s in %s failed (try %d); the sync will be handled again",
                                event_id, room.room_id, attempts, exc_info=True)
                    raise
                log.exception("Matrix: event %s in %s dropped after %d tries", event_id, room.room_id, attempts)
            self._failures.pop(event_id, None)

    # -- rooms ----------------------------------------------------------------------------------------

    async def _on_invite(self, room_id: str, state: list[Any]) -> None:
        client = self._require_client()
        inviter = next(
            (e.sender for e in state if isinstance(e, InviteMemberEvent) and e.state_key == client.user_id),
            None,
        )
        if inviter is not None and server_of(inviter) in self.allowed_servers:
            response = await client.join(room_id)
            if isinstance(response, JoinError):
                log.warning("Matrix: could not join %s: %s", room_id, response.message)
            else:
                log.info("Matrix: joined %s, invited by %s", room_id, inviter)
            return
        log.info("Matrix: refused an invite to %s from %s (server not allowed)", room_id, inviter)
        await client.room_leave(room_id)

    def is_direct(self, room: MatrixRoom) -> bool:
        return self.room_kind(room) is RoomKind.DIRECT

    def room_kind(self, room: MatrixRoom) -> RoomKind:
        if room.room_id == self.review_room:
            return RoomKind.REVIEW
        if room.room_id in self.announcement_rooms:
            return RoomKind.ANNOUNCEMENT
        # A room of the bot and one person is a direct conversation, whatever its flags say.
        people = set(room.users) | set(room.invited_users)
        return RoomKind.DIRECT if len(people) <= 2 else RoomKind.GROUP

    # -- events ---------------------------------------------------------------------------------------

    async def _on_event(self, room: MatrixRoom, event: Any) -> None:
        client = self._require_client()
        if getattr(event, "sender", None) == client.user_id:
            return
        if isinstance(event, RoomMessage) and render.is_edit(event.source.get("content", {})):
            # An edit ("* nouveau texte"): handed over as such, never taken as a new answer or command.
            new_content = event.source["content"].get("m.new_content") or {}
            text = new_content.get("body") if isinstance(new_content, dict) else None
            await self._answer(room, event, text if isinstance(text, str) else "", (), edited=True)
        elif isinstance(event, RoomMessageText):
            body = render.strip_reply_fallback(event.body)
            await self._answer(room, event, body, ())
        elif isinstance(event, RoomMessageFile | RoomEncryptedFile | RoomMessageImage | RoomEncryptedImage):
            name = event.source.get("content", {}).get("filename") or event.body or "fichier"
            try:
                attachment = await self._download(event, name)
            except UnreadableFile as exc:
                log.warning("Matrix: could not get the file %s of %s: %s", event.url, event.event_id, exc)
                await self._answer(room, event, "", (), unreadable=(name,))
            else:
                await self._answer(room, event, "", (attachment,))
        elif isinstance(event, ReactionEvent):
            await self._on_reaction(room, event)
        elif isinstance(event, MegolmEvent):
            await self._on_undecryptable(room, event)
        elif isinstance(event, RoomMemberEvent) and event.membership == "join" and self.is_direct(room):
            # Someone accepted the DM the bot opened: what waits for them goes now, not at the next retry.
            async with self.app.db.session() as session:
                waiting = await Repos(session).outbox.retry_now(notify.dm(event.state_key), self.app.clock.now())
            if waiting:
                self.app.outbox.wake()

    def _message(self, room: MatrixRoom, event: Any, text: str, attachments: tuple[Attachment, ...],
                 edited: bool = False, unreadable: tuple[str, ...] = ()) -> Message:
        return Message(
            platform=PLATFORM,
            event_id=EventId(event.event_id),
            room_id=RoomId(room.room_id),
            room_kind=self.room_kind(room),
            sender=UserId(event.sender),
            sender_name=room.user_name(event.sender) or event.sender,
            text=text,
            attachments=attachments,
            thread_id=_thread(event),
            edited=edited,
            unreadable=unreadable,
        )

    async def _answer(self, room: MatrixRoom, event: Any, text: str, attachments: tuple[Attachment, ...],
                      edited: bool = False, unreadable: tuple[str, ...] = ()) -> None:
        message = self._message(room, event, text, attachments, edited, unreadable)
        if message.thread_id:
            async with self.app.db.session() as session:
                topic = await Repos(session).kv.get(_topic_of_key(message.thread_id))
            if isinstance(topic, str):
                message = dataclasses.replace(message, topic=topic)
        replies = await self._typing_while(room.room_id, self.app.router.handle(message))
        relates = render.relation(event.event_id, message.thread_id, message.room_kind is not RoomKind.DIRECT)
        for index, reply in enumerate(replies):
            await self.send(room.room_id, reply, relates, render.transaction_id(event.event_id, index))

    async def _typing_while(self, room_id: str, work: Awaitable[T]) -> T:
        """Show "typing" when the work takes long enough for a person to wonder."""
        client = self._require_client()
        task = asyncio.ensure_future(work)
        done, _pending = await asyncio.wait({task}, timeout=TYPING_AFTER)
        if done:
            return task.result()
        with contextlib.suppress(Exception):
            await client.room_typing(room_id, True, timeout=30_000)
        try:
            return await task
        finally:
            with contextlib.suppress(Exception):
                await client.room_typing(room_id, False)

    async def _download(self, event: Any, name: str) -> Attachment:
        """The file of `event`; UnreadableFile when the homeserver will not hand it over or it is not the file that
        was sent (an encrypted file whose hash does not match). A homeserver out of reach raises as is: the sync
        is handled again."""
        client = self._require_client()
        response = await client.download(mxc=event.url)
        body = getattr(response, "body", None)
        if not isinstance(body, bytes):
            raise UnreadableFile(f"{getattr(response, 'status_code', '')} {getattr(response, 'message', response)}")
        if isinstance(event, RoomEncryptedFile | RoomEncryptedImage):
            try:
                body = decrypt_attachment(body, event.key["k"], event.hashes["sha256"], event.iv)
            except EncryptionError as exc:
                raise UnreadableFile(f"cannot decrypt: {exc}") from exc
        info = event.source.get("content", {}).get("info", {}) or {}
        mime = info.get("mimetype") or getattr(event, "mimetype", None) or "application/octet-stream"
        return Attachment(name=name, mime=mime, data=body)

    async def _on_reaction(self, room: MatrixRoom, event: ReactionEvent) -> None:
        async with self.app.db.session() as session:
            stored = await Repos(session).kv.get(_prompt_key(event.reacts_to))
        if not isinstance(stored, dict):
            return  # not one of the bot's prompts
        reaction = Reaction(
            platform=PLATFORM,
            event_id=EventId(event.event_id),
            room_id=RoomId(room.room_id),
            room_kind=self.room_kind(room),
            sender=UserId(event.sender),
            sender_name=room.user_name(event.sender) or event.sender,
            key=event.key,
            prompt=Prompt(stored["kind"], stored["subject"]),
        )
        replies = await self.app.router.handle_reaction(reaction)
        thread = stored.get("thread") or event.reacts_to
        relates = render.relation(event.reacts_to, thread, in_room=True)
        for index, reply in enumerate(replies):
            await self.send(room.room_id, reply, relates, render.transaction_id(event.event_id, index))

    async def _on_undecryptable(self, room: MatrixRoom, event: MegolmEvent) -> None:
        """Ask for the missing key and tell the person, rather than stay silent."""
        client = self._require_client()
        async with self.app.db.session() as session:
            if not await Repos(session).processed.mark(PLATFORM, event.event_id):
                return
        with contextlib.suppress(LocalProtocolError):  # already requested
            await client.request_room_key(event)
        kind = self.room_kind(room)
        once = (event.sender, event.session_id)
        if kind is not RoomKind.DIRECT and once in self._notified_undecryptable:
            return
        self._notified_undecryptable.add(once)
        with language(self.app.config.language):
            reply = Reply.error(
                str(_("Je n'ai pas pu déchiffrer votre message (clé de chiffrement manquante ; je l'ai redemandée). "
                      "Pouvez-vous le renvoyer ?"))
            )
        relates = render.relation(event.event_id, None, kind is not RoomKind.DIRECT)
        await self.send(room.room_id, reply, relates, render.transaction_id(event.event_id, 0))

    # -- sending --------------------------------------------------------------------------------------

    async def send(self, room_id: str, reply: Reply, relates: dict[str, Any] | None, tx_id: str) -> None:
        """Send now; if the homeserver cannot take it, the outbox keeps it and sends it when it can."""
        try:
            await self._send(room_id, reply, relates, tx_id)
        except PermanentDeliveryError as exc:
            log.warning("Matrix: reply to %s refused: %s", room_id, exc)
        except Exception as exc:
            log.info("Matrix: reply to %s queued (%s)", room_id, type(exc).__name__)
            payload = {"reply": reply.to_json(), "relates": relates, "tx_id": tx_id}
            await self.app.outbox.enqueue(PLATFORM, room_id, payload, dedupe_key=f"matrix:{tx_id}")

    async def deliver(self, message_id: int, target: str, payload: dict[str, Any]) -> None:
        """The outbox's way out to Matrix: a room id, or a logical target (the review room, every announcement
        room, a person's DM). The transaction id comes from the outbox row, so a retry is never doubled."""
        reply = Reply.from_json(payload["reply"])
        tx_id = payload.get("tx_id") or f"odpe.outbox.{message_id}"
        relates = payload.get("relates")
        if target == notify.REVIEW:
            if self.review_room is None:
                raise PermanentDeliveryError("no review room is configured (matrix.review_room)")
            await self._send(self.review_room, reply, relates, tx_id)
        elif target == notify.ANNOUNCE:
            for index, room in enumerate(sorted(self.announcement_rooms)):
                await self._send(room, reply, relates, f"{tx_id}.{index}")
        elif target.startswith("dm:"):
            await self._send(await self._direct_room(target.removeprefix("dm:")), reply, relates, tx_id)
        else:
            await self._send(target, reply, relates, tx_id)

    async def _direct_room(self, user_id: str) -> str:
        """The bot's DM with `user_id`, created (and its invitation accepted) if need be."""
        client = self._require_client()
        key = f"matrix:dm:{user_id}"
        async with self.app.db.session() as session:
            known = await Repos(session).kv.get(key)
        room = client.rooms.get(known) if isinstance(known, str) else None
        if room is None:
            for candidate in client.rooms.values():
                if self.room_kind(candidate) is RoomKind.DIRECT and user_id in candidate.users:
                    room = candidate
                    break
        if room is None:
            state = [render.ENCRYPTION_STATE] if self.config.encryption else []
            created = await client.room_create(is_direct=True, invite=[user_id], initial_state=state)
            if not isinstance(created, RoomCreateResponse):
                raise ConnectionError(f"cannot open a DM with {user_id}: {created.message}")
            async with self.app.db.session() as session:
                await Repos(session).kv.set(key, created.room_id)
            raise ConnectionError(f"waiting for {user_id} to accept the invitation")  # retried by the outbox
        if room.room_id != known:
            async with self.app.db.session() as session:
                await Repos(session).kv.set(key, room.room_id)
        if user_id not in room.users:
            # Keys are shared with members only: what was sent before they join could not be read.
            raise ConnectionError(f"waiting for {user_id} to accept the invitation")
        return room.room_id

    async def _send(self, room_id: str, reply: Reply, relates: dict[str, Any] | None, tx_id: str) -> None:
        if reply.thread_id and not relates:
            relates = render.relation(reply.thread_id, reply.thread_id, in_room=True)
        topic_key = f"matrix:topic:{room_id}:{reply.topic}" if reply.topic else None
        if topic_key and not relates:
            async with self.app.db.session() as session:
                root = await Repos(session).kv.get(topic_key)
            if isinstance(root, str):
                relates = render.relation(root, root, in_room=True)
        event_id = await self._room_send(room_id, render.notice(reply, relates), tx_id)
        async with self.app.db.session() as session:
            kv = Repos(session).kv
            thread = render.thread_root({"m.relates_to": relates}) if relates else None
            if topic_key and thread is None:
                await kv.set(topic_key, event_id)  # the first message about a subject roots its thread
                await kv.set(_topic_of_key(event_id), reply.topic)  # and what is written there is about it
            if reply.prompt is not None:
                await kv.set(
                    _prompt_key(event_id),
                    {"kind": reply.prompt.kind, "subject": reply.prompt.subject, "thread": thread or event_id},
                )
        file = reply.file or await self._stored(reply)
        if file is not None:
            content = await self._file_content(room_id, file)
            if relates and relates.get("rel_type") == "m.thread":
                content["m.relates_to"] = relates
            elif topic_key:
                content["m.relates_to"] = render.relation(event_id, event_id, in_room=True)
            await self._room_send(room_id, content, tx_id + ".file")

    async def _stored(self, reply: Reply) -> Attachment | None:
        ref = reply.stored_file
        if ref is None:
            return None
        data = await asyncio.to_thread(FileStore(self.app.config.files.dir).open, ref.sha256)
        return Attachment(ref.name, ref.mime, data)

    async def _room_send(self, room_id: str, content: dict[str, Any], tx_id: str) -> str:
        client = self._require_client()
        response = await client.room_send(
            room_id, "m.room.message", content, tx_id=tx_id, ignore_unverified_devices=True
        )
        if isinstance(response, RoomSendResponse):
            return response.event_id
        code = getattr(response, "status_code", None)
        if code in PERMANENT_ERRORS:
            raise PermanentDeliveryError(f"{code}: {response.message}")
        raise ConnectionError(f"room_send failed: {code} {getattr(response, 'message', response)}")

    async def _file_content(self, room_id: str, file: Attachment) -> dict[str, Any]:
        client = self._require_client()
        room = client.rooms.get(room_id)
        encrypt = bool(room and room.encrypted)
        response, keys = await client.upload(
            lambda *_args: file.data, content_type=file.mime, filename=file.name, encrypt=encrypt,
            filesize=file.size,
        )
        if not isinstance(response, UploadResponse):
            raise ConnectionError(f"upload failed: {getattr(response, 'message', response)}")
        content: dict[str, Any] = {
            "msgtype": "m.file",
            "body": file.name,
            "filename": file.name,
            "info": {"mimetype": file.mime, "size": file.size},
        }
        if encrypt and keys:
            content["file"] = {**keys, "url": response.content_uri}
        else:
            content["url"] = response.content_uri
        return content


def _thread(event: Any) -> EventId | None:
    root = render.thread_root(event.source.get("content", {}))
    return EventId(root) if root else None


def _topic_of_key(event_id: str) -> str:
    return f"matrix:topic-of:{event_id}"


def _prompt_key(event_id: str) -> str:
    return f"matrix:prompt:{event_id}"

