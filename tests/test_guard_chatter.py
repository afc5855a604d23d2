"""Chatter in a shared room is none of the bot's business: no answer, and it costs the speaker nothing."""

from __future__ import annotations

import io

from bot.app import App
from bot.messages import RoomKind
from bot.ratelimit import RateLimiter
from integrations.console import Console
from tests.chat import replies, say, unique_user


async def test_chatter_in_a_shared_room_does_not_use_up_the_speakers_commands(app: App) -> None:
    # Three commands in a row at most, and time stands still: only what the bot reads as a command counts.
    app.router.limiter = RateLimiter(per_minute=1, burst=3, clock=lambda: 0.0)
    user = unique_user()
    for text in ("bonjour à tous", "on se voit jeudi ?", "merci pour le compte rendu", "à jeudi", "bonne journée"):
        assert await replies(app, text, user=user, room=RoomKind.GROUP) == []
    assert "Commandes d'odpe-bot" in await say(app, "!aide", user=user, room=RoomKind.GROUP)


async def test_the_console_says_nothing_to_chatter_in_a_room_it_does_not_know(app: App) -> None:
    out = io.StringIO()
    console = Console(app, out=out)
    await console.run_lines(["/room cafe"])
    assert out.getvalue() == "Vous êtes dans le salon « cafe » (salon partagé).\n\n"
    await console.run_lines(["bonjour tout le monde", "quelqu'un a le rapport de l'Allier ?"])
    assert out.getvalue() == "Vous êtes dans le salon « cafe » (salon partagé).\n\n"  # nothing more
    await console.run_lines(["!aide"])
    assert "Commandes d'odpe-bot" in out.getvalue()
