"""Cross-signing of the bot's device against a real Synapse: creation, idempotence, repair, errors, key file."""

from __future__ import annotations

import copy
import json
import stat
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from nio import AsyncClient, AsyncClientConfig, KeysUploadResponse, LoginResponse
from signedjson.key import decode_verify_key_base64
from signedjson.sign import SignatureVerifyException, verify_signed_json

from integrations.matrix.cross_signing import (
    CrossSigning,
    CrossSigningError,
    CrossSigningKeys,
    CrossSigningStatus,
    published_keys,
    verify_device_chain,
)
from tests.synapse import RegisteredUser, Synapse

UPLOAD_ENDPOINTS = ("/keys/device_signing/upload", "/keys/signatures/upload")


@asynccontextmanager
async def e2e_device(synapse: Synapse, user: RegisteredUser, store: Path) -> AsyncIterator[AsyncClient]:
    """A fresh login with nio (a new device) whose device keys are uploaded, as the bot's adapter does."""
    store.mkdir(parents=True, exist_ok=True)
    client = AsyncClient(
        synapse.url, user.user_id, store_path=str(store), config=AsyncClientConfig(encryption_enabled=True)
    )
    try:
        login = await client.login(user.password, device_name="odpe-bot test")
        assert isinstance(login, LoginResponse), login
        assert isinstance(await client.keys_upload(), KeysUploadResponse)
        yield client
    finally:
        await client.close()


@asynccontextmanager
async def recording_http() -> AsyncIterator[tuple[aiohttp.ClientSession, list[str]]]:
    """A real aiohttp session that records the path of every request it sends."""
    paths: list[str] = []

    async def on_request_start(
        session: aiohttp.ClientSession, context: SimpleNamespace, params: aiohttp.TraceRequestStartParams
    ) -> None:
        paths.append(params.url.path)

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_request_start)
    async with aiohttp.ClientSession(trace_configs=[trace]) as http:
        yield http, paths


def cross_signing(
    synapse: Synapse,
    user: RegisteredUser,
    client: AsyncClient,
    store: Path,
    *,
    password: str | None = "",
    http: aiohttp.ClientSession | None = None,
    sign_master: bool = True,
) -> CrossSigning:
    assert client.device_id and client.access_token
    return CrossSigning(
        synapse.url,
        user.user_id,
        client.device_id,
        client.access_token,
        user.password if password == "" else password,
        store,
        http,
        device_signer=client.olm.sign_json if sign_master and client.olm else None,
    )


def master_signed_by_device(response: dict[str, Any], user_id: str, device_id: str) -> bool:
    device_key = response["device_keys"][user_id][device_id]["keys"][f"ed25519:{device_id}"]
    try:
        verify_signed_json(
            response["master_keys"][user_id], user_id, decode_verify_key_base64("ed25519", device_id, device_key)
        )
    except SignatureVerifyException:
        return False
    return True


@pytest.fixture
async def user(synapse: Synapse) -> RegisteredUser:
    return await synapse.register(synapse.unique("bot"))


async def test_first_start_creates_keys_and_signs_the_device(
    synapse: Synapse, user: RegisteredUser, tmp_path: Path
) -> None:
    async with e2e_device(synapse, user, tmp_path / "nio") as client:
        cs = cross_signing(synapse, user, client, tmp_path / "store")
        assert not await cs.device_is_signed()

        assert await cs.ensure() is CrossSigningStatus.CREATED

        assert await cs.device_is_signed()
        response = await cs.query()
        assert verify_device_chain(response, user.user_id, client.device_id)
        stored = CrossSigningKeys(**_seeds(tmp_path / "store"))
        assert published_keys(response, user.user_id) == (
            stored.master_public,
            stored.self_signing_public,
            stored.user_signing_public,
        )
        # The USK is signed by the MSK too, and the bot's device vouches for its own MSK.
        usk = response["user_signing_keys"][user.user_id]
        verify_signed_json(
            usk, user.user_id, decode_verify_key_base64("ed25519", stored.master_public, stored.master_public)
        )
        assert master_signed_by_device(response, user.user_id, client.device_id)


async def test_ensure_twice_uploads_nothing_the_second_time(
    synapse: Synapse, user: RegisteredUser, tmp_path: Path
) -> None:
    async with e2e_device(synapse, user, tmp_path / "nio") as client, recording_http() as (http, paths):
        cs = cross_signing(synapse, user, client, tmp_path / "store", http=http)
        assert await cs.ensure() is CrossSigningStatus.CREATED
        assert any(path.endswith(UPLOAD_ENDPOINTS[0]) for path in paths)
        before = await cs.query()
        paths.clear()

        assert await cs.ensure() is CrossSigningStatus.ALREADY_SIGNED

        assert paths and not [path for path in paths if path.endswith(UPLOAD_ENDPOINTS)], paths
        assert await cs.query() == before
        assert not http.closed  # a session handed in is the caller's to close


async def test_new_login_gets_its_device_signed_by_the_same_keys(
    synapse: Synapse, user: RegisteredUser, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    async with e2e_device(synapse, user, tmp_path / "nio-1") as first:
        initial = cross_signing(synapse, user, first, store)
        assert await initial.ensure() is CrossSigningStatus.CREATED
        first_device = first.device_id
        master_before = published_keys(await initial.query(), user.user_id)[0]

    # A fresh login (the nio store was lost, say) makes a new device; the key file is what is left.
    async with e2e_device(synapse, user, tmp_path / "nio-2") as second, recording_http() as (http, paths):
        assert second.device_id != first_device
        # No password needed: signing a device with the stored SSK involves no user-interactive auth.
        cs = cross_signing(synapse, user, second, store, password=None, http=http)
        assert not await cs.device_is_signed()

        assert await cs.ensure() is CrossSigningStatus.DEVICE_SIGNED

        assert not [path for path in paths if path.endswith(UPLOAD_ENDPOINTS[0])], "keys uploaded again"
        response = await cs.query()
        assert published_keys(response, user.user_id)[0] == master_before
        assert verify_device_chain(response, user.user_id, second.device_id)
        assert verify_device_chain(response, user.user_id, first_device)
        assert master_signed_by_device(response, user.user_id, second.device_id)
        assert await cs.ensure() is CrossSigningStatus.ALREADY_SIGNED


async def test_keys_reset_elsewhere_are_replaced_with_the_password(
    synapse: Synapse, user: RegisteredUser, tmp_path: Path
) -> None:
    async with e2e_device(synapse, user, tmp_path / "nio") as client:
        assert await cross_signing(synapse, user, client, tmp_path / "store").ensure() is CrossSigningStatus.CREATED
        ours = CrossSigningKeys(**_seeds(tmp_path / "store"))
        # Another client resets the identity: the server's keys are no longer the ones the bot holds.
        other = cross_signing(synapse, user, client, tmp_path / "elsewhere", sign_master=False)
        assert await other.ensure() is CrossSigningStatus.CREATED
        assert published_keys(await other.query(), user.user_id)[0] != ours.master_public

        cs = cross_signing(synapse, user, client, tmp_path / "store")
        assert await cs.ensure() is CrossSigningStatus.CREATED

        renewed = CrossSigningKeys(**_seeds(tmp_path / "store"))
        response = await cs.query()
        assert published_keys(response, user.user_id)[0] == renewed.master_public != ours.master_public
        assert verify_device_chain(response, user.user_id, client.device_id)


async def test_access_token_only_without_stored_keys_needs_the_password(
    synapse: Synapse, user: RegisteredUser, tmp_path: Path
) -> None:
    async with e2e_device(synapse, user, tmp_path / "nio") as client:
        # The account already has cross-signing keys (an earlier start), but this store directory has lost them.
        assert await cross_signing(synapse, user, client, tmp_path / "old").ensure() is CrossSigningStatus.CREATED
        cs = cross_signing(synapse, user, client, tmp_path / "store", password=None)

        with pytest.raises(CrossSigningError) as caught:
            await cs.ensure()

        message = str(caught.value)
        assert "password" in message and "first start" in message
        assert caught.value.endpoint == "/_matrix/client/v3/keys/device_signing/upload"
        assert client.access_token not in message and user.password not in message
        old = CrossSigningKeys(**_seeds(tmp_path / "old"))
        assert published_keys(await cs.query(), user.user_id)[0] == old.master_public  # nothing replaced


async def test_wrong_password_is_a_clear_error_without_the_password(
    synapse: Synapse, user: RegisteredUser, tmp_path: Path
) -> None:
    async with e2e_device(synapse, user, tmp_path / "nio") as client:
        assert await cross_signing(synapse, user, client, tmp_path / "old").ensure() is CrossSigningStatus.CREATED
        wrong = "not-the-password-" + user.password
        cs = cross_signing(synapse, user, client, tmp_path / "store", password=wrong)

        with pytest.raises(CrossSigningError) as caught:
            await cs.ensure()

        assert caught.value.errcode == "M_FORBIDDEN"
        assert "/keys/device_signing/upload" in str(caught.value)
        assert wrong not in str(caught.value) and client.access_token not in str(caught.value)


async def test_first_setup_without_password_when_the_server_allows_it(
    synapse: Synapse, user: RegisteredUser, tmp_path: Path
) -> None:
    # Synapse lets an account with no cross-signing keys publish its first ones without user-interactive auth
    # (MSC3967): an access-token-only bot then needs no password at all.
    async with e2e_device(synapse, user, tmp_path / "nio") as client:
        cs = cross_signing(synapse, user, client, tmp_path / "store", password=None)
        assert await cs.ensure() is CrossSigningStatus.CREATED
        assert await cs.device_is_signed()


async def test_device_without_uploaded_keys_is_an_error(synapse: Synapse, user: RegisteredUser, tmp_path: Path) -> None:
    # The registration's own device never uploaded device keys.
    cs = CrossSigning(synapse.url, user.user_id, user.device_id, user.access_token, user.password, tmp_path)
    with pytest.raises(CrossSigningError, match="keys_upload"):
        await cs.ensure()
    assert not (tmp_path / "cross_signing_keys.json").exists()


async def test_key_file_is_private_and_holds_no_password(
    synapse: Synapse, user: RegisteredUser, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    async with e2e_device(synapse, user, tmp_path / "nio") as client:
        assert await cross_signing(synapse, user, client, store).ensure() is CrossSigningStatus.CREATED
        token = client.access_token

    files = list(store.iterdir())
    assert [f.name for f in files] == ["cross_signing_keys.json"]  # no temporary file left behind
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    text = files[0].read_text(encoding="utf-8")
    assert user.password not in text and token not in text
    assert json.loads(text)["user_id"] == user.user_id
    keys = CrossSigningKeys(**_seeds(store))
    assert keys.master_seed not in repr(keys)


async def test_verify_device_chain_rejects_tampering(synapse: Synapse, user: RegisteredUser, tmp_path: Path) -> None:
    async with e2e_device(synapse, user, tmp_path / "nio") as client:
        cs = cross_signing(synapse, user, client, tmp_path / "store")
        assert await cs.ensure() is CrossSigningStatus.CREATED
        response = await cs.query()
    uid, did = user.user_id, client.device_id
    assert verify_device_chain(response, uid, did)
    ssk_public = published_keys(response, uid)[1]
    msk_public = published_keys(response, uid)[0]

    def tampered(change: Any) -> dict[str, Any]:
        copied = copy.deepcopy(response)
        change(copied)
        return copied

    def flip(signature: str) -> str:
        return ("B" if signature[0] == "A" else "A") + signature[1:]

    def device_signature(r: dict[str, Any]) -> None:
        sigs = r["device_keys"][uid][did]["signatures"][uid]
        sigs[f"ed25519:{ssk_public}"] = flip(sigs[f"ed25519:{ssk_public}"])

    def ssk_signature(r: dict[str, Any]) -> None:
        sigs = r["self_signing_keys"][uid]["signatures"][uid]
        sigs[f"ed25519:{msk_public}"] = flip(sigs[f"ed25519:{msk_public}"])

    def device_content(r: dict[str, Any]) -> None:
        r["device_keys"][uid][did]["algorithms"].append("m.forged.v1")

    def other_master(r: dict[str, Any]) -> None:
        forged = CrossSigningKeys.generate().master_public
        r["master_keys"][uid]["keys"] = {f"ed25519:{forged}": forged}

    def no_device_signature(r: dict[str, Any]) -> None:
        del r["device_keys"][uid][did]["signatures"][uid][f"ed25519:{ssk_public}"]

    def no_ssk(r: dict[str, Any]) -> None:
        del r["self_signing_keys"][uid]

    for change in (device_signature, ssk_signature, device_content, other_master, no_device_signature, no_ssk):
        assert not verify_device_chain(tampered(change), uid, did), change.__name__
    assert not verify_device_chain(response, uid, "NOSUCHDEVICE")
    assert not verify_device_chain({}, uid, did)
    assert verify_device_chain(response, uid, did)  # the checks above worked on copies


def _seeds(store: Path) -> dict[str, str]:
    data = json.loads((store / "cross_signing_keys.json").read_text(encoding="utf-8"))
    return {
        "master_seed": data["master"],
        "self_signing_seed": data["self_signing"],
        "user_signing_seed": data["user_signing"],
    }
