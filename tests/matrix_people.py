"""Test helpers for the Matrix side: people with their own nio client (as Element would be), and a bot to start."""

from __future__ import annotations

import asyncio
import inspect
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from nio import (
    AsyncClient,
    AsyncClientConfig,
    MegolmEvent,
    RoomCreateResponse,
    RoomMessage,
    RoomSendResponse,
    SyncResponse,
    TypingNoticeEvent,
)

import commands
from bot.app import App
from bot.config import Config
from bot.registry import Registry
from integrations.matrix import MatrixIntegration
from integrations.runtime import Runtime
from storage.clock import Clock
from storage.db import Database
from tests.db_fixtures import TEST_START
from tests.synapse import RegisteredUser, Synapse

# Synapse's default is the last 10 events of a room per sync: a dialog answered quickly has more, and a person who
# counts the bot's messages must see them all.
SYNC_FILTER = {"room": {"timeline": {"limit": 200}}}
ENCRYPTION_STATE = {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "m.megolm.v1.aes-sha2"}}


@dataclass
class Seen:
    room_id: str
    event: Any

    @property
    def body(self) -> str:
        return str(self.event.source.get("content", {}).get("body", ""))

    @property
    def content(self) -> dict[str, Any]:
        return dict(self.event.source.get("content", {}))


@dataclass
class Person:
    """Someone of the network with an ordinary Matrix client (encryption on, like Element or Tchap)."""

    user: RegisteredUser
    client: AsyncClient
    seen: list[Seen] = field(default_factory=list)
    invites: list[str] = field(default_factory=list)
    typing: list[tuple[str, list[str]]] = field(default_factory=list)  # (room, who was typing)
    token: str | None = None

    @classmethod
    async def login(cls, synapse: Synapse, user: RegisteredUser, store: Path) -> Person:
        store.mkdir(parents=True, exist_ok=True)
        client = AsyncClient(
            synapse.url, user.user_id, store_path=str(store),
            config=AsyncClientConfig(encryption_enabled=True, store_sync_tokens=False, max_timeouts=3),
        )
        response = await client.login(user.password, device_name="test-client")
        assert response.__class__.__name__ == "LoginResponse", response
        person = cls(user, client)
        await person.sync(0)
        return person

    @property
    def user_id(self) -> str:
        return self.user.user_id

    async def sync(self, timeout_ms: int = 1000) -> None:
        response = await self.client.sync(
            timeout=timeout_ms, since=self.token, full_state=self.token is None, sync_filter=SYNC_FILTER
        )
        if not isinstance(response, SyncResponse):
            return
        self.token = response.next_batch
        self.invites.extend(room_id for room_id in response.rooms.invite if room_id not in self.invites)
        for room_id, joined in response.rooms.join.items():
            for event in joined.timeline.events:
                self.seen.append(Seen(room_id, event))
            for ephemeral in joined.ephemeral:
                if isinstance(ephemeral, TypingNoticeEvent):
                    self.typing.append((room_id, list(ephemeral.users)))
        if self.client.should_upload_keys:
            await self.client.keys_upload()
        if self.client.should_query_keys:
            await self.client.keys_query()
        if self.client.should_claim_keys:
            await self.client.keys_claim(self.client.get_users_for_key_claiming())
        await self.client.send_to_device_messages()

    async def dm(self, bot_id: str, encrypted: bool = True) -> str:
        state = [ENCRYPTION_STATE] if encrypted else []
        response = await self.client.room_create(is_direct=True, invite=[bot_id], initial_state=state)
        assert isinstance(response, RoomCreateResponse), response
        await self.wait_for_member(response.room_id, bot_id)
        return response.room_id

    async def room(self, invite: list[str], encrypted: bool = False) -> str:
        state = [ENCRYPTION_STATE] if encrypted else []
        response = await self.client.room_create(invite=invite, initial_state=state)
        assert isinstance(response, RoomCreateResponse), response
        return response.room_id

    async def wait_for_member(self, room_id: str, user_id: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            await self.sync(500)
            room = self.client.rooms.get(room_id)
            if room is not None and user_id in room.users:
                return
        raise AssertionError(f"{user_id} did not join {room_id} within {timeout} s")

    async def join(self, room_id: str) -> None:
        await self.client.join(room_id)
        await self.sync(0)

    async def say(self, room_id: str, text: str, content: dict[str, Any] | None = None) -> str:
        body = content or {"msgtype": "m.text", "body": text}
        response = await self.client.room_send(room_id, "m.room.message", body, ignore_unverified_devices=True)
        assert isinstance(response, RoomSendResponse), response
        return response.event_id

    def from_bot(self, bot_id: str, room_id: str) -> list[Seen]:
        """The bot's messages (not its membership or other state) in a room, in order."""
        return [
            s for s in self.seen
            if s.room_id == room_id and s.event.sender == bot_id
            and (isinstance(s.event, RoomMessage | MegolmEvent))
        ]

    async def wait_for(
        self, bot_id: str, room_id: str, count: int = 1, timeout: float = 30,
        where: Callable[[Seen], bool] = lambda s: True,
    ) -> list[Seen]:
        """The bot's messages in `room_id` once at least `count` match; fails after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            found = [s for s in self.from_bot(bot_id, room_id) if where(s)]
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} messages from the bot, saw {[s.body for s in found]}")
            await self.sync(500)

    async def close(self) -> None:
        await self.client.close()


def decrypted(seen: Seen) -> bool:
    return isinstance(seen.event, RoomMessage) and not isinstance(seen.event, MegolmEvent)


@dataclass
class BotSetup:
    synapse: Synapse
    user: RegisteredUser
    workdir: Path
    database_url: str
    overrides: dict[str, Any] = field(default_factory=dict)
    # One clock across the bot's restarts, as one machine has: set to TEST_START once, then running.
    clock: Clock = field(default_factory=Clock)

    def __post_init__(self) -> None:
        self.clock.set(TEST_START)

    def config(self) -> Config:
        matrix = {
            "enabled": True,
            "homeserver": self.synapse.url,
            "user_id": self.user.user_id,
            "password": self.user.password,
            "store_dir": str(self.workdir / "matrix-store"),
            "pickle_key": "test-pickle-key",
            "allowed_servers": [self.synapse.server_name],
            **self.overrides.get("matrix", {}),
        }
        sections: dict[str, Any] = {
            "database": {"url": self.database_url},
            "files": {"dir": str(self.workdir / "files")},
            "rate_limit": {"per_minute": 0},
            "roles": {"admins": [], "reviewers": []},
            **{name: value for name, value in self.overrides.items() if name != "matrix"},
        }
        return Config(matrix=matrix, **sections)

    async def start(self, registry: Registry | None = None, http: bool = False) -> Running:
        """The bot as `odpe-bot run` runs it (Matrix, scheduler, outbox), with the HTTP server if `http`."""
        config = self.config()
        app = App(config, registry=registry, db=Database(config.database.url, clock=self.clock))
        await app.migrate()
        bot = MatrixIntegration(app)
        runtime = Runtime(app, [bot], http=http)
        await runtime.start()
        try:
            await asyncio.wait_for(bot.ready.wait(), 60)
        except TimeoutError:
            await runtime.stop()
            raise AssertionError(f"the bot did not connect within 60 s: {bot.failure}") from None
        return Running(app, bot, runtime)


@dataclass
class Running:
    app: App
    bot: MatrixIntegration
    runtime: Runtime

    async def stop(self) -> None:
        await self.runtime.stop()


def registry_with(*extra: Callable[[Registry], None]) -> Registry:
    """The shipped commands plus test-only ones, in a registry of their own (the shared one stays as shipped)."""
    registry = Registry()
    for cmd in commands.load():
        registry.add(cmd)
    for add in extra:
        add(registry)
    return registry


async def keys_query(synapse: Synapse, token: str, user_id: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=synapse.url) as http:
        response = await http.post(
            "/_matrix/client/v3/keys/query",
            json={"device_keys": {user_id: []}},
            headers={"Authorization": f"Bearer {token}"},
        )
        response.raise_for_status()
        return dict(response.json())


async def send_raw(synapse: Synapse, token: str, room_id: str, event_type: str, content: dict[str, Any]) -> str:
    """Send an event as is, bypassing the client library (e.g. an encrypted event nobody can decrypt)."""
    async with httpx.AsyncClient(base_url=synapse.url) as http:
        response = await http.put(
            f"/_matrix/client/v3/rooms/{room_id}/send/{event_type}/{uuid.uuid4().hex}",
            json=content,
            headers={"Authorization": f"Bearer {token}"},
        )
        response.raise_for_status()
        return str(response.json()["event_id"])


async def eventually(check: Callable[[], Any], timeout: float = 20, every: float = 0.3) -> Any:
    """What `check` returns (awaited if need be) once it is true; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(every)
