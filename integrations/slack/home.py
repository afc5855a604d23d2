"""The bot's App Home in Slack: the person's submissions with their states, and the coming events."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot import review
from bot.config import Config
from bot.i18n import _
from commands.calendar import AGENDA_DAYS, event_id, when
from integrations.slack.render import escape, header, section
from storage.models import Person
from storage.repositories import Repos

MAX_LINES = 40


async def home_view(repo: Repos, person: Person, config: Config, now: datetime) -> dict[str, Any]:
    tz = ZoneInfo(config.timezone)
    items = await repo.items.by_submitter(person.id)
    events = await repo.events.coming(now, now + timedelta(days=AGENDA_DAYS), person.department)
    blocks: list[dict[str, Any]] = [header(str(_("Vos soumissions")))]
    if items:
        lines = [f"*{i.readable_id}* — {escape(i.title)} : {escape(review.status_label(i.status))}" for i in items]
        blocks.append(section("\n".join(lines[:MAX_LINES])))
    else:
        blocks.append(section(escape(str(_("Vous n'avez encore rien soumis. Pour commencer : {cmd}")).format(
            cmd="/odpe soumettre"))))
    blocks.append(header(str(_("Agenda des {n} prochains jours")).format(n=AGENDA_DAYS)))
    if events:
        lines = [f"*{event_id(e)}* — {escape(when(e, tz))} — {escape(e.title)}" for e in events]
        blocks.append(section("\n".join(lines[:MAX_LINES])))
    else:
        blocks.append(section(escape(str(_("Rien dans l'agenda pour les {n} prochains jours.")).format(
            n=AGENDA_DAYS))))
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": escape(str(_(
        "Tapez {cmd} pour la liste des commandes.")).format(cmd="/odpe aide"))}]})
    return {"type": "home", "blocks": blocks}
