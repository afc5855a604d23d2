"""The program's one clock: the time rows are stamped with, messages fall due, dialogs expire and events start.

Everything that asks what time it is for the business asks a `Clock`: the database stamps rows with it, the
router gives it to commands, the outbox, the jobs, the feeds and the adapters read it. A test sets it like a
watch (`set`, `freeze`, `advance`), so that nothing depends on the day the tests run. Durations measured for
timeouts, rate limits and health use the monotonic clock instead: they are not dates.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    """Aware UTC time, read from the system unless it was set; one instance is shared by the whole app."""

    def __init__(self) -> None:
        self._offset = timedelta(0)
        self._frozen: datetime | None = None

    def now(self) -> datetime:
        if self._frozen is not None:
            return self._frozen
        return datetime.now(UTC) + self._offset

    def __call__(self) -> datetime:
        return self.now()

    def set(self, moment: datetime) -> None:
        """From now on the clock reads `moment`, and runs on from there as a watch would."""
        _check_aware(moment)
        self._frozen = None
        self._offset = moment - datetime.now(UTC)

    def freeze(self, moment: datetime | None = None) -> None:
        """The clock stops, at `moment` or at what it reads now, until it is set or advanced."""
        if moment is not None:
            _check_aware(moment)
        self._frozen = (moment or self.now()).astimezone(UTC)

    def advance(self, delta: timedelta) -> None:
        """Move the clock on by `delta`, stopped or running."""
        if self._frozen is not None:
            self._frozen += delta
        else:
            self._offset += delta


def _check_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment!r}: a clock is set to an aware moment")
