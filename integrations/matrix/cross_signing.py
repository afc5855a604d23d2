"""Matrix cross-signing for the bot's own account: create, store and upload its keys, sign its device."""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import os
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import aiohttp
from signedjson.key import (
    decode_signing_key_base64,
    decode_verify_key_base64,
    encode_signing_key_base64,
    encode_verify_key_base64,
    generate_signing_key,
    get_verify_key,
)
from signedjson.sign import SignatureVerifyException, sign_json, verify_signed_json
from signedjson.types import SigningKey, VerifyKey

log = logging.getLogger(__name__)

ED25519 = "ed25519"
KEYS_FILE_NAME = "cross_signing_keys.json"
KEYS_FILE_FORMAT = 1
QUERY_ENDPOINT = "/_matrix/client/v3/keys/query"
DEVICE_SIGNING_UPLOAD_ENDPOINT = "/_matrix/client/v3/keys/device_signing/upload"
SIGNATURES_UPLOAD_ENDPOINT = "/_matrix/client/v3/keys/signatures/upload"
PASSWORD_STAGE = "m.login.password"
HTTP_TIMEOUT = aiohttp.ClientTimeout(total=30)

# Signs a JSON object (without `signatures` and `unsigned`) with the device's ed25519 key and returns the
# unpadded base64 signature: nio's `client.olm.sign_json` fits.
DeviceSigner = Callable[[dict[str, Any]], str]


class CrossSigningError(Exception):
    """A cross-signing step failed; the message names the endpoint and errcode, never a credential."""

    def __init__(
        self, message: str, *, endpoint: str | None = None, errcode: str | None = None, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.endpoint = endpoint
        self.errcode = errcode
        self.status = status


class CrossSigningStatus(StrEnum):
    CREATED = "created"
    DEVICE_SIGNED = "device_signed"
    ALREADY_SIGNED = "already_signed"


def _public_key(seed: str) -> str:
    return encode_verify_key_base64(get_verify_key(decode_signing_key_base64(ED25519, "_", seed)))


def _signing_key(seed: str) -> SigningKey:
    # signedjson names the signature "<alg>:<version>", and Matrix wants "ed25519:<public key>" for
    # cross-signing keys, so the version must be the public key itself.
    return decode_signing_key_base64(ED25519, _public_key(seed), seed)


def _verify_key(public: str) -> VerifyKey:
    return decode_verify_key_base64(ED25519, public, public)


@dataclass(frozen=True)
class CrossSigningKeys:
    """The three private seeds (unpadded base64); repr hides them so they never reach a log."""

    master_seed: str = field(repr=False)
    self_signing_seed: str = field(repr=False)
    user_signing_seed: str = field(repr=False)

    @classmethod
    def generate(cls) -> CrossSigningKeys:
        return cls(*(encode_signing_key_base64(generate_signing_key("_")) for _ in range(3)))

    @property
    def master_public(self) -> str:
        return _public_key(self.master_seed)

    @property
    def self_signing_public(self) -> str:
        return _public_key(self.self_signing_seed)

    @property
    def user_signing_public(self) -> str:
        return _public_key(self.user_signing_seed)

    @property
    def master_key(self) -> SigningKey:
        return _signing_key(self.master_seed)

    @property
    def self_signing_key(self) -> SigningKey:
        return _signing_key(self.self_signing_seed)

    @property
    def user_signing_key(self) -> SigningKey:
        return _signing_key(self.user_signing_seed)


def key_object(user_id: str, usage: str, public: str) -> dict[str, Any]:
    """The unsigned cross-signing key object of the spec for one usage (master, self_signing, user_signing)."""
    return {"user_id": user_id, "usage": [usage], "keys": {f"{ED25519}:{public}": public}}


def signed_copy(obj: dict[str, Any], user_id: str, key: SigningKey) -> dict[str, Any]:
    """A deep copy of `obj` with one more signature (sign_json mutates its argument)."""
    return sign_json(copy.deepcopy(obj), user_id, key)


def _single_ed25519_key(obj: Any, user_id: str, usage: str) -> str | None:
    """The public key of a cross-signing key object, if it is well formed, ours and for this usage."""
    if not isinstance(obj, dict) or obj.get("user_id") != user_id:
        return None
    if usage not in (obj.get("usage") or []):
        return None
    keys = obj.get("keys")
    if not isinstance(keys, dict) or len(keys) != 1:
        return None
    ((key_id, public),) = keys.items()
    if not isinstance(public, str) or key_id != f"{ED25519}:{public}":
        return None
    return public


def _has_valid_signature(obj: dict[str, Any], user_id: str, public: str) -> bool:
    try:
        verify_signed_json(obj, user_id, _verify_key(public))
    except (SignatureVerifyException, ValueError, TypeError):
        return False
    return True


def published_keys(response: dict[str, Any], user_id: str) -> tuple[str | None, str | None, str | None]:
    """The (master, self-signing, user-signing) public keys a /keys/query response holds for `user_id`."""
    return (
        _single_ed25519_key((response.get("master_keys") or {}).get(user_id), user_id, "master"),
        _single_ed25519_key((response.get("self_signing_keys") or {}).get(user_id), user_id, "self_signing"),
        _single_ed25519_key((response.get("user_signing_keys") or {}).get(user_id), user_id, "user_signing"),
    )


def verify_device_chain(keys_query_response: dict[str, Any], user_id: str, device_id: str) -> bool:
    """Whether the device's keys bear a valid SSK signature and the SSK a valid MSK one (keys from the response)."""
    try:
        master, self_signing, _ = published_keys(keys_query_response, user_id)
        if master is None or self_signing is None:
            return False
        ssk_object = keys_query_response["self_signing_keys"][user_id]
        if not _has_valid_signature(ssk_object, user_id, master):
            return False
        device = keys_query_response["device_keys"][user_id][device_id]
        if not isinstance(device, dict) or device.get("user_id") != user_id or device.get("device_id") != device_id:
            return False
        return _has_valid_signature(device, user_id, self_signing)
    except (KeyError, TypeError, AttributeError):
        return False


def _strip(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in ("signatures", "unsigned")}


class KeyStore:
    """The seeds in one JSON file of the store directory, readable by the bot's user only."""

    def __init__(self, store_dir: Path) -> None:
        self.path = Path(store_dir) / KEYS_FILE_NAME

    def load(self, user_id: str) -> CrossSigningKeys | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:
            raise CrossSigningError(f"cannot read the cross-signing key file {self.path}: {type(e).__name__}") from e
        if not isinstance(data, dict) or data.get("format") != KEYS_FILE_FORMAT:
            raise CrossSigningError(f"unknown format of the cross-signing key file {self.path}")
        if data.get("user_id") != user_id:
            # Replacing them would destroy another account's identity: the operator must sort the store out.
            raise CrossSigningError(
                f"the cross-signing key file {self.path} belongs to {data.get('user_id')!r}, not {user_id!r}"
            )
        try:
            keys = CrossSigningKeys(data["master"], data["self_signing"], data["user_signing"])
            # Deriving the public keys proves the seeds decode before anything is signed with them.
            CrossSigning._public_keys(keys)
        except (KeyError, TypeError, ValueError) as e:
            raise CrossSigningError(f"invalid keys in the cross-signing key file {self.path}") from e
        return keys

    def save(self, user_id: str, keys: CrossSigningKeys) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "format": KEYS_FILE_FORMAT,
            "user_id": user_id,
            "master": keys.master_seed,
            "self_signing": keys.self_signing_seed,
            "user_signing": keys.user_signing_seed,
        }
        # mkstemp creates the file 0600 from the start (no window where the seeds are world-readable), and the
        # rename makes the replacement atomic, so a crash never leaves a half-written key file.
        fd, tmp = tempfile.mkstemp(prefix=".cross_signing_", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f, indent=2)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


class CrossSigning:
    """Sets up and repairs the cross-signing of the bot's account and device on its homeserver."""

    def __init__(
        self,
        homeserver: str,
        user_id: str,
        device_id: str,
        access_token: str,
        password: str | None,
        store_dir: Path,
        http: aiohttp.ClientSession | None = None,
        *,
        device_signer: DeviceSigner | None = None,
    ) -> None:
        self.homeserver = homeserver.rstrip("/")
        self.user_id = user_id
        self.device_id = device_id
        self._access_token = access_token
        self._password = password
        self.store = KeyStore(store_dir)
        self._http = http
        self._device_signer = device_signer

    def __repr__(self) -> str:
        return f"CrossSigning(homeserver={self.homeserver!r}, user_id={self.user_id!r}, device_id={self.device_id!r})"

    async def ensure(self) -> CrossSigningStatus:
        """Make the server hold our keys and our device carry our SSK signature; does nothing when it already does."""
        async with self._session() as http:
            response = await self.query(http)
            device = self._device_keys(response)
            keys = self.store.load(self.user_id)
            created = False
            if keys is None or published_keys(response, self.user_id) != self._public_keys(keys):
                keys = await self._publish_keys(http, keys, response)
                created = True

            signatures: dict[str, dict[str, Any]] = {}
            if created or not _has_valid_signature(device, self.user_id, keys.self_signing_public):
                signatures[self.device_id] = signed_copy(_strip(device), self.user_id, keys.self_signing_key)
            # A newly published MSK went up already signed by the device (see _master_object).
            if self._device_signer is not None and not created and not self._master_signed_by_device(response, device):
                signatures[keys.master_public] = self._master_signed_by_device_object(keys)
            if signatures:
                await self._post(http, SIGNATURES_UPLOAD_ENDPOINT, {self.user_id: signatures})
                log.info("cross-signing: signed %s for %s", ", ".join(sorted(signatures)), self.user_id)
        if created:
            return CrossSigningStatus.CREATED
        # A missing device signature of the MSK alone also counts as signing the device: it is what makes the
        # device trust its own identity.
        return CrossSigningStatus.DEVICE_SIGNED if signatures else CrossSigningStatus.ALREADY_SIGNED

    async def device_is_signed(self) -> bool:
        """Whether the server shows our device signed by an SSK that our MSK signed (checked cryptographically)."""
        async with self._session() as http:
            response = await self.query(http)
        return verify_device_chain(response, self.user_id, self.device_id)

    async def query(self, http: aiohttp.ClientSession | None = None) -> dict[str, Any]:
        """The server's /keys/query answer for our own user (devices and cross-signing keys)."""
        body: dict[str, Any] = {"device_keys": {self.user_id: []}}
        if http is not None:
            return await self._post(http, QUERY_ENDPOINT, body)
        async with self._session() as session:
            return await self._post(session, QUERY_ENDPOINT, body)

    def _device_keys(self, response: dict[str, Any]) -> dict[str, Any]:
        device = ((response.get("device_keys") or {}).get(self.user_id) or {}).get(self.device_id)
        if not isinstance(device, dict) or _single_device_ed25519(device, self.device_id) is None:
            raise CrossSigningError(
                f"the homeserver has no keys for device {self.device_id} of {self.user_id}: "
                "upload the device keys (keys_upload) before cross-signing",
                endpoint=QUERY_ENDPOINT,
            )
        return device

    @staticmethod
    def _public_keys(keys: CrossSigningKeys) -> tuple[str, str, str]:
        return keys.master_public, keys.self_signing_public, keys.user_signing_public

    def _master_signed_by_device(self, response: dict[str, Any], device: dict[str, Any]) -> bool:
        master = (response.get("master_keys") or {}).get(self.user_id)
        device_key = _single_device_ed25519(device, self.device_id)
        if not isinstance(master, dict) or device_key is None:
            return False
        try:
            verify_signed_json(master, self.user_id, decode_verify_key_base64(ED25519, self.device_id, device_key))
        except (SignatureVerifyException, ValueError, TypeError):
            return False
        return True

    def _master_signed_by_device_object(self, keys: CrossSigningKeys) -> dict[str, Any]:
        assert self._device_signer is not None
        master = key_object(self.user_id, "master", keys.master_public)
        signature = self._device_signer(copy.deepcopy(master))
        master["signatures"] = {self.user_id: {f"{ED25519}:{self.device_id}": signature}}
        return master

    async def _publish_keys(
        self, http: aiohttp.ClientSession, stored: CrossSigningKeys | None, response: dict[str, Any]
    ) -> CrossSigningKeys:
        server_master, _, _ = published_keys(response, self.user_id)
        # Stored keys that never reached the server (or that it forgot) are published again: that keeps the
        # identity others may already have verified. Without keys of ours, or when the server holds others
        # (reset from another client), we cannot sign with keys whose private part we lack: a new identity.
        keys = stored if stored is not None and server_master is None else CrossSigningKeys.generate()
        # Saved before the upload: should the upload fail, the next start finds the server without keys and
        # publishes these; the other way round a crash would leave the server with keys nobody holds.
        self.store.save(self.user_id, keys)
        body = {
            "master_key": self._master_object(keys),
            "self_signing_key": signed_copy(
                key_object(self.user_id, "self_signing", keys.self_signing_public), self.user_id, keys.master_key
            ),
            "user_signing_key": signed_copy(
                key_object(self.user_id, "user_signing", keys.user_signing_public), self.user_id, keys.master_key
            ),
        }
        await self._post_with_auth(http, DEVICE_SIGNING_UPLOAD_ENDPOINT, body)
        log.info("cross-signing: published master key %s for %s", keys.master_public, self.user_id)
        return keys

    def _master_object(self, keys: CrossSigningKeys) -> dict[str, Any]:
        if self._device_signer is not None:
            return self._master_signed_by_device_object(keys)
        return key_object(self.user_id, "master", keys.master_public)

    async def _post_with_auth(self, http: aiohttp.ClientSession, endpoint: str, body: dict[str, Any]) -> None:
        """POST with user-interactive auth: first bare (servers allow a first setup without it, MSC3967), then
        with the password when the server asks for it."""
        status, answer = await self._raw_post(http, endpoint, body)
        if status == 200:
            return
        if status != 401 or "flows" not in answer:
            raise self._error(endpoint, status, answer)
        stages = {stage for flow in answer.get("flows") or [] for stage in flow.get("stages") or []}
        if self._password is None:
            raise CrossSigningError(
                f"{endpoint}: the homeserver requires the account's password to publish cross-signing keys "
                f"for {self.user_id} (no stored keys match the server's, or they were lost). The first start "
                "needs the password: set it in the configuration (an access token alone is not enough).",
                endpoint=endpoint,
                status=status,
                errcode=answer.get("errcode"),
            )
        if not any(flow.get("stages") == [PASSWORD_STAGE] for flow in answer.get("flows") or []):
            raise CrossSigningError(
                f"{endpoint}: the homeserver offers no password authentication to publish cross-signing keys "
                f"(stages: {', '.join(sorted(stages)) or 'none'}); reset the identity from a client, then restart",
                endpoint=endpoint,
                status=status,
            )
        auth = {
            "type": PASSWORD_STAGE,
            "identifier": {"type": "m.id.user", "user": self.user_id},
            "password": self._password,
            "session": answer.get("session"),
        }
        status, answer = await self._raw_post(http, endpoint, {**body, "auth": auth})
        if status != 200:
            raise self._error(endpoint, status, answer)

    async def _post(self, http: aiohttp.ClientSession, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        status, answer = await self._raw_post(http, endpoint, body)
        if status != 200:
            raise self._error(endpoint, status, answer)
        failures = answer.get("failures")
        if failures:
            # /keys/signatures/upload answers 200 with per-key failures; /keys/query lists unreachable servers.
            details = "; ".join(
                f"{key}: {(failure or {}).get('errcode', '?')}"
                for per_user in failures.values()
                for key, failure in (per_user.items() if isinstance(per_user, dict) else [])
            )
            raise CrossSigningError(f"{endpoint} reported failures: {details or failures}", endpoint=endpoint)
        return answer

    async def _raw_post(
        self, http: aiohttp.ClientSession, endpoint: str, body: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        headers = {"Authorization": f"Bearer {self._access_token}"}
        try:
            async with http.post(self.homeserver + endpoint, json=body, headers=headers, timeout=HTTP_TIMEOUT) as r:
                try:
                    answer = await r.json(content_type=None)
                except ValueError:
                    answer = None
                return r.status, answer if isinstance(answer, dict) else {}
        except (aiohttp.ClientError, TimeoutError) as e:
            raise CrossSigningError(
                f"{endpoint}: cannot reach the homeserver ({type(e).__name__})", endpoint=endpoint
            ) from e

    @staticmethod
    def _error(endpoint: str, status: int, answer: dict[str, Any]) -> CrossSigningError:
        errcode = answer.get("errcode")
        error = answer.get("error")
        message = f"{endpoint} failed: HTTP {status} {errcode or ''}".rstrip()
        if isinstance(error, str) and error:
            message += f": {error}"
        return CrossSigningError(message, endpoint=endpoint, errcode=errcode, status=status)

    @contextlib.asynccontextmanager
    async def _session(self) -> AsyncIterator[aiohttp.ClientSession]:
        if self._http is not None:
            yield self._http
            return
        async with aiohttp.ClientSession() as session:
            yield session


def _single_device_ed25519(device: dict[str, Any], device_id: str) -> str | None:
    public = (device.get("keys") or {}).get(f"{ED25519}:{device_id}")
    return public if isinstance(public, str) else None


__all__ = [
    "CrossSigning",
    "CrossSigningError",
    "CrossSigningKeys",
    "CrossSigningStatus",
    "DeviceSigner",
    "verify_device_chain",
]
