"""The shared calendar in chat: `evenement` creates, edits or cancels an event, `agenda` lists what is coming,
`abonnement` gives the links that calendar apps subscribe to."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot import lookup, notify
from bot.config import is_calendar_url
from bot.context import Context
from bot.dialogs import Flow
from bot.errors import UserError
from bot.forms import ALL_DAY, Field, Form, FormContext, Invalid, Kind
from bot.glossary import Term, TermList
from bot.i18n import _, language
from bot.messages import Reply, RoomKind
from bot.registry import Arg, Role, Usage, Where
from bot.rich import Bullets, Heading, Para, Span, code, fill
from calendars.imports import FeedError, Merge, Outcome, host_of, merge, withdraw
from calendars.occurrences import Occurrence, occurrences
from commands import command, registry
from commands.directory import target_department
from commands.documents import start_dialog
from storage import departments
from storage.ids import ReadableId
from storage.models import Event
from storage.normalize import fold
from storage.repositories import Repos

AGENDA_DAYS = 60
SCOPES = TermList("event_scopes", (
    Term("network", _("Tout le réseau")),
    Term("department", _("Mon département")),
))


def local_moment(day: date, clock: str, tz: ZoneInfo) -> datetime:
    """`day` at `clock` ("14:30") where people live. A time that the change to summer time skips is refused with
    the reason; one that the change to winter time repeats is its first occurrence, as RFC 5545 reads it."""
    hour, minute = (int(x) for x in clock.split(":"))
    moment = datetime.combine(day, time(hour, minute), tz)  # fold 0: the first of a repeated hour
    on_the_clock = moment.astimezone(UTC).astimezone(tz)
    if on_the_clock.replace(tzinfo=None) != moment.replace(tzinfo=None):
        skipped = int(((moment.replace(fold=1).utcoffset() or timedelta()) - (moment.utcoffset() or timedelta()))
                      .total_seconds() // 60)
        raise Invalid(_("Le {day} à {time} n'existe pas : cette nuit-là, les horloges avancent de {gap} (passage à "
                        "l'heure d'été). Changez l'heure (par exemple {other}) ou la date.").format(
            day=day.strftime("%d/%m/%Y"), time=clock, gap=duration_text(skipped),
            other=on_the_clock.strftime("%H:%M")))
    return moment


def duration_text(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h {rest:02d}" if rest else f"{hours} h"


def check_times(answers: dict[str, Any], ctx: FormContext) -> None:
    """The start and the end given as times must exist on the event's day (the event form's `check`)."""
    if not answers.get("date") or answers.get("start") in (None, ALL_DAY):
        return
    day = date.fromisoformat(answers["date"])
    local_moment(day, answers["start"], ctx.tz)
    end = answers.get("end")
    if end and end.startswith("until:"):
        local_moment(day, end.removeprefix("until:"), ctx.tz)


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
    check=check_times,
)


def event_id(event: Event) -> str:
    return str(ReadableId("E", event.number))


def times(answers: dict[str, Any], tz: ZoneInfo) -> tuple[datetime, datetime, bool]:
    """Start and end in UTC from the answers; a whole-day event runs from its local midnight to the next."""
    day = date.fromisoformat(answers["date"])
    if answers["start"] == ALL_DAY:
        start = datetime.combine(day, time(0), tz)
        return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC), True
    start = local_moment(day, answers["start"], tz)
    end_spec = answers.get("end") or "duration:60"
    kind, amount = end_spec.split(":", 1)
    if kind == "duration":
        # In UTC: an aware datetime plus a timedelta keeps its wall clock, and a night that changes the hour
        # would make « 1 h » last two, or none.
        end = start.astimezone(UTC) + timedelta(minutes=int(amount))
    else:
        end = local_moment(day, amount, tz)
        if end <= start:
            raise Invalid(_("La fin ({end}) est avant le début ({start}) : pour une durée, écrivez « durée 1h30 » "
                            "(« modifier 4 »).").format(end=amount, start=answers["start"]))
    return start.astimezone(UTC), end.astimezone(UTC), False


def clock_text(moment: datetime) -> str:
    """A local time as people read it; one that the change to winter time shows twice says which it is."""
    text = moment.strftime("%H:%M")
    if moment.replace(fold=1 - moment.fold).utcoffset() == moment.utcoffset():
        return text
    season = _("heure d'été") if moment.dst() else _("heure d'hiver")
    return f"{text} ({season})"


def when(event: Event | Occurrence, tz: ZoneInfo) -> str:
    start = event.starts_at.astimezone(tz)
    if event.all_day:
        return start.strftime("%d/%m/%Y") + " " + str(_("(journée)"))
    end = event.ends_at.astimezone(tz) if event.ends_at else None
    text = start.strftime("%d/%m/%Y ") + clock_text(start)
    return text + ("–" + clock_text(end) if end else "")


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
        event.changed(ctx.now)
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
    if found.source_url is not None:
        raise UserError(_("{id} vient d'un agenda extérieur ({host}) : il se change là-bas, et l'agenda partagé "
                          "suit.").format(id=event_id(found), host=host_of(found.source_url)))
    if not may_change(ctx, found):
        raise UserError(_("Seuls la personne qui a créé {id} et l'ONPE peuvent le changer.").format(id=id.upper()))
    verb = fold(action)
    if verb in ("annuler", "cancel"):
        if found.cancelled:
            raise UserError(_("{id} est déjà annulé.").format(id=event_id(found)))
        found.cancel(ctx.now)
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
    args=[Arg("action", _("sources, importer ou retirer (admins)"), required=False),
          Arg("adresse", _("adresse d'un agenda iCalendar, ou numéro de source"), required=False),
          Arg("departement", _("code du département"), required=False)],
    usages=[Usage("", _("ce qui vient dans les prochaines semaines")),
            Usage("sources", _("les agendas extérieurs suivis et leur dernière lecture (admins)")),
            Usage("importer <adresse> [NN]", _("suit un agenda extérieur, pour un département ou tout le réseau "
                                                "(admins)")),
            Usage("retirer <n>", _("ne suit plus la source n : ses événements sont annulés (admins)"))],
    examples=["agenda", "agenda sources", "agenda importer https://exemple.fr/agenda.ics 03"],
)
async def agenda(ctx: Context, action: str | None, adresse: str | None, departement: str | None) -> Reply:
    if action is not None:
        return await sources_command(ctx, action, adresse, departement)
    return await coming_card(ctx.repo, ctx.person.department, ctx.now, ZoneInfo(ctx.config.timezone), ctx.prefix)


async def coming_card(repo: Repos, department: str | None, now: datetime, tz: ZoneInfo, prefix: str) -> Reply:
    """What is coming for the network and `department`, each occurrence of a series apart (`agenda`, and
    Slack's App Home)."""
    end = now + timedelta(days=AGENDA_DAYS)
    coming = occurrences(await repo.events.coming(now, end, department), now, end, tz)
    if not coming:
        return Reply.text(str(_("Rien dans l'agenda pour les {n} prochains jours.")).format(n=AGENDA_DAYS),
                          fill(str(_("Pour en ajouter : {cmd}")), cmd=code(f"{prefix}evenement")))
    lines: list[list[str | Span]] = []
    for item in coming:
        where = item.event.url or item.event.location or ""
        dept = departments.get(item.event.department) if item.event.department else None
        line: list[str | Span] = [f"{event_id(item.event)} — {when(item, tz)} — {item.title}"]
        if dept:
            line.append(f" ({dept.code} {dept.name})")
        if where:
            line.append(f" — {where}")
        lines.append(line)
    return Reply.card([Heading.of(str(_("Agenda des {n} prochains jours")).format(n=AGENDA_DAYS)),
                       Bullets.of(lines)])


# --- External calendars ------------------------------------------------------------------------------------------

PROBLEMS = {
    "status": _("le serveur répond par une erreur (HTTP {detail})"),
    "timeout": _("le serveur n'a pas tout envoyé en {detail} secondes"),
    "too_large": _("le fichier dépasse la taille permise ({detail} Mo)"),
    "unreachable": _("le serveur est injoignable ({detail})"),
    "not_calendar": _("ce n'est pas un agenda au format iCalendar (.ics)"),
}


def problem_text(error: FeedError) -> str:
    return str(PROBLEMS[error.kind]).format(detail=error.detail)


async def sources_command(ctx: Context, action: str, address: str | None, department: str | None) -> Reply:
    if not ctx.has(Role.ADMIN):
        raise UserError(_("Les agendas extérieurs sont gérés par les administrateurs du bot."))
    verb = fold(action)
    if verb in ("sources", "source"):
        return await list_sources(ctx)
    if verb in ("importer", "import"):
        if address is None:
            raise UserError(_("Indiquez l'adresse de l'agenda, "
                              "ex. « agenda importer https://exemple.fr/agenda.ics 03 »."))
        return await add_source(ctx, address, department)
    if verb in ("retirer", "remove"):
        return await remove_source(ctx, address)
    raise UserError(_("Action inconnue : « {v} ». Choisissez sources, importer ou retirer.").format(v=action))


async def list_sources(ctx: Context) -> Reply:
    sources = await ctx.repo.calendar_sources.all()
    if not sources:
        how = code(f"{ctx.prefix}agenda importer <adresse> [NN]")
        return Reply.text(str(_("Aucun agenda extérieur n'est suivi.")),
                          fill(str(_("Pour en suivre un : {cmd}")), cmd=how))
    tz = ZoneInfo(ctx.config.timezone)
    lines: list[list[str | Span]] = []
    for source in sources:
        who = source.department or str(_("tout le réseau"))
        line: list[str | Span] = [f"{source.id}. ", code(source.url), f" — {who} — "]
        if source.error:
            since = source.failing_since.astimezone(tz).strftime("%d/%m/%Y %H:%M") if source.failing_since else "?"
            line.append(str(_("en échec depuis le {since} : {problem}")).format(since=since, problem=source.error))
        elif source.succeeded_at is None:
            line.append(str(_("pas encore lu")))
        else:
            read_at = source.succeeded_at.astimezone(tz).strftime("%d/%m/%Y %H:%M")
            line.append(str(_("{n} événement(s), lu le {at}")).format(n=source.events, at=read_at))
            if source.skipped:
                line.append(str(_(" ({n} illisible(s) ou en double)")).format(n=source.skipped))
        if source.from_config:
            line.append(str(_(" — déclaré dans la configuration")))
        lines.append(line)
    return Reply.card([Heading.of(str(_("Agendas extérieurs suivis"))), Bullets.of(lines)])


async def add_source(ctx: Context, address: str, department: str | None) -> Reply:
    if not is_calendar_url(address):
        raise UserError(_("« {v} » n'est pas une adresse d'agenda : elle commence par https:// ou webcal://.").format(
            v=address))
    code_ = target_department(department).code if department is not None else None
    if await ctx.repo.calendar_sources.by_url(address) is not None:
        raise UserError(_("Cet agenda est déjà suivi (« agenda sources »)."))
    source = await ctx.repo.calendar_sources.add(address, code_, DEFAULT_REFRESH_MINUTES, added_by_id=ctx.person.id)
    await ctx.repo.audit.append(f"source:{source.id}", "calendar_source.add", actor_id=ctx.person.id)
    who = code_ or str(_("tout le réseau"))
    return Reply.success(str(_("Agenda extérieur {n} suivi, pour {who} : première lecture dans la minute, "
                               "vous recevrez le résultat.")).format(n=source.id, who=who))


async def remove_source(ctx: Context, number: str | None) -> Reply:
    source = await ctx.repo.calendar_sources.get(int(number)) if number and number.isdigit() else None
    if source is None:
        raise UserError(_("Indiquez le numéro d'une source de « agenda sources », ex. « agenda retirer 2 »."))
    if source.from_config:
        raise UserError(_("La source {n} est déclarée dans la configuration (calendar.external_feeds) : "
                          "retirez-la de là.").format(n=source.id))
    cancelled = await withdraw(ctx.repo, source.url, ctx.now)
    await ctx.repo.calendar_sources.remove(source)
    await ctx.repo.audit.append(f"source:{source.id}", "calendar_source.remove", actor_id=ctx.person.id)
    return Reply.success(str(_("Source {n} retirée ; {k} événement(s) annulé(s) dans les agendas abonnés.")).format(
        n=source.id, k=cancelled))


DEFAULT_REFRESH_MINUTES = 60


async def record_reading(
    repo: Repos, source_id: int, outcome: Outcome, now: datetime, *, admins: list[tuple[str, str]], lang: str,
    past: timedelta,
) -> Merge | None:
    """Keep what a reading gave, and tell admins when a source starts failing, and when it works again.

    A source that fails keeps its events as they were. Admins hear once per failure, not at every attempt;
    the person who added a source hears how its first reading went.
    """
    source = await repo.calendar_sources.get(source_id)
    if source is None:  # removed while it was being read
        return None
    source.checked_at = now
    adder = await repo.people.get(source.added_by_id) if source.added_by_id else None
    recipients = list(admins)
    if adder is not None and (adder.platform, adder.platform_user_id) not in recipients:
        recipients.append((adder.platform, adder.platform_user_id))
    if outcome.problem is not None:
        source.error = problem_text(outcome.problem)
        if source.failing_since is None:
            source.failing_since = now
            with language(lang):
                reply = Reply.text(
                    str(_("L'agenda extérieur {n} ({url}) n'a pas pu être lu : {problem}.")).format(
                        n=source.id, url=source.url, problem=source.error),
                    str(_("Ses événements déjà importés restent dans l'agenda ; nouvel essai toutes les {m} min. "
                          "« agenda sources » montre son état.")).format(m=source.refresh_minutes))
            await _tell(repo, recipients, reply, f"calendar-source:{source.id}:down:{now.isoformat()}")
        return None
    merged = None
    source.etag, source.last_modified = outcome.etag, outcome.last_modified
    source.body_digest = outcome.digest or source.body_digest
    if outcome.reading is not None:
        merged = await merge(repo, source, outcome.reading, now, past)
        source.events = len(outcome.reading.events) - len(merged.taken)
        source.skipped = outcome.reading.skipped + len(merged.taken)
    if source.failing_since is not None:
        with language(lang):
            reply = Reply.success(str(_("L'agenda extérieur {n} ({url}) se lit de nouveau.")).format(
                n=source.id, url=source.url))
        await _tell(repo, recipients, reply, f"calendar-source:{source.id}:up:{now.isoformat()}")
    elif source.succeeded_at is None and adder is not None:
        with language(adder.language or lang):
            reply = Reply.success(str(_("Agenda extérieur {n} lu : {k} événement(s) importé(s).")).format(
                n=source.id, k=source.events))
        await notify.send_to(repo, adder.platform, notify.dm(adder.platform_user_id), reply,
                             f"calendar-source:{source.id}:first")
    source.failing_since = None
    source.error = None
    source.succeeded_at = now
    return merged


async def _tell(repo: Repos, recipients: list[tuple[str, str]], reply: Reply, key: str) -> None:
    for platform, user in recipients:
        await notify.send_to(repo, platform, notify.dm(user), reply, f"{key}:{platform}:{user}")


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
    if quoi is not None and fold(quoi) in ("revoquer", "revoke"):
        count = 0
        for scope in ("personal", "network", "department"):
            count += await ctx.repo.feeds.revoke(ctx.person.id, scope)
        return Reply.success(str(_("{n} lien(s) désactivé(s) : les agendas abonnés ne recevront plus rien.")).format(
            n=count))
    scope, dept = "personal", None
    if quoi is not None:
        scope = FEED_SCOPES.get(fold(quoi), "")
        if not scope:
            raise UserError(_("« {v} » : choisissez reseau, departement NN ou revoquer.").format(v=quoi))
        if scope == "department":
            dept = target_department(departement).code if departement else ctx.person.department
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
    when = start.strftime("%d/%m/%Y") if event.all_day else start.strftime("%d/%m/%Y ") + clock_text(start)
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
                queued += await notify.broadcast(repo, platforms, notify.ANNOUNCE, reply, key)
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
    end = now + timedelta(days=DIGEST_EVENTS_DAYS)
    coming = occurrences(await repo.events.coming(now, end, None), now, end, tz)
    with language(lang):
        blocks: list[Any] = [Heading.of(str(_("La semaine du réseau")))]
        if decided:
            blocks.append(Para.of(str(_("Nouveaux documents et pratiques :"))))
            blocks.append(Bullets.of([f"{i.readable_id} — {i.title}" for i in decided]))
        if coming:
            blocks.append(Para.of(str(_("À venir :"))))
            blocks.append(Bullets.of([f"{event_id(o.event)} — {when(o, tz)} — {o.title}" for o in coming]))
        if not decided and not coming:
            blocks.append(Para.of(str(_("Rien de nouveau cette semaine."))))
        reply = Reply.card(blocks)
    return await notify.broadcast(repo, platforms, notify.ANNOUNCE, reply, f"digest:{year}-W{week:02d}")
