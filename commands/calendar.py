"""The shared calendar in chat: `evenement` creates, edits or cancels an event, `agenda` lists what is coming,
`abonnement` gives the links that calendar apps subscribe to."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot import lookup, notify
from bot.context import Context
from bot.dialogs import Flow
from bot.errors import UserError
from bot.forms import ALL_DAY, Field, Form, Invalid, Kind
from bot.glossary import Term, TermList
from bot.i18n import _, language
from bot.messages import Reply, RoomKind
from bot.registry import Arg, Role, Usage, Where
from bot.rich import Bullets, Heading, Para, Span, code, fill
from commands import command, registry
from commands.documents import start_dialog
from storage import departments
from storage.ids import ReadableId
from storage.models import Event
from storage.repositories import Repos

AGENDA_DAYS = 60
SCOPES = TermList("event_scopes", (
    Term("network", _("Tout le réseau")),
    Term("department", _("Mon département")),
))

EVENT_FORM = Form(
    name="event",
    title=_("Un événement dans l'agenda partagé"),
    fields=(
        Field("title", _("Titre de l'événement"), max_length=200),
        Field("date", _("Date"), Kind.DATE, help=_("Au format JJ/MM/AAAA.")),
        Field("start", _("Heure de début"), Kind.TIME, help=_("Par exemple 14h30, ou « journée »."),
              ),
        Field("end", _("Fin"), Kind.END, required=False,
              help=_("Heure de fin (16h30) ou durée (2h, 90 min) ; « - » : une heure, ou la journée.")),
        Field("place", _("Lieu ou lien de visioconférence"), required=False, max_length=300),
        Field("description", _("Description"), required=False, max_length=2000),
        Field("scope", _("Pour qui ?"), Kind.CHOICE, choices=SCOPES),
    ),
)


def event_id(event: Event) -> str:
    return str(ReadableId("E", event.number))


def times(answers: dict[str, Any], tz: ZoneInfo) -> tuple[datetime, datetime, bool]:
    """Start and end in UTC from the answers; a whole-day event runs from its local midnight to the next."""
    day = date.fromisoformat(answers["date"])
    if answers["start"] == ALL_DAY:
        start = datetime.combine(day, time(0), tz)
        return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC), True
    hour, minute = (int(x) for x in answers["start"].split(":"))
    start = datetime.combine(day, time(hour, minute), tz)
    end_spec = answers.get("end") or "duration:60"
    kind, amount = end_spec.split(":", 1)
    if kind == "duration":
        end = start + timedelta(minutes=int(amount))
    else:
        end_hour, end_minute = (int(x) for x in amount.split(":"))
        end = datetime.combine(day, time(end_hour, end_minute), tz)
        if end <= start:
            raise Invalid(_("La fin ({end}) est avant le début ({start}) : pour une durée, écrivez « durée 1h30 » "
                            "(« modifier 4 »).").format(end=amount, start=answers["start"]))
    return start.astimezone(UTC), end.astimezone(UTC), False


def when(event: Event, tz: ZoneInfo) -> str:
    start = event.starts_at.astimezone(tz)
    if event.all_day:
        return start.strftime("%d/%m/%Y") + " " + str(_("(journée)"))
    end = event.ends_at.astimezone(tz) if event.ends_at else None
    text = start.strftime("%d/%m/%Y %H:%M")
    return text + (end.strftime("–%H:%M") if end else "")


async def save_event(ctx: Context, answers: dict[str, Any], context: dict[str, Any]) -> Reply:
    tz = ZoneInfo(ctx.config.timezone)
    starts, ends, all_day = times(answers, tz)
    scope = answers["scope"]
    if scope == "network" and not (ctx.has(Role.REVIEWER) or ctx.has(Role.ADMIN)):
        raise Invalid(_("Les événements de tout le réseau sont créés par l'ONPE ; choisissez « Mon département » "
                        "(« modifier 7 »)."))
    department = ctx.person.department if scope == "department" else None
    if scope == "department" and not department:
        raise Invalid(_("Indiquez d'abord votre département (« annuler », puis « profil departement 03 »)."))
    place = answers.get("place") or None
    url = place if place and place.lower().startswith(("http://", "https://")) else None
    values = dict(title=answers["title"], starts_at=starts, ends_at=ends, all_day=all_day,
                  location=None if url else place, url=url, description=answers.get("description"),
                  scope=scope, department=department)
    if context.get("event"):
        event = await find_event(ctx, context["event"])
        for name, value in values.items():
            setattr(event, name, value)
        event.sequence += 1
        event.updated_at = ctx.now
        done = _("Événement {id} modifié : les agendas abonnés le mettront à jour.")
    else:
        event = await ctx.repo.events.create(created_by_id=ctx.person.id, **values)
        done = _("Événement {id} ajouté à l'agenda.")
    await ctx.repo.audit.append(event_id(event), "event.save", actor_id=ctx.person.id)
    return Reply.success(done.format(id=event_id(event)), when(event, tz) + " — " + event.title)


registry.add_flow("event", Flow(EVENT_FORM, save_event))


async def find_event(ctx: Context, text: str) -> Event:
    sentence = _("« {v} » n'est pas un identifiant d'événement (ex. E-4).")
    return await lookup.find(text, ("E",), sentence, ctx.repo.events.get)


def may_change(ctx: Context, event: Event) -> bool:
    return event.created_by_id == ctx.person.id or ctx.has(Role.REVIEWER) or ctx.has(Role.ADMIN)


def answers_of(event: Event, tz: ZoneInfo) -> dict[str, Any]:
    start = event.starts_at.astimezone(tz)
    minutes = int(((event.ends_at or event.starts_at) - event.starts_at).total_seconds() // 60)
    return {
        "title": event.title, "date": start.date().isoformat(),
        "start": ALL_DAY if event.all_day else start.strftime("%H:%M"),
        "end": None if event.all_day else f"duration:{minutes}",
        "place": event.url or event.location, "description": event.description, "scope": event.scope,
    }


@command(
    "evenement",
    aliases=["event"],
    family="calendar",
    help=_("Ajoute un événement à l'agenda partagé, ou le modifie, ou l'annule."),
    args=[Arg("action", _("modifier ou annuler"), required=False), Arg("id", _("ex. E-4"), required=False)],
    usages=[Usage("modifier E-n", _("change un événement (le vôtre, ou tous pour l'ONPE)")),
            Usage("annuler E-n", _("l'annule : il reste dans les agendas, barré"))],
    examples=["evenement", "evenement modifier E-4", "evenement annuler E-4"],
)
async def event(ctx: Context, action: str | None, id: str | None) -> Reply | list[Reply]:
    if action is None:
        return await start_dialog(ctx, "event")
    if id is None:
        raise UserError(_("Indiquez l'événement, ex. « evenement {a} E-4 ».").format(a=action))
    found = await find_event(ctx, id)
    if not may_change(ctx, found):
        raise UserError(_("Seuls la personne qui a créé {id} et l'ONPE peuvent le changer.").format(id=id.upper()))
    verb = action.lower()
    if verb in ("annuler", "cancel"):
        if found.cancelled:
            raise UserError(_("{id} est déjà annulé.").format(id=event_id(found)))
        found.cancelled = True
        found.sequence += 1
        found.updated_at = ctx.now
        await ctx.repo.audit.append(event_id(found), "event.cancel", actor_id=ctx.person.id)
        return Reply.success(str(_("{id} est annulé ; les agendas abonnés l'afficheront comme tel.")).format(
            id=event_id(found)))
    if verb in ("modifier", "edit"):
        if ctx.message.room_kind is not RoomKind.DIRECT:
            raise UserError(_("Les modifications se font en message direct avec le bot."))
        if await ctx.dialog.active(ctx) is not None:
            raise UserError(_("Terminez d'abord votre saisie en cours (ou « annuler »)."))
        tz = ZoneInfo(ctx.config.timezone)
        return await ctx.dialog.start(ctx, "event", {"event": event_id(found)}, answers=answers_of(found, tz))
    raise UserError(_("Action inconnue : « {v} ». Choisissez modifier ou annuler.").format(v=action))


@command(
    "agenda",
    aliases=["calendar"],
    family="calendar",
    help=_("Les événements à venir : ceux du réseau et de votre département."),
    examples=["agenda"],
)
async def agenda(ctx: Context) -> Reply:
    tz = ZoneInfo(ctx.config.timezone)
    coming = await ctx.repo.events.coming(ctx.now, ctx.now + timedelta(days=AGENDA_DAYS), ctx.person.department)
    if not coming:
        return Reply.text(str(_("Rien dans l'agenda pour les {n} prochains jours.")).format(n=AGENDA_DAYS),
                          fill(str(_("Pour en ajouter : {cmd}")), cmd=code(f"{ctx.prefix}evenement")))
    lines: list[list[str | Span]] = []
    for item in coming:
        where = item.url or item.location or ""
        dept = departments.get(item.department) if item.department else None
        line: list[str | Span] = [f"{event_id(item)} — {when(item, tz)} — {item.title}"]
        if dept:
            line.append(f" ({dept.code} {dept.name})")
        if where:
            line.append(f" — {where}")
        lines.append(line)
    return Reply.card([Heading.of(str(_("Agenda des {n} prochains jours")).format(n=AGENDA_DAYS)),
                       Bullets.of(lines)])


FEED_SCOPES = {"reseau": "network", "network": "network", "departement": "department", "department": "department"}


@command(
    "abonnement",
    aliases=["subscribe"],
    family="calendar",
    help=_("Le lien à ajouter dans votre agenda (Google, Outlook, Apple, Thunderbird) pour suivre les événements."),
    args=[Arg("quoi", _("reseau, departement NN ou revoquer"), required=False),
          Arg("departement", _("code du département"), required=False)],
    usages=[Usage("", _("votre agenda : le réseau et votre département")),
            Usage("reseau", _("les événements de tout le réseau")),
            Usage("departement NN", _("les événements d'un département")),
            Usage("revoquer", _("désactive tous vos liens"))],
    examples=["abonnement", "abonnement departement 03", "abonnement revoquer"],
    where=Where.DIRECT,
)
async def subscribe(ctx: Context, quoi: str | None, departement: str | None) -> Reply:
    if quoi is not None and quoi.lower() in ("revoquer", "révoquer", "revoke"):
        count = 0
        for scope in ("personal", "network", "department"):
            count += await ctx.repo.feeds.revoke(ctx.person.id, scope)
        return Reply.success(str(_("{n} lien(s) désactivé(s) : les agendas abonnés ne recevront plus rien.")).format(
            n=count))
    scope, dept = "personal", None
    if quoi is not None:
        scope = FEED_SCOPES.get(quoi.lower(), "")
        if not scope:
            raise UserError(_("« {v} » : choisissez reseau, departement NN ou revoquer.").format(v=quoi))
        if scope == "department":
            dept = departments.normalize_code(departement or "") or ctx.person.department
            if not dept:
                raise UserError(_("Indiquez le département, ex. « abonnement departement 03 »."))
    raw = await ctx.repo.feeds.issue(ctx.person.id, scope, dept)
    link = f"{ctx.config.http.public_url}/ical/{raw}.ics"
    webcal = "webcal://" + link.split("://", 1)[1]
    return Reply.card([
        Para.of(str(_("Votre lien d'abonnement (personnel : ne le partagez pas) :"))),
        Para.of(code(link)),
        Para.of(fill(str(_("Ou, pour l'ouvrir directement dans votre agenda : {link}")), link=code(webcal))),
        Para.of(fill(str(_("Pour le désactiver : {cmd}")), cmd=code(f"{ctx.prefix}abonnement revoquer"))),
    ])


# Reminders at the offsets of `calendar.reminders`: network events in the announcement rooms, a
# département's events to its referents. Each is queued once (its outbox key names the event, its start and
# the offset), so a restart sends what was missed and nothing twice; an edit that moves the event gets new
# reminders; a cancelled event gets none.
def reminder(event: Event, tz: ZoneInfo) -> Reply:
    start = event.starts_at.astimezone(tz)
    when = start.strftime("%d/%m/%Y") if event.all_day else start.strftime("%d/%m/%Y %H:%M")
    lines = [str(_("Rappel : {title}, le {when}.")).format(title=event.title, when=when)]
    place = event.url or event.location
    if place:
        lines.append(str(_("Lieu : {place}")).format(place=place))
    return Reply.text(*lines)


def _due(event: Event, offsets: list[timedelta], now: datetime) -> list[timedelta]:
    """The offsets whose moment has come and the event has not begun."""
    return [o for o in offsets if event.starts_at - o <= now < event.starts_at]


async def send_reminders(
    repo: Repos, platforms: tuple[str, ...], offsets: list[timedelta], now: datetime, tz: ZoneInfo, lang: str
) -> int:
    if not offsets:
        return 0
    horizon = now + max(offsets)
    events = await repo.events.starting_between(now, horizon)
    queued = 0
    for event in events:
        for offset in _due(event, offsets, now):
            key = f"remind:{event.uid}:{event.starts_at.isoformat()}:{int(offset.total_seconds())}"
            with language(lang):
                reply = reminder(event, tz)
            if event.scope == "network" or not event.department:
                for platform in platforms:
                    queued += bool(await notify.send_to(repo, platform, notify.ANNOUNCE, reply, f"{platform}:{key}"))
                continue
            for person in await repo.people.in_department(event.department):
                target = notify.dm(person.platform_user_id)
                queued += bool(await notify.send_to(repo, person.platform, target, reply, f"{key}:{person.id}"))
    return queued


DIGEST_EVENTS_DAYS = 14


async def send_digest(
    repo: Repos, platforms: tuple[str, ...], now: datetime, tz: ZoneInfo, lang: str, weekday: int, hour: int
) -> bool:
    """Once a week, in the announcement rooms: what was archived and published in the last seven days, and
    the network's events of the next two weeks. Its outbox key is the ISO week: sent once, even when the
    hour was missed because the bot was down."""
    local = now.astimezone(tz)
    if (local.weekday(), local.hour) < (weekday, hour):
        return False
    year, week, _day = local.isocalendar()
    decided = await repo.items.decided_since(("archived", "published"), now - timedelta(days=7))
    coming = await repo.events.coming(now, now + timedelta(days=DIGEST_EVENTS_DAYS), None)
    with language(lang):
        blocks: list[Any] = [Heading.of(str(_("La semaine du réseau")))]
        if decided:
            blocks.append(Para.of(str(_("Nouveaux documents et pratiques :"))))
            blocks.append(Bullets.of([f"{i.readable_id} — {i.title}" for i in decided]))
        if coming:
            blocks.append(Para.of(str(_("À venir :"))))
            blocks.append(Bullets.of([f"{event_id(e)} — {when(e, tz)} — {e.title}" for e in coming]))
        if not decided and not coming:
            blocks.append(Para.of(str(_("Rien de nouveau cette semaine."))))
        reply = Reply.card(blocks)
    sent = False
    for platform in platforms:
        key = f"{platform}:digest:{year}-W{week:02d}"
        sent = await notify.send_to(repo, platform, notify.ANNOUNCE, reply, key) or sent
    return sent
