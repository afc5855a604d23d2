"""Round trip and burst rate of `!aide` on a real Synapse: odpe-bot against a minimal matrix-nio bot (the floor).

Run by hand (`python bench/matrix_round_trip.py`) or in CI as a smoke check (`--tries 5 --people 3`). Needs the
test extra (matrix-synapse). Prints, for each bot, the median time from sending `!aide` to seeing the answer in
the sender's client over N tries, and the rate of answers when P people each send M commands at once; then the
ratios odpe-bot / floor (latency: lower is better; rate: higher is better).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
from nio import (
    AsyncClient,
    AsyncClientConfig,
    InviteMemberEvent,
    MatrixRoom,
    RoomCreateResponse,
    RoomMessageNotice,
    RoomMessageText,
    RoomSendResponse,
    SyncResponse,
)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.synapse, outside the package

from bot.app import App
from bot.config import Config
from integrations.matrix import MatrixIntegration
from tests.synapse import RegisteredUser, Synapse

# Synapse sends at most 10 events per room and sync by default: a burst needs more, for every client here.
FILTER = {"room": {"timeline": {"limit": 200}}}


class FloorBot:
    """The least a Matrix bot can do: join when invited, answer every text message with one notice."""

    def __init__(self, synapse: Synapse, user: RegisteredUser) -> None:
        self.client = AsyncClient(synapse.url, user.user_id)
        self.client.restore_login(user.user_id, user.device_id, user.access_token)
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.client.sync(timeout=0, full_state=True)

        async def on_invite(room: MatrixRoom, event: InviteMemberEvent) -> None:
            if event.state_key == self.client.user_id:
                await self.client.join(room.room_id)

        async def on_message(room: MatrixRoom, event: RoomMessageText) -> None:
            if event.sender != self.client.user_id:
                response = await self.client.room_send(room.room_id, "m.room.message",
                                                       {"msgtype": "m.notice", "body": "ok"})
                if not isinstance(response, RoomSendResponse):
                    print(f"floor: an answer was refused: {response}", file=sys.stderr)

        self.client.add_event_callback(on_invite, InviteMemberEvent)  # type: ignore[arg-type]
        self.client.add_event_callback(on_message, RoomMessageText)  # type: ignore[arg-type]
        self.task = asyncio.create_task(self.client.sync_forever(timeout=30_000, sync_filter=FILTER))

    async def stop(self) -> None:
        if self.task:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        await self.client.close()


class OdpeBot:
    def __init__(self, synapse: Synapse, user: RegisteredUser, workdir: Path) -> None:
        self.config = Config(
            database={"url": f"sqlite+aiosqlite:///{workdir}/bench.db"},
            files={"dir": str(workdir / "files")},
            rate_limit={"per_minute": 0},
            matrix={
                "enabled": True,
                "homeserver": synapse.url,
                "user_id": user.user_id,
                "password": user.password,
                "store_dir": str(workdir / "store"),
                "pickle_key": "bench",
                "allowed_servers": [synapse.server_name],
            },
        )
        self.app = App(self.config)
        self.bot = MatrixIntegration(self.app)

    async def start(self) -> None:
        await self.app.migrate()
        await self.bot.start()

    async def stop(self) -> None:
        await self.bot.stop()
        await self.app.close()


class Sender:
    """A person in a DM with the bot; a background sync notes when each answer arrives."""

    def __init__(self, synapse: Synapse, user: RegisteredUser) -> None:
        self.client = AsyncClient(synapse.url, user.user_id, config=AsyncClientConfig(max_timeouts=3))
        self.client.restore_login(user.user_id, user.device_id, user.access_token)
        self.answers: asyncio.Queue[float] = asyncio.Queue()
        self.room = ""
        self.bot_id = ""
        self.task: asyncio.Task[None] | None = None

    async def open_dm(self, bot_id: str) -> None:
        self.bot_id = bot_id
        created = await self.client.room_create(is_direct=True, invite=[bot_id])
        assert isinstance(created, RoomCreateResponse), created
        self.room = created.room_id
        token = None
        while True:  # until the bot has joined
            response = await self.client.sync(timeout=1000, since=token)
            if isinstance(response, SyncResponse):
                token = response.next_batch
            room = self.client.rooms.get(self.room)
            if room is not None and bot_id in room.users:
                break
        self.task = asyncio.create_task(self._listen(token))

    async def _listen(self, token: str | None) -> None:
        while True:
            try:
                response = await self.client.sync(timeout=30_000, since=token, sync_filter=FILTER)
            except (OSError, TimeoutError, aiohttp.ClientError):
                continue  # a listener that dies would count answers as lost
            if not isinstance(response, SyncResponse):
                continue
            token = response.next_batch
            joined = response.rooms.join.get(self.room)
            for event in joined.timeline.events if joined else []:
                if isinstance(event, RoomMessageNotice) and event.sender == self.bot_id:
                    self.answers.put_nowait(time.perf_counter())

    async def ask(self, text: str = "!aide") -> None:
        """Send `text`, again if the homeserver refused it (a lost question is not a lost answer)."""
        for _attempt in range(5):
            response = await self.client.room_send(self.room, "m.room.message", {"msgtype": "m.text", "body": text})
            if isinstance(response, RoomSendResponse):
                return
            await asyncio.sleep(0.5)
        raise SystemExit(f"{self.client.user_id} could not send its question: {response}")

    async def held(self) -> tuple[int, int]:
        """The questions and answers the homeserver holds for this DM, to tell a lost answer from a missed one."""
        response = await self.client.room_messages(self.room, limit=1000)
        chunk = getattr(response, "chunk", [])
        questions = sum(isinstance(e, RoomMessageText) and e.sender == self.client.user_id for e in chunk)
        return questions, sum(isinstance(e, RoomMessageNotice) and e.sender == self.bot_id for e in chunk)

    async def close(self) -> None:
        if self.task:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        await self.client.close()


async def round_trip(sender: Sender) -> float:
    start = time.perf_counter()
    await sender.ask()
    return await asyncio.wait_for(sender.answers.get(), 60) - start


async def burst(senders: list[Sender], per_person: int) -> float:
    """Answers per second when everyone sends `per_person` commands at once."""
    start = time.perf_counter()
    await asyncio.gather(*(s.ask() for s in senders for _ in range(per_person)))
    last, came = start, 0
    for sender in senders:
        for _ in range(per_person):
            try:
                last = max(last, await asyncio.wait_for(sender.answers.get(), 120))
            except TimeoutError:
                held = [await s.held() for s in senders]
                raise TimeoutError(f"{came} of {len(senders) * per_person} answers came; the rooms hold "
                                   f"{sum(q for q, _a in held)} questions and {sum(a for _q, a in held)} answers "
                                   "in all") from None
            came += 1
    return len(senders) * per_person / (last - start)


class Contender:
    """A bot and the people who talk to it."""

    def __init__(self, name: str, bot: Any, senders: list[Sender]) -> None:
        self.name = name
        self.bot = bot
        self.senders = senders
        self.latencies: list[float] = []
        self.rates: list[float] = []

    @classmethod
    async def start(
        cls, synapse: Synapse, name: str, make_bot: Callable[[RegisteredUser], Any], people: int
    ) -> Contender:
        bot_user = await synapse.register(synapse.unique(f"bench-{name}"))
        bot = make_bot(bot_user)
        await bot.start()
        senders = [Sender(synapse, await synapse.register(synapse.unique("bench-person"))) for _ in range(people)]
        await asyncio.gather(*(s.open_dm(bot_user.user_id) for s in senders))
        for _ in range(3):  # warm-up: connections, caches, the person's profile
            await round_trip(senders[0])
        return cls(name, bot, senders)

    async def stop(self) -> None:
        await asyncio.gather(*(s.close() for s in self.senders))
        await self.bot.stop()

    def report(self) -> tuple[float, float]:
        median = statistics.median(self.latencies)
        rate = statistics.mean(self.rates)
        print(f"  {self.name:<9} median round trip {median * 1000:7.1f} ms   burst {rate:7.1f} answers/s")
        return median, rate


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tries", type=int, default=40)
    parser.add_argument("--people", type=int, default=10)
    parser.add_argument("--per-person", type=int, default=10)
    parser.add_argument("--bursts", type=int, default=3)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        synapse = Synapse(Path(tmp) / "synapse")
        await synapse.start()
        try:
            print(f"Synapse on {synapse.url}; {options.tries} round trips each; {options.people} people × "
                  f"{options.per_person} commands at once, {options.bursts} times each; unencrypted DMs; "
                  "the two bots measured in turn")
            floor = await Contender.start(synapse, "floor", lambda user: FloorBot(synapse, user), options.people)
            ours = await Contender.start(
                synapse, "odpe-bot", lambda user: OdpeBot(synapse, user, Path(tmp) / "odpe"), options.people
            )
            try:
                # In turn, so that whatever else the machine does weighs on both alike.
                for n in range(options.tries):
                    for contender in (floor, ours) if n % 2 else (ours, floor):
                        contender.latencies.append(await round_trip(contender.senders[0]))
                for n in range(options.bursts):
                    for contender in (floor, ours) if n % 2 else (ours, floor):
                        try:
                            contender.rates.append(await burst(contender.senders, options.per_person))
                        except TimeoutError as missing:
                            raise SystemExit(f"{contender.name}: the burst was not all answered ({missing})") from None
                floor_figures, our_figures = floor.report(), ours.report()
            finally:
                await ours.stop()
                await floor.stop()
        finally:
            await synapse.stop()
    print(f"  latency ratio odpe-bot/floor {our_figures[0] / floor_figures[0]:.2f} (target ≤ 1.3); "
          f"burst ratio {our_figures[1] / floor_figures[1]:.2f} (target ≥ 0.8)")


if __name__ == "__main__":
    asyncio.run(main())
