"""A real Synapse homeserver on loopback for end-to-end tests: the `Synapse` class and its fixtures (a pytest plugin).

Enabled by `pytest_plugins = ["tests.synapse"]` in tests/conftest.py (or `-p tests.synapse`). Synapse runs as a
subprocess of the virtualenv's Python (`python -m synapse.app.homeserver`), on a SQLite database under pytest's
temporary directory, listening on 127.0.0.1 only, with no federation. Without matrix-synapse installed (the `test`
extra), every test that asks for these fixtures is skipped.

- `synapse` (function scope): the session's homeserver, with relaxed rate limits. It is started once per session and
  stopped at its end; a test may `stop()`/`start()`/`restart()` it, and the next test gets it running again.
- `strict_synapse` (function scope): another homeserver, started only if a test asks for it, whose message rate limit
  is strict (0.5 event/s, burst 2), so that a user sending quickly gets 429 M_LIMIT_EXCEEDED with `retry_after_ms`
  (and a Retry-After header). Every other rate limit is relaxed. That limiter also counts room creations and state
  events (a user who has just created a room has one message left before a 429), and server admins are not exempt.

Their data lives for the whole session: register users under `synapse.unique("alice")` rather than a fixed localpart.
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import hashlib
import hmac
import importlib.util
import itertools
import json
import re
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

SERVER_NAME = "odpe.test"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
LOG_TAIL_LINES = 40

RateLimit = dict[str, float]
RELAXED: RateLimit = {"per_second": 10000, "burst_count": 10000}
STRICT_MESSAGES: RateLimit = {"per_second": 0.5, "burst_count": 2}

# Localparts Synapse accepts for new users (historical ones may be wider, new ones may not).
_LOCALPART = re.compile(r"[a-z0-9._=/-]+")

# Processes still running if pytest dies without running the fixtures' finalizers (e.g. a second Ctrl-C):
# no test homeserver may outlive the session and keep its port.
_LIVE_PROCESSES: set[subprocess.Popen[bytes]] = set()


@atexit.register
def _kill_leftover_processes() -> None:
    for process in list(_LIVE_PROCESSES):
        if process.poll() is None:
            process.kill()


class SynapseError(RuntimeError):
    """Synapse did not start, or refused a request the fixture makes on a test's behalf."""


class UserAlreadyRegistered(SynapseError):
    """The localpart is already taken on this homeserver (whose data lives for the whole test session)."""


@dataclass(frozen=True)
class RegisteredUser:
    """A user created with the shared-secret registration API, with the access token of its first device."""

    user_id: str
    password: str
    access_token: str
    device_id: str
    localpart: str


def _rate_limits(messages: RateLimit) -> dict[str, Any]:
    """Every `rc_*` setting of Synapse 1.163 (synapse/config/ratelimiting.py), relaxed except messages."""
    return {
        "rc_message": messages,
        "rc_registration": RELAXED,
        "rc_registration_token_validity": RELAXED,
        "rc_login": {"address": RELAXED, "account": RELAXED, "failed_attempts": RELAXED},
        "rc_admin_redaction": RELAXED,
        "rc_joins": {"local": RELAXED, "remote": RELAXED},
        "rc_joins_per_room": RELAXED,
        "rc_key_requests": RELAXED,
        "rc_3pid_validation": RELAXED,
        "rc_invites": {"per_room": RELAXED, "per_user": RELAXED, "per_issuer": RELAXED},
        "rc_third_party_invite": RELAXED,
        "rc_media_create": RELAXED,
        "rc_presence": {"per_user": RELAXED},
        "rc_delayed_event_mgmt": RELAXED,
        "rc_room_creation": RELAXED,
        "rc_reports": RELAXED,
        "rc_user_directory": RELAXED,
        "rc_profile": RELAXED,
        # No federation listener, but these are read all the same; keep them out of the way.
        "rc_federation": {"sleep_limit": 10000, "reject_limit": 10000, "concurrent": 10000},
        "federation_rr_transactions_per_room_per_second": 10000,
    }


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return f"({path.name} does not exist)"
    return "\n".join(text.splitlines()[-lines:]) or f"({path.name} is empty)"


class Synapse:
    """One Synapse homeserver in its own data directory, on a fixed loopback port kept across restarts."""

    def __init__(
        self,
        data_dir: Path,
        *,
        server_name: str = SERVER_NAME,
        messages_rate_limit: RateLimit = RELAXED,
        python: str = sys.executable,
    ) -> None:
        self.data_dir = data_dir
        self.server_name = server_name
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.registration_secret = secrets.token_urlsafe(32)
        self.config_path = data_dir / "homeserver.yaml"
        self.server_log = data_dir / "homeserver.log"
        # Synapse's own stdout/stderr: what it prints before its logging is set up (e.g. config errors).
        self.console_log = data_dir / "console.log"
        self.start_durations: list[float] = []
        self._messages_rate_limit = messages_rate_limit
        self._python = python
        self._process: subprocess.Popen[bytes] | None = None
        self._users: dict[str, RegisteredUser] = {}
        self._counter = itertools.count(1)
        self._admin: RegisteredUser | None = None
        self._admin_lock = asyncio.Lock()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    async def start(self) -> None:
        """Start Synapse (if it is not running) and return once it answers `/health`."""
        if self.running:
            return
        await self.stop()  # forgets a process that died on its own
        self._write_config()
        began = time.monotonic()
        with self.console_log.open("ab") as console:
            self._process = subprocess.Popen(
                [self._python, "-m", "synapse.app.homeserver", "--config-path", str(self.config_path)],
                cwd=self.data_dir,
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
            )
        _LIVE_PROCESSES.add(self._process)
        try:
            await self._wait_until_ready()
        except BaseException:
            await self.stop()
            raise
        self.start_durations.append(time.monotonic() - began)

    async def stop(self) -> None:
        """Stop Synapse and wait until it has exited, so that its port refuses connections."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                await asyncio.to_thread(process.wait, STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                await asyncio.to_thread(process.wait)
        _LIVE_PROCESSES.discard(process)

    async def restart(self) -> None:
        """Stop then start again, on the same port with the same data (users, tokens, rooms)."""
        await self.stop()
        await self.start()

    def unique(self, localpart_prefix: str) -> str:
        """A localpart no one has used on this homeserver yet, e.g. "alice-3" for "alice"."""
        if not _LOCALPART.fullmatch(localpart_prefix):
            raise ValueError(f"{localpart_prefix!r} is not a valid localpart prefix (use a-z, 0-9, ._=/-)")
        while True:
            candidate = f"{localpart_prefix}-{next(self._counter)}"
            if candidate not in self._users:
                return candidate

    async def register(self, localpart: str, password: str | None = None, admin: bool = False) -> RegisteredUser:
        """Create a user with the shared-secret admin registration API and return it with its access token."""
        if localpart in self._users:
            raise UserAlreadyRegistered(self._already_registered_message(localpart))
        password = password if password is not None else secrets.token_urlsafe(18)
        endpoint = f"{self.url}/_synapse/admin/v1/register"
        async with httpx.AsyncClient(timeout=30) as client:
            nonce_response = await client.get(endpoint)
            self._raise_for_status(nonce_response, "getting a registration nonce")
            nonce = nonce_response.json()["nonce"]
            # The MAC recipe of https://element-hq.github.io/synapse/latest/admin_api/register_api.html
            mac = hmac.new(self.registration_secret.encode(), digestmod=hashlib.sha1)
            for part in (nonce, localpart, password):
                mac.update(part.encode())
                mac.update(b"\x00")
            mac.update(b"admin" if admin else b"notadmin")
            response = await client.post(
                endpoint,
                json={
                    "nonce": nonce,
                    "username": localpart,
                    "password": password,
                    "admin": admin,
                    "mac": mac.hexdigest(),
                },
            )
        if response.status_code == 400 and '"M_USER_IN_USE"' in response.text:
            raise UserAlreadyRegistered(self._already_registered_message(localpart))
        self._raise_for_status(response, f"registering {localpart!r}")
        body = response.json()
        user = RegisteredUser(
            user_id=body["user_id"],
            password=password,
            access_token=body["access_token"],
            device_id=body["device_id"],
            localpart=localpart,
        )
        self._users[localpart] = user
        return user

    async def admin_token(self) -> str:
        """The access token of a server admin, registered the first time it is asked for."""
        async with self._admin_lock:
            if self._admin is None:
                self._admin = await self.register(self.unique("admin"), admin=True)
            return self._admin.access_token

    def _already_registered_message(self, localpart: str) -> str:
        return (
            f"@{localpart}:{self.server_name} is already registered on the test homeserver, whose users live for "
            f"the whole session; register synapse.unique({localpart!r}) instead"
        )

    def _raise_for_status(self, response: httpx.Response, doing: str) -> None:
        if response.status_code != 200:
            raise SynapseError(f"Synapse answered {response.status_code} when {doing}: {response.text}")

    def _write_config(self) -> None:
        # Written once: a restart must find the same signing key, secrets and database.
        if self.config_path.exists():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        signing_key = self.data_dir / f"{self.server_name}.signing.key"
        # The format Synapse's --generate-keys writes (an unpadded base64 ed25519 seed), without running Synapse
        # once more just for that.
        seed = base64.b64encode(secrets.token_bytes(32)).decode().rstrip("=")
        signing_key.write_text(f"ed25519 a_{secrets.token_hex(2)} {seed}\n", encoding="utf-8")
        log_config = self.data_dir / "log.config.yaml"
        log_config.write_text(
            json.dumps(
                {
                    "version": 1,
                    "formatters": {
                        "precise": {
                            "format": "%(asctime)s - %(name)s - %(lineno)d - %(levelname)s - %(request)s - %(message)s"
                        }
                    },
                    "handlers": {
                        "file": {
                            "class": "logging.FileHandler",
                            "formatter": "precise",
                            "filename": str(self.server_log),
                            "encoding": "utf8",
                        }
                    },
                    "root": {"level": "WARNING", "handlers": ["file"]},
                    "disable_existing_loggers": False,
                },
                indent=2,
            ),
            encoding="utf-8",
        )
        config: dict[str, Any] = {
            "server_name": self.server_name,
            "public_baseurl": f"{self.url}/",
            "listeners": [
                {
                    "port": self.port,
                    "bind_addresses": ["127.0.0.1"],
                    "type": "http",
                    "tls": False,
                    "x_forwarded": False,
                    "resources": [{"names": ["client"], "compress": False}],
                }
            ],
            "database": {"name": "sqlite3", "args": {"database": str(self.data_dir / "homeserver.db")}},
            "log_config": str(log_config),
            "media_store_path": str(self.data_dir / "media_store"),
            "max_upload_size": "50M",
            "signing_key_path": str(signing_key),
            "registration_shared_secret": self.registration_secret,
            "macaroon_secret_key": secrets.token_urlsafe(32),
            "form_secret": secrets.token_urlsafe(32),
            "enable_registration": False,
            "report_stats": False,
            "enable_metrics": False,
            "url_preview_enabled": False,
            "trusted_key_servers": [],
            "suppress_key_server_warning": True,
            **_rate_limits(self._messages_rate_limit),
        }
        # JSON is YAML, and spares the plugin a YAML dependency.
        self.config_path.write_text(json.dumps(config, indent=2), encoding="utf-8")

    async def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        async with httpx.AsyncClient(timeout=2) as client:
            while True:
                assert self._process is not None
                if self._process.poll() is not None:
                    raise SynapseError(f"Synapse exited with code {self._process.returncode}\n{self._logs_tail()}")
                try:
                    if (await client.get(f"{self.url}/health")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass  # not listening yet
                if time.monotonic() > deadline:
                    raise SynapseError(
                        f"Synapse did not answer /health within {START_TIMEOUT:.0f} s\n{self._logs_tail()}"
                    )
                await asyncio.sleep(0.1)

    def _logs_tail(self) -> str:
        return "\n".join(f"--- {path} ---\n{_tail(path)}" for path in (self.console_log, self.server_log))


def _require_synapse() -> None:
    try:
        found = importlib.util.find_spec("synapse.app.homeserver") is not None
    except ImportError:
        found = False
    if not found:
        pytest.skip("matrix-synapse is not installed: `pip install -e '.[test]'` to run the end-to-end tests")


_SERVERS = pytest.StashKey[list[Synapse]]()


def _started(config: pytest.Config, server: Synapse) -> None:
    config.stash.setdefault(_SERVERS, []).append(server)


@pytest.fixture(scope="session")
async def _synapse_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Synapse]:
    _require_synapse()
    server = Synapse(tmp_path_factory.mktemp("synapse"))
    _started(request.config, server)
    try:
        await server.start()
        yield server
    finally:
        await server.stop()


@pytest.fixture(scope="session")
async def _strict_synapse_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Synapse]:
    _require_synapse()
    server = Synapse(tmp_path_factory.mktemp("strict_synapse"), messages_rate_limit=STRICT_MESSAGES)
    _started(request.config, server)
    try:
        await server.start()
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def synapse(_synapse_server: Synapse) -> Synapse:
    # A previous test may have stopped it (to test recovery) and not started it again.
    await _synapse_server.start()
    return _synapse_server


@pytest.fixture
async def strict_synapse(_strict_synapse_server: Synapse) -> Synapse:
    await _strict_synapse_server.start()
    return _strict_synapse_server


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    for server in config.stash.get(_SERVERS, []):
        if server.start_durations:
            durations = ", ".join(f"{seconds:.1f} s" for seconds in server.start_durations)
            terminalreporter.write_line(f"synapse {server.url}: started {len(server.start_durations)}x ({durations})")
