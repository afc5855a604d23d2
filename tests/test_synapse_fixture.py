"""The Synapse fixtures run a real homeserver: users, messages, media, restarts and strict rate limits."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from nio import (
    AsyncClient,
    AsyncClientConfig,
    JoinResponse,
    LoginResponse,
    MemoryDownloadResponse,
    RoomCreateResponse,
    RoomMessageText,
    RoomSendResponse,
    SyncResponse,
    UploadResponse,
)

from tests.synapse import RegisteredUser, Synapse, UserAlreadyRegistered


def _auth(user: RegisteredUser) -> dict[str, str]:
    return {"Authorization": f"Bearer {user.access_token}"}


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


async def _create_room(http: httpx.AsyncClient, server: Synapse, user: RegisteredUser) -> str:
    response = await http.post(f"{server.url}/_matrix/client/v3/createRoom", json={}, headers=_auth(user))
    assert response.status_code == 200, response.text
    return str(response.json()["room_id"])


async def _send_text(http: httpx.AsyncClient, server: Synapse, user: RegisteredUser, room_id: str) -> httpx.Response:
    url = f"{server.url}/_matrix/client/v3/rooms/{room_id}/send/m.room.message/{secrets.token_hex(8)}"
    return await http.put(url, json={"msgtype": "m.text", "body": "ping"}, headers=_auth(user))


def _nio_client(server: Synapse, user: RegisteredUser) -> AsyncClient:
    # No encryption: these rooms are plain, and the fixture is not the place to test the bot's E2EE.
    return AsyncClient(server.url, user.user_id, config=AsyncClientConfig(encryption_enabled=False))


async def test_registered_user_logs_in_with_nio_and_sends_a_message_a_second_user_syncs(synapse: Synapse) -> None:
    alice = await synapse.register(synapse.unique("alice"))
    bob = await synapse.register(synapse.unique("bob"))
    alice_client, bob_client = _nio_client(synapse, alice), _nio_client(synapse, bob)
    try:
        assert isinstance(await alice_client.login(alice.password), LoginResponse)
        # Bob uses the token the registration gave him, as a bot configured with an access token would.
        bob_client.restore_login(bob.user_id, bob.device_id, bob.access_token)

        created = await alice_client.room_create(invite=[bob.user_id])
        assert isinstance(created, RoomCreateResponse), created
        assert isinstance(await bob_client.join(created.room_id), JoinResponse)
        first_sync = await bob_client.sync(timeout=0)
        assert isinstance(first_sync, SyncResponse), first_sync

        sent = await alice_client.room_send(created.room_id, "m.room.message", {"msgtype": "m.text", "body": "bonjour"})
        assert isinstance(sent, RoomSendResponse), sent

        received: list[str] = []
        deadline = time.monotonic() + 10
        while not received and time.monotonic() < deadline:
            sync = await bob_client.sync(timeout=2000)
            assert isinstance(sync, SyncResponse), sync
            room = sync.rooms.join.get(created.room_id)
            events = room.timeline.events if room else []
            received = [event.body for event in events if isinstance(event, RoomMessageText)]
        assert received == ["bonjour"]
    finally:
        await alice_client.close()
        await bob_client.close()


async def test_registering_a_taken_localpart_raises_a_clear_error(synapse: Synapse) -> None:
    localpart = synapse.unique("carol")
    await synapse.register(localpart)
    with pytest.raises(UserAlreadyRegistered, match=r"unique\("):
        await synapse.register(localpart)
    assert synapse.unique("carol") != localpart


async def test_admin_token_is_made_once_and_opens_the_admin_api(synapse: Synapse, http: httpx.AsyncClient) -> None:
    token = await synapse.admin_token()
    assert await synapse.admin_token() == token
    whoami = await http.get(
        f"{synapse.url}/_matrix/client/v3/account/whoami", headers={"Authorization": f"Bearer {token}"}
    )
    user_id = whoami.json()["user_id"]
    response = await http.get(
        f"{synapse.url}/_synapse/admin/v2/users/{user_id}", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["admin"] is True


async def test_nio_uploads_and_downloads_media_through_authenticated_endpoints(synapse: Synapse) -> None:
    user = await synapse.register(synapse.unique("dora"))
    client = _nio_client(synapse, user)
    client.restore_login(user.user_id, user.device_id, user.access_token)
    content = secrets.token_bytes(2 * 1024 * 1024)
    try:
        uploaded, _ = await client.upload(
            lambda *_: content, "application/octet-stream", "data.bin", filesize=len(content)
        )
        assert isinstance(uploaded, UploadResponse), uploaded
        downloaded = await client.download(uploaded.content_uri)
        assert isinstance(downloaded, MemoryDownloadResponse), downloaded
        assert downloaded.body == content
        # Synapse 1.163 enables authenticated media: the legacy unauthenticated download is frozen for new media.
        server_name, media_id = uploaded.content_uri.removeprefix("mxc://").split("/")
        async with httpx.AsyncClient(timeout=10) as http:
            legacy = await http.get(f"{synapse.url}/_matrix/media/v3/download/{server_name}/{media_id}")
        assert legacy.status_code == 404
    finally:
        await client.close()


async def test_restart_keeps_users_and_rooms_and_the_port_refuses_connections_while_stopped(
    synapse: Synapse, http: httpx.AsyncClient
) -> None:
    user = await synapse.register(synapse.unique("erin"))
    room_id = await _create_room(http, synapse, user)
    url = synapse.url

    await synapse.stop()
    assert not synapse.running
    with pytest.raises(httpx.ConnectError):
        await http.get(f"{url}/health")

    await synapse.start()
    assert synapse.url == url
    whoami = await http.get(f"{url}/_matrix/client/v3/account/whoami", headers=_auth(user))
    assert whoami.status_code == 200, whoami.text
    assert whoami.json()["user_id"] == user.user_id
    joined = await http.get(f"{url}/_matrix/client/v3/joined_rooms", headers=_auth(user))
    assert room_id in joined.json()["joined_rooms"]

    await synapse.restart()
    assert (await _send_text(http, synapse, user, room_id)).status_code == 200


async def test_a_test_that_stops_synapse_leaves_it_stopped(synapse: Synapse, http: httpx.AsyncClient) -> None:
    assert (await http.get(f"{synapse.url}/health")).status_code == 200
    await synapse.stop()
    assert not synapse.running
    with pytest.raises(httpx.ConnectError):
        await http.get(f"{synapse.url}/health")


async def test_the_next_test_gets_synapse_running_again(synapse: Synapse, http: httpx.AsyncClient) -> None:
    assert synapse.running
    assert (await http.get(f"{synapse.url}/health")).status_code == 200


async def test_strict_server_answers_429_with_retry_after_ms_and_accepts_after_the_wait(
    strict_synapse: Synapse, http: httpx.AsyncClient
) -> None:
    user = await strict_synapse.register(strict_synapse.unique("frank"))
    room_id = await _create_room(http, strict_synapse, user)

    limited: httpx.Response | None = None
    for _ in range(10):
        response = await _send_text(http, strict_synapse, user, room_id)
        if response.status_code == 429:
            limited = response
            break
        assert response.status_code == 200, response.text
    assert limited is not None, "ten quick messages were never rate limited"
    body: dict[str, Any] = limited.json()
    assert body["errcode"] == "M_LIMIT_EXCEEDED"
    assert body["retry_after_ms"] > 0

    await asyncio.sleep(body["retry_after_ms"] / 1000 + 0.1)
    assert (await _send_text(http, strict_synapse, user, room_id)).status_code == 200
