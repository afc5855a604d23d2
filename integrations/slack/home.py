"""The bot's App Home in Slack: the person's submissions with their states, and the coming events, as the
`statut` and `agenda` commands give them."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.config import Config
from bot.i18n import _
from commands.calendar import coming_card
from commands.documents import submissions
from integrations.slack.render import Renderer, escape
from storage.models import Person
from storage.repositories import Repos

HOME_BLOCKS = 100  # Slack's limit for a Home tab


async def home_view(repo: Repos, person: Person, config: Config, now: datetime, renderer: Renderer) -> dict[str, Any]:
    prefix = config.command_prefix
    blocks = renderer.blocks(submissions(await repo.items.by_submitter(person.id), prefix))
    coming = await coming_card(repo, person.department, now, ZoneInfo(config.timezone), prefix)
    blocks += renderer.blocks(coming)
    blocks = blocks[: HOME_BLOCKS - 1]  # a Home holds 100 blocks: the sections hold 3000 characters each, enough
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": escape(str(_(
        "Tapez {cmd} pour la liste des commandes.")).format(cmd="/odpe aide"))}]})
    return {"type": "home", "blocks": blocks}
