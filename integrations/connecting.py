"""What every platform does to connect: try, and on failure wait longer each time, unless the failure is one
that waiting cannot cure (a refused token or login), which is said once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

MAX_BACKOFF = 60.0


async def pause(stop: asyncio.Event, seconds: float) -> None:
    """Wait `seconds`, or less if `stop` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


def longer(backoff: float) -> float:
    return min(backoff * 2, MAX_BACKOFF)


async def keep_trying(
    connect: Callable[[], Awaitable[None]], stop: asyncio.Event, *, name: str, fatal: type[Exception],
    unreachable: str, report: Callable[[str], None],
) -> bool:
    """Call `connect` until it works (True), `fatal` is raised or `stop` is set (False); each failure is given to
    `report`, for the health check."""
    backoff = 1.0
    while not stop.is_set():
        try:
            await connect()
            return True
        except fatal as exc:
            report(str(exc))
            log.error("%s: %s", name, exc)
            return False
        except Exception as exc:
            report(f"{unreachable} ({type(exc).__name__})")
            log.warning("%s: cannot connect (%s: %s); retrying in %.0f s", name, type(exc).__name__, exc, backoff)
            await pause(stop, backoff)
            backoff = longer(backoff)
    return False
